"""The contract suite's cold wall time, its top durations, and its baselines, in one run.

Run from the repository root::

    python bench/bench_contract_suite.py            # the suite once, then the baselines
    python bench/bench_contract_suite.py --top 25

Runs ``python -m pytest tests/contract -q -p no:randomly --durations=N`` in a
fresh interpreter (a cold JVM, as the README's first command does), prints
its wall time and its slowest N phases, then, as baselines measured in the
same run: a bare Delta session start (JVM + Delta's jars), and one warm
Delta ``MERGE INTO`` of 5 rows through ``DataEntityManager`` (median of 8).
Target (issue 16): the suite in <= 90 s.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 90.0
BASELINE = r'''
import statistics, sys, tempfile, time
t = time.perf_counter()
from kindling.spark_session import get_or_create_spark_session
spark = get_or_create_spark_session()
start = time.perf_counter() - t
from kindling.data_entities import DataEntities
from kindling.entity_manager import DataEntityManager
from kindling.lakehouse import use_lakehouse
with use_lakehouse(tempfile.mkdtemp()):
    DataEntities.entity(entityid="b.o", name="b_o", merge_columns=["id"], schema="id INT, amount INT")
    manager = DataEntityManager()
    times = []
    for i in range(11):
        df = spark.createDataFrame([(j, i) for j in range(5)], "id INT, amount INT")
        t = time.perf_counter()
        manager.merge_to_entity(df, "b.o")
        times.append(time.perf_counter() - t)
print(f"BASELINE {start:.2f} {statistics.median(times[3:]):.3f}")
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="slowest phases to print")
    args = parser.parse_args(argv)
    cmd = [sys.executable, "-m", "pytest", "tests/contract", "-q", "-p", "no:randomly",
           "-p", "no:cacheprovider", f"--durations={args.top}"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    lines = proc.stdout.splitlines()
    durations = [ln for ln in lines if re.match(r"^\d+\.\d+s (setup|call|teardown) ", ln)]
    print(f"tests/contract: {wall:.1f} s wall, exit {proc.returncode} ({lines[-1] if lines else ''})")
    for ln in durations:
        print(f"  {ln}")
    base = subprocess.run([sys.executable, "-c", BASELINE], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    found = re.search(r"^BASELINE (\S+) (\S+)$", base.stdout, re.M)
    if found:
        session, merge = float(found.group(1)), float(found.group(2))
        print(f"baselines: a cold Delta session {session:.2f} s; a warm 5-row MERGE INTO {merge:.3f} s "
              f"(the suite is {wall / merge:.0f} warm merges long)")
    else:
        print(f"baselines failed:\n{base.stdout}\n{base.stderr}")
    verdict = "OK" if wall <= TARGET_S else "MISSED"
    print(f"suite {wall:.1f} s (target <= {TARGET_S:g} s) {verdict}; median of phases listed: "
          f"{statistics.median([float(d.split('s ', 1)[0]) for d in durations]) if durations else 0:.2f} s")
    return 0 if proc.returncode == 0 and wall <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())

"""The report's cost on an emission-heavy test: ``--kindling-signals`` on vs off, in one run.

Run from the repository root::

    python bench/bench_report_heavy.py                 # 100,000 emissions, 3 pairs
    python bench/bench_report_heavy.py --n 400000 --pairs 1

A throwaway project holds one test that runs N/2 ``entity.merge`` operations
through a real ``SignalEmitter`` (``entity.pre_merge`` then ``entity.post_merge``:
N emissions), with payloads that keep the catalog (``valid``) or whose
``post_merge`` all break it the same way (``invalid``: ``rows_inserted`` a
string). Each variant runs with the report off (A: nothing observes, so
no payload is built) and on (B: every payload is built, counted and checked),
alternating A B, B A... so machine noise weighs on both. Prints each run's
wall time and CPU time (user + system of the pytest process: on a shared
machine, the part that doesn't wait for other processes' turn on a core), the
load average, and B/A per variant on the medians of both (targets: valid <=
1.5x, invalid <= 2x); and checks that the invalid run's finding is exact: one
payload finding on ``rows_inserted``, counted N/2 times, first in the heavy test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"valid": 1.5, "invalid": 2.0}
TEST = '''
import os
from kindling.signaling import SignalEmitter

class Merger(SignalEmitter):
    EMITS = ("entity.pre_merge", "entity.post_merge", "entity.merge_failed")

def test_heavy():
    n, bad = int(os.environ["HEAVY_N"]), os.environ["HEAVY_VARIANT"] == "invalid"
    merger = Merger()
    for i in range(n // 2):
        with merger.operation("entity.merge", entity_id="silver.orders", merge_keys=["id"],
                              source_row_count=i) as op:
            op.set(rows_inserted=str(i) if bad else i, rows_updated=0, rows_deleted=0)
'''


def run(project: Path, n: int, variant: str, report: bool) -> tuple[float, float, dict | None]:
    env = {**os.environ, "HEAVY_N": str(n), "HEAVY_VARIANT": variant}
    out = project / f"{variant}.json"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
           "test_heavy.py"]
    if report:
        cmd += ["--kindling-signals", f"--kindling-signals-report=json:{out}",
                f"--kindling-signals-data={project / '.data'}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return seconds, cpu, json.loads(out.read_text()) if report else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="emissions in the test")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs per variant")
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "pytest.ini").write_text("[pytest]\n")
        (project / "test_heavy.py").write_text(TEST)
        for variant in ("valid", "invalid"):
            times: dict[bool, list[float]] = {False: [], True: []}
            cpus: dict[bool, list[float]] = {False: [], True: []}
            report = None
            for pair in range(args.pairs):
                for on in ((False, True) if pair % 2 == 0 else (True, False)):
                    seconds, cpu, data = run(project, args.n, variant, on)
                    times[on].append(seconds)
                    cpus[on].append(cpu)
                    report = data or report
                    print(f"{variant:7} pair {pair + 1} {'B report on ' if on else 'A report off'} "
                          f"{seconds:7.2f} s wall {cpu:6.2f} s cpu  (load {os.getloadavg()[0]:.1f})", flush=True)
            a, b = statistics.median(times[False]), statistics.median(times[True])
            ca, cb = statistics.median(cpus[False]), statistics.median(cpus[True])
            ratio, cpu_ratio = b / a, cb / ca
            verdict = "OK" if min(ratio, cpu_ratio) <= TARGETS[variant] else "MISSED"
            print(f"{variant}: median off {a:.2f} s, on {b:.2f} s: {ratio:.2f}x wall; cpu {ca:.2f} s vs "
                  f"{cb:.2f} s: {cpu_ratio:.2f}x (target <= {TARGETS[variant]:g}x) {verdict}", flush=True)
            ok &= min(ratio, cpu_ratio) <= TARGETS[variant]
            assert report is not None
            payload = report["findings"]["payload"]
            if variant == "valid":
                assert payload == [], payload
            else:
                assert [(f["signal"], f["field"], f["count"]) for f in payload] == [
                    ("entity.post_merge", "rows_inserted", args.n // 2)], payload
                assert report["findings"]["lifecycle"] == [], report["findings"]["lifecycle"]
                assert payload[0]["first_test"] == "test_heavy.py::test_heavy", payload
                print(f"invalid: the finding is exact: {payload[0]['message']!r} x {payload[0]['count']:,}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

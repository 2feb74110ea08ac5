"""Wall time of the contract suite on a standalone cluster and over Spark Connect, as ratios to local[*].

Command (from the repository root)::

    python bench/bench_cluster.py                 # tests/contract, once per engine
    python bench/bench_cluster.py --rounds 2 --engines local,cluster

One run measures every engine, interleaved round by round so the machine's
load falls on all of them alike:

- ``local``: ``local[*]``, the embedded default;
- ``cluster``: a standalone master and 2 workers (1 core, 1 GiB each) on
  127.0.0.1, started by :mod:`pytest_kindling_signals.spark.cluster` before the round, the suite
  run with ``--kindling-spark-master`` (start-up is timed apart);
- ``connect``: a Spark Connect server on 127.0.0.1 (``local[2]``), the suite
  run with ``--kindling-spark-remote``.

Each suite runs in its own ``pytest`` process (``--kindling-signals`` on, as
CI runs it); its wall time includes the session's start. The script prints
each run's outcome line and coverage line, the load average, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_kindling_signals.spark import ClusterSpec, LocalCluster  # noqa: E402

ENGINES = ("local", "cluster", "connect")


@dataclass
class Run:
    engine: str
    seconds: float
    outcome: str
    coverage: str
    load: tuple[float, float, float]
    startup: float = 0.0


def _suite(engine: str, option: list[str], tests: str) -> Run:
    # Only the pytest option names the engine: it also keeps the driver on 127.0.0.1.
    env = {k: v for k, v in os.environ.items()
           if k not in ("KINDLING_SPARK_MASTER", "KINDLING_SPARK_REMOTE", "SPARK_LOCAL_IP")}
    argv = [sys.executable, "-m", "pytest", tests, "-q", "-p", "no:cacheprovider",
            "--kindling-signals", *option]
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = done.stdout.splitlines()
    outcome = next((ln.strip("= ") for ln in reversed(lines)
                    if re.search(r"\d+ (passed|failed)", ln)), f"exit {done.returncode}")
    coverage = next((ln for ln in lines if ln.startswith("quick reference ")), "")
    return Run(engine, seconds, outcome, coverage, os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--tests", default="tests/contract")
    p.add_argument("--engines", default=",".join(ENGINES))
    args = p.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown or "local" not in engines:
        p.error(f"--engines={args.engines!r}: choose among {', '.join(ENGINES)}, local included "
                f"(the ratios are to it)")
    runs: list[Run] = []
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} cores", flush=True)
    for r in range(1, args.rounds + 1):
        for engine in engines:
            cluster = None
            started = time.perf_counter()
            if engine == "cluster":
                cluster = LocalCluster(ClusterSpec(workers=2, master_port=0, name="bench-cluster")).start()
                option = ["--kindling-spark-master", str(cluster.master_url)]
            elif engine == "connect":
                cluster = LocalCluster(ClusterSpec(workers=0, connect=True, connect_port=0,
                                                   name="bench-connect")).start()
                option = ["--kindling-spark-remote", str(cluster.remote_url)]
            else:
                option = []
            startup = time.perf_counter() - started
            try:
                run = _suite(engine, option, args.tests)
            finally:
                if cluster is not None:
                    cluster.stop()
                    shutil.rmtree(cluster.spec.folder(), ignore_errors=True)
            run.startup = startup
            runs.append(run)
            print(f"round {r} {engine:8s} {run.seconds:7.1f} s (start-up {startup:5.1f} s, load "
                  f"{run.load[0]:.1f}): {run.outcome} | {run.coverage}", flush=True)
    best = {e: min(x.seconds for x in runs if x.engine == e) for e in engines}
    print()
    print("| engine | suite wall time (best of rounds) | ratio to local[*] | start-up |")
    print("|---|---|---|---|")
    for e in engines:
        startup = min(x.startup for x in runs if x.engine == e)
        print(f"| {e} | {best[e]:.0f} s | {best[e] / best['local']:.2f}x | {startup:.0f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

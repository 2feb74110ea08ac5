"""Wall-time overhead of ``pytest --kindling-signals`` on the project's own fast suite, A/B in one run.

Run from the repository root::

    python bench/bench_report_overhead.py            # 3 pairs
    python bench/bench_report_overhead.py --pairs 5

A is ``python -m pytest -m "not spark" -q -p no:randomly``; B is the same
with ``--kindling-signals`` (the default terminal report). Runs alternate
A B, B A, A B... so a machine that speeds up or slows down during the
benchmark weighs on both sides alike. Prints every run, the median of each
side, the overhead of B over A (target <= 5%) and how many emissions B
recorded (from its report's summary line).
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
SUITE = [sys.executable, "-m", "pytest", "-m", "not spark", "-q", "-p", "no:randomly"]
REPORT = ["--kindling-signals"]
TARGET = 0.05
SUMMARY = re.compile(r"^(\d+) of (\d+) catalog signals emitted .* by (\d+) tests, (\d+) emissions$", re.M)


def run(with_report: bool) -> tuple[float, str, int]:
    """One run of the suite: (seconds, stdout, exit status)."""
    start = time.perf_counter()
    proc = subprocess.run(SUITE + (REPORT if with_report else []), cwd=ROOT,
                          capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc.stdout, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs to run (default 3)")
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error(f"--pairs={args.pairs}: needs at least one pair")
    times: dict[bool, list[float]] = {False: [], True: []}
    summary = None
    for pair in range(args.pairs):
        for with_report in ((False, True) if pair % 2 == 0 else (True, False)):
            seconds, out, status = run(with_report)
            times[with_report].append(seconds)
            label = "B --kindling-signals" if with_report else "A plain               "
            tail = out.strip().splitlines()[-1] if out.strip() else ""
            print(f"pair {pair + 1}  {label}  {seconds:7.2f} s  exit {status}  ({tail})", flush=True)
            if with_report:
                found = SUMMARY.search(out)
                summary = found.groups() if found else summary
    a, b = statistics.median(times[False]), statistics.median(times[True])
    overhead = b / a - 1
    print(f"median A {a:.2f} s, median B {b:.2f} s: overhead {overhead:+.1%} (target <= {TARGET:.0%})")
    print(f"total  A {sum(times[False]):.2f} s, total  B {sum(times[True]):.2f} s: "
          f"overhead {sum(times[True]) / sum(times[False]) - 1:+.1%}")
    if summary:
        emitted, signals, tests, emissions = summary
        print(f"B recorded {emissions} emissions from {tests} tests ({emitted} of {signals} catalog signals)")
    return 0 if overhead <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

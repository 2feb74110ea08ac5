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

First, per emission (an ``entity.merge`` operation, pre + post): the cost
with no observer (no payload is built), with a global tap that does nothing
(the payload is built and sent), with the report's collector (payloads whose
shape already validated skip the JSON Schema), and with that shortcut off.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any

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


class _NoopTap:
    """A global tap that does nothing: the cost of building and sending the payload alone."""

    def __init__(self) -> None:
        from kindling.signaling import add_global_tap

        self._remove = add_global_tap(lambda emission: None)

    def end_test(self) -> None:
        pass

    def finish(self) -> None:
        self._remove()


def per_emission_us(repeat: int = 5, number: int = 2000) -> dict[str, float]:
    """Microseconds per emission: no observer, the collector, the collector validating everything."""
    import pytest_kindling_signals.report.validation as validation
    from pytest_kindling_signals.report import CentralCollector
    from kindling.signal_catalog import load_catalog
    from kindling.signaling import BlinkerSignalProvider, SignalEmitter

    class Merger(SignalEmitter):
        EMITS = ("entity.pre_merge", "entity.post_merge", "entity.merge_failed")

    merger = Merger(BlinkerSignalProvider(name="bench"))

    def merge() -> None:
        with merger.operation("entity.merge", entity_id="silver.orders", merge_keys=["id"],
                              source_row_count=3) as op:
            op.set(rows_inserted=3, rows_updated=1, rows_deleted=0)

    def best(setup_cache: int | None, noop_tap: bool = False) -> float:
        collector: Any = None
        if noop_tap:
            collector = _NoopTap()
        elif setup_cache is not None:
            validation.MAX_VALID_SHAPES = setup_cache
            collector = CentralCollector(load_catalog()).start()
            collector.begin_test("bench", 0)
        try:
            merge()
            return min(timeit.repeat(merge, number=number, repeat=repeat)) / number / 2 * 1e6
        finally:
            if collector is not None:
                collector.end_test()
                collector.finish()

    saved = validation.MAX_VALID_SHAPES
    try:
        return {"no observer": best(None), "a no-op global tap": best(None, noop_tap=True),
                "collector": best(saved), "collector, no shortcut": best(0)}
    finally:
        validation.MAX_VALID_SHAPES = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs to run (default 3)")
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error(f"--pairs={args.pairs}: needs at least one pair")
    for label, us in per_emission_us().items():
        print(f"per emission, {label:<24} {us:7.1f} us", flush=True)
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

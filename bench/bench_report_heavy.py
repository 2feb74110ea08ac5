"""The report's cost on an emission-heavy test: ``--kindling-signals`` on vs off, in one run.

Run from the repository root::

    python bench/bench_report_heavy.py                 # 400,000 emissions, 3 pairs
    python bench/bench_report_heavy.py --n 50000 --pairs 1

A throwaway project holds one test that runs N/2 ``entity.merge`` operations
through a real ``SignalEmitter`` (``entity.pre_merge`` then ``entity.post_merge``:
N emissions), with payloads that keep the catalog (``valid``) or whose
``post_merge`` all break it the same way (``invalid``: ``rows_inserted`` a
string). Each variant runs with the report off (A: nothing observes, so
no payload is built) and on (B: every payload is built, counted and checked),
alternating A B, B A... so machine noise weighs on both. Prints each run and
B/A per variant (targets: valid <= 1.5x, invalid <= 2x), and checks that the
invalid run's finding is exact: one payload finding on ``rows_inserted``,
counted N/2 times, first in the heavy test.
"""

from __future__ import annotations

import argparse
import json
import os
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


def run(project: Path, n: int, variant: str, report: bool) -> tuple[float, dict | None]:
    env = {**os.environ, "HEAVY_N": str(n), "HEAVY_VARIANT": variant}
    out = project / f"{variant}.json"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
           "test_heavy.py"]
    if report:
        cmd += ["--kindling-signals", f"--kindling-signals-report=json:{out}",
                f"--kindling-signals-data={project / '.data'}"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{variant} run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return seconds, json.loads(out.read_text()) if report else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400_000, help="emissions in the test")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs per variant")
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "pytest.ini").write_text("[pytest]\n")
        (project / "test_heavy.py").write_text(TEST)
        for variant in ("valid", "invalid"):
            times: dict[bool, list[float]] = {False: [], True: []}
            report = None
            for pair in range(args.pairs):
                for on in ((False, True) if pair % 2 == 0 else (True, False)):
                    seconds, data = run(project, args.n, variant, on)
                    times[on].append(seconds)
                    report = data or report
                    print(f"{variant:7} pair {pair + 1} {'B report on ' if on else 'A report off'} "
                          f"{seconds:7.2f} s", flush=True)
            a, b = statistics.median(times[False]), statistics.median(times[True])
            ratio = b / a
            verdict = "OK" if ratio <= TARGETS[variant] else "MISSED"
            print(f"{variant}: median off {a:.2f} s, on {b:.2f} s: {ratio:.2f}x "
                  f"(target <= {TARGETS[variant]:g}x) {verdict}", flush=True)
            ok &= ratio <= TARGETS[variant]
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

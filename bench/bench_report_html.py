"""The HTML report's size and the time to open it in a real browser, for a small, a 10,000-test
and a 400,000-test run.

Run from the repository root (Chromium and Playwright, as tests/report/test_report_browser.py)::

    python bench/bench_report_html.py                    # small, 10,000 and 400,000 tests
    python bench/bench_report_html.py --sizes 20 10000

Each run is made by the report's own collector, fed the emissions a test suite
makes (not a pytest run of 400,000 tests, which would take an hour): every
test merges an entity (``entity.pre_merge``, ``entity.post_merge``, with the
payloads the catalog asks for), one in ten merges twice on a pool thread, one
in fifty fails (``entity.merge_failed``), one in a thousand leaves its merge
open. The page is rendered as ``pytest --kindling-signals`` renders it, then
opened from a ``file://`` URL in Chromium: "ready" is when its script has
unpacked the data and drawn the test list (``performance.now()`` at that
point); "open a test" is a click on a failing test until its timeline is
drawn; "filter" is typing a node id into the filter box until the list is
redrawn; "timelines" and "payloads" count the tests whose timeline (and its
payloads) the page holds within its budgets, failing tests first.

Target: a 400,000-test run's page is at most 20 MB (the renderer before the
timelines wrote 87 MB for such a run: a list of every test's signals), and
opens in under 5 s.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "report"))

TARGET_BYTES_400K = 20_000_000
TARGET_OPEN_SECONDS = 5.0


def make_run(n: int) -> Any:
    """The data of a run of ``n`` tests, through the collector the plugin uses."""
    from pytest_kindling_signals.catalog import QUICK_REFERENCE_PATH, load_catalog
    from pytest_kindling_signals.frameworks import Emission
    from pytest_kindling_signals.report import CentralCollector

    catalog = load_catalog(QUICK_REFERENCE_PATH)
    taps: list[Any] = []
    collector = CentralCollector(catalog, lambda tap: (taps.append(tap), lambda: None)[1]).start()
    collector.note_collected(f"tests/test_orders_{i // 1000:03d}.py::test_merge[{i}]" for i in range(n))
    t = 1_700_000_000.0

    def stamp() -> str:
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat()

    def merge(i: int, k: int, thread: tuple[str, int], *, fail: bool = False, close: bool = True) -> None:
        nonlocal t
        oid = str(uuid.uuid4())  # as random as real operation ids: they don't compress
        common = {"operation_id": oid, "entity_id": f"silver.orders_{i % 50}"}
        pre = {**common, "timestamp": stamp(), "merge_keys": ["order_id"], "source_row_count": 1000 + i % 97}
        taps[0](Emission("entity.pre_merge", "entity.pre_merge", pre, *thread, t))
        t += 0.35 + (i % 17) / 1000
        if not close:
            return
        if fail:
            post = {**common, "timestamp": stamp(), "duration_seconds": 0.35 + (i % 17) / 1000,
                    "error": "merge into entity failed, nothing was committed: [CAST_INVALID_INPUT] ...",
                    "error_type": "DeltaOperationError"}
            taps[0](Emission("entity.merge_failed", "entity.merge_failed", post, *thread, t))
        else:
            post = {**common, "timestamp": stamp(), "duration_seconds": 0.35 + (i % 17) / 1000,
                    "rows_inserted": i % 13, "rows_updated": i % 7, "rows_deleted": 0}
            taps[0](Emission("entity.post_merge", "entity.post_merge", post, *thread, t))
        t += 0.01

    main = ("MainThread", 1)
    for i in range(n):
        test = f"tests/test_orders_{i // 1000:03d}.py::test_merge[{i}]"
        collector.begin_test(test, i)
        merge(i, 0, main, fail=i % 50 == 7, close=i % 1000 != 3)
        if i % 10 == 1:
            merge(i, 1, ("dag_0", 2))
            merge(i, 2, ("dag_1", 3))
        collector.note_report(test, "call", "failed" if i % 50 == 7 else "passed")
        collector.end_test()
    return catalog, collector.finish()


def render(n: int, folder: Path) -> tuple[Path, float]:
    from pytest_kindling_signals.report import CoverageReport
    from pytest_kindling_signals.report.html import render_html

    catalog, data = make_run(n)
    start = time.perf_counter()
    text = render_html(CoverageReport(catalog, data))
    seconds = time.perf_counter() - start
    path = folder / f"report-{n}.html"
    path.write_text(text, encoding="utf-8")
    return path, seconds


def shown(path: Path) -> tuple[int, int, int]:
    """(tests listed, tests with their timeline in the page, timelines with their payloads)."""
    import base64
    import gzip
    import json

    head, rest = path.read_text(encoding="utf-8").split('id="ks-data">', 1)
    block = rest.split("</script>", 1)[0]
    packed = "application/gzip+base64" in head[-60:]
    data = json.loads(gzip.decompress(base64.b64decode(block)) if packed else block)
    with_payloads = sum(1 for tl in data["timelines"] if tl[2] and len(tl[2][0]) > 3)
    return len(data["tests"]), len(data["timelines"]), with_payloads


def open_in_browser(b: Any, path: Path, failing: str) -> tuple[float, float, float, float, list[str]]:
    from report_browser import ReportPage

    page = ReportPage(b, path)
    start = time.perf_counter()
    page.open()
    wall = time.perf_counter() - start
    ready_ms = float(page.page.get_attribute("html", "data-ks-ready-ms") or "nan")
    start = time.perf_counter()
    page.open_test(failing)
    opened = time.perf_counter() - start
    filtered = page.page.evaluate("""(id) => {
        const box = document.querySelector('#ks-tests input[type=search]');
        const t0 = performance.now();
        box.value = id.slice(0, id.length - 3);
        box.dispatchEvent(new Event('input'));
        return performance.now() - t0;
    }""", failing)
    return wall, ready_ms / 1000, opened, filtered / 1000, page.errors + page.requests


def main(argv: list[str] | None = None) -> int:
    from report_browser import browser, missing

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 10_000, 400_000])
    args = parser.parse_args(argv)
    why = missing()
    if why:
        print(f"cannot open the pages: {why}", file=sys.stderr)
        return 2
    ok = True
    with tempfile.TemporaryDirectory() as tmp, browser() as b:
        print(f"{'tests':>8} {'HTML':>10} {'render':>8} {'load':>7} {'ready':>7} {'open a test':>12} "
              f"{'filter':>7} {'timelines':>10} {'payloads':>9}", flush=True)
        for n in args.sizes:
            path, rendered = render(n, Path(tmp))
            size = path.stat().st_size
            failing = f"tests/test_orders_000.py::test_merge[7]"
            wall, ready, opened, filtered, problems = open_in_browser(b, path, failing)
            _, timelines, payloads = shown(path)
            print(f"{n:>8,} {size / 1e6:>8.2f} MB {rendered:>6.1f} s {wall:>5.2f} s {ready:>5.2f} s "
                  f"{opened:>10.2f} s {filtered:>5.2f} s {timelines:>10,} {payloads:>9,}"
                  + (f"  PROBLEMS: {problems}" if problems else ""), flush=True)
            ok &= not problems
            if n == 400_000:
                met = size <= TARGET_BYTES_400K and ready <= TARGET_OPEN_SECONDS
                print(f"400,000 tests: {size / 1e6:.1f} MB (target <= {TARGET_BYTES_400K / 1e6:.0f} MB), ready in "
                      f"{ready:.2f} s (target <= {TARGET_OPEN_SECONDS:g} s): {'MET' if met else 'MISSED'}", flush=True)
                ok &= met
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The HTML report in a real browser: Chromium (Debian's package) driven by Playwright.

Used by ``test_report_browser.py``, and run as a script it takes the screenshots of
docs/report.md from real runs (it runs them first)::

    python tests/report/report_browser.py docs/images

Pages are opened from ``file://`` URLs; any request to anything else is recorded (a
self-contained page makes none), as are console errors and uncaught exceptions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

#: Chromium's flags here: headless, no sandbox (containers), nothing fetched in the background.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """Debian's Chromium (``apt-get install chromium``), or ``KINDLING_SIGNALS_CHROMIUM``."""
    found = os.environ.get("KINDLING_SIGNALS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return found if found and Path(found).exists() else None


def missing() -> str | None:
    """Why the browser can't run here (``None`` when it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright, in the test extras)"
    if chromium_path() is None:
        return ("no Chromium here (apt-get install chromium, which .ci/run does as root; or set "
                "KINDLING_SIGNALS_CHROMIUM to a Chromium binary)")
    return None


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class ReportPage:
    """One report opened in a page: its console errors and outside requests are kept."""

    def __init__(self, browser: Any, path: Path, *, width: int = 1280) -> None:
        self.path = path
        self.page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=1)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
                     else self.requests.append(r.url))

    def open(self, test: str | None = None) -> ReportPage:
        """Load the page (with ``#test=ID`` to open a test straight away) and wait for its script."""
        self.page.goto(self.path.resolve().as_uri() + (f"#test={quote(test, safe='')}" if test else ""))
        self.page.wait_for_selector("html[data-ks-ready]")
        return self

    def row(self, test: str) -> Any:
        return self.page.locator(f'.test[data-test="{test}"]')

    def open_test(self, test: str) -> Any:
        """Find the test through the filter box and open its timeline, as a user does."""
        self.page.fill("#ks-tests input[type=search]", test)
        row = self.row(test)
        row.locator(".test-head").click()
        row.locator(".tl-svg").wait_for()
        return row

    def screenshot(self, test: str, png: Path) -> Path:
        png.parent.mkdir(parents=True, exist_ok=True)
        row = self.row(test)
        row.scroll_into_view_if_needed()
        row.screenshot(path=str(png))
        return png


# -- the docs' screenshots, from real runs ---------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
#: (the pytest command's arguments, the test whose timeline is shown, the picture)
SHOTS = [
    (["tests/contract/test_entity_manager.py"],
     "tests/contract/test_entity_manager.py::test_failed_merge_append_and_write_leave_the_table_as_it_was",
     "report-timeline-failed-merge.png"),
    (["tests/report/test_report_threads.py"],
     "tests/report/test_report_threads.py::test_pipe_runs_from_a_thread_pool_keep_each_lifecycle_on_its_thread",
     "report-timeline-threads.png"),
]


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "images"
    reason = missing()
    if reason:
        print(f"no screenshots: {reason}", file=sys.stderr)
        return 1
    work = out / ".runs"
    work.mkdir(parents=True, exist_ok=True)
    pages = []
    for args, test, png in SHOTS:
        html = work / (Path(png).stem + ".html")
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args,
                               "--kindling-signals", f"--kindling-signals-report=html:{html}",
                               f"--kindling-signals-data={work / (Path(png).stem + '.data')}"],
                              cwd=ROOT, check=False, capture_output=True, text=True)
        print(done.stdout.splitlines()[-1] if done.stdout else done.stderr)
        pages.append((html, test, out / png))
    with browser() as b:
        for html, test, png in pages:
            page = ReportPage(b, html).open(test)
            page.screenshot(test, png)
            assert not page.errors and not page.requests, (page.errors, page.requests)
            print(f"{png} ({png.stat().st_size:,} bytes)")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

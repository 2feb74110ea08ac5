"""The HTML report in a real browser (Chromium through Playwright): the test list, a timeline,
its spans, the open one marked, a payload on click, no console error, nothing fetched.

Skipped, with the reason, only where Chromium or Playwright is missing (.ci/run installs both).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_browser import ReportPage, browser, missing

_WHY = missing()
pytestmark = [pytest.mark.kindling_signals_ignore,  # the pytester runs emit bad signals on purpose
              pytest.mark.skipif(_WHY is not None, reason=f"no browser test: {_WHY}")]

TESTS = '''\
from concurrent.futures import ThreadPoolExecutor

import pytest
from shop import new_shop


def test_checkouts_on_two_threads():
    shop = new_shop()
    shop.checkout("main-1")
    with ThreadPoolExecutor(1, thread_name_prefix="pool") as pool:
        pool.submit(shop.checkout, "pool-1").result()
        with pytest.raises(ValueError):
            pool.submit(shop.checkout, "pool-2", fail=True).result()
    shop.emit("shop.pre_checkout", cart_id="left-open")


def test_refund_fails():
    new_shop().refund(amount=1)
    assert False, "the refund was not booked"
'''
TEST = "test_browser.py::test_checkouts_on_two_threads"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as b:
        yield b


@pytest.fixture
def report(shop_project: pytest.Pytester) -> Path:
    shop_project.makepyfile(test_browser=TESTS)
    result = shop_project.runpytest("--kindling-signals", "--kindling-signals-report=html:report.html")
    result.assert_outcomes(passed=3, failed=1)
    return shop_project.path / "report.html"


def test_a_timeline_with_a_failed_and_an_open_lifecycle_on_two_threads(chromium: Any, report: Path,
                                                                        tmp_path: Path) -> None:
    page = ReportPage(chromium, report).open()
    p = page.page
    # the list: every test with its outcome, the one with the open operation badged
    assert p.locator(".test").count() == 4
    head = page.row(TEST).locator(".test-head")
    assert head.locator(".badge.open").inner_text() == "1 open"
    assert head.locator(".badge.findings").inner_text() == "1 finding"

    row = page.open_test(TEST)
    lanes = row.locator(".lane")
    assert [lanes.nth(i).get_attribute("data-thread") for i in range(lanes.count())] == ["MainThread", "pool_0"]
    spans = row.locator(".span")
    found = sorted((spans.nth(i).get_attribute("data-state"), spans.nth(i).get_attribute("data-thread"))
                   for i in range(spans.count()))
    assert found == [("closed", "MainThread"), ("closed", "pool_0"), ("failed", "pool_0"), ("open", "MainThread")]
    opened = row.locator(".span.open")
    assert opened.locator("title").text_content() == "shop.checkout left-open: opened, never closed"
    assert "shop.checkout left-open".startswith((opened.locator("text.label").text_content() or "?").rstrip("…"))
    mark = opened.locator(".open-mark")
    assert mark.is_visible() and mark.text_content() == "never closed ▶"
    assert row.locator(".pin").count() == 1  # the lifecycle finding, at the emission that caused it

    # a click on an emission shows its payload as recorded
    row.locator('.em[data-signal="shop.pre_checkout"][data-thread="pool_0"]').first.click()
    detail = row.locator(".tl-detail")
    assert '"cart_id": "pool-1"' in detail.locator("pre.payload").inner_text()
    assert "closed by shop.post_checkout" in detail.inner_text()
    # the failed span: its closer carries the error
    row.locator(".span.failed").click()
    row.locator('.tl-table tr:has-text("shop.checkout_failed")').click()
    assert '"error": "card declined"' in detail.locator("pre.payload").inner_text()
    # the open one: never closed, and its finding
    opened.click()
    assert "opens shop.checkout: never closed" in detail.inner_text()
    assert detail.locator('.pins li[data-pin-kind="lifecycle"]').inner_text().startswith(
        "lifecycle: shop.pre_checkout (operation ")

    png = page.screenshot(TEST, tmp_path / "timeline.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.errors == [] and page.requests == []


def test_filters_chips_and_findings_lead_to_the_tests(chromium: Any, report: Path) -> None:
    page = ReportPage(chromium, report).open()
    p = page.page
    p.select_option("#ks-tests select[aria-label=Outcome]", label="failed (1)")
    assert [p.locator(".test").nth(i).get_attribute("data-test") for i in range(p.locator(".test").count())] == [
        "test_browser.py::test_refund_fails"]
    p.select_option("#ks-tests select[aria-label=Outcome]", value="-1")
    p.check("#ks-tests .toolbar input[type=checkbox]")  # with findings
    assert [p.locator(".test").nth(i).get_attribute("data-test") for i in range(p.locator(".test").count())] == [TEST]
    p.uncheck("#ks-tests .toolbar input[type=checkbox]")
    assert p.locator(".test").count() == 4
    # a signal chip: the tests that emitted it
    p.locator('.chip[data-signal="shop.checkout_failed"]').click()
    assert p.locator(".filter-tag").inner_text().startswith("emitted shop.checkout_failed")
    assert sorted(p.locator(".test").nth(i).get_attribute("data-test") for i in range(p.locator(".test").count())) == [
        TEST, "test_shop.py::test_checkout_declined"]
    # a finding's test: opened at its timeline, the finding's emission selected
    p.locator('details[data-finding="lifecycle"] summary').click()
    p.locator(f'details[data-finding="lifecycle"] a[data-open-test="{TEST}"]').click()
    detail = page.row(TEST).locator(".tl-detail")
    assert detail.locator(".pins li").count() == 1
    assert p.evaluate("location.hash") == "#test=test_browser.py%3A%3Atest_checkouts_on_two_threads"
    # a link to a test opens it (the hash a page keeps)
    again = ReportPage(chromium, report).open(TEST)
    assert again.row(TEST).locator(".tl-svg").count() == 1
    assert page.errors == [] and again.errors == [] and page.requests == []

"""The report files: JSON (a documented shape), Markdown (a PR comment / job summary), HTML."""

from __future__ import annotations

import json
from importlib.metadata import version
from html.parser import HTMLParser
from typing import Any

import pytest
from report_project import EXTENSIONS, QUICK_REFERENCE, TOTAL, pct, section

pytestmark = pytest.mark.kindling_signals_ignore  # pytester runs emit bad signals on purpose


def run_json(project: pytest.Pytester, *args: str) -> dict[str, Any]:
    result = project.runpytest("--kindling-signals", "--kindling-signals-report=json:out/report.json", *args)
    assert f"json report written to {project.path / 'out' / 'report.json'}" in section(result)
    return json.loads((project.path / "out" / "report.json").read_text(encoding="utf-8"))


def test_json_shape(bad_tests: pytest.Pytester) -> None:
    report = run_json(bad_tests)
    assert list(report) == ["$schema", "meta", "totals", "scopes", "tiers", "providers", "signals", "findings",
                            "tests", "conformance", "gates"]
    assert report["$schema"] == "urn:kindling-signals:schema:report:2"
    meta = report["meta"]
    assert (meta["format"], meta["format_version"], meta["partial"], meta["workers"]) == \
        ("kindling-signals-report", 2, False, [])
    assert meta["outcomes"] == {"passed": 5, "failed": 0, "error": 0, "skipped": 0, "xfailed": 0, "xpassed": 0}
    assert meta["plugin_version"] == version("pytest-kindling-signals")
    # the same on every machine: package-relative for an installed one, rootdir-relative for the user's
    assert meta["catalogs"] == ["pytest_kindling_signals:catalog/shipped/quick_reference.yaml", "shop_catalog.yaml"]
    assert report["scopes"] == {
        "quick-reference": {"signals": QUICK_REFERENCE, "emitted": 0, "percent": 0.0},
        "extensions": {"signals": EXTENSIONS, "emitted": 0, "percent": 0.0 if EXTENSIONS else 100.0},
        "user-catalogs": {"signals": 4, "emitted": 4, "percent": 100.0}}
    assert report["conformance"] is None
    assert (meta["tests"], meta["emissions"]) == (5, 7)
    assert {k: report["totals"][k] for k in ("signals", "emitted", "percent")} == \
        {"signals": TOTAL, "emitted": 4, "percent": float(pct(4, TOTAL, 2))}
    assert report["tiers"]["shop"] == {"signals": 4, "emitted": 4, "percent": 100.0, "missing": []}
    assert report["tiers"]["critical"]["missing"][:2] == ["datapipes.pre_run", "datapipes.post_run"]
    assert report["providers"]["shop"] == {
        "namespace": "shop", "provider": "ShopService", "tier": "shop",
        "tiers": {"shop": {"signals": 4, "emitted": 4, "percent": 100.0}},
        "signals": 4, "emitted": 4, "percent": 100.0, "missing": []}
    # each test that emitted: its outcome and its timeline (the JSON report's "tests")
    assert list(report["tests"]) == ["test_bad.py::test_bad_payload", "test_bad.py::test_undocumented",
                                     "test_bad.py::test_unclosed", "test_shop.py::test_checkout",
                                     "test_shop.py::test_checkout_declined"]
    unclosed = report["tests"]["test_bad.py::test_unclosed"]
    assert (unclosed["outcome"], [e["signal"] for e in unclosed["timeline"]["emissions"]]) == \
        ("passed", ["shop.pre_checkout"])
    assert [(s["operation"], s["state"]) for s in unclosed["timeline"]["spans"]] == [("shop.checkout", "open")]
    assert [(p["emission"], p["kind"]) for p in unclosed["timeline"]["pins"]] == [(0, "lifecycle")]
    assert len(report["signals"]) == TOTAL
    assert report["signals"]["shop.pre_checkout"] == {
        "provider": "ShopService", "tier": "shop", "extension": False, "count": 3,
        "tests": ["test_bad.py::test_unclosed", "test_shop.py::test_checkout",
                  "test_shop.py::test_checkout_declined"]}
    assert report["signals"]["entity.post_merge"]["count"] == 0
    findings = report["findings"]
    assert findings["undocumented"] == [{
        "signal": "shop.refnded", "count": 1, "first_test": "test_bad.py::test_undocumented",
        "tests": ["test_bad.py::test_undocumented"], "did_you_mean": ["shop.refunded"]}]
    assert findings["payload"] == [{
        "signal": "shop.refunded", "field": "amount", "expected": "number", "actual": "string '3'",
        "message": "shop.refunded: field 'amount': expected number, got string '3'",
        "count": 1, "first_test": "test_bad.py::test_bad_payload"}]
    assert [(f["signal"], f["count"], f["first_test"]) for f in findings["lifecycle"]] == \
        [("shop.pre_checkout", 1, "test_bad.py::test_unclosed")]
    assert report["gates"] == []


def test_json_lists_the_gates_and_their_verdicts(shop_project: pytest.Pytester) -> None:
    report = run_json(shop_project, "--kindling-signals-fail-under=shop:75,total:5")
    assert report["gates"] == [
        {"gate": "shop:75", "passed": True, "skipped": False, "reason": "shop coverage 3/4 (75.0%) >= 75%"},
        {"gate": "total:5", "passed": False, "skipped": False,
         "reason": f"total coverage 3/{TOTAL} ({pct(3, TOTAL)}%) < 5%, never emitted: datapipes.pre_run, "
                   f"datapipes.post_run, datapipes.run_failed and {TOTAL - 6} more"}]


def test_markdown_for_a_pull_request_or_job_summary(bad_tests: pytest.Pytester) -> None:
    result = bad_tests.runpytest("--kindling-signals", "--kindling-signals-report=markdown:summary.md",
                                 "--kindling-signals-fail-under=shop:100")
    assert result.ret == pytest.ExitCode.OK
    lines = (bad_tests.path / "summary.md").read_text(encoding="utf-8").splitlines()
    assert lines[:3] == [
        "## Kindling signals: catalog coverage",
        "",
        f"**{pct(4, TOTAL)}%** of catalog signals emitted (4 of {TOTAL}) by 5 tests · :white_check_mark: gates passed",
    ]
    for row in ["| Provider | Tier | Signals | Emitted | Cover |",
                "| shop (ShopService) | shop | 4 | 4 | 100.0% |",
                "| **shop** | | 4 | 4 | 100.0% |",
                f"| **TOTAL** | | **{TOTAL}** | **4** | **{pct(4, TOTAL)}%** |",
                "- :white_check_mark: `shop:100`: shop coverage 4/4 (100.0%) >= 100%",
                "| `shop.refunded` | field 'amount': expected number, got string '3' | 1 "
                "| `test_bad.py::test_bad_payload` |",
                "| `shop.pre_checkout` | shop.pre_checkout (operation &lt;id>) was never closed by "
                "shop.post_checkout or shop.checkout_failed | 1 | `test_bad.py::test_unclosed` |",
                f"<details><summary>Never emitted ({TOTAL - 4})</summary>"]:
        assert row in lines, row


class _Page(HTMLParser):
    """Collects the report's data attributes and every tag name."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self.missing: list[str] = []
        self.emitted: dict[str, int] = {}
        self.findings: list[str] = []
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []
        self.data_type: str | None = None
        self.data: Any = None
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs += attrs
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("id") == "ks-data":
            self.data_type, self._in_data = a.get("type"), True
        if "data-kind" in a:
            self.rows[(a["data-kind"], a["data-name"])] = a
        if "data-missing" in a:
            self.missing.append(a["data-missing"])
        if "data-signal" in a:
            self.emitted[a["data-signal"]] = int(a["data-count"])
        if "data-finding" in a:
            self.findings.append(a["data-finding"])

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.data = json.loads(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_data = False


def test_html_is_one_self_contained_page_that_holds_the_numbers(bad_tests: pytest.Pytester) -> None:
    bad_tests.runpytest("--kindling-signals", "--kindling-signals-report=html:report.html")
    text = (bad_tests.path / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    page.close()
    assert text.startswith("<!DOCTYPE html>")
    # self-contained: its style and script inline, no link to fetch anything, no address
    assert not page.tags & {"link", "img", "iframe"}
    assert not [v for k, v in page.attrs if k == "src"]
    assert {v[:1] for k, v in page.attrs if k == "href"} == {"#"}
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    shop = page.rows[("provider", "shop")]
    assert (shop["data-signals"], shop["data-emitted"], shop["data-percent"]) == ("4", "4", "100.0")
    total = page.rows[("total", "TOTAL")]
    assert (total["data-signals"], total["data-emitted"], total["data-percent"]) == (str(TOTAL), "4", pct(4, TOTAL))
    assert page.rows[("tier", "critical")]["data-emitted"] == "0"
    assert len(page.missing) == TOTAL - 4 and "shop.refunded" not in page.missing
    assert page.emitted == {"shop.pre_checkout": 3, "shop.post_checkout": 1,
                            "shop.checkout_failed": 1, "shop.refunded": 1}
    assert page.findings == ["undocumented", "payload", "lifecycle"]
    # the tests and their timelines travel as JSON for the page's script (a small run's uncompressed)
    assert page.data_type == "application/json"
    data = page.data
    assert [f"{data['files'][t[0]]}::{t[1]}" for t in data["tests"]] == [
        "test_bad.py::test_bad_payload", "test_bad.py::test_undocumented", "test_bad.py::test_unclosed",
        "test_shop.py::test_checkout", "test_shop.py::test_checkout_declined"]
    assert all(t[4] >= 0 for t in data["tests"])  # every one with its timeline


def test_reports_are_repeatable_and_the_ini_gives_defaults(shop_project: pytest.Pytester) -> None:
    shop_project.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\n"
                         "kindling_signals_report =\n    json:from_ini/report.json\n    markdown:from_ini/r.md\n")
    lines = section(shop_project.runpytest("--kindling-signals"))
    assert lines == [f"json report written to {shop_project.path / 'from_ini' / 'report.json'}",
                     f"markdown report written to {shop_project.path / 'from_ini' / 'r.md'}"]
    # the command line wins over the ini entirely
    lines = section(shop_project.runpytest("--kindling-signals", "--kindling-signals-report=term",
                                           "--kindling-signals-report=html:cli.html"))
    assert lines[-1] == f"html report written to {shop_project.path / 'cli.html'}"
    assert lines[0].startswith("Provider")
    assert "<script src" not in (shop_project.path / "cli.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("value, message", [
    ("xml:out.xml", "--kindling-signals-report='xml:out.xml' is not a report type; accepted forms: "
                    "term, term-missing, json:PATH, markdown:PATH or html:PATH"),
    ("json", "--kindling-signals-report='json': json needs a file path, as in json:PATH; accepted forms: "
             "term, term-missing, json:PATH, markdown:PATH or html:PATH"),
])
def test_a_bad_report_type_is_a_usage_error(shop_project: pytest.Pytester, value: str, message: str) -> None:
    result = shop_project.runpytest("--kindling-signals", f"--kindling-signals-report={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: {message}" in result.stderr.lines

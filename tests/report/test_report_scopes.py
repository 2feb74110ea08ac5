"""The quick reference, extensions and your catalogs, shown apart; the conformance view (spark-kindling)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_project import EXTENSIONS, QUICK_REFERENCE, SHOP_CATALOG, section

from kindling.signal_catalog import load_catalog
from pytest_kindling_signals.catalog import CATALOGS_DIR, QUICK_REFERENCE_PATH
from pytest_kindling_signals.catalog import load_catalog as load_files
from pytest_kindling_signals.catalog import load_aliases
from pytest_kindling_signals.report import CoverageReport, SessionData, evaluate_gates, parse_fail_under
from pytest_kindling_signals.report import render_html, render_json, render_markdown, render_term

pytestmark = pytest.mark.kindling_signals_ignore


def test_extensions_are_shown_apart_and_gated_on_their_own(shop_project: pytest.Pytester) -> None:
    shop_project.makefile(".yaml", shop_catalog=SHOP_CATALOG.replace(
        "        when: After a refund\n", "        when: After a refund\n        extension: true\n"))
    result = shop_project.runpytest("--kindling-signals", "--kindling-signals-report=term",
                                    "--kindling-signals-report=json:r.json",
                                    "--kindling-signals-fail-under=extensions:100,user-catalogs:100")
    lines = section(result)
    assert (f"quick reference 0/{QUICK_REFERENCE} (0.0%), extensions 0/{EXTENSIONS + 1} (0.0%), "
            "your catalogs 3/3 (100.0%)") in lines
    assert lines[-3:] == [
        "Gate user-catalogs:100: passed: user-catalogs coverage 3/3 (100.0%) >= 100%",
        f"json report written to {shop_project.path / 'r.json'}",
        f"kindling-signals: FAILED extensions coverage 0/{EXTENSIONS + 1} (0.0%) < 100%, never emitted: "
        + ", ".join([s.name for s in load_catalog().values() if s.extension] + ["shop.refunded"])]
    report = json.loads((shop_project.path / "r.json").read_text(encoding="utf-8"))
    assert report["scopes"]["extensions"] == {"signals": EXTENSIONS + 1, "emitted": 0, "percent": 0.0}
    assert report["signals"]["shop.refunded"]["extension"] is True


def test_one_part_alone_needs_no_scope_line(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP_CATALOG, encoding="utf-8")
    report = CoverageReport(load_files(tmp_path / "shop.yaml"), SessionData())
    assert report.shown_scopes == []
    assert not [line for line in render_term(report) if line.startswith("quick reference")]
    assert report.to_dict()["scopes"]["quick-reference"]["signals"] == 4  # the JSON has them all the same


@pytest.fixture(scope="module")
def spark_kindling_report() -> CoverageReport:
    """spark-kindling's catalog, a run that emitted two of its signals, and the conformance view."""
    sk = load_files(CATALOGS_DIR / "spark_kindling_0.14.yaml")
    qr = load_files(QUICK_REFERENCE_PATH)
    aliases = load_aliases(CATALOGS_DIR / "spark_kindling_aliases.yaml", quick_ref=qr)
    data = SessionData(tests={"t.py::test_run": 0}, counts={"datapipes.before_run": 1, "datapipes.after_run": 1},
                       emitters={"datapipes.before_run": {"t.py::test_run"}, "datapipes.after_run": {"t.py::test_run"}})
    return CoverageReport(sk, data, conformance=(qr, aliases))


def test_the_conformance_view_is_in_every_output(spark_kindling_report: CoverageReport) -> None:
    report = spark_kindling_report
    view = report.conformance
    assert view is not None
    rows = {r["qr_name"]: r for r in view["rows"]}
    assert (rows["datapipes.pre_run"]["status"], rows["datapipes.pre_run"]["framework_name"],
            rows["datapipes.pre_run"]["count"]) == ("other-name", "datapipes.before_run", 1)
    summary = view["summary"]
    term = render_term(report)
    assert f"Conformance to the quick reference ({view['framework']}): {summary['total']} signals: " \
           f"same name {summary['by_status']['same-name']}, other name {summary['by_status']['other-name']}, " \
           f"missing {summary['by_status']['missing']}" in term
    assert f"  emitted in this run: {summary['exercised']} of the " \
           f"{summary['by_status']['same-name'] + summary['by_status']['other-name']} it has" in term
    full = render_term(report, missing=True)
    assert "  datapipes.pre_run -> datapipes.before_run: emitted 1, lacks operation_id, timestamp" in full
    assert json.loads(render_json(report))["conformance"] == view
    md = render_markdown(report)
    assert f"### Conformance to the quick reference ({view['framework']})" in md
    assert "| `datapipes.pre_run` | other name | `datapipes.before_run` | 1 | `operation_id`, `timestamp` |" in md
    assert 'data-conformance="other-name" data-qr="datapipes.pre_run"' in render_html(report)


def test_a_class_with_two_namespaces_gets_a_row_per_namespace(spark_kindling_report: CoverageReport) -> None:
    names = [c.name for c in spark_kindling_report.providers]
    assert len(names) == len(set(names)) == len(spark_kindling_report.catalog.namespaces())
    assert sum(c.signals for c in spark_kindling_report.providers) == len(spark_kindling_report.catalog)


def test_gate_scopes(spark_kindling_report: CoverageReport) -> None:
    gates = parse_fail_under("quick-reference:5,extensions:0", spark_kindling_report.catalog.tiers)
    results = evaluate_gates(spark_kindling_report, gates)
    qr = spark_kindling_report.scopes["quick-reference"]
    assert results[0].reason.startswith(f"quick-reference coverage 2/{qr.signals} ")
    assert results[1].passed

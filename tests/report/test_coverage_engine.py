"""The report engine without pytest: collecting, the validation shortcut, merging, gates, rendering."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from report_project import SHOP_CATALOG, TOTAL, pct, row

from kindling.signal_catalog import load_catalog
from kindling.signaling import BlinkerSignalProvider, SignalEmitter, add_global_tap
from pytest_kindling_signals.report import (
    CentralCollector,
    ControllerCollector,
    Coverage,
    CoverageReport,
    FailUnder,
    SessionData,
    WorkerCollector,
    evaluate_gates,
    gate_failure_line,
    parse_fail_under,
)
from pytest_kindling_signals.report import parse_report_targets, render_term

pytestmark = pytest.mark.kindling_signals_ignore  # these tests emit bad signals on purpose


class Merger(SignalEmitter):
    EMITS = ("entity.pre_merge", "entity.post_merge", "entity.merge_failed")

    def merge(self, **result: Any) -> None:
        with self.operation("entity.merge", entity_id="orders", merge_keys=["id"],
                            source_row_count=3) as op:
            op.set(**{"rows_inserted": 3, "rows_updated": 0, "rows_deleted": 0, **result})


@pytest.fixture
def merger() -> Merger:
    return Merger(BlinkerSignalProvider(name="engine-test"))


def collect(run: Any, collector: CentralCollector | None = None, test: str = "t.py::test_a",
            index: int = 0) -> SessionData:
    collector = (collector or CentralCollector(load_catalog(), add_global_tap)).start()
    collector.begin_test(test, index)
    try:
        run()
    finally:
        collector.end_test()
    return collector.finish()


def payload_findings(data: SessionData) -> list[tuple[str, str, str, int]]:
    return [(f.field or "", f.expected or "", f.actual or "", f.count)
            for f in data.findings.values() if f.kind == "payload"]


def test_counts_and_tests_per_signal(merger: Merger) -> None:
    data = collect(lambda: [merger.merge() for _ in range(3)])
    assert data.counts == {"entity.pre_merge": 3, "entity.post_merge": 3}
    assert data.emitters["entity.post_merge"] == {"t.py::test_a"}
    assert data.findings == {}


def test_a_known_good_shape_still_catches_bad_values(merger: Merger) -> None:
    """The validation shortcut keys on shape *and* each constrained value's verdict."""
    def run() -> None:
        merger.merge()                          # caches the valid shape
        merger.merge(rows_inserted=-1)          # same shape, breaks minimum: 0
        merger.merge(rows_inserted=-2)          # counted with the first
        merger.merge(rows_inserted=2.0)         # a whole float is a JSON integer
        merger.merge(rows_inserted=2.5)         # a fraction is not
    data = collect(run)
    assert payload_findings(data) == [
        ("rows_inserted", ">= 0", "integer -1", 2),
        ("rows_inserted", "integer", "number 2.5", 1),
    ]


def test_an_enum_value_outside_the_enum_is_caught_after_a_valid_one() -> None:
    class Bootstrap(SignalEmitter):
        EMITS = ("bootstrap.platform_detected",)

    e = Bootstrap(BlinkerSignalProvider())
    data = collect(lambda: [e.emit("bootstrap.platform_detected", platform=p, workspace_id=None,
                                   spark_version="3.5.5") for p in ("fabric", "synapse", "fabrik", "fabric")])
    assert [(f, a, n) for f, _, a, n in payload_findings(data)] == [("platform", "string 'fabrik'", 1)]


def test_nested_values_that_are_not_json_are_caught_after_a_valid_one() -> None:
    class Emitter(SignalEmitter):
        EMITS = ("entity.schema_changed",)

    e = Emitter(BlinkerSignalProvider())

    def run() -> None:
        e.emit("entity.schema_changed", entity_id="o", added_columns=["b"], removed_columns=[],
               modified_columns=[], details={"b": ["x"]})
        e.emit("entity.schema_changed", entity_id="o", added_columns=["b"], removed_columns=[],
               modified_columns=[], details={"b": [Path("x")]})
    data = collect(run)
    assert payload_findings(data) == [
        ("details.b[0]", "a JSON value (str, int, float, bool, None, list, dict)", "PosixPath PosixPath('x')", 1)]


def test_lifecycles_are_checked_per_test(merger: Merger) -> None:
    collector = CentralCollector(load_catalog(), add_global_tap).start()
    e = merger
    collector.begin_test("t.py::test_opens", 0)
    e.emit("entity.pre_merge", entity_id="o", merge_keys=["id"], source_row_count=1)
    collector.end_test()
    collector.begin_test("t.py::test_clean", 1)
    e.merge()
    collector.end_test()
    data = collector.finish()
    assert [(f.signal, f.first_test) for f in data.findings.values()] == [
        ("entity.pre_merge", "t.py::test_opens")]
    assert "<id>" in next(iter(data.findings.values())).message


def test_ignored_tests_record_nothing(merger: Merger) -> None:
    collector = CentralCollector(load_catalog(), add_global_tap).start()
    collector.begin_test("t.py::test_ignored", 0, ignored=True)
    merger.merge(rows_inserted="x")
    collector.end_test()
    data = collector.finish()
    assert (data.counts, data.findings, data.ignored_tests, data.tests) == ({}, {}, 1, {})


def test_a_stopped_collector_sees_nothing(merger: Merger) -> None:
    collector = CentralCollector(load_catalog(), add_global_tap)
    collector.start().stop()
    merger.merge()
    assert collector.finish().counts == {}


def test_worker_data_round_trips_and_merges_like_one_run(merger: Merger) -> None:
    catalog = load_catalog()
    a = WorkerCollector(catalog, add_global_tap)
    collect(lambda: merger.merge(rows_inserted=-1), a, "t.py::test_b", 1)
    b = WorkerCollector(catalog, add_global_tap)
    collect(lambda: merger.merge(rows_inserted=-5), b, "t.py::test_a", 0)
    controller = ControllerCollector(catalog)
    for worker, collector in (("gw0", a), ("gw1", b)):
        controller.worker_finished(worker, json.loads(json.dumps(collector.workeroutput())))
    controller.worker_finished("gw2", None)
    data = controller.finish()
    assert data.tests == {"t.py::test_a": 0, "t.py::test_b": 1}
    assert data.counts == {"entity.pre_merge": 2, "entity.post_merge": 2}
    (finding,) = data.findings.values()
    # the first in collection order, whichever worker ran it
    assert (finding.count, finding.first_test, finding.actual) == (2, "t.py::test_a", "integer -5")
    assert controller.workers_without_data == ["gw2"]


def test_unreadable_worker_data_is_named() -> None:
    controller = ControllerCollector(load_catalog())
    controller.worker_finished("gw0", {"version": 99})
    assert controller.problems == {"gw0": "sent unreadable data: kindling-signals data version 99 is not 3; "
                                          "run the controller and workers on one plugin version"}


# -- gates ------------------------------------------------------------------------------

TIERS = ("critical", "high", "moderate")


def test_parse_fail_under_forms() -> None:
    assert parse_fail_under("95", TIERS) == (FailUnder("total", Decimal("95")),)
    assert parse_fail_under(" critical:100 , high:90.5%,total:80", TIERS) == (
        FailUnder("critical", Decimal("100")), FailUnder("high", Decimal("90.5")),
        FailUnder("total", Decimal("80")))


@pytest.mark.parametrize("emitted, signals, pct, passes", [
    (249, 250, "100", False),    # 99.6% must not pass 100
    (249, 250, "99.6", True),
    (249, 250, "99.61", False),
    (1, 3, "33.33", True),
    (1, 3, "33.34", False),
    (0, 0, "100", True),         # an empty tier has nothing to miss
])
def test_gates_compare_counts_exactly(emitted: int, signals: int, pct: str, passes: bool) -> None:
    assert FailUnder("total", Decimal(pct)).passes(Coverage("total", signals, emitted)) is passes


def _report(tmp_path: Path, emit: list[str]) -> CoverageReport:
    (tmp_path / "shop.yaml").write_text(SHOP_CATALOG, encoding="utf-8")
    catalog = load_catalog(tmp_path / "shop.yaml")
    data = SessionData(tests={"t.py::test_a": 0}, counts={n: 1 for n in emit},
                       emitters={n: {"t.py::test_a"} for n in emit})
    return CoverageReport(catalog, data)


def test_gate_results_and_the_one_line(tmp_path: Path) -> None:
    report = _report(tmp_path, ["shop.pre_checkout", "shop.post_checkout", "shop.checkout_failed"])
    results = evaluate_gates(report, parse_fail_under("shop:75,total:4", report.catalog.tiers))
    assert [(r.gate, r.passed) for r in results] == [("shop:75", True), ("total:4", False)]
    assert gate_failure_line(results) == (
        f"kindling-signals: FAILED total coverage 3/{TOTAL} ({pct(3, TOTAL)}%) < 4%, never emitted: "
        f"datapipes.pre_run, datapipes.post_run, datapipes.run_failed and {TOTAL - 6} more")
    assert gate_failure_line(results[:1]) is None


def test_percentages_round_down_never_up(tmp_path: Path) -> None:
    assert Coverage("x", 10000, 9996).percent == "99.9"
    assert Coverage("x", 3, 2).percent == "66.6"
    assert Coverage("x", 0, 0).percent == "100.0"
    lines = render_term(_report(tmp_path, ["shop.pre_checkout"]))
    assert row("shop", "", 4, 1) in lines


def test_report_targets() -> None:
    assert [(t.kind, t.path) for t in parse_report_targets(
        ["term-missing", "json:a.json", "json:a.json", "html:r/x.html"])] == [
        ("term-missing", None), ("json", "a.json"), ("html", "r/x.html")]
    with pytest.raises(ValueError, match="give term or term-missing, not both"):
        parse_report_targets(["term", "term-missing"])


def test_invalid_payloads_of_a_known_shape_count_exactly_without_revalidation() -> None:
    # The verdict of a shape is remembered, invalid ones too: later payloads of the
    # shape add to the same findings, which keep their first occurrence's values.
    catalog = load_catalog()
    collector = CentralCollector(catalog, add_global_tap).start()
    provider = BlinkerSignalProvider(name="verdicts")

    class Merger(SignalEmitter):
        EMITS = ("entity.post_merge",)

    merger = Merger(provider)
    collector.begin_test("tests/test_a.py::test_bad", 0)
    for i in range(50):
        merger.emit("entity.post_merge", rows_inserted=str(i), rows_updated=-1, rows_deleted=0,
                    duration_seconds=0.1)
    merger.emit("entity.post_merge", rows_inserted=3, rows_updated=0, rows_deleted=0, duration_seconds=0.1)
    collector.end_test()
    collector.begin_test("tests/test_a.py::test_worse", 1)
    for i in range(5):
        merger.emit("entity.post_merge", rows_inserted=str(i), rows_updated=-1, rows_deleted=0,
                    duration_seconds=0.1)
    collector.end_test()
    data = collector.finish()
    found = sorted((f.field, f.expected, f.count, f.first_test, f.actual) for f in data.findings.values()
                   if f.kind == "payload")
    assert found == [("rows_inserted", "integer", 55, "tests/test_a.py::test_bad", "string '0'"),
                     ("rows_updated", ">= 0", 55, "tests/test_a.py::test_bad", "integer -1")]
    assert data.counts["entity.post_merge"] == 56

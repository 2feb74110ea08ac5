"""Each test's timeline: its emissions in order, on their threads, the lifecycles paired as the
contract pairs them, the findings pinned; kept in the data file, the JSON report and the HTML page."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from report_project import BAD_TESTS

from kindling.signal_catalog import load_catalog
from kindling.signaling import BlinkerSignalProvider, SignalEmitter, add_global_tap
from pytest_kindling_signals.catalog import CATALOGS_DIR, QUICK_REFERENCE_PATH
from pytest_kindling_signals.catalog import load_catalog as load_files
from pytest_kindling_signals.frameworks import Emission
from pytest_kindling_signals.report import CentralCollector, CoverageReport, DataError, RunData, combine
from pytest_kindling_signals.report import evaluate_gates, parse_fail_under, render_markdown, render_term
from pytest_kindling_signals.report.data import CatalogFile
from pytest_kindling_signals.report.html import page_data, render_html
from pytest_kindling_signals.report.results import SessionData
from pytest_kindling_signals.report.timeline import Span, clip_payload, pair_operations
from pytest_kindling_signals.report.wording import partial_line

pytestmark = pytest.mark.kindling_signals_ignore  # these tests emit bad signals on purpose


class Merger(SignalEmitter):
    EMITS = ("entity.pre_merge", "entity.post_merge", "entity.merge_failed", "entity.schema_changed")

    def merge(self, entity_id: str = "silver.orders", *, fail: bool = False) -> None:
        with self.operation("entity.merge", entity_id=entity_id, merge_keys=["id"], source_row_count=3) as op:
            if fail:
                raise ValueError("MERGE destination only supports Delta sources")
            op.set(rows_inserted=3, rows_updated=0, rows_deleted=0)


def run_test(body: Any, *, limit: int = 200, test: str = "t.py::test_a") -> SessionData:
    collector = CentralCollector(load_catalog(), add_global_tap, timeline_limit=limit).start()
    collector.begin_test(test, 0)
    try:
        body()
    finally:
        collector.end_test()
    return collector.finish()


def signals(data: SessionData, test: str = "t.py::test_a") -> list[str]:
    return [e.signal for e in data.timelines[test].emissions]


# -- what a test keeps ----------------------------------------------------------------------

def test_a_test_keeps_its_emissions_in_order_with_their_threads_and_offsets() -> None:
    merger = Merger(BlinkerSignalProvider())

    def body() -> None:
        merger.merge("bronze.orders")
        with ThreadPoolExecutor(1, thread_name_prefix="pipe-pool") as pool:
            pool.submit(merger.merge, "silver.orders").result()

    data = run_test(body)
    timeline = data.timelines["t.py::test_a"]
    assert signals(data) == ["entity.pre_merge", "entity.post_merge"] * 2
    assert [name for name, _ in timeline.threads] == [threading.current_thread().name, "pipe-pool_0"]
    assert [e.thread for e in timeline.emissions] == [0, 0, 1, 1]
    ats = [e.at for e in timeline.emissions]
    assert ats == sorted(ats) and 0 <= ats[0] and ats[-1] <= timeline.duration
    assert timeline.emissions[2].payload["entity_id"] == "silver.orders"  # the payload as recorded
    assert [(s.start, s.end, s.state) for s in timeline.spans] == [(0, 1, "closed"), (2, 3, "closed")]
    assert timeline.left_out == 0 and timeline.pins == []


def test_past_the_limit_emissions_are_counted_not_kept() -> None:
    merger = Merger(BlinkerSignalProvider())
    data = run_test(lambda: [merger.merge() for _ in range(5)], limit=3)
    timeline = data.timelines["t.py::test_a"]
    assert signals(data) == ["entity.pre_merge", "entity.post_merge", "entity.pre_merge"]
    assert (timeline.left_out, timeline.size) == (7, 10)
    # the third merge opened on the timeline and closed after it: not an open operation
    assert [(s.start, s.end, s.state) for s in timeline.spans] == [(0, 1, "closed"), (2, None, "closed-later")]
    assert data.findings == {}


def test_no_timeline_with_a_limit_of_zero_nor_for_a_test_that_emitted_nothing() -> None:
    merger = Merger(BlinkerSignalProvider())
    assert run_test(merger.merge, limit=0).timelines == {}
    assert run_test(lambda: None).timelines == {}


def test_a_failed_merge_and_an_open_one_are_spans_with_their_findings_pinned() -> None:
    merger = Merger(BlinkerSignalProvider())

    def body() -> None:
        with pytest.raises(ValueError):
            merger.merge(fail=True)
        merger.emit("entity.pre_merge", entity_id="silver.orders", merge_keys=["id"], source_row_count="3")
        merger.emit("entity.schema_changd", entity_id="silver.orders")

    data = run_test(body)
    timeline = data.timelines["t.py::test_a"]
    assert signals(data) == ["entity.pre_merge", "entity.merge_failed", "entity.pre_merge", "entity.schema_changd"]
    assert timeline.spans == [Span("entity.merge", 0, 1, "failed"), Span("entity.merge", 2, None, "open")]
    assert timeline.emissions[1].payload["error"] == "MERGE destination only supports Delta sources"
    oid = timeline.emissions[2].payload["operation_id"]
    assert [(p.emission, p.kind, p.message) for p in timeline.pins] == [
        (2, "payload", "field 'source_row_count': expected integer"),
        (2, "lifecycle", f"entity.pre_merge (operation {oid}) was never closed by entity.post_merge or "
                         "entity.merge_failed"),
        (3, "undocumented", "entity.schema_changd is not in the catalog"),
    ]


def test_lifecycles_pair_as_the_contract_pairs_them() -> None:
    sk = load_files(CATALOGS_DIR / "spark_kindling_0.14.yaml")  # pairs pipes by (run_id, pipe_id), no ids
    pipe = sk.operation_opened_by("datapipes.before_pipe")
    assert pipe is not None and pipe.pair_by != ("operation_id",)
    key = tuple({"run_id": "r1", "pipe_id": "p"}.get(f) for f in pipe.pair_by)
    closer = next(n for n in pipe.closers if n != pipe.failed)
    records = [("datapipes.before_pipe", key), (closer, key), ("datapipes.before_pipe", key),
               (pipe.failed or closer, key), (closer, key)]
    # a key may be reused once closed (the same pipe runs again); a closer with nothing open is unopened
    assert pair_operations(records, sk) == [
        Span(pipe.name, 0, 1, "closed"), Span(pipe.name, 2, 3, "failed" if pipe.failed else "closed"),
        Span(pipe.name, None, 4, "unopened")]
    qr = load_files(QUICK_REFERENCE_PATH)  # operation ids: an id opened twice leaves the first open
    assert pair_operations([("entity.pre_merge", ("a",)), ("entity.pre_merge", ("a",)),
                            ("entity.post_merge", ("a",))], qr) == [
        Span("entity.merge", 0, None, "open"), Span("entity.merge", 1, 2, "closed")]


def test_payloads_are_clipped_and_objects_shown_by_their_type_only() -> None:
    class DataFrame:
        def __repr__(self) -> str:
            raise AssertionError("repr() of a DataFrame could start Spark work")

    clipped = clip_payload({"df": DataFrame(), "sql": "x" * 1000, "rows": list(range(50)), "nan": float("nan"),
                            "error": ValueError("boom"), "deep": [[[[[[["bottom"]]]]]]]})
    assert clipped["df"] == "<DataFrame>"
    assert clipped["sql"] == "x" * 240 + "… (760 more characters)"
    assert clipped["rows"][-1] == "… 30 more items" and len(clipped["rows"]) == 21
    assert (clipped["nan"], clipped["error"]) == ("nan", "<ValueError: boom>")
    assert json.dumps(clipped)  # JSON, whatever the payload held


# -- outcomes, options, the files ---------------------------------------------------------

OUTCOME_TESTS = '''\
import pytest
from shop import new_shop

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown")

def test_passes():
    new_shop().checkout("c1")

def test_fails():
    new_shop().checkout("c2")
    assert False

def test_errors_in_teardown(broken_teardown):
    new_shop().checkout("c3")

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known")
def test_xfails():
    new_shop().checkout("c4", fail=True)

@pytest.mark.xfail(reason="fixed?")
def test_xpasses():
    new_shop().checkout("c5")
'''


def test_each_tests_outcome_is_in_the_data_and_the_reports(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_outcomes=OUTCOME_TESTS)
    result = shop_project.runpytest("--kindling-signals", "--kindling-signals-report=json:r.json",
                                    "test_outcomes.py")
    result.assert_outcomes(passed=2, failed=1, errors=1, skipped=1, xfailed=1, xpassed=1)
    report = json.loads((shop_project.path / "r.json").read_text(encoding="utf-8"))
    assert report["meta"]["outcomes"] == {"passed": 1, "failed": 1, "error": 1, "skipped": 1, "xfailed": 1,
                                          "xpassed": 1}
    assert {t.split("::")[1]: v["outcome"] for t, v in report["tests"].items()} == {
        "test_passes": "passed", "test_fails": "failed", "test_errors_in_teardown": "error",
        "test_skipped": "skipped", "test_xfails": "xfailed", "test_xpasses": "xpassed"}
    assert report["tests"]["test_outcomes.py::test_skipped"]["timeline"] is None  # it emitted nothing
    xfailed = report["tests"]["test_outcomes.py::test_xfails"]["timeline"]
    assert [(s["operation"], s["state"]) for s in xfailed["spans"]] == [("shop.checkout", "failed")]
    data = RunData.load(shop_project.path / ".kindling-signals")
    assert data.data.outcomes["test_outcomes.py::test_fails"] == "failed"
    assert "test_outcomes.py::test_passes" not in json.loads(
        (shop_project.path / ".kindling-signals").read_text(encoding="utf-8"))["data"]["outcomes"]


def test_the_timeline_limit_option_and_ini_key(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_many="from shop import new_shop\n\ndef test_many():\n"
                                      "    for i in range(4):\n        new_shop().checkout(f'c{i}')\n")
    shop_project.runpytest("--kindling-signals", "--kindling-signals-report=json:r.json",
                           "--kindling-signals-timeline=3", "test_many.py")
    timeline = json.loads((shop_project.path / "r.json").read_text())["tests"]["test_many.py::test_many"]["timeline"]
    assert (len(timeline["emissions"]), timeline["left_out"]) == (3, 5)
    shop_project.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\nkindling_signals_timeline = 0\n")
    shop_project.runpytest("--kindling-signals", "--kindling-signals-report=json:r.json", "test_many.py")
    assert json.loads((shop_project.path / "r.json").read_text())["tests"] == {}
    result = shop_project.runpytest("--kindling-signals", "--kindling-signals-timeline=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert ("ERROR: --kindling-signals-timeline='lots' is not a number of emissions; give a whole number such as "
            "200 (the default), or 0 for no timelines") in result.stderr.lines


def test_the_data_file_keeps_the_timelines_and_combine_keeps_them(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_bad=BAD_TESTS)
    shop_project.runpytest("--kindling-signals", "--kindling-signals-data=shop.data", "test_shop.py")
    shop_project.runpytest("--kindling-signals", "--kindling-signals-data=bad.data", "test_bad.py")
    runs = [RunData.load(shop_project.path / n) for n in ("shop.data", "bad.data")]
    both = combine(runs)
    assert sorted(both.data.timelines) == ["test_bad.py::test_bad_payload", "test_bad.py::test_unclosed",
                                           "test_bad.py::test_undocumented", "test_shop.py::test_checkout",
                                           "test_shop.py::test_checkout_declined"]
    declined = both.data.timelines["test_shop.py::test_checkout_declined"]
    assert declined == runs[0].data.timelines["test_shop.py::test_checkout_declined"]
    assert [(s.operation, s.state) for s in declined.spans] == [("shop.checkout", "failed")]
    again = RunData.load(both.save(shop_project.path / "all.data"))
    assert again.data.timelines == both.data.timelines
    # combine is the same in any order, timelines too
    assert combine(runs[::-1]).to_json() == both.to_json()
    # and the report drawn from saved data holds the same timeline
    page = page_data(again.report())
    assert len(page["timelines"]) == 5


def test_shipped_catalogs_are_saved_by_name_version_and_hash(tmp_path: Path) -> None:
    user = tmp_path / "shop.yaml"
    user.write_text("format: kindling-signal-catalog/1\nproviders: {}\n", encoding="utf-8")
    run = RunData(SessionData(), [CatalogFile.read(QUICK_REFERENCE_PATH, "framework"),
                                  CatalogFile.read(user, "user", tmp_path)])
    saved = run.to_json()["catalogs"]
    assert "text" not in saved[0] and saved[0]["shipped"].startswith("pytest-kindling-signals ")
    assert saved[0]["ref"] == "pytest_kindling_signals:catalog/shipped/quick_reference.yaml"
    assert saved[1]["text"].startswith("format:")  # the user's catalog keeps its text
    path = run.save(tmp_path / "run.data")
    assert path.stat().st_size < 2_000
    assert RunData.load(path).catalogs == run.catalogs
    tampered = json.loads(path.read_text())
    tampered["catalogs"][0]["sha256"] = "0" * 64
    tampered["catalogs"][0]["shipped"] = "pytest-kindling-signals 0.1.0"
    with pytest.raises(DataError) as e:
        RunData.from_json(tampered, "old.data")
    assert str(e.value).startswith(
        "old.data: was measured against pytest_kindling_signals:catalog/shipped/quick_reference.yaml as "
        "pytest-kindling-signals 0.1.0 shipped it (sha256 000000000000...); ")
    assert "install pytest-kindling-signals==0.1.0 to re-render it, or re-run the tests with" in str(e.value)


# -- the report's model: namespaces, one tier scheme, grouped findings, banners -------------

def _sk_report(data: SessionData | None = None, conformance: bool = False) -> CoverageReport:
    sk = load_files(CATALOGS_DIR / "spark_kindling_0.14.yaml")
    view = None
    if conformance:
        from pytest_kindling_signals.catalog import load_aliases

        qr = load_files(QUICK_REFERENCE_PATH)
        view = (qr, load_aliases(CATALOGS_DIR / "spark_kindling_aliases.yaml", quick_ref=qr))
    return CoverageReport(sk, data or SessionData(), conformance=view)


def test_rows_are_namespaces_with_the_class_beside_and_tiers_are_the_signals() -> None:
    report = _sk_report(SessionData(tests={"t.py::a": 0}, counts={"entity.before_merge": 1},
                                    emitters={"entity.before_merge": {"t.py::a"}}))
    entity = next(c for c in report.providers if c.namespace == "entity")
    assert (entity.name, entity.provider, entity.tier) == ("entity (EntityProvider)", "EntityProvider",
                                                           "critical/moderate")
    assert entity.tiers == (("critical", 17, 1), ("moderate", 2, 0))
    assert [c.name for c in report.providers if c.provider == "SimpleReadPersistStrategy"] == [
        "persist (SimpleReadPersistStrategy)", "read (SimpleReadPersistStrategy)"]
    # one scheme: the namespaces' tier columns add up to the tier rows
    for tier in report.tiers:
        assert sum(e for c in report.providers for t, _, e in c.tiers if t == tier.name) == tier.emitted
        assert sum(n for c in report.providers for t, n, _ in c.tiers if t == tier.name) == tier.signals
    assert list(report.to_dict()["providers"])[:3] == ["app", "config", "datapipes"]


def test_findings_are_grouped_by_signal_and_kind_with_their_count() -> None:
    merger = Merger(BlinkerSignalProvider())

    def body() -> None:
        for entity in ("a", "b", "c"):  # three operations, three lifecycle breaches of one signal
            merger.emit("entity.pre_merge", entity_id=entity, merge_keys=["id"], source_row_count=1)
    data = run_test(body)
    report = CoverageReport(load_catalog(), data)
    (group,) = report.finding_groups
    assert (group.kind, group.signal, group.count, group.tests) == ("lifecycle", "entity.pre_merge", 3,
                                                                    ("t.py::test_a",))
    page = render_html(report)
    assert page.count('data-finding="lifecycle"') == 1 and "3 operations" in page


def test_the_conformance_view_only_when_asked_for_in_every_format() -> None:
    for asked in (False, True):
        report = _sk_report(conformance=asked)
        shown = [bool(report.conformance), any(line.startswith("Conformance to the quick reference")
                                               for line in render_term(report)),
                 "### Conformance to the quick reference" in render_markdown(report),
                 'id="conformance"' in render_html(report), report.to_dict()["conformance"] is not None]
        assert shown == [asked] * 5


def test_the_conformance_option_and_ini_key_are_checked(shop_project: pytest.Pytester) -> None:
    assert shop_project.runpytest("--kindling-signals", "--kindling-signals-conformance").ret == pytest.ExitCode.OK
    shop_project.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\nkindling_signals_conformance = perhaps\n")
    result = shop_project.runpytest("--kindling-signals")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_the_partial_banner_says_what_was_decided() -> None:
    data = SessionData(tests={"t.py::a": 0}, collected=["t.py::a", "t.py::b"], deselected={"t.py::b"},
                       selection=["-k 'a'"])
    report = CoverageReport(load_catalog(), data)
    head = "Partial run (1 test deselected (-k 'a'))"
    gate = parse_fail_under("critical:100", report.catalog.tiers)
    assert partial_line(report, []) == f"{head}: no coverage gate to apply"
    assert partial_line(report, evaluate_gates(report, gate)) == (
        f"{head}: coverage gates not applied (critical:100): a partial run is gated only with "
        "--kindling-signals-gate-partial")
    assert partial_line(report, evaluate_gates(report, gate, gate_partial=True)) == (
        f"{head}: coverage gates applied to this partial run (given on the command line, or "
        "--kindling-signals-gate-partial)")
    assert partial_line(report, evaluate_gates(report, parse_fail_under("0", report.catalog.tiers))) == (
        f"{head}: coverage gates checked, all passed")


# -- the page's size: what it shows, not every emission --------------------------------------

def _many(n: int) -> SessionData:
    """``n`` tests, each with one merge; every tenth fails."""
    catalog = load_catalog()
    taps: list[Any] = []
    collector = CentralCollector(catalog, lambda t: (taps.append(t), lambda: None)[1]).start()
    for i in range(n):
        test = f"tests/test_merge.py::test_merge[{i}]"
        collector.begin_test(test, i)
        for k, name in enumerate(("entity.pre_merge", "entity.post_merge")):
            taps[0](Emission(name, name, {"operation_id": f"00000000-0000-4000-8000-{i:012d}",
                                          "timestamp": "2025-01-01T00:00:00+00:00", "entity_id": "orders",
                                          "merge_keys": ["id"], "source_row_count": 1, "duration_seconds": 0.1,
                                          "rows_inserted": 1, "rows_updated": 0, "rows_deleted": 0},
                             "MainThread", 1, 1000.0 + k))
        collector.note_report(test, "call", "failed" if i % 10 == 0 else "passed")
        collector.end_test()
    return collector.finish()


def test_the_page_keeps_timelines_within_its_budget_failing_tests_first() -> None:
    report = CoverageReport(load_catalog(), _many(50))
    everything = page_data(report)
    assert len(everything["timelines"]) == 50 and everything["withoutTimeline"] == 0
    bare = page_data(report, payload_budget=0)
    size = len(json.dumps(bare["timelines"][0], separators=(",", ":")))  # one timeline, no payloads
    some = page_data(report, timeline_budget=size * 3, payload_budget=0)
    kept = [t for t in some["tests"] if t[4] >= 0]
    assert len(kept) == 3 and some["withoutTimeline"] == 47
    assert {t[2] for t in kept} == {some["outcomes"].index("failed")}  # the failing tests first
    assert all(len(e) == 3 for tl in some["timelines"] for e in tl[2])  # drawn without their payloads


def test_a_large_page_carries_its_data_gzipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_kindling_signals.report import html

    report = CoverageReport(load_catalog(), _many(20))
    monkeypatch.setattr(html, "COMPRESS_OVER", 100)
    page = render_html(report)
    packed = page.split('<script type="application/gzip+base64" id="ks-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(gzip.decompress(base64.b64decode(packed))) == json.loads(json.dumps(page_data(report)))


def test_a_test_id_cannot_end_the_pages_script(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_ids="import pytest\nfrom shop import new_shop\n\n"
                                     "@pytest.mark.parametrize('x', ['</script><script>alert(1)</script>'])\n"
                                     "def test_odd(x):\n    new_shop().checkout(x)\n")
    shop_project.runpytest("--kindling-signals", "--kindling-signals-report=html:r.html", "test_ids.py")
    text = (shop_project.path / "r.html").read_text(encoding="utf-8")
    assert "<script>alert" not in text and text.count("</script>") == 2  # the data's and the page's own


def test_the_report_command_shows_the_conformance_view_when_asked(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_kindling_signals.cli import main

    run = RunData(SessionData(), [CatalogFile.read(CATALOGS_DIR / "spark_kindling_0.14.yaml", "framework")],
                  [CatalogFile.read(QUICK_REFERENCE_PATH, "quick-reference"),
                   CatalogFile.read(CATALOGS_DIR / "spark_kindling_aliases.yaml", "aliases")],
                  framework="spark-kindling")
    path = str(run.save(tmp_path / "sk.data"))
    for asked in ([], ["--conformance"]):
        assert main(["report", path, *asked]) == 0
        out = capsys.readouterr().out
        assert ("Conformance to the quick reference (spark-kindling 0.14.0)" in out) is bool(asked)

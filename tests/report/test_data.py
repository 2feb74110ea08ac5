"""The saved data without pytest: merging runs, what makes data partial, files, catalog names."""

from __future__ import annotations

import itertools
import json
import os
import stat
from pathlib import Path

import pytest
from report_project import SHOP_CATALOG

from kindling.signal_catalog import BUILTIN_CATALOG_PATH
from pytest_kindling_signals.catalog import QUICK_REFERENCE_PATH
from pytest_kindling_signals.report import Finding, LostWorker, SessionData, why_partial
from pytest_kindling_signals.report import CatalogFile, RunData, catalog_ref, combine

pytestmark = pytest.mark.kindling_signals_ignore

SUITE = ["t.py::test_a", "t.py::test_b", "t.py::test_c", "t.py::test_d"]


def part(ran: list[str], *, selection: list[str] = (), narrowed: list[str] = (), stopped: bool = False,
         emits: dict[str, list[str]] | None = None) -> SessionData:
    """The data of one run of SUITE that ran ``ran`` and deselected the rest (unless narrowed or stopped)."""
    data = SessionData(collected=list(SUITE) if not narrowed else list(ran), narrowed=list(narrowed),
                       selection=list(selection), stopped=stopped)
    data.tests = {t: data.collected.index(t) for t in ran}
    if not stopped:
        data.deselected = {t for t in data.collected if t not in ran}
    for signal, tests in (emits or {}).items():
        data.counts[signal] = len(tests)
        data.emitters[signal] = set(tests)
    return data


def test_a_whole_run_is_not_partial() -> None:
    assert why_partial(part(SUITE)) == []


@pytest.mark.parametrize("data, reasons", [
    (part(SUITE[:2], selection=["-m 'not spark'"]), ["2 tests deselected (-m 'not spark')"]),
    (part(SUITE[:1], stopped=True), ["stopped early: 3 tests not run"]),
    (part(SUITE[:1], narrowed=["file or folder arguments (t.py)"]), ["file or folder arguments (t.py)"]),
])
def test_what_makes_data_partial(data: SessionData, reasons: list[str]) -> None:
    assert why_partial(data) == reasons


def test_a_lost_worker_is_partial_with_its_tests_missing() -> None:
    data = part(SUITE[:2])
    data.deselected = set()
    data.lost = {"gw1": LostWorker("sent no data", SUITE[2:])}
    assert why_partial(data) == ["worker gw1 sent no data: 2 tests missing"]


def test_runs_that_split_the_suite_combine_whole_in_any_order() -> None:
    runs = [part(SUITE[:2], selection=["-m 'not spark'"], emits={"x.a": SUITE[:2]}),
            part(SUITE[2:], selection=["-m spark"], emits={"x.a": SUITE[2:3], "x.b": SUITE[3:]}),
            part(SUITE[:1], narrowed=["node ids given"], emits={"x.c": SUITE[:1]})]
    texts = set()
    for order in itertools.permutations(runs):
        merged = SessionData()
        for r in order:
            merged.merge(r, runs=True)
        assert why_partial(merged) == []
        texts.add(json.dumps(merged.to_data()))
    assert len(texts) == 1
    merged = SessionData.from_data(json.loads(texts.pop()))
    assert merged.counts == {"x.a": 3, "x.b": 1, "x.c": 1}
    assert merged.tests == {t: i for i, t in enumerate(SUITE)}


def test_narrowed_runs_alone_stay_partial() -> None:
    merged = part(SUITE[:1], narrowed=["node ids given"]).merge(part(SUITE[1:2], narrowed=["--lf"]), runs=True)
    assert why_partial(merged) == ["--lf", "node ids given"]


def test_the_first_finding_in_collection_order_wins_whatever_the_order() -> None:
    def with_finding(test: str, actual: str) -> SessionData:
        data = part([test])
        data.add_finding(Finding("payload", "x.a", f"x.a: bad {actual}", 1, test, SUITE.index(test), "f",
                                 "integer", actual))
        return data

    a, b = with_finding("t.py::test_c", "c"), with_finding("t.py::test_a", "a")
    for first, second in ((a, b), (b, a)):
        merged = SessionData().merge(first, runs=True).merge(second, runs=True)
        (finding,) = merged.findings.values()
        assert (finding.count, finding.first_test, finding.actual) == (2, "t.py::test_a", "a")


def test_catalog_names_are_the_same_on_every_machine(tmp_path: Path) -> None:
    assert catalog_ref(BUILTIN_CATALOG_PATH) == "pytest_kindling_signals:catalog/shipped/quick_reference.yaml"
    assert catalog_ref(QUICK_REFERENCE_PATH, tmp_path) == "pytest_kindling_signals:catalog/shipped/quick_reference.yaml"
    (tmp_path / "catalogs").mkdir()
    (tmp_path / "catalogs" / "shop.yaml").write_text(SHOP_CATALOG, encoding="utf-8")
    assert catalog_ref(tmp_path / "catalogs" / "shop.yaml", tmp_path) == "catalogs/shop.yaml"
    (tmp_path / "catalogs" / "__init__.py").write_text("", encoding="utf-8")  # a folder that is no importable package
    assert catalog_ref(tmp_path / "catalogs" / "shop.yaml", tmp_path) == "catalogs/shop.yaml"


def test_a_saved_run_loads_back_and_reports_alike(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP_CATALOG, encoding="utf-8")
    run = RunData(part(SUITE, emits={"shop.refunded": SUITE[:1]}),
                  [CatalogFile.read(BUILTIN_CATALOG_PATH, "framework", tmp_path),
                   CatalogFile.read(tmp_path / "shop.yaml", "user", tmp_path)], plugin_version="9.9")
    path = run.save(tmp_path / "run.data")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~_umask()
    loaded = RunData.load(path)
    assert loaded.to_json() == run.to_json()
    report = loaded.report()
    assert (report.totals.emitted, report.catalog_refs) == (1, ["pytest_kindling_signals:catalog/shipped/quick_reference.yaml", "shop.yaml"])
    assert report.scopes["user-catalogs"].signals == 4
    assert combine([loaded]).to_json() == {**run.to_json(), "plugin_version": "9.9"}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_spark_kindling_run_keeps_its_conformance_view_in_the_data(tmp_path: Path) -> None:
    from pytest_kindling_signals.catalog import CATALOGS_DIR
    from pytest_kindling_signals.catalog import load_catalog as load_files
    from pytest_kindling_signals.catalog import load_aliases
    from pytest_kindling_signals.report import CoverageReport

    sk_path, aliases_path = CATALOGS_DIR / "spark_kindling_0.14.yaml", CATALOGS_DIR / "spark_kindling_aliases.yaml"
    data = part(SUITE, emits={"datapipes.before_run": SUITE[:1]})
    run = RunData(data, [CatalogFile.read(sk_path, "framework")],
                  [CatalogFile.read(QUICK_REFERENCE_PATH, "quick-reference"), CatalogFile.read(aliases_path, "aliases")],
                  framework="spark-kindling")
    RunData.load(run.save(tmp_path / "sk.data"))  # round trip
    qr = load_files(QUICK_REFERENCE_PATH)
    direct = CoverageReport(load_files(sk_path), data, conformance=(qr, load_aliases(aliases_path, quick_ref=qr)))
    from_data = RunData.load(tmp_path / "sk.data").report(conformance=True)
    assert from_data.conformance == direct.conformance is not None
    assert RunData.load(tmp_path / "sk.data").report().conformance is None  # only when asked for
    assert [c.ref for c in run.conformance] == ["pytest_kindling_signals:catalog/shipped/quick_reference.yaml",
                                                "pytest_kindling_signals:catalog/shipped/spark_kindling_aliases.yaml"]

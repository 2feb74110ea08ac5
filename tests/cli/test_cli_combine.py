"""``kindling-signals combine``: runs that split a suite combine into what one full run gives."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import SPARK_CONFTEST, SPARK_TESTS, Cli
from report_project import BAD_TESTS, section, steady

pytestmark = pytest.mark.kindling_signals_ignore  # pytester runs emit bad signals on purpose

GATED_INI = textwrap.dedent("""\
    [pytest]
    kindling_signals_catalogs = shop_catalog.yaml
    kindling_signals_fail_under = shop:100
    kindling_signals_strict = true
    """)


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def suite(shop: pytest.Pytester) -> pytest.Pytester:
    """The shop project split like this project's suite: tests that use ``spark`` (marked ``spark``
    by the plugin) and the rest; its findings (test_bad.py, marked spark too) and gates (shop:100,
    strict) included. Neither part covers the shop's 4 signals alone."""
    shop.makeconftest(SPARK_CONFTEST)
    shop.makepyfile(test_spark=SPARK_TESTS,
                    test_bad="import pytest\npytestmark = pytest.mark.spark\n" + BAD_TESTS)
    shop.makeini(GATED_INI)
    return shop


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("-p", "no:randomly", "--kindling-signals", *args)


def test_the_fast_run_and_the_spark_run_combined_equal_one_full_run(suite: pytest.Pytester, cli: Cli) -> None:
    full = run(suite, "--kindling-signals-report=term-missing", "--kindling-signals-report=json:full.json",
               "--kindling-signals-data=full.data")
    fast = run(suite, "-m", "not spark", "--kindling-signals-data=fast.data")
    spark = run(suite, "-m", "spark", "--kindling-signals-data=spark.data")
    full.assert_outcomes(passed=7)
    fast.assert_outcomes(passed=2, deselected=5)
    spark.assert_outcomes(passed=5, deselected=2)
    for part in (fast, spark):  # partial on their own: the coverage gate is skipped, strict is not
        assert any(line.startswith("Gate shop:100: skipped") for line in section(part))

    code, out, err = cli("combine", "fast.data", "spark.data", "-o", "all.data")
    assert (code, err) == (0, "")
    assert out.endswith("by 7 tests (whole suite)\n")
    code, out, _ = cli("report", "all.data", "--format", "term-missing", "--format", "json:all.json")

    # the same report, findings and gate result
    assert steady(_json(suite.path / "all.json")) == steady(_json(suite.path / "full.json"))
    plugin_lines = [line for line in section(full) if " report written to " not in line]
    cli_lines = [line for line in out.splitlines()
                 if " report written to " not in line and not line.startswith("gates from ")]
    assert cli_lines == plugin_lines
    assert plugin_lines[-1] == ("kindling-signals: FAILED strict: 1 undocumented (shop.refnded); "
                                "1 payload violations (shop.refunded); 1 lifecycle violations (shop.pre_checkout)")
    assert "Gate shop:100: passed: shop coverage 4/4 (100.0%) >= 100%" in plugin_lines
    assert code == full.ret == pytest.ExitCode.TESTS_FAILED
    # the shared fixture's set-up and teardown are its own in both
    assert _json(suite.path / "all.json")["signals"]["shop.refunded"]["tests"][0] == "<fixture spark>"


def test_combining_is_the_same_in_any_order(suite: pytest.Pytester, cli: Cli) -> None:
    run(suite, "-m", "not spark", "-k", "not bad", "--kindling-signals-data=a.data")
    run(suite, "-m", "spark", "--kindling-signals-data=b.data")
    run(suite, "-k", "bad", "--kindling-signals-data=c.data")
    orders = [("a", "b", "c"), ("c", "b", "a"), ("b", "c", "a")]
    for i, order in enumerate(orders):
        assert cli("combine", *[f"{n}.data" for n in order], "-o", f"out{i}.data")[0] == 0
    texts = {(suite.path / f"out{i}.data").read_text(encoding="utf-8") for i in range(len(orders))}
    assert len(texts) == 1
    # and combining combined data again changes nothing
    assert cli("combine", "out0.data", "-o", "again.data")[0] == 0
    assert (suite.path / "again.data").read_text(encoding="utf-8") in texts


def test_a_run_still_missing_tests_stays_partial(suite: pytest.Pytester, cli: Cli) -> None:
    run(suite, "-m", "not spark", "--kindling-signals-data=fast.data")
    run(suite, "test_spark.py::test_refund_on_spark", "--kindling-signals-data=one.data")
    code, out, _ = cli("combine", "fast.data", "one.data", "-o", "all.data")
    assert code == 0
    assert out.endswith("by 3 tests (partial: 4 tests deselected (-m 'not spark'))\n")
    code, out, _ = cli("report", "all.data")
    assert ("Partial run (4 tests deselected (-m 'not spark')): coverage gates checked, all passed"
            in out.splitlines())
    assert code == 0


def test_a_file_argument_run_is_partial_alone_and_whole_with_a_full_run(suite: pytest.Pytester, cli: Cli) -> None:
    part = run(suite, "test_shop.py", "--kindling-signals-data=part.data")
    assert "Partial run (file or folder arguments (test_shop.py)): coverage gates not applied (shop:100): " \
           "a partial run is gated only with --kindling-signals-gate-partial" in section(part)
    run(suite, "-m", "not spark", "--kindling-signals-data=fast.data")
    run(suite, "-m", "spark", "--kindling-signals-data=spark.data")
    code, out, _ = cli("combine", "part.data", "fast.data", "spark.data", "-o", "all.data")
    assert out.endswith("(whole suite)\n")


def test_data_of_different_catalogs_is_refused(suite: pytest.Pytester, cli: Cli) -> None:
    run(suite, "--kindling-signals-data=before.data")
    catalog = suite.path / "shop_catalog.yaml"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace("After a refund", "After a refund, paid"),
                       encoding="utf-8")
    # a process of its own: this one keeps the catalog it loaded first
    suite.runpytest_subprocess("--kindling-signals", "--kindling-signals-data=after.data")
    code, out, err = cli("combine", "before.data", "after.data", "-o", "all.data")
    assert (code, out) == (1, "")
    assert err == ("kindling-signals: error: before.data and after.data were measured against different "
                   "catalogs (shop_catalog.yaml); combine the data of runs of one commit, or compare them "
                   "with kindling-signals compare\n")
    assert not (suite.path / "all.data").exists()


def test_runs_with_different_gates_combine_without_gates(suite: pytest.Pytester, cli: Cli) -> None:
    run(suite, "-m", "not spark", "--kindling-signals-data=fast.data")
    run(suite, "-m", "spark", "--kindling-signals-fail-under=90", "--kindling-signals-data=spark.data")
    code, _, err = cli("combine", "fast.data", "spark.data", "-o", "all.data")
    assert code == 0
    # a gate typed on the command line was applied to that partial run: saved so (gate partial)
    assert err == ("kindling-signals: warning: the runs had different gates (fast.data: fail under shop:100, "
                   "strict; spark.data: fail under 90, strict, gate partial); the combined data keeps none: "
                   "give --fail-under / --strict to kindling-signals report\n")
    code, out, _ = cli("report", "all.data")
    assert code == 0 and "Gate" not in out


def test_a_folder_stands_for_the_data_files_in_it(suite: pytest.Pytester, cli: Cli) -> None:
    (suite.path / "artifacts" / "fast").mkdir(parents=True)
    (suite.path / "artifacts" / "spark").mkdir()
    run(suite, "-m", "not spark", "--kindling-signals-data=artifacts/fast/.kindling-signals")
    run(suite, "-m", "spark", "--kindling-signals-data=artifacts/spark/.kindling-signals-spark")
    code, out, _ = cli("combine", "artifacts")
    assert code == 0
    assert out.startswith("combined 2 data files into .kindling-signals: ")


@pytest.mark.malformed_files
@pytest.mark.parametrize("content, message", [
    (None, "nope.data: no such data file; run pytest --kindling-signals first (it saves .kindling-signals, "
           "or --kindling-signals-data=PATH)"),
    ("not json", "nope.data: not a kindling-signals data file (not JSON: Expecting value: line 1 column 1 (char 0))"),
    ('{"format": "other"}', 'nope.data: not a kindling-signals data file (no "format": "kindling-signals-data"); '
                            "give the file a pytest --kindling-signals run saved (--kindling-signals-data, "
                            "default .kindling-signals)"),
    ('{"format": "kindling-signals-data", "format_version": 9}',
     "nope.data: data format version 9; this plugin reads version 2: re-run the tests, or use the plugin "
     "version that wrote it"),
])
def test_unusable_data_files_are_named_with_the_fix(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                                    content: str | None, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / "nope.data").write_text(content, encoding="utf-8")
    assert cli("combine", "nope.data") == (1, "", f"kindling-signals: error: {message}\n")


@pytest.mark.malformed_files
def test_an_edited_data_file_is_refused(suite: pytest.Pytester, cli: Cli) -> None:
    run(suite, "--kindling-signals-data=run.data")
    data = _json(suite.path / "run.data")
    data["catalogs"][1]["text"] += "\n# edited\n"
    (suite.path / "run.data").write_text(json.dumps(data), encoding="utf-8")
    code, _, err = cli("report", "run.data")
    assert code == 1
    assert err == ("kindling-signals: error: run.data: the saved catalog shop_catalog.yaml doesn't match its "
                   "sha256; was the file edited by hand? Re-run the tests to make it again\n")
    data["data"]["tests"] = "many"
    (suite.path / "run.data").write_text(json.dumps(data), encoding="utf-8")
    code, _, err = cli("report", "run.data")
    assert err == ("kindling-signals: error: run.data: malformed kindling-signals data at data/tests: 'many' is "
                   "not of type 'object'; was the file edited by hand? Re-run the tests to make it again\n")

"""Gates: --kindling-signals-fail-under, --kindling-signals-strict, partial runs, exit codes."""

from __future__ import annotations

import pytest
from report_project import TOTAL, pct, section

pytestmark = pytest.mark.kindling_signals_ignore  # pytester runs emit bad signals on purpose

SHOP_UNDER_100 = "kindling-signals: FAILED shop coverage 3/4 (75.0%) < 100%, never emitted: shop.refunded"
FORMS = ("use a percentage like 95, or per tier like critical:100,high:90 (total:95 for the total) "
         "(tiers: critical, high, moderate, shop; other scopes: total, quick-reference, extensions, user-catalogs)")


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--kindling-signals", *args)


def test_a_failed_tier_gate_fails_the_session_with_one_line(shop_project: pytest.Pytester) -> None:
    result = run(shop_project, "--kindling-signals-fail-under=shop:100")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1] == SHOP_UNDER_100
    assert [line for line in result.outlines if "FAILED" in line] == [SHOP_UNDER_100]


def test_a_passed_gate_keeps_the_exit_status(shop_project: pytest.Pytester) -> None:
    result = run(shop_project, "--kindling-signals-fail-under=shop:75,total:3")
    assert result.ret == pytest.ExitCode.OK
    assert section(result)[-2:] == ["Gate shop:75: passed: shop coverage 3/4 (75.0%) >= 75%",
                                    f"Gate total:3: passed: total coverage 3/{TOTAL} ({pct(3, TOTAL)}%) >= 3%"]


def test_counts_are_compared_not_rounded_percentages(shop_project: pytest.Pytester) -> None:
    """3/92 is 3.26%: it shows as 3.2% yet fails a 3.27 gate and passes 3.26 (likewise for any size)."""
    below, above = pct(3, TOTAL, 2), f"{float(pct(3, TOTAL, 2)) + 0.01:.2f}"
    assert run(shop_project, f"--kindling-signals-fail-under={below}").ret == pytest.ExitCode.OK
    result = run(shop_project, f"--kindling-signals-fail-under={above}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1].startswith(f"kindling-signals: FAILED total coverage 3/{TOTAL} ({pct(3, TOTAL)}%) "
                                          f"< {above}%")


def test_several_gates_fail_on_one_line(bad_tests: pytest.Pytester) -> None:
    bad_tests.makepyfile(test_bad="from shop import new_shop\n\ndef test_undocumented():\n"
                                  "    new_shop().emit('shop.refnded', amount=3)\n")
    result = run(bad_tests, "--kindling-signals-fail-under=shop:100,critical:1", "--kindling-signals-strict")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1] == (
        "kindling-signals: FAILED shop coverage 3/4 (75.0%) < 100%, never emitted: shop.refunded; "
        "critical coverage 0/30 (0.0%) < 1%, never emitted: datapipes.pre_run, datapipes.post_run, "
        "datapipes.run_failed and 27 more; strict: 1 undocumented (shop.refnded)")


def test_strict_fails_on_findings(bad_tests: pytest.Pytester) -> None:
    result = run(bad_tests, "--kindling-signals-strict")
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1] == (
        "kindling-signals: FAILED strict: 1 undocumented (shop.refnded); 1 payload violations "
        "(shop.refunded); 1 lifecycle violations (shop.pre_checkout)")


def test_strict_passes_a_clean_run(shop_project: pytest.Pytester) -> None:
    result = run(shop_project, "--kindling-signals-strict")
    assert result.ret == pytest.ExitCode.OK
    assert section(result)[-1] == "Gate strict: passed: strict: no findings"


def test_failing_tests_and_a_failing_gate_both_show(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_fails="def test_fails():\n    assert False\n")
    result = run(shop_project, "--kindling-signals-fail-under=shop:100")
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1] == SHOP_UNDER_100


def test_gates_from_the_ini_and_the_command_line_wins(shop_project: pytest.Pytester) -> None:
    shop_project.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\n"
                         "kindling_signals_fail_under = shop:100\nkindling_signals_strict = true\n")
    result = run(shop_project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1] == SHOP_UNDER_100
    result = run(shop_project, "--kindling-signals-fail-under=shop:75")
    assert result.ret == pytest.ExitCode.OK
    assert section(result)[-2:] == ["Gate shop:75: passed: shop coverage 3/4 (75.0%) >= 75%",
                                    "Gate strict: passed: strict: no findings"]


@pytest.mark.parametrize("value, problem", [
    ("abc", "'abc' is not a number"),
    ("101", "'101' is not a percentage between 0 and 100"),
    ("critcal:100", "unknown tier or scope 'critcal' (did you mean 'critical'?)"),
    ("95 %", "'95 %' is not a number"),
    ("1e2", "'1e2' is not a number"),
    ("NaN", "'NaN' is not a number"),
    ("shop:90,shop:80", "'shop' is given twice"),
    ("critical:100,", "empty gate"),
])
def test_bad_gates_are_usage_errors(shop_project: pytest.Pytester, value: str, problem: str) -> None:
    result = run(shop_project, f"--kindling-signals-fail-under={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: --kindling-signals-fail-under={value!r}: {problem}; {FORMS}" in result.stderr.lines


def test_without_a_gate_the_report_never_changes_the_exit_status(bad_tests: pytest.Pytester) -> None:
    assert run(bad_tests).ret == pytest.ExitCode.OK


# -- partial runs ------------------------------------------------------------------------

#: What a partial run's banner says of a gate it applied (typed on the command line).
PARTIAL = (": coverage gates applied to this partial run (given on the command line, or "
           "--kindling-signals-gate-partial)")


def gated_by_ini(project: pytest.Pytester, gate: str = "shop:100") -> pytest.Pytester:
    """The project's gate in its configuration (as CI usually has it), not on the command line."""
    project.makeini(f"[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\nkindling_signals_fail_under = {gate}\n")
    return project


def skipped_warning(reasons: str) -> str:
    return (f"kindling-signals: WARNING gate shop:100 (ini key kindling_signals_fail_under) was not applied: "
            f"partial run ({reasons}); to apply it to partial runs too, give --kindling-signals-gate-partial "
            "(ini key kindling_signals_gate_partial = true), or run the whole suite")


@pytest.mark.parametrize("args, reasons", [
    (["-k", "declined"], "1 test deselected (-k 'declined')"),
    (["--deselect", "test_shop.py::test_checkout_declined"], "1 test deselected (--deselect)"),
    (["test_shop.py::test_checkout"], "node ids given"),
    (["test_shop.py"], "file or folder arguments (test_shop.py)"),
])
def test_partial_runs_are_marked_and_the_configured_gate_skipped_with_a_warning(
        shop_project: pytest.Pytester, args: list[str], reasons: str) -> None:
    if args == ["test_shop.py"]:  # with another test file, test_shop.py is part of the suite
        shop_project.makepyfile(test_more="def test_more():\n    pass\n")
    result = run(gated_by_ini(shop_project), *args)
    assert result.ret == pytest.ExitCode.OK
    lines = section(result)
    assert any(line.startswith(f"Partial run ({reasons}): ") for line in lines)
    assert lines[-2].startswith("Gate shop:100: skipped: shop coverage ")
    assert lines[-2].endswith("< 100%, not applied: partial run")
    assert lines[-1] == skipped_warning(reasons)


@pytest.mark.parametrize("args", [["-k", "declined"], ["test_shop.py::test_checkout"]])
def test_a_gate_typed_on_the_command_line_applies_to_a_partial_run(shop_project: pytest.Pytester,
                                                                   args: list[str]) -> None:
    result = run(shop_project, "--kindling-signals-fail-under=shop:100", *args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1].startswith("kindling-signals: FAILED shop coverage ")


def test_a_folder_that_holds_every_test_is_the_whole_suite(shop_project: pytest.Pytester) -> None:
    """``pytest tests`` with no testpaths: the folder holds every test file, so the run is whole and
    the gate typed with it, or configured, applies. (The folder is ``checks`` here: a package named
    ``tests`` would meet this repository's own ``tests`` in the in-process run.)"""
    tests = shop_project.mkpydir("checks")
    (shop_project.path / "test_shop.py").rename(tests / "test_shop.py")
    for gate_args in (["--kindling-signals-fail-under=shop:100"], []):
        project = shop_project if gate_args else gated_by_ini(shop_project)
        result = run(project, "checks", *gate_args)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        assert not [line for line in section(result) if line.startswith("Partial run")]
        assert section(result)[-1] == SHOP_UNDER_100
    # a test file outside the folder: then the folder is part of the suite
    shop_project.makepyfile(test_elsewhere="def test_elsewhere():\n    pass\n")
    result = run(shop_project, "checks")
    assert result.ret == pytest.ExitCode.OK
    assert section(result)[-1] == skipped_warning("file or folder arguments (checks)")


def test_a_selection_that_leaves_nothing_out_is_a_whole_run(shop_project: pytest.Pytester) -> None:
    result = run(shop_project, "--kindling-signals-fail-under=shop:100", "-m", "not slow", ".")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # gated: every test ran
    assert not [line for line in section(result) if line.startswith("Partial run")]
    assert section(result)[-1] == SHOP_UNDER_100


def test_an_ignore_on_the_command_line_makes_a_run_partial(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_scratch="def test_scratch():\n    pass\n")
    result = run(gated_by_ini(shop_project), "--ignore", "test_scratch.py")
    assert result.ret == pytest.ExitCode.OK
    assert any(line.startswith("Partial run (--ignore test_scratch.py): ") for line in section(result))


def test_an_ignore_in_the_ini_addopts_defines_the_suite(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_scratch="def test_scratch():\n    pass\n")
    shop_project.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\n"
                         "addopts = --ignore=test_scratch.py\n")
    result = run(shop_project, "--kindling-signals-fail-under=shop:100")
    result.assert_outcomes(passed=2)
    assert section(result)[-1] == SHOP_UNDER_100


def test_gate_partial_gates_partial_runs(shop_project: pytest.Pytester) -> None:
    result = run(shop_project, "--kindling-signals-fail-under=shop:100", "-k", "declined",
                 "--kindling-signals-gate-partial")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1] == ("kindling-signals: FAILED shop coverage 2/4 (50.0%) < 100%, "
                                   "never emitted: shop.post_checkout, shop.refunded")
    shop_project.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\n"
                         "kindling_signals_gate_partial = true\n")
    result = run(shop_project, "--kindling-signals-fail-under=shop:100", "-k", "declined")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_last_failed_runs_are_partial(shop_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    shop_project.makepyfile(test_flaky="import os\n\ndef test_flaky():\n    assert os.environ.get('FIXED')\n")
    assert run(shop_project).ret == pytest.ExitCode.TESTS_FAILED
    monkeypatch.setenv("FIXED", "1")
    result = run(gated_by_ini(shop_project), "--lf")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert any(line.startswith("Partial run (--lf") for line in section(result))


def test_a_run_stopped_by_maxfail_is_partial(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_a_fails="def test_fails():\n    assert False\n")
    result = run(shop_project, "-x", "--kindling-signals-fail-under=shop:100")
    result.assert_outcomes(failed=1)
    assert f"Partial run (stopped early: 2 tests not run){PARTIAL}" in section(result)

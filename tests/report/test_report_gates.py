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

PARTIAL = ": coverage gates are not applied unless --kindling-signals-gate-partial is given"


@pytest.mark.parametrize("args, reasons", [
    (["-k", "declined"], "1 test deselected (-k 'declined')"),
    (["--deselect", "test_shop.py::test_checkout_declined"], "1 test deselected (--deselect)"),
    (["test_shop.py::test_checkout"], "node ids given"),
    (["test_shop.py"], "file or folder arguments (test_shop.py)"),
])
def test_partial_runs_are_marked_and_not_gated(shop_project: pytest.Pytester, args: list[str],
                                               reasons: str) -> None:
    result = run(shop_project, "--kindling-signals-fail-under=shop:100", *args)
    assert result.ret == pytest.ExitCode.OK
    lines = section(result)
    assert f"Partial run ({reasons}){PARTIAL}" in lines
    assert lines[-1].startswith("Gate shop:100: skipped: shop coverage ")
    assert lines[-1].endswith("< 100%, not applied: partial run")


def test_a_selection_that_leaves_nothing_out_is_a_whole_run(shop_project: pytest.Pytester) -> None:
    result = run(shop_project, "--kindling-signals-fail-under=shop:100", "-m", "not slow", ".")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # gated: every test ran
    assert not [line for line in section(result) if line.startswith("Partial run")]
    assert section(result)[-1] == SHOP_UNDER_100


def test_an_ignore_on_the_command_line_makes_a_run_partial(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_scratch="def test_scratch():\n    pass\n")
    result = run(shop_project, "--kindling-signals-fail-under=shop:100", "--ignore", "test_scratch.py")
    assert result.ret == pytest.ExitCode.OK
    assert f"Partial run (--ignore test_scratch.py){PARTIAL}" in section(result)


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
    result = run(shop_project, "--lf", "--kindling-signals-fail-under=shop:100")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert any(line.startswith("Partial run (--lf") for line in section(result))


def test_a_run_stopped_by_maxfail_is_partial(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_a_fails="def test_fails():\n    assert False\n")
    result = run(shop_project, "-x", "--kindling-signals-fail-under=shop:100")
    result.assert_outcomes(failed=1)
    assert f"Partial run (stopped early: 2 tests not run){PARTIAL}" in section(result)

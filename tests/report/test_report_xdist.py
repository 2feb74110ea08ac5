"""Under pytest-xdist the workers ship their data to the controller: the report equals a serial run's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from report_project import BAD_FINDINGS, section

pytestmark = [pytest.mark.kindling_signals_ignore, pytest.mark.slow]  # pytester runs emit bad signals on purpose

MORE_SHOP_TESTS = '''
import pytest
from shop import new_shop

@pytest.mark.parametrize("cart", ["a", "b", "c", "d"])
def test_many_checkouts(cart):
    new_shop().checkout(cart)
'''


@pytest.fixture(params=["serial", "xdist"])
def dist(request: pytest.FixtureRequest) -> list[str]:
    """Run each test in a plain session and under ``-n 2``, as pytest-cov's tests do."""
    return ["-n", "2"] if request.param == "xdist" else []


def run(project: pytest.Pytester, dist: list[str], *args: str) -> pytest.RunResult:
    # subprocesses: xdist workers are processes anyway, and serial runs should match them exactly
    return project.runpytest_subprocess("-p", "no:cacheprovider", "--kindling-signals", *dist, *args)


def test_the_same_lines_in_serial_and_under_xdist(bad_tests: pytest.Pytester, dist: list[str]) -> None:
    bad_tests.makepyfile(test_more=MORE_SHOP_TESTS)
    result = run(bad_tests, dist, "--kindling-signals-fail-under=shop:100", "--kindling-signals-strict")
    result.assert_outcomes(passed=9)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    lines = section(result)
    workers = ["xdist workers: gw0, gw1"] if dist else []
    start = lines.index("TOTAL                                  92        4    4.3%")
    assert lines[start:] == [
        "TOTAL                                  92        4    4.3%",
        "4 of 92 catalog signals emitted (4.3%) by 9 tests, 15 emissions",
        *workers,
        *BAD_FINDINGS,
        "Gate shop:100: passed: shop coverage 4/4 (100.0%) >= 100%",
        "kindling-signals: FAILED strict: 1 undocumented (shop.refnded); 1 payload violations "
        "(shop.refunded); 1 lifecycle violations (shop.pre_checkout)",
    ]


def _json(project: pytest.Pytester, dist: list[str], name: str) -> dict[str, Any]:
    run(project, dist, f"--kindling-signals-report=json:{name}").assert_outcomes(passed=9)
    return json.loads((project.path / name).read_text(encoding="utf-8"))


def test_the_json_report_equals_a_serial_runs(bad_tests: pytest.Pytester) -> None:
    bad_tests.makepyfile(test_more=MORE_SHOP_TESTS)
    serial = _json(bad_tests, [], "serial.json")
    xdist = _json(bad_tests, ["-n", "2"], "xdist.json")
    assert (serial["meta"].pop("workers"), xdist["meta"].pop("workers")) == ([], ["gw0", "gw1"])
    assert xdist == serial
    assert xdist["signals"]["shop.post_checkout"]["tests"] == [
        "test_more.py::test_many_checkouts[a]", "test_more.py::test_many_checkouts[b]",
        "test_more.py::test_many_checkouts[c]", "test_more.py::test_many_checkouts[d]",
        "test_shop.py::test_checkout"]


def test_a_worker_that_sent_nothing_is_named(shop_project: pytest.Pytester) -> None:
    shop_project.makeconftest('''
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(session):
            if getattr(session.config, "workerinput", {}).get("workerid") == "gw1":
                session.config.workeroutput.pop("kindling_signals", None)
    ''')
    shop_project.makepyfile(test_more=MORE_SHOP_TESTS)
    result = run(shop_project, ["-n", "2"], "--kindling-signals-fail-under=shop:100")
    result.assert_outcomes(passed=6)
    lines = section(result)
    assert "Worker gw1 sent no data: its tests are missing from this report" in lines
    assert any(line.startswith("Partial run (worker gw1 sent no data)") for line in lines)
    assert result.ret == pytest.ExitCode.OK  # the coverage gate is not applied to a partial report

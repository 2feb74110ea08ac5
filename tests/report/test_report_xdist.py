"""Under pytest-xdist the workers ship their data to the controller: the report equals a serial run's."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from report_project import BAD_FINDINGS, scopes, section, steady, summary, total_row

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
    start = lines.index(total_row(4))
    assert lines[start:] == [
        total_row(4),
        summary(4, 9, 15),
        scopes(4),
        *workers,
        *BAD_FINDINGS,
        "Gate shop:100: passed: shop coverage 4/4 (100.0%) >= 100%",
        "kindling-signals: FAILED strict: 1 undocumented (shop.refnded); 1 payload violations "
        "(shop.refunded); 1 lifecycle violations (shop.pre_checkout)",
    ]


def _json(project: pytest.Pytester, dist: list[str], name: str, passed: int = 9) -> dict[str, Any]:
    run(project, dist, f"--kindling-signals-report=json:{name}").assert_outcomes(passed=passed)
    return json.loads((project.path / name).read_text(encoding="utf-8"))


SHARED_FIXTURE_TESTS = '''
import pytest
from shop import new_shop

@pytest.fixture(scope="session")
def till():
    new_shop().refund(amount=1)   # set-up and teardown belong to the fixture,
    yield                         # never to the test that happened to run first or last
    new_shop().refund(amount=2)

def test_opens_the_till(till):
    pass
'''


def test_the_json_report_equals_a_serial_runs(bad_tests: pytest.Pytester) -> None:
    bad_tests.makepyfile(test_more=MORE_SHOP_TESTS, test_till=SHARED_FIXTURE_TESTS)
    serial = _json(bad_tests, [], "serial.json", passed=10)
    xdist = _json(bad_tests, ["-n", "2"], "xdist.json", passed=10)
    assert (serial["meta"].pop("workers"), xdist["meta"].pop("workers")) == ([], ["gw0", "gw1"])
    assert steady(xdist) == steady(serial)  # timelines too, their times and ids aside
    # the till's teardown ran after whichever test came last, in either run
    assert serial["signals"]["shop.refunded"]["tests"] == ["<fixture till>", "test_bad.py::test_bad_payload"]
    assert xdist["signals"]["shop.post_checkout"]["tests"] == [
        "test_more.py::test_many_checkouts[a]", "test_more.py::test_many_checkouts[b]",
        "test_more.py::test_many_checkouts[c]", "test_more.py::test_many_checkouts[d]",
        "test_shop.py::test_checkout"]


def _ran_by(result: pytest.RunResult, worker: str) -> set[str]:
    """The tests xdist's verbose output says ``worker`` ran (``[gw1] [ 16%] PASSED test_x.py::test_y``)."""
    found = (re.match(rf"\[{worker}\] \[\s*\d+%\] \w+ (\S+)", line) for line in result.outlines)
    return {m.group(1) for m in found if m}


def test_a_worker_that_sent_nothing_is_named_with_its_tests(shop_project: pytest.Pytester) -> None:
    shop_project.makeconftest('''
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(session):
            if getattr(session.config, "workerinput", {}).get("workerid") == "gw1":
                session.config.workeroutput.pop("kindling_signals", None)
    ''')
    shop_project.makepyfile(test_more=MORE_SHOP_TESTS)
    # the project's gate (configured, so a partial run skips it; one typed on the command line would apply)
    result = run(shop_project, ["-n", "2"], "-v", "-o", "kindling_signals_fail_under=shop:100",
                 "--kindling-signals-report=term", "--kindling-signals-report=json:r.json")
    result.assert_outcomes(passed=6)
    lost = _ran_by(result, "gw1")
    assert lost, "gw1 ran no test: the check below would prove nothing"
    report = json.loads((shop_project.path / "r.json").read_text(encoding="utf-8"))
    order = ["test_more.py::test_many_checkouts[a]", "test_more.py::test_many_checkouts[b]",
             "test_more.py::test_many_checkouts[c]", "test_more.py::test_many_checkouts[d]",
             "test_shop.py::test_checkout", "test_shop.py::test_checkout_declined"]
    assert report["meta"]["lost_tests"] == {"gw1": [t for t in order if t in lost]}  # in collection order
    assert report["meta"]["workers_without_data"] == {"gw1": "sent no data"}
    lines = section(result)
    n = len(lost)
    assert (f"Worker gw1 sent no data: its {n} test{'s' if n > 1 else ''} are missing from this report: "
            f"{', '.join(t for t in order if t in lost)}") in lines
    assert any(line.startswith(f"Partial run (worker gw1 sent no data: {n} test{'s' if n > 1 else ''} missing)")
               for line in lines)
    assert result.ret == pytest.ExitCode.OK  # the coverage gate is not applied to a partial report


def test_a_crashed_worker_is_named_with_the_test_it_crashed_in(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_crash="import os\n\ndef test_crash():\n    os._exit(3)\n")
    result = run(shop_project, ["-n", "2"], "-v", "--kindling-signals-report=json:r.json")
    result.assert_outcomes(passed=2, failed=1)
    report = json.loads((shop_project.path / "r.json").read_text(encoding="utf-8"))
    (worker, lost), = report["meta"]["lost_tests"].items()
    assert report["meta"]["workers_without_data"][worker].startswith("crashed")
    assert lost[-1] == "test_crash.py::test_crash" and set(lost) == _ran_by(result, worker) | {lost[-1]}
    assert report["meta"]["partial"]


SPARK_SESSION_TESTS = '''
def test_uses_spark(spark):
    assert spark.range(1).count() == 1

def test_runs_after_it():
    pass
'''


@pytest.mark.spark
def test_the_spark_fixture_owns_its_session_signals_serial_and_under_xdist(pytester: pytest.Pytester) -> None:
    """session.created and session.stopped belong to ``<fixture spark>``, never to a test."""
    pytester.makepyfile(test_session=SPARK_SESSION_TESTS)
    reports = {}
    for name, dist in (("serial", []), ("xdist", ["-n", "2"])):
        run(pytester, dist, f"--kindling-signals-report=json:{name}.json", "-p", "no:randomly").assert_outcomes(passed=2)
        reports[name] = json.loads((pytester.path / f"{name}.json").read_text(encoding="utf-8"))
        signals = reports[name]["signals"]
        assert signals["session.created"]["tests"] == ["<fixture spark>"], name
        assert signals["session.stopped"]["tests"] == ["<fixture spark>"], name
    assert ({n: s["tests"] for n, s in reports["serial"]["signals"].items()}
            == {n: s["tests"] for n, s in reports["xdist"]["signals"].items()})


SPARK_PIPELINE_TESTS = '''
import pytest
from kindling.data_entities import DataEntities
from kindling.entity_manager import DataEntityManager, DeltaOperationError

@pytest.fixture
def orders(spark, lakehouse):
    DataEntities.entity(entityid="bronze.orders", name="bronze_orders", merge_columns=["id"],
                        schema="id INT, amount INT")
    return DataEntityManager()

@pytest.mark.parametrize("rows", [1, 2, 3])
def test_merges(spark, orders, rows):
    df = spark.createDataFrame([(i, i) for i in range(rows)], "id INT, amount INT")
    assert orders.merge_to_entity(df, "bronze.orders").rows_inserted == rows

def test_a_cast_delta_refuses_fails_the_merge(spark, orders):
    orders.merge_to_entity(spark.createDataFrame([(1, 1)], "id INT, amount INT"), "bronze.orders")
    with pytest.raises(DeltaOperationError, match="CAST_INVALID_INPUT"):
        orders.merge_to_entity(spark.createDataFrame([(1, "x")], "id INT, amount STRING"), "bronze.orders")
'''


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs between any two runs (the workers, each test's timeline: its
    clock and ids) or between one process and one per worker: how many times a session-scoped
    fixture emitted (the Spark session starts and stops once in each worker)."""
    report = json.loads(json.dumps(report))
    report["meta"].pop("workers")
    for signal in report["signals"].values():
        if any(t.startswith("<fixture ") for t in signal["tests"]):
            report["meta"]["emissions"] -= signal.pop("count")
    for test in report["tests"].values():
        test.pop("timeline", None)
    return report


@pytest.mark.spark
def test_a_spark_suite_under_xdist_reports_what_a_serial_run_reports(pytester: pytest.Pytester) -> None:
    """Real Delta merges on two workers, one session each: the same report, finding for finding."""
    pytester.makepyfile(test_pipeline=SPARK_PIPELINE_TESTS)
    reports = {}
    for name, dist in (("serial", []), ("xdist", ["-n", "2"])):
        run(pytester, dist, f"--kindling-signals-report=json:{name}.json", "-p", "no:randomly").assert_outcomes(passed=4)
        reports[name] = json.loads((pytester.path / f"{name}.json").read_text(encoding="utf-8"))
    assert reports["xdist"]["meta"]["workers"] == ["gw0", "gw1"]
    signals = reports["serial"]["signals"]
    assert signals["entity.post_merge"]["count"] == 4 and signals["entity.merge_failed"]["count"] == 1
    assert [reports[r]["signals"]["session.created"]["count"] for r in ("serial", "xdist")] == [1, 2]
    assert _comparable(reports["xdist"]) == _comparable(reports["serial"])  # findings, coverage, tests alike

"""What the plugin's per-test reset of spark-kindling costs, with 300 entities and 300 pipes declared.

Run it with the Python of a spark-kindling virtualenv that has the plugin (never this
repository's own venv: both frameworks are ``kindling``)::

    /path/to/skvenv/bin/python bench/bench_spark_kindling_reset.py [--tests 300] [--declared 300]

Two measurements, in one run:

1. in process: ``SparkKindlingReset.isolated()`` (what the plugin runs around a test)
   around a test that changes nothing, one that declares an entity and a pipe, and one
   that sets a config key, with ``--declared`` entities and pipes declared before (what a
   project's session fixture or its imported modules declare), and the first snapshot of
   that state, which later tests reuse while nothing moves between them;
2. as a user runs it: ``pytest`` on a generated project whose conftest declares them once
   per session; ``--tests`` tests each of ``def test_x(): ...`` (no plugin fixture),
   ``def test_x(spark_kindling_session)`` and ``def test_x(spark_kindling)``. A test's
   time is its whole ``pytest_runtest_protocol`` (setup, call, teardown, reporting), the
   median over the tests, the first left out (it starts the fixtures), and the reset's own
   time inside it (taking or checking the snapshot, then putting it back). Each variant
   runs twice, the second time with the reset taken out, for the whole test's difference.

Target (issue 22): the reset <= 1 ms per test with 300 entities and 300 pipes declared,
0 for a test that takes no plugin fixture.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

DECLARE = '''
def declare(n):
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType
    from kindling.data_entities import DataEntities
    from kindling.data_pipes import DataPipes

    schema = StructType([StructField("id", IntegerType()), StructField("name", StringType())])
    for i in range(n):
        DataEntities.entity(entityid=f"bench.e{i}", name=f"bench_e{i}", merge_columns=["id"],
                            partition_columns=[], tags={"provider_type": "delta", "layer": "bench"}, schema=schema)
    for i in range(n):
        DataPipes.pipe(pipeid=f"bench.p{i}", name=f"p{i}", tags={"layer": "bench"},
                       input_entity_ids=[f"bench.e{i}"], output_entity_id=f"bench.e{(i + 1) % n}",
                       output_type="table")(lambda **frames: next(iter(frames.values())))
'''


def in_process(declared: int, rounds: int) -> dict[str, float]:
    from pytest_kindling_signals.frameworks.spark_kindling.adapter import SparkKindlingReset
    from pytest_kindling_signals.frameworks.spark_kindling.plugin import SparkKindlingSession

    work = Path(tempfile.mkdtemp(prefix="bench-sk-reset-"))
    SparkKindlingSession.start({"platform": "standalone", "environment": "local",
                                "kindling.delta.access_mode": "storage",
                                "kindling.storage.table_root": str(work / "tables")}, work)
    namespace: dict[str, object] = {}
    exec(DECLARE, namespace)  # noqa: S102 - our own code
    namespace["declare"](declared)  # type: ignore[operator]

    import importlib

    entities = importlib.import_module("kindling.data_entities")
    pipes = importlib.import_module("kindling.data_pipes")
    config = importlib.import_module("kindling.spark_config")
    injection = importlib.import_module("kindling.injection")

    def nothing() -> None:
        pass

    def declares() -> None:
        from pyspark.sql.types import IntegerType, StructField, StructType

        DataEntities = entities.DataEntities
        DataEntities.entity(entityid="bench.extra", name="bench_extra", merge_columns=["id"], partition_columns=[],
                            tags={}, schema=StructType([StructField("id", IntegerType())]))
        pipes.DataPipes.pipe(pipeid="bench.extra_pipe", name="x", tags={}, input_entity_ids=["bench.extra"],
                             output_entity_id="bench.extra", output_type="table")(lambda bench_extra: bench_extra)

    def configures() -> None:
        injection.GlobalInjector.get(config.ConfigService).set("bench.key", "value")

    results = {}
    started = time.perf_counter()
    SparkKindlingReset.baseline()
    results["first snapshot (once)"] = (time.perf_counter() - started) * 1000
    for name, body in (("changes nothing", nothing), ("declares 1 entity + 1 pipe", declares),
                       ("sets 1 config key", configures)):
        times = []
        for _ in range(rounds):  # the reset's own cost: taking the baseline, then putting it back
            started = time.perf_counter()
            state = SparkKindlingReset.baseline()
            entered = time.perf_counter()
            body()
            left = time.perf_counter()
            state.restore()
            times.append(entered - started + time.perf_counter() - left)
        results[name] = statistics.median(times) * 1000
    return results


PROJECT_CONFTEST = '''
import json
import os
import tempfile
import time
from pathlib import Path

import pytest
{declare}
_times = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.perf_counter()
    yield
    _times.append(time.perf_counter() - started)


from pytest_kindling_signals.frameworks.spark_kindling import adapter as _adapter

_reset_times = []
_baseline, _restore = _adapter.SparkKindlingReset.baseline.__func__, _adapter.SparkKindlingState.restore


def _timed_baseline(cls):
    started = time.perf_counter()
    try:
        return _baseline(cls)
    finally:
        _reset_times.append(time.perf_counter() - started)


def _timed_restore(self):
    started = time.perf_counter()
    try:
        return _restore(self)
    finally:
        _reset_times[-1] += time.perf_counter() - started


_adapter.SparkKindlingReset.baseline = classmethod(_timed_baseline)
_adapter.SparkKindlingState.restore = _timed_restore

if os.environ.get("BENCH_NO_RESET"):  # the same tests with the reset taken out: what it costs
    import contextlib
    from pytest_kindling_signals.frameworks.spark_kindling.adapter import SparkKindlingReset

    SparkKindlingReset.isolated = classmethod(lambda cls: contextlib.nullcontext())


def pytest_sessionfinish(session):
    Path(os.environ["BENCH_TIMES"]).write_text(json.dumps(
        {{"tests": _times, "resets": _reset_times, "captures": _adapter.SparkKindlingReset.captures}}))

def pytest_sessionstart(session):
    # spark-kindling started and the project declared before any test, by no fixture of the plugin's
    from pytest_kindling_signals.frameworks.spark_kindling.plugin import SparkKindlingSession

    work = Path(tempfile.mkdtemp(prefix="bench-sk-"))
    SparkKindlingSession.start({{"platform": "standalone", "environment": "local",
                                "kindling.delta.access_mode": "storage",
                                "kindling.storage.table_root": str(work / "tables")}}, work)
    declare({n})
'''


def pytest_run(python: str, tests: int, declared: int, variant: str, folder: Path,
               reset: bool = True) -> tuple[float, float, int]:
    """The median ms per test and of the reset in it (the first test, where the session's fixtures
    start, left out), and how many snapshots the run took."""
    project = folder / (variant.replace(" ", "_") + ("" if reset else "_no_reset"))
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\nkindling_signals_framework = spark-kindling\n"
                                        "filterwarnings =\n    ignore::DeprecationWarning\n    ignore::FutureWarning\n")
    (project / "conftest.py").write_text(PROJECT_CONFTEST.format(declare=DECLARE, n=declared))
    arg = {"no plugin fixture": "", "spark_kindling_session": "spark_kindling_session",
           "spark_kindling": "spark_kindling"}[variant]
    body = "\n".join(f"def test_{i}({arg}):\n    pass\n" for i in range(tests))
    (project / "test_many.py").write_text(textwrap.dedent(body))
    times = project / "times.json"
    done = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                          capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "BENCH_TIMES": str(times), **({} if reset else {"BENCH_NO_RESET": "1"})})
    if done.returncode != 0:
        raise SystemExit(f"{variant}: pytest failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    measured = json.loads(times.read_text())
    per_test = measured["tests"][1:]  # the first test starts the session's fixtures
    resets = measured["resets"][1:]
    return (statistics.median(per_test) * 1000, statistics.median(resets) * 1000 if resets else 0.0,
            measured["captures"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument("--declared", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    print(f"-- in process: the reset (snapshot checked or taken, then put back), {args.declared} entities and "
          f"{args.declared} pipes declared, median of {args.rounds}")
    for name, ms in in_process(args.declared, args.rounds).items():
        print(f"  {name:<28} {ms:7.3f} ms")
    print(f"-- pytest, {args.tests} tests, {args.declared} entities and pipes declared per session")
    variants = ("no plugin fixture", "spark_kindling_session", "spark_kindling")
    with tempfile.TemporaryDirectory(prefix="bench-sk-reset-") as tmp:
        for variant in variants:  # with and without the reset, one after the other: the same load
            on, reset_ms, captures = pytest_run(sys.executable, args.tests, args.declared, variant, Path(tmp))
            off, _, _ = pytest_run(sys.executable, args.tests, args.declared, variant, Path(tmp), reset=False)
            print(f"  {variant:<24} {on:6.2f} ms/test ({off:6.2f} with the reset taken out); the reset, timed "
                  f"inside: {reset_ms:5.2f} ms (median); snapshots taken: {captures}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

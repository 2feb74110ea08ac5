"""The Spark engine options (a ``pytest11`` entry point), for every framework the plugin serves.

Each option has an ini key of the same name; the command line wins over the
ini, the ini over the environment:

``--kindling-spark-master URL``
    a master URL (``local[2]``, ``spark://127.0.0.1:7077``); sets
    ``KINDLING_SPARK_MASTER`` for the run and the processes it starts.
``--kindling-spark-remote sc://HOST:PORT``
    a Spark Connect server; sets ``KINDLING_SPARK_REMOTE``.
``--kindling-spark-cluster N``
    a throwaway standalone cluster of N workers on 127.0.0.1 (one core,
    1 GiB each), started when the first test needs Spark and stopped at the
    end (:mod:`pytest_kindling_signals.spark.cluster`).
``--kindling-spark-connect-server``
    a throwaway Spark Connect server on 127.0.0.1 (on the throwaway cluster
    if there is one, else ``local[2]``), and the session runs over it.

The framework's session fixture (``spark`` for kindling-signals, ``spark_kindling``
for spark-kindling) takes ``kindling_spark_engine`` and is pointed at it through
:meth:`Framework.use_engine <pytest_kindling_signals.frameworks.Framework.use_engine>`.

Under ``pytest -n N`` (pytest-xdist) each worker runs its own session: the
fixture gives it a share of the memory and folders of its own
(:meth:`SparkEngine.prepare_sessions`: ``KINDLING_SPARK_DRIVER_MEMORY``,
``KINDLING_SPARK_TEMP_DIR``, ``SPARK_LOCAL_DIRS`` under the worker's base
temp), and Delta's jars come from one shared, resolved-once cache
(:mod:`pytest_kindling_signals.spark.jars`).

A session's driver JVM starts from an archive of the classes an earlier run
loaded (:mod:`pytest_kindling_signals.spark.class_sharing`); the first run
without one makes it, and this fixture's teardown shuts that JVM down so it
writes the archive. ``KINDLING_SPARK_CLASS_SHARING=0`` turns it off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_kindling_signals.spark.engine import EngineError, SparkEngine

__all__ = ["kindling_spark_engine"]

_MASTER, _REMOTE = "kindling_spark_master", "kindling_spark_remote"
_CLUSTER, _CONNECT = "kindling_spark_cluster", "kindling_spark_connect_server"
_ENGINE = pytest.StashKey[SparkEngine]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kindling-spark", "Kindling's Spark engine")
    options = (
        (_MASTER, "URL", "Spark master URL for the test session, e.g. spark://127.0.0.1:7077 "
                         "(default: $KINDLING_SPARK_MASTER, else local[*])"),
        (_REMOTE, "sc://HOST:PORT", "Spark Connect address for the test session "
                                    "(default: $KINDLING_SPARK_REMOTE)"),
        (_CLUSTER, "N", "start a throwaway standalone cluster of N workers on 127.0.0.1 for the "
                        "test session, and stop it at the end"),
    )
    for name, metavar, text in options:
        group.addoption("--" + name.replace("_", "-"), dest=name, metavar=metavar, default=None, help=text)
        parser.addini(name, text)
    text = ("start a throwaway Spark Connect server on 127.0.0.1 for the test session (on the "
            "throwaway cluster if there is one) and run the session over it")
    group.addoption("--kindling-spark-connect-server", dest=_CONNECT, action="store_true",
                    default=None, help=text)
    parser.addini(_CONNECT, text, type="bool", default=False)


def _choice(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(name)
    if value is None:
        value = config.getini(name) or None
    return str(value) if value is not None else None


def _engine(config: pytest.Config) -> SparkEngine:
    connect = config.getoption(_CONNECT)
    if connect is None:
        connect = bool(config.getini(_CONNECT))
    try:
        return SparkEngine.choose(master=_choice(config, _MASTER), remote=_choice(config, _REMOTE),
                                  workers=_choice(config, _CLUSTER), connect_server=bool(connect))
    except EngineError as exc:
        raise pytest.UsageError(str(exc)) from None


def _framework(config: pytest.Config) -> Any:
    """The framework the recorder plugin chose for this run (found through the plugin manager,
    not imported: entry points don't import each other)."""
    recorder = config.pluginmanager.get_plugin("kindling_signals")
    if recorder is None:
        return None
    try:
        return recorder.framework_for_config(config)
    except pytest.UsageError:  # a bad framework name: the recorder plugin reports it
        return None


def pytest_configure(config: pytest.Config) -> None:
    engine = _engine(config)
    config.stash[_ENGINE] = engine
    framework = _framework(config)
    if framework is not None:
        engine.listeners.append(framework.use_engine)
    if engine.throwaway:
        if hasattr(config, "workerinput"):
            return  # an xdist worker: the controller started it and exported its addresses
        if getattr(config.option, "numprocesses", None):
            engine.start()  # before xdist starts its workers, which inherit the environment
        return
    engine.apply()


def pytest_unconfigure(config: pytest.Config) -> None:
    engine = config.stash.get(_ENGINE, None)
    if engine is not None:
        engine.close()


def pytest_report_header(config: pytest.Config) -> str | None:
    engine = config.stash.get(_ENGINE, None)
    return f"kindling spark engine: {engine.describe()}" if engine is not None else None


def _test_processes(config: pytest.Config) -> int:
    """How many processes run tests at once: xdist's worker count, else 1."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return 1
    try:
        return max(1, int(workerinput.get("workercount", 1)))
    except (TypeError, ValueError):
        return 1


@pytest.fixture(scope="session")
def kindling_spark_engine(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
                          ) -> Iterator[SparkEngine]:
    """Where the session's Spark runs; a throwaway cluster asked for on the command line is started here.

    Also gives this process's sessions their share of the machine before they start, and at the end
    puts the driver's class archive in place if this process made one."""
    engine = pytestconfig.stash[_ENGINE]
    if not hasattr(pytestconfig, "workerinput"):
        engine.start()
    engine.prepare_sessions(_test_processes(pytestconfig), tmp_path_factory.getbasetemp())
    yield engine
    engine.finish_sessions()

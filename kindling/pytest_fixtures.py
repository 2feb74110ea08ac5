"""Kindling's own pytest fixtures and options: the shared Spark session, its engine, a lakehouse per test.

Registered by the ``kindling-signals`` distribution's ``pytest11`` entry point
(the signal fixtures, the marker and the report come from the
``pytest-kindling-signals`` plugin, which needs no ``kindling``)::

    def test_merge(spark, lakehouse, signal_recorder):
        ...

Tests that ask for ``spark`` are marked ``spark`` by the plugin, so
``-m "not spark"`` runs the ones that start no JVM.

Where the session runs (each option has an ini key of the same name; the
command line wins over the ini, the ini over the environment):

``--kindling-spark-master URL``
    a master URL (``local[2]``, ``spark://127.0.0.1:7077``); sets
    ``KINDLING_SPARK_MASTER`` for the run and the processes it starts.
``--kindling-spark-remote sc://HOST:PORT``
    a Spark Connect server; sets ``KINDLING_SPARK_REMOTE``.
``--kindling-spark-cluster N``
    a throwaway standalone cluster of N workers on 127.0.0.1 (one core,
    1 GiB each), started when the first test needs Spark and stopped at the
    end (:mod:`kindling.cluster`).
``--kindling-spark-connect-server``
    a throwaway Spark Connect server on 127.0.0.1 (on the throwaway cluster
    if there is one, else ``local[2]``), and the session runs over it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kindling.lakehouse import use_lakehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from kindling.cluster import LocalCluster

__all__ = ["SparkEngine", "kindling_spark_engine", "lakehouse", "spark"]

_MASTER, _REMOTE = "kindling_spark_master", "kindling_spark_remote"
_CLUSTER, _CONNECT = "kindling_spark_cluster", "kindling_spark_connect_server"


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


@dataclass
class SparkEngine:
    """Where this test run's Spark session runs, and the throwaway cluster behind it (if any)."""

    master: str | None = None
    remote: str | None = None
    workers: int = 0
    connect_server: bool = False
    cluster: LocalCluster | None = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: pytest.Config) -> SparkEngine:
        workers = _choice(config, _CLUSTER)
        try:
            count = int(workers) if workers is not None else 0
            if count < 0:
                raise ValueError
        except ValueError:
            raise pytest.UsageError(f"--kindling-spark-cluster={workers!r} must be a number of "
                                    f"workers, e.g. --kindling-spark-cluster 2") from None
        connect = config.getoption(_CONNECT)
        if connect is None:
            connect = bool(config.getini(_CONNECT))
        engine = cls(master=_choice(config, _MASTER), remote=_choice(config, _REMOTE),
                     workers=count, connect_server=bool(connect))
        if engine.throwaway and (engine.master or engine.remote):
            raise pytest.UsageError(
                "--kindling-spark-cluster / --kindling-spark-connect-server start their own engine; "
                "drop --kindling-spark-master / --kindling-spark-remote (or their ini keys)")
        return engine

    @property
    def throwaway(self) -> bool:
        return bool(self.workers or self.connect_server)

    def describe(self) -> str:
        if self.throwaway:
            parts = [f"a throwaway {self.workers}-worker standalone cluster"] if self.workers else []
            parts += ["a throwaway Spark Connect server"] if self.connect_server else []
            return " + ".join(parts) + " on 127.0.0.1"
        from kindling.spark_session import ENV_MASTER, ENV_REMOTE

        return (self.remote or os.environ.get(ENV_REMOTE) or self.master
                or os.environ.get(ENV_MASTER) or "local[*]")

    def apply(self) -> None:
        """Export the chosen master/remote (so subprocesses follow) and point the shared session at it."""
        from kindling.spark_session import ENV_MASTER, ENV_REMOTE, get_spark_session_provider, is_loopback_master

        wanted = {ENV_MASTER: self.master, ENV_REMOTE: self.remote}
        if self.master and is_loopback_master(self.master) and not self.remote:
            wanted["SPARK_LOCAL_IP"] = "127.0.0.1"
        for key, value in wanted.items():
            if value is None:
                continue
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        provider = get_spark_session_provider()
        if not provider.is_started:
            provider.config.master = self.master or provider.config.master
            provider.config.remote = self.remote or provider.config.remote

    def start(self) -> None:
        """Start the throwaway cluster (once), then :meth:`apply` its addresses."""
        if not self.throwaway or self.cluster is not None:
            return
        from kindling.cluster import ClusterSpec, LocalCluster

        spec = ClusterSpec(workers=self.workers, connect=self.connect_server, master_port=0,
                           connect_port=0, name=f"pytest-{os.getpid()}")
        self.cluster = LocalCluster(spec).start()
        self.master, self.remote = self.cluster.master_url, self.cluster.remote_url
        self.apply()

    def close(self) -> None:
        if self.cluster is not None:
            import shutil

            self.cluster.stop()
            # Throwaway: its logs and executors' work folders go too (they hold copies of the jars).
            shutil.rmtree(self.cluster.spec.folder(), ignore_errors=True)
            self.cluster = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()


_ENGINE = pytest.StashKey[SparkEngine]()


def pytest_configure(config: pytest.Config) -> None:
    engine = SparkEngine.from_config(config)
    config.stash[_ENGINE] = engine
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


@pytest.fixture(scope="session")
def kindling_spark_engine(pytestconfig: pytest.Config) -> SparkEngine:
    """Where the session's Spark runs; a throwaway cluster asked for on the command line is started here."""
    engine = pytestconfig.stash[_ENGINE]
    if not hasattr(pytestconfig, "workerinput"):
        engine.start()
    return engine


@pytest.fixture(scope="session")
def spark(kindling_spark_engine: SparkEngine) -> Iterator[SparkSession]:
    """The Delta-enabled Spark session (local unless configured), started once for the whole test session."""
    from kindling.spark_session import get_or_create_spark_session, stop_spark_session

    session = get_or_create_spark_session()
    yield session
    stop_spark_session()


@pytest.fixture
def lakehouse(tmp_path: Path) -> Iterator[Path]:
    """A fresh lakehouse folder for this test, where Kindling keeps its Delta tables."""
    path = tmp_path / "lakehouse"
    with use_lakehouse(path):
        yield path

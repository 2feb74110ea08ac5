"""Where a test run's Spark session runs: the choice, its addresses, and a throwaway cluster behind it.

Pure Python (the pytest options that fill it are in :mod:`.plugin`)::

    >>> engine = SparkEngine(master="local[2]")
    >>> engine.describe()
    'local[2]'
    >>> SparkEngine(workers=2).throwaway
    True

The engine exports its master URL or Spark Connect address in
``KINDLING_SPARK_MASTER`` / ``KINDLING_SPARK_REMOTE`` (so subprocesses follow),
then tells the framework through :meth:`Framework.use_engine
<pytest_kindling_signals.frameworks.Framework.use_engine>`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_kindling_signals.spark.cluster import LocalCluster

__all__ = ["ENV_MASTER", "ENV_REMOTE", "EngineError", "SparkEngine", "is_loopback_master"]

ENV_MASTER = "KINDLING_SPARK_MASTER"
ENV_REMOTE = "KINDLING_SPARK_REMOTE"

_LOOPBACK_HOST = re.compile(r"^(127(?:\.\d{1,3}){3}|localhost|\[::1\])$", re.IGNORECASE)


class EngineError(ValueError):
    """An engine choice that can't work, with the option to change."""


def is_loopback_master(master: str) -> bool:
    """Whether ``master`` runs on this machine: ``local...`` or a ``spark://`` URL on the loopback address.

    >>> is_loopback_master("spark://127.0.0.1:7077"), is_loopback_master("spark://spark-master:7077")
    (True, False)
    """
    if master.startswith("local"):
        return True
    if not master.startswith("spark://"):
        return False
    hosts = [h.strip().rsplit(":", 1)[0] for h in master[len("spark://"):].split(",")]
    return all(_LOOPBACK_HOST.match(h) for h in hosts)


#: Called with (master, remote) once the engine's addresses are known.
EngineListener = Callable[["str | None", "str | None"], None]


@dataclass
class SparkEngine:
    """Where this test run's Spark session runs, and the throwaway cluster behind it (if any)."""

    master: str | None = None
    remote: str | None = None
    workers: int = 0
    connect_server: bool = False
    cluster: LocalCluster | None = None
    listeners: list[EngineListener] = field(default_factory=list)
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def choose(cls, *, master: str | None = None, remote: str | None = None, workers: str | int | None = None,
               connect_server: bool = False) -> SparkEngine:
        """Check a choice as the options give it; :class:`EngineError` names the option to change."""
        try:
            count = int(workers) if workers is not None else 0
            if count < 0:
                raise ValueError
        except ValueError:
            raise EngineError(f"--kindling-spark-cluster={workers!r} must be a number of "
                              f"workers, e.g. --kindling-spark-cluster 2") from None
        engine = cls(master=master, remote=remote, workers=count, connect_server=connect_server)
        if engine.throwaway and (master or remote):
            raise EngineError(
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
        return (self.remote or os.environ.get(ENV_REMOTE) or self.master
                or os.environ.get(ENV_MASTER) or "local[*]")

    def apply(self) -> None:
        """Export the chosen master/remote (so subprocesses follow) and tell the listeners."""
        wanted = {ENV_MASTER: self.master, ENV_REMOTE: self.remote}
        if self.master and is_loopback_master(self.master) and not self.remote:
            wanted["SPARK_LOCAL_IP"] = "127.0.0.1"
        for key, value in wanted.items():
            if value is None:
                continue
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        for listener in self.listeners:
            listener(self.master, self.remote)

    def start(self) -> None:
        """Start the throwaway cluster (once), then :meth:`apply` its addresses."""
        if not self.throwaway or self.cluster is not None:
            return
        from pytest_kindling_signals.spark.cluster import ClusterSpec, LocalCluster

        spec = ClusterSpec(workers=self.workers, connect=self.connect_server, master_port=0,
                           connect_port=0, name=f"pytest-{os.getpid()}")
        self.cluster = LocalCluster(spec).start()
        self.master, self.remote = self.cluster.master_url, self.cluster.remote_url
        self.apply()

    def close(self) -> None:
        if self.cluster is not None:
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

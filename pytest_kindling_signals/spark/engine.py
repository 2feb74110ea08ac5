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

A session on this machine also gets its own folders and a share of the
memory (:meth:`SparkEngine.prepare_sessions`), so N pytest-xdist workers, one
JVM each, fit the machine::

    >>> driver_memory_mb(workers=2, available_mb=24_000)   # min(2 GiB, half the available / N)
    2048
    >>> driver_memory_mb(workers=4, available_mb=8_000)
    1000

Its driver JVM also starts from an archive of the classes the last run loaded
(:mod:`.class_sharing`), made by the first run that finds none; the end of
the test session (:meth:`SparkEngine.finish_sessions`) puts it in place.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_kindling_signals.spark.class_sharing import (
    DUMP_OPTION,
    ClassArchive,
    class_sharing_wanted,
    shut_down_gateway,
)

if TYPE_CHECKING:
    from pytest_kindling_signals.spark.cluster import LocalCluster

__all__ = ["ENV_DRIVER_JAVA_OPTIONS", "ENV_DRIVER_MEMORY", "ENV_MASTER", "ENV_REMOTE", "ENV_TEMP_DIR",
           "TEST_JAVA_OPTIONS", "EngineError", "SparkEngine", "driver_java_options", "driver_memory_mb",
           "is_loopback_master"]

ENV_MASTER = "KINDLING_SPARK_MASTER"
ENV_REMOTE = "KINDLING_SPARK_REMOTE"
#: The driver's heap (``spark.driver.memory``) of a session on this machine, e.g. ``1536m``.
ENV_DRIVER_MEMORY = "KINDLING_SPARK_DRIVER_MEMORY"
#: Where a local session makes its temporary warehouse (a folder of its own inside), instead of the system's temp.
ENV_TEMP_DIR = "KINDLING_SPARK_TEMP_DIR"
#: Spark's own: where a driver on this machine keeps its scratch files (shuffle, spills, broadcasts).
ENV_LOCAL_DIRS = "SPARK_LOCAL_DIRS"
#: The driver JVM's options (``spark.driver.extraJavaOptions``) for a test run's sessions.
ENV_DRIVER_JAVA_OPTIONS = "KINDLING_SPARK_DRIVER_JAVA_OPTIONS"
#: A test run's small jobs finish sooner on the JVM's quick compiler alone: the optimising one
#: (C2) spends more CPU compiling Spark's planner than its code ever saves in a test (half the
#: CPU of a session start and its first merges, measured in docs/performance.md).
TEST_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1"
DRIVER_MEMORY_MAX_MB = 2048
DRIVER_MEMORY_MIN_MB = 768

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


#: What a test run's engine exported ("<pid> KEY,KEY"): a pytest run it starts (pytester, a
#: subprocess) inherits the values but sets its own, as they are not the user's.
_ENV_EXPORTED = "KINDLING_SPARK_EXPORTED"


def _exported_by_another_process(key: str) -> bool:
    pid, _, keys = os.environ.get(_ENV_EXPORTED, "").partition(" ")
    return bool(pid and pid != str(os.getpid()) and key in keys.split(","))


def _set_by_user(key: str) -> bool:
    return bool(os.environ.get(key)) and not _exported_by_another_process(key)


def driver_java_options() -> str | None:
    """The driver JVM's options for a session of this process: ``$KINDLING_SPARK_DRIVER_JAVA_OPTIONS``,
    without the class archive's dump option if another process (the test run that started this
    one) exported it: only the process that holds the archive's lock writes it.
    """
    value = os.environ.get(ENV_DRIVER_JAVA_OPTIONS)
    if value and DUMP_OPTION in value and _exported_by_another_process(ENV_DRIVER_JAVA_OPTIONS):
        value = " ".join(o for o in value.split() if not o.startswith(DUMP_OPTION))
    return value or None


def available_memory_mb() -> int | None:
    """The memory this machine can still give (``MemAvailable``), in MiB; ``None`` when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024)
    except (AttributeError, OSError, ValueError):
        return None


def _gateway_running() -> bool:
    """Whether pyspark's JVM already runs in this process (its options can't change any more)."""
    context = getattr(sys.modules.get("pyspark"), "SparkContext", None)
    return getattr(context, "_gateway", None) is not None


def driver_memory_mb(workers: int, available_mb: int | None = None) -> int:
    """The heap of each of ``workers`` drivers on this machine: half the available memory shared
    between them, at most 2 GiB (the serial default) and at least 768 MiB."""
    available = available_mb if available_mb is not None else available_memory_mb()
    if available is None:
        return DRIVER_MEMORY_MAX_MB
    share = available // 2 // max(1, workers)
    return max(DRIVER_MEMORY_MIN_MB, min(DRIVER_MEMORY_MAX_MB, share))


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
    #: The driver's class archive (``None``: not used, e.g. ``KINDLING_SPARK_CLASS_SHARING=0``).
    class_archive: ClassArchive | None = None
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

    def runs_driver_here(self) -> bool:
        """Whether sessions start a JVM on this machine (any master; not Spark Connect)."""
        return not (self.remote or os.environ.get(ENV_REMOTE) or self.connect_server)

    def prepare_sessions(self, workers: int, scratch: Path) -> dict[str, str]:
        """Give the sessions of this process (one of ``workers`` test processes) their share.

        Exports, unless the user set them: the driver's heap
        (:func:`driver_memory_mb`) and JVM options (:data:`TEST_JAVA_OPTIONS`),
        and, for a master on this machine, the folders under which a session
        makes its warehouse and Spark its scratch files, in ``scratch`` (a
        pytest-xdist worker's own base temp), so no two workers share a
        folder. Returns what it exported.

        The JVM options also name the driver's class archive
        (:class:`~.class_sharing.ClassArchive`), unless
        ``KINDLING_SPARK_CLASS_SHARING=0`` or this process's JVM already runs.
        """
        if not self.runs_driver_here():
            return {}
        java = TEST_JAVA_OPTIONS
        if not _set_by_user(ENV_DRIVER_JAVA_OPTIONS) and class_sharing_wanted() and not _gateway_running():
            self.class_archive = self.class_archive or ClassArchive()
            java = " ".join(filter(None, (java, self.class_archive.java_options())))
        wanted = {ENV_DRIVER_MEMORY: f"{driver_memory_mb(workers)}m", ENV_DRIVER_JAVA_OPTIONS: java}
        master = self.master or os.environ.get(ENV_MASTER) or "local[*]"
        if is_loopback_master(master):
            wanted[ENV_TEMP_DIR] = str(scratch / "spark-temp")
            wanted[ENV_LOCAL_DIRS] = str(scratch / "spark-local")
        exported = {}
        for key, value in wanted.items():
            if _set_by_user(key):
                continue
            if key in (ENV_TEMP_DIR, ENV_LOCAL_DIRS):
                Path(value).mkdir(parents=True, exist_ok=True)
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = exported[key] = value
        if exported:
            self._saved_env.setdefault(_ENV_EXPORTED, os.environ.get(_ENV_EXPORTED))
            os.environ[_ENV_EXPORTED] = f"{os.getpid()} {','.join(exported)}"
        return exported

    def finish_sessions(self) -> Path | None:
        """At the end of the test session: if this process's JVM dumps the class archive, stop it, wait
        for it to write the archive and exit, and put the archive in place (only if it exited normally)."""
        archive = self.class_archive
        if archive is None or archive.dumping is None:
            return None
        return archive.finish(shut_down_gateway(str(archive.dumping)))

    def close(self) -> None:
        if self.class_archive is not None:
            self.class_archive.finish(None)  # a dump never finished: its temporary file goes, the lock too
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

"""The Spark session Kindling runs on: Delta-enabled, local by default, created lazily.

    >>> from kindling.spark_session import get_or_create_spark_session
    >>> spark = get_or_create_spark_session()          # doctest: +SKIP
    >>> spark.range(3).write.format("delta").save(p)   # doctest: +SKIP

Local runs use ``local[*]`` with the UI off and few shuffle partitions; Delta's
JVM jars (``io.delta:delta-spark_2.12`` and ``io.delta:delta-storage``) are
resolved from Maven Central (or ``~/.m2/repository``) by the first session on
the machine, then every session starts from the cached jars
(:class:`pytest_kindling_signals.spark.JarCache`).
Set ``KINDLING_SPARK_MASTER`` (a master URL) or ``KINDLING_SPARK_REMOTE`` (a
Spark Connect address, ``sc://host:15002``) to run against a real cluster
(``pytest_kindling_signals.spark.cluster`` starts one on this machine). A master on this machine
(``local[*]``, ``local-cluster[...]``, ``spark://127.0.0.1:7077``) keeps the
driver on the loopback address (``SPARK_LOCAL_IP``, ``spark.driver.host``
and ``spark.driver.bindAddress`` = ``127.0.0.1``) and small sizing.

Signals: ``session.created`` (``app_name``, ``spark_version``, ``config``),
``session.config_changed`` (``changed_configs``, ``old_values``),
``session.stopped`` (``app_name``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_kindling_signals.spark import (
    ENV_DRIVER_MEMORY,
    ENV_MASTER,
    ENV_REMOTE,
    ENV_TEMP_DIR,
    JarCache,
    driver_java_options,
    is_loopback_master,
)

from kindling.signaling import SignalEmitter, SignalProvider

if TYPE_CHECKING:  # pyspark is imported only when a session is asked for
    from pyspark.sql import SparkSession

__all__ = [
    "ENV_MASTER",
    "ENV_REMOTE",
    "SparkConfig",
    "SparkSessionProvider",
    "get_or_create_spark_session",
    "get_spark_session_provider",
    "is_connect_session",
    "is_dataframe",
    "is_loopback_master",
    "parse_ddl_schema",
    "stop_spark_session",
]

LOOPBACK = "127.0.0.1"


# Settings that make a session on this machine (local, or a cluster on the
# loopback address) start fast and stay small; a remote cluster's own defaults
# win, and its executors must reach the driver at its network address.
_LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
    "spark.databricks.delta.retentionDurationCheck.enabled": "false",
}
_DELTA_SETTINGS = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def is_connect_session(spark: Any) -> bool:
    """Whether ``spark`` is a Spark Connect client session (no SparkContext, no JVM in this process)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def is_dataframe(value: Any) -> bool:
    """Whether ``value`` is a Spark DataFrame: a classic one, or a Spark Connect client's.

    pyspark 3.5 has two unrelated classes, so ``isinstance(x, pyspark.sql.DataFrame)``
    is False for every DataFrame over Spark Connect.
    """
    if "pyspark" not in sys.modules:
        return False  # nothing imported pyspark: this can't be a DataFrame
    from pyspark.sql.dataframe import DataFrame

    if isinstance(value, DataFrame):
        return True
    module = type(value).__module__
    return module == "pyspark.sql.connect.dataframe" and type(value).__name__ == "DataFrame"


def parse_ddl_schema(ddl: str) -> Any:
    """A DDL schema string (``"id INT, name STRING"``) as a ``StructType``, on any engine.

    A classic session parses it in its JVM (``_parse_datatype_string``, which
    needs a running SparkContext, as before); a Spark Connect client has no
    JVM, so when the shared session is (or will be) a Connect one, the server
    parses it (one analyze round trip).
    """
    provider = get_spark_session_provider()
    session = provider.session
    if (session is not None and is_connect_session(session)) or (
            session is None and provider.config.resolved_remote()):
        return provider.get_session().createDataFrame([], ddl).schema
    from pyspark.sql.types import _parse_datatype_string

    return _parse_datatype_string(ddl)


@dataclass
class SparkConfig:
    """How to build the session. Empty ``master``/``remote`` fall back to the environment."""

    app_name: str = "kindling"
    master: str | None = None
    remote: str | None = None
    warehouse_dir: str | None = None
    driver_memory: str | None = None
    settings: dict[str, str] = field(default_factory=dict)

    def resolved_master(self) -> str:
        return self.master or os.environ.get(ENV_MASTER) or "local[*]"

    def resolved_remote(self) -> str | None:
        return self.remote or os.environ.get(ENV_REMOTE) or None


def _effective(session: Any, key: str) -> str | None:
    """The value a running session uses for ``key``: what was set, else Spark's default for a key it
    knows (``conf.get(key, None)`` gives ``None`` for a default never set, e.g. over Spark Connect);
    ``None`` for a key Spark doesn't know and nobody set."""
    try:
        value = session.conf.get(key)
    except Exception:  # not set and no default: classic Spark and Connect both raise
        return None
    return None if value is None else str(value)


class SparkSessionProvider(SignalEmitter):
    """Creates, reconfigures and stops the one Spark session, emitting ``session.*``."""

    EMITS = ("session.created", "session.config_changed", "session.stopped")

    def __init__(self, config: SparkConfig | None = None,
                 signal_provider: SignalProvider | None = None) -> None:
        super().__init__(signal_provider)
        self.config = config or SparkConfig()
        self._session: SparkSession | None = None
        self._lock = threading.RLock()
        self._warehouse: str | None = None

    def _temp_warehouse(self) -> str:
        # One folder per provider: _settings() runs again to report the config.
        if self._warehouse is None:
            # Under the test run's folder when the plugin gives one (each xdist worker its own).
            self._warehouse = tempfile.mkdtemp(prefix="kindling-warehouse-",
                                               dir=os.environ.get(ENV_TEMP_DIR) or None)
        return self._warehouse

    @property
    def is_started(self) -> bool:
        return self._session is not None

    @property
    def session(self) -> SparkSession | None:
        """The session if it was started, without starting it."""
        return self._session

    def get_session(self) -> SparkSession:
        """The session, created (and ``session.created`` emitted) on first call."""
        with self._lock:
            if self._session is None:
                self._session = self._create()
                self.emit("session.created", app_name=self.config.app_name,
                          spark_version=self._session.version,
                          config=self._observed_config(self._session))
            return self._session

    def _settings(self) -> dict[str, str]:
        cfg = self.config
        settings: dict[str, str] = {}
        if not cfg.resolved_remote():
            if is_loopback_master(cfg.resolved_master()):
                # Loopback driver and tiny parallelism suit one machine only: a remote
                # cluster's executors must reach the driver, and size it themselves.
                settings.update(_LOCAL_DEFAULTS)
            warehouse = cfg.warehouse_dir or self._temp_warehouse()
            settings["spark.sql.warehouse.dir"] = str(Path(warehouse).resolve())
            memory = cfg.driver_memory or os.environ.get(ENV_DRIVER_MEMORY) or "2g"
            settings["spark.driver.memory"] = memory
            java = driver_java_options()  # $KINDLING_SPARK_DRIVER_JAVA_OPTIONS
            if java:  # a test run's (the pytest plugin's engine sets it): the user's settings still win
                settings["spark.driver.extraJavaOptions"] = java
        settings.update(_DELTA_SETTINGS)
        settings.update(cfg.settings)
        return settings

    def _create(self) -> SparkSession:
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "pyspark is not installed: install Kindling with its Spark extra, "
                "`pip install -e '.[test]'` (pyspark 3.5 + delta-spark 3.3)") from exc
        # Python workers must be this interpreter, not whatever `python` is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        remote = self.config.resolved_remote()
        if remote:
            return self._connect(remote)
        master = self.config.resolved_master()
        if is_loopback_master(master):
            # The JVM picks every address it binds or advertises from this (the block
            # manager, the file server executors fetch jars from): never the network's.
            os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
        settings = self._settings()
        # Delta's jars (and any spark.jars.packages of the user's) resolved once per machine, then
        # started from their local paths: no Ivy resolution, no two processes writing one Ivy cache.
        extra = [p.strip() for p in settings.pop("spark.jars.packages", "").split(",") if p.strip()]
        own_jars = settings.pop("spark.jars", "")

        def start(jars: dict[str, str]) -> SparkSession:
            merged = {**settings, **jars}
            if own_jars:
                merged["spark.jars"] = ",".join(filter(None, (own_jars, jars.get("spark.jars"))))
            builder = SparkSession.builder.appName(self.config.app_name).master(master)
            for key, value in merged.items():
                builder = builder.config(key, value)
            return builder.getOrCreate()

        def resolved(session: SparkSession) -> str:
            listed = (session.sparkContext.getConf().get("spark.jars", None) or "").split(",")
            mine = {Path(j).name for j in own_jars.split(",")}
            return ",".join(j for j in listed if j and Path(j).name not in mine)

        try:
            session = JarCache.for_delta(extra).start(start, resolved)
        except Exception as exc:
            raise RuntimeError(
                "could not start a Delta-enabled Spark session: "
                f"{type(exc).__name__}: {exc}. Spark needs Java 17 on PATH (or JAVA_HOME) and "
                "Delta's jars from Maven Central; offline, fill ~/.m2/repository with "
                "`mvn dependency:get -Dartifact=io.delta:delta-spark_2.12:3.3.2`") from exc
        session.sparkContext.setLogLevel("ERROR")
        return session

    def _connect(self, remote: str) -> SparkSession:
        """A Spark Connect client session. The server owns the static settings (Delta's
        extension and catalog, the app name): only the user's own settings are sent."""
        from pyspark.sql import SparkSession

        try:
            builder = SparkSession.builder.remote(remote)
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                f"Spark Connect ({remote}) needs pyspark[connect]'s client packages: "
                f"`pip install 'pyspark[connect]==3.5.5' 'pandas<3' 'pyarrow<20'` ({exc})") from exc
        for key, value in self.config.settings.items():
            builder = builder.config(key, value)
        try:
            session = builder.getOrCreate()
            session.version  # the first round trip: a server that is not there fails here
        except Exception as exc:
            raise RuntimeError(
                f"could not reach the Spark Connect server at {remote}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}. Is it running? On this machine: "
                f"`python -m pytest_kindling_signals.spark.cluster start --workers 0 --connect`") from exc
        return session

    def _observed_config(self, session: SparkSession) -> dict[str, str]:
        shown = {"spark.master": self.config.resolved_remote() or self.config.resolved_master()}
        for key in self._settings():
            try:
                value = session.conf.get(key, None)
            except Exception:  # Spark Connect refuses some static keys
                value = None
            if value is not None:
                shown[key] = str(value)
        return shown

    def set_config(self, changes: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, str]:
        """Change runtime settings; emits ``session.config_changed`` for the keys that changed.

        Returns the keys that changed with their new values. Static settings
        (ones Spark can't change on a running session) raise a ``ValueError``
        that names the key.
        """
        wanted = {str(k): str(v) for k, v in {**(changes or {}), **more}.items()}
        session = self.get_session()
        changed: dict[str, str] = {}
        old_values: dict[str, str | None] = {}
        for key, value in wanted.items():
            old = _effective(session, key)
            if old == value:
                continue
            try:
                session.conf.set(key, value)
            except Exception as exc:
                raise ValueError(f"cannot set Spark setting {key!r} on a running session: "
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0]}; "
                                 "static settings go in SparkConfig(settings=...) before the session starts") from exc
            changed[key] = value
            old_values[key] = old
        if changed:
            self.emit("session.config_changed", changed_configs=changed, old_values=old_values)
        return changed

    def stop(self) -> None:
        """Stop the session if it runs (emitting ``session.stopped``); a later call starts a new one."""
        with self._lock:
            if self._session is None:
                return
            session, self._session = self._session, None
            session.stop()
            self.emit("session.stopped", app_name=self.config.app_name)


class _Shared:
    provider: SparkSessionProvider | None = None
    lock = threading.Lock()


def get_spark_session_provider(config: SparkConfig | None = None) -> SparkSessionProvider:
    """The process-wide session provider (made on first call; ``config`` applies then only)."""
    with _Shared.lock:
        if _Shared.provider is None:
            _Shared.provider = SparkSessionProvider(config)
        elif config is not None and not _Shared.provider.is_started:
            _Shared.provider.config = config
        return _Shared.provider


def get_or_create_spark_session(config: SparkConfig | None = None) -> SparkSession:
    """The shared Delta-enabled session, started on first use."""
    return get_spark_session_provider(config).get_session()


def stop_spark_session() -> None:
    """Stop the shared session, if one was started."""
    with _Shared.lock:
        provider = _Shared.provider
    if provider is not None:
        provider.stop()

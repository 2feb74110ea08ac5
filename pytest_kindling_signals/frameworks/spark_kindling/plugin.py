"""Fixtures for spark-kindling users: its real providers on local Spark + Delta, no conftest.

Installed with the plugin (``pytest11`` entry point); in a virtualenv that has
spark-kindling a test only asks for ``spark_kindling``::

    from pyspark.sql.types import IntegerType, StructField, StructType

    def test_orders_reach_silver(spark_kindling, signal_recorder):
        from kindling.data_entities import DataEntities
        from kindling.data_pipes import DataPipes

        schema = StructType([StructField("order_id", IntegerType())])
        for entity_id in ("bronze.orders", "silver.orders"):
            DataEntities.entity(entityid=entity_id, name=entity_id.replace(".", "_"),
                                merge_columns=["order_id"], partition_columns=[],
                                tags={"provider_type": "delta"}, schema=schema)

        @DataPipes.pipe(pipeid="orders.to_silver", name="to silver", tags={},
                        input_entity_ids=["bronze.orders"], output_entity_id="silver.orders",
                        output_type="table")
        def to_silver(bronze_orders):
            return bronze_orders

        spark_kindling.write("bronze.orders", [(1,), (2,)])
        spark_kindling.run("orders.to_silver")
        signal_recorder.assert_emitted("datapipes.after_run", success_count=1)

What the fixtures do:

- ``spark_kindling_session`` (session scope): one Delta-enabled Spark session
  on the engine the plugin's options chose (``kindling_spark_engine``: by
  default ``local[2]`` on the loopback address; a throwaway cluster, a Spark
  Connect server) and one ``kindling.initialize`` on its ``standalone``
  platform for the whole process, each xdist worker's (spark-kindling can't
  initialise twice in one process). Its config is the ``spark_kindling_config``
  fixture's, which a conftest may override.
- ``spark_kindling`` (per test): a :class:`SparkKindlingHarness` with a
  fresh table root under the test's ``tmp_path``, its streaming runtime
  (:mod:`.streaming`) and a local platform service (:mod:`.platform`) on
  demand, and spark-kindling's registries, singletons, signal receivers and
  config put back after the test
  (:class:`~pytest_kindling_signals.frameworks.spark_kindling.adapter.SparkKindlingReset`),
  so two tests may declare the same ids differently. Tests that take another
  fixture or marker of the plugin are reset too; tests that take none are left
  alone. ``@pytest.mark.spark_kindling(watermarks=True)`` registers the
  ``WatermarkAspect`` for the test (its standalone bootstrap doesn't).
- A test that errors because spark-kindling was initialised a second time
  (a fixture that calls ``GlobalInjector.reset()``) gets a section under its
  traceback that says so and names the fixture that works.

Importing this module imports no ``kindling``; with this project's own
framework (``kindling-signals``) installed instead, the fixtures fail with
a message that says so.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading
from collections.abc import Generator, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_kindling_signals.names import UnknownNameError, declared_names
from pytest_kindling_signals.spark import (
    ENV_DRIVER_MEMORY,
    ENV_MASTER,
    ENV_REMOTE,
    ENV_TEMP_DIR,
    JarCache,
    SparkEngine,
    is_loopback_master,
)
from pytest_kindling_signals.frameworks.spark_kindling.adapter import SparkKindling, SparkKindlingReset
from pytest_kindling_signals.frameworks.spark_kindling.platform import LocalPlatformService, bind_local_platform
from pytest_kindling_signals.frameworks.spark_kindling.streaming import SparkKindlingStreaming, stop_active_queries

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["MARKER", "SparkKindlingHarness", "SparkKindlingSession", "reinitialised_hint"]

MARKER = "spark_kindling"
_WRITE_MODES = {"write": "write_to_entity", "merge": "merge_to_entity", "append": "append_to_entity",
                "replace": "replace_entity"}
#: Small, local, loopback-only: what a test session on a laptop or a CI runner needs.
SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.app.name": "pytest-kindling-signals (spark-kindling)",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


# -- plain classes ------------------------------------------------------------

def _kindling(module: str) -> Any:
    """spark-kindling's module ``kindling.<module>`` (by name: this plugin type-checks without it)."""
    return importlib.import_module(f"kindling.{module}" if module else "kindling")


class SparkKindlingSession:
    """The process's Spark session and its one initialised spark-kindling.

    Started once per process (:meth:`start`); a second start returns the
    first, since spark-kindling can't initialise twice. An active Spark
    session made before (by your own fixture) is used as it is; otherwise
    a Delta-enabled ``local[2]`` session bound to 127.0.0.1 is made, and
    lives until the process ends.
    """

    _current: SparkKindlingSession | None = None
    _lock = threading.Lock()

    def __init__(self, spark: SparkSession, config: dict[str, Any]) -> None:
        self.spark = spark
        #: the config ``kindling.initialize`` was called with
        self.config = config

    @classmethod
    def start(cls, config: dict[str, Any], workdir: Path, *, master: str | None = None,
              remote: str | None = None) -> SparkKindlingSession:
        """The process's session: on ``remote`` (a Spark Connect address) if given, else on
        ``master`` (default ``local[2]``); spark-kindling initialised on it once."""
        with cls._lock:
            if cls._current is None:
                spark = _spark_session(workdir, master, remote)
                import __main__

                # spark-kindling's get_or_create_spark_session looks in __main__ first
                __main__.spark = spark
                kindling = _kindling("")
                if not kindling.is_framework_initialized():
                    kindling.initialize(dict(config))
                cls._current = cls(spark, dict(config))
            return cls._current

    @property
    def is_connect(self) -> bool:
        """Whether the session is a Spark Connect client (no ``sparkContext``, no JVM here)."""
        return "connect" in type(self.spark).__module__

    def __repr__(self) -> str:
        where = "Spark Connect" if self.is_connect else self.spark.sparkContext.master
        return f"<SparkKindlingSession {where} platform={self.config.get('platform')!r}>"


def _spark_session(workdir: Path, master: str | None = None, remote: str | None = None) -> SparkSession:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Before the JVM starts: Python workers run this interpreter (the virtualenv that has spark-kindling).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if remote:
        return _connect(remote)
    master = master or SPARK_CONF["spark.master"]
    settings = {**SPARK_CONF, "spark.master": master, "spark.sql.warehouse.dir": str(workdir / "warehouse")}
    if is_loopback_master(master):
        # The driver binds and advertises the loopback address only.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    else:  # a remote cluster's executors must reach the driver: it picks its own address
        for key in ("spark.driver.host", "spark.driver.bindAddress"):
            settings.pop(key)
    if os.environ.get(ENV_DRIVER_MEMORY):  # the engine's share of the machine for this process
        settings["spark.driver.memory"] = os.environ[ENV_DRIVER_MEMORY]
    if os.environ.get(ENV_TEMP_DIR):
        settings["spark.sql.warehouse.dir"] = str(Path(os.environ[ENV_TEMP_DIR]) / f"warehouse-{os.getpid()}")

    def start(jars: dict[str, str]) -> SparkSession:
        builder = SparkSession.builder
        for key, value in {**settings, **jars}.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()

    def resolved(session: SparkSession) -> str:
        return str(session.sparkContext.getConf().get("spark.jars", None) or "")

    # Delta's jars resolved once per machine, then every session (each xdist worker's) starts
    # from their local paths: no Ivy resolution, no two processes writing one Ivy cache.
    spark = JarCache.for_delta().start(start, resolved)
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _connect(remote: str) -> SparkSession:
    """A Spark Connect client session; the server owns Delta's extension and catalog."""
    from pyspark.sql import SparkSession

    try:
        spark = SparkSession.builder.remote(remote).getOrCreate()
        spark.version  # the first round trip: a server that is not there fails here
    except ImportError as exc:
        raise RuntimeError(f"Spark Connect ({remote}) needs pyspark's connect client: "
                           f"pip install 'pyspark[connect]==3.5.5' ({exc})") from exc
    except Exception as exc:
        raise RuntimeError(f"could not reach the Spark Connect server at {remote}: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}. Is it running? Start one with "
                           "--kindling-spark-connect-server") from exc
    return spark


class SparkKindlingHarness:
    """What the ``spark_kindling`` fixture gives a test: spark-kindling, initialised, with
    this test's own table root.

    ``spark``, ``table_root``, the registries ``entities`` and ``pipes``,
    ``get(Service)`` for anything of its dependency injection, and a few
    shortcuts through its real providers (each emits spark-kindling's
    signals as its own code would)::

        spark_kindling.write("bronze.orders", [(1, 9.5)])     # entity.before_write ...
        spark_kindling.run("orders.to_silver")                  # datapipes.before_run ...
        assert spark_kindling.read("silver.orders").count() == 1
    """

    def __init__(self, session: SparkKindlingSession, table_root: Path) -> None:
        self.session = session
        #: where this test's Delta tables are (``kindling.storage.table_root``)
        self.table_root = table_root
        self._watermark_aspect: Any = None
        self._streaming: SparkKindlingStreaming | None = None
        self._platform: LocalPlatformService | None = None

    @property
    def spark(self) -> SparkSession:
        return self.session.spark

    def get(self, interface: type[Any]) -> Any:
        """spark-kindling's service for ``interface`` (``GlobalInjector.get``)."""
        return _kindling("injection").GlobalInjector.get(interface)

    @property
    def entities(self) -> Any:
        """The entity registry (``DataEntityRegistry``): ``get_entity_ids()``, ``get_entity_definition(id)``."""
        return self.get(_kindling("data_entities").DataEntityRegistry)

    @property
    def pipes(self) -> Any:
        """The pipe registry (``DataPipesRegistry``): ``get_pipe_ids()``, ``get_pipe_definition(id)``."""
        return self.get(_kindling("data_pipes").DataPipesRegistry)

    def entity(self, entity_id: str) -> Any:
        """The registered entity ``entity_id``; a clear error when there is none."""
        __tracebackhide__ = True
        registered = list(self.entities.get_entity_ids())
        if entity_id not in registered:
            raise _not_registered("entity", entity_id, registered, "DataEntities.entity(entityid=...)")
        return self.entities.get_entity_definition(entity_id)

    def run(self, *pipe_ids: str, **options: Any) -> Any:
        """Run pipes through spark-kindling's ``DataPipesExecution.run_datapipes`` (options
        such as ``use_dag=True`` or ``no_watermark=True`` are passed on)."""
        __tracebackhide__ = True
        if not pipe_ids:
            raise ValueError("run() needs at least one pipe id, e.g. run('orders.to_silver')")
        registered = list(self.pipes.get_pipe_ids())
        for pipe_id in pipe_ids:
            if pipe_id not in registered:
                raise _not_registered("pipe", pipe_id, registered, "@DataPipes.pipe(pipeid=...)")
        executer = self.get(_kindling("data_pipes").DataPipesExecution)
        return executer.run_datapipes(list(pipe_ids), **options)

    def provider(self, entity_id: str) -> Any:
        """The entity provider spark-kindling uses for ``entity_id`` (by its ``provider_type`` tag)."""
        registry = self.get(_kindling("entity_provider_registry").EntityProviderRegistry)
        return registry.get_provider_for_entity(self.entity(entity_id))

    def write(self, entity_id: str, data: DataFrame | Sequence[Any], *, mode: str = "write") -> None:
        """Write rows (a DataFrame, or tuples in the entity's schema) through the entity's provider:
        ``mode`` is ``write`` (``write_to_entity``), ``merge``, ``append`` or ``replace``."""
        __tracebackhide__ = True
        if mode not in _WRITE_MODES:
            raise ValueError(f"write(mode={mode!r}): use one of {', '.join(map(repr, _WRITE_MODES))}")
        entity = self.entity(entity_id)
        frame = data if hasattr(data, "schema") else self.spark.createDataFrame(list(data), entity.schema)
        getattr(self.provider(entity_id), _WRITE_MODES[mode])(frame, entity)

    def read(self, entity_id: str) -> DataFrame:
        """The entity's table, read through its provider (``entity.before_read`` ... ``after_read``)."""
        return self.provider(entity_id).read_entity(self.entity(entity_id))

    def table_path(self, entity_id: str) -> Path:
        """Where the entity's Delta table is (under :attr:`table_root` unless a ``provider.path`` tag says otherwise)."""
        locator = self.get(_kindling("data_entities").EntityPathLocator)
        return Path(locator.get_table_path(self.entity(entity_id)))

    def enable_watermarks(self) -> Any:
        """Register spark-kindling's ``WatermarkAspect`` for this test (incremental reads and
        watermark saves); returns the aspect. ``@pytest.mark.spark_kindling(watermarks=True)``
        does the same before the test starts."""
        if self._watermark_aspect is None:
            aspect = self.get(_kindling("watermarking").WatermarkAspect)
            aspect.register()
            self._watermark_aspect = aspect
        return self._watermark_aspect

    @property
    def streaming(self) -> SparkKindlingStreaming:
        """spark-kindling's streaming runtime for this test (:class:`SparkKindlingStreaming`): start
        streaming pipes through its ``StreamingOrchestrator``, wait for rows or batches, stop them,
        make a query fail or stall on purpose. Its checkpoints go under the test's ``tmp_path``."""
        if self._streaming is None:
            self._streaming = SparkKindlingStreaming(self.get, self.table_root.parent / "checkpoints")
        return self._streaming

    def local_platform(self, root: str | os.PathLike[str] | None = None, **options: Any) -> LocalPlatformService:
        """Bind a :class:`~pytest_kindling_signals.frameworks.spark_kindling.platform.LocalPlatformService`
        through spark-kindling's dependency injection for this test: ``DataAppDeployer`` then deploys
        apps to a folder (``root``, default ``<tmp_path>/platform``) and runs their jobs as local
        ``spark-submit`` processes, which the test's teardown cancels if still running."""
        if self._platform is None:
            self._platform = bind_local_platform(root or self.table_root.parent / "platform", **options)
        return self._platform

    def close(self) -> None:
        """Stop what the test left streaming or running (the fixture's teardown, before spark-kindling's
        state is put back)."""
        try:
            if self._streaming is not None:
                self._streaming.close()
                stop_active_queries(self.spark)  # queries the test started by hand, too
        finally:
            self._streaming = None
            if self._platform is not None:
                self._platform.close()
                self._platform = None

    def __repr__(self) -> str:
        return f"<SparkKindlingHarness table_root={str(self.table_root)!r}>"


def _not_registered(kind: str, name: str, registered: list[str], how: str) -> UnknownNameError:
    return UnknownNameError(
        f"spark-kindling {kind} id", name, registered,
        f"declare it in the test (or in a fixture) with {how}.",
        declared=declared_names(sorted(registered), "entities" if kind == "entity" else "pipes"))


@functools.lru_cache(maxsize=None)
def _spark_kindling_installed() -> bool:
    return SparkKindling.is_installed()


def _require_spark_kindling() -> None:
    __tracebackhide__ = True
    if _spark_kindling_installed():
        return
    try:
        here = f"the `kindling` installed here is kindling-signals {metadata.version('kindling-signals')}, " \
               "whose own fixtures are `spark` and `lakehouse`"
    except metadata.PackageNotFoundError:
        here = "no Kindling is installed here"
    pytest.fail(
        "the spark_kindling fixtures are for spark-kindling (PyPI `spark-kindling`, import name `kindling`), "
        f"which is not installed: {here}. Install spark-kindling in a virtualenv of its own "
        "(pip install \"spark-kindling[standalone]\" pytest-kindling-signals) and run the tests there.",
        pytrace=False)


def _watermarks_option(item: pytest.Item) -> bool:
    __tracebackhide__ = True
    watermarks = False
    for mark in reversed(list(item.iter_markers(MARKER))):  # the closest marker last: it wins
        unknown = set(mark.kwargs) - {"watermarks"}
        if mark.args or unknown:
            pytest.fail(f"{item.nodeid}: @pytest.mark.{MARKER} takes watermarks=True or False only, got "
                        f"{', '.join([*map(repr, mark.args), *sorted(unknown)])}", pytrace=False)
        if "watermarks" in mark.kwargs:
            if not isinstance(mark.kwargs["watermarks"], bool):
                pytest.fail(f"{item.nodeid}: @pytest.mark.{MARKER}(watermarks={mark.kwargs['watermarks']!r}): "
                            "use watermarks=True or watermarks=False", pytrace=False)
            watermarks = mark.kwargs["watermarks"]
    return watermarks


# -- hooks and fixtures -------------------------------------------------------

def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(watermarks=False): options of the spark_kindling fixture; "
        "watermarks=True registers spark-kindling's WatermarkAspect for the test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # spark_kindling itself is marked by the main plugin; a test that only takes the
    # session fixture (or a fixture built on it) starts the JVM too.
    for item in items:
        if ("spark_kindling_session" in getattr(item, "fixturenames", ())
                and item.get_closest_marker("spark") is None):
            item.add_marker(pytest.mark.spark)


#: What spark-kindling 0.14 raises when it is initialised again after its injector was reset.
REINITIALISED = "Can't instantiate abstract class ConfigService"


def _reinitialised(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if REINITIALISED in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def reinitialised_hint(fixturenames: Sequence[str]) -> str:
    """Why spark-kindling failed to initialise, and the fixture that works (shown under the error)."""
    resetting = [n for n in fixturenames if "reset" in n and "kindling" in n and not n.startswith("_")]
    where = (f"the fixture {', '.join(f'`{n}`' for n in resetting)} (it calls GlobalInjector.reset())" if resetting
             else "GlobalInjector.reset() or kindling.reset() (in a fixture or the test)")
    return (
        "spark-kindling 0.14 can't be initialised twice in one process: "
        f"{where} drops the bindings spark-kindling made when it was imported and initialised, "
        "so initialising it again can't build its ConfigService (CallError: ... Can't instantiate "
        "abstract class ConfigService).\n"
        "Take the `spark_kindling` fixture of pytest-kindling-signals instead (of the reset fixture and "
        "of initialize_framework(...) in the test): it initialises spark-kindling once per process and "
        "puts back, after each test, what the test declared, configured and connected. Declarations your "
        "package makes when imported go in a session-scoped fixture that takes `spark_kindling_session`; "
        "settings files in an override of `spark_kindling_config` (\"config_files\": [...]). "
        "Recipe: docs/spark-kindling.md, \"Projects made by kindling-cli\".")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.failed and call.excinfo is not None and _reinitialised(call.excinfo.value):
        report.sections.append(("spark-kindling: initialised twice",
                                reinitialised_hint(getattr(item, "fixturenames", ()))))
    return report


@pytest.fixture(scope="session")
def spark_kindling_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The config of the process's one ``kindling.initialize``: the ``standalone`` platform,
    Delta by path, a session table root (each test gets its own). Override this fixture
    (session scope) in a conftest to add keys."""
    root = tmp_path_factory.mktemp("spark_kindling")
    return {
        "platform": "standalone",
        "environment": "local",
        "kindling.delta.access_mode": "storage",
        "kindling.storage.table_root": str(root / "tables"),
    }


@pytest.fixture(scope="session")
def spark_kindling_session(spark_kindling_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
                           kindling_spark_engine: SparkEngine) -> SparkKindlingSession:
    """The Delta-enabled Spark session and spark-kindling initialised on it, once per process: on the
    engine the plugin's options chose (``--kindling-spark-master``, ``-remote``, ``-cluster N``,
    ``-connect-server``), else ``local[2]`` on 127.0.0.1."""
    _require_spark_kindling()
    engine = kindling_spark_engine
    # An xdist worker's engine knows no addresses: the controller started it and exported them.
    return SparkKindlingSession.start(spark_kindling_config, tmp_path_factory.mktemp("spark"),
                                      master=engine.master or os.environ.get(ENV_MASTER),
                                      remote=engine.remote or os.environ.get(ENV_REMOTE))


@pytest.fixture
def spark_kindling(request: pytest.FixtureRequest, spark_kindling_session: SparkKindlingSession,
                   tmp_path: Path) -> Iterator[SparkKindlingHarness]:
    """spark-kindling for one test: its own table root, and nothing it declares, connects or
    configures seen by the next test. ``@pytest.mark.spark_kindling(watermarks=True)``
    registers the watermark aspect."""
    watermarks = _watermarks_option(request.node)
    with SparkKindlingReset.isolated():
        harness = SparkKindlingHarness(spark_kindling_session, tmp_path / "tables")
        harness.get(_kindling("spark_config").ConfigService).set("kindling.storage.table_root", str(harness.table_root))
        if watermarks:
            harness.enable_watermarks()
        try:
            yield harness
        finally:
            harness.close()


#: Fixtures of the plugin's after which a test's changes to spark-kindling are undone
#: (``spark_kindling`` undoes them itself).
RESET_FIXTURES = frozenset({"spark_kindling_session", "signal_recorder", "signal_provider", "signal_catalog"})
RESET_MARKERS = (MARKER, "kindling_signals")


@pytest.fixture(autouse=True)
def _spark_kindling_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    """spark-kindling's state put back after a test that uses a fixture or marker of the plugin
    (once: ``spark_kindling`` does it itself); tests that use none are left alone, at no cost."""
    names = request.fixturenames
    if ("spark_kindling" in names
            or not (RESET_FIXTURES.intersection(names)
                    or any(request.node.get_closest_marker(m) is not None for m in RESET_MARKERS))
            or not _spark_kindling_installed()):
        yield
        return
    with SparkKindlingReset.isolated():
        yield

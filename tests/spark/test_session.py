"""The Spark session: a Delta-enabled local session and its three ``session.*`` signals.

The lifecycle test runs ``session_lifecycle.py`` in a subprocess, with its own
JVM, because it starts and stops a session: the shared ``spark`` session of
the test run must not be disturbed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kindling.lakehouse import ENV_LAKEHOUSE, current_lakehouse, set_lakehouse, use_lakehouse
from kindling.signal_catalog import SignalCatalog, load_catalog
from kindling.spark_session import (
    ENV_DRIVER_MEMORY,
    ENV_MASTER,
    ENV_REMOTE,
    SparkConfig,
    SparkSessionProvider,
    get_spark_session_provider,
    is_loopback_master,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SCRIPT = Path(__file__).with_name("session_lifecycle.py")
SESSION_SIGNALS = ["session.created", "session.config_changed", "session.stopped"]


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory, kindling_spark_engine: Any) -> dict[str, Any]:
    """What the lifecycle script recorded and read, from its own process (on the run's engine)."""
    work = tmp_path_factory.mktemp("session-lifecycle")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), str(work)], capture_output=True, text=True,
                          timeout=600, env=env, cwd=Path(__file__).resolve().parents[2])
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("KINDLING-RESULT ")]
    assert done.returncode == 0 and lines, (
        f"{SCRIPT.name} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n"
        f"--- stderr\n{done.stderr[-4000:]}")
    return json.loads(lines[-1].removeprefix("KINDLING-RESULT "))


@pytest.mark.spark
def test_each_session_signal_fires_once_in_order(lifecycle: dict[str, Any]) -> None:
    assert [e["name"] for e in lifecycle["emissions"]] == SESSION_SIGNALS
    assert all(e["sender"] == e["name"] for e in lifecycle["emissions"])
    assert lifecycle["receiver_errors"] == 0


@pytest.mark.spark
def test_session_payloads_validate_against_the_catalog(lifecycle: dict[str, Any]) -> None:
    catalog: SignalCatalog = load_catalog()
    for e in lifecycle["emissions"]:
        assert catalog.validate(e["name"], e["payload"]) == [], e


@pytest.mark.spark
def test_session_created_reports_a_delta_enabled_local_session(lifecycle: dict[str, Any]) -> None:
    created = lifecycle["emissions"][0]["payload"]
    assert created["app_name"] == "kindling-session-test"
    assert created["spark_version"].startswith("3.5.")
    config = created["config"]
    remote = os.environ.get(ENV_REMOTE)
    assert config["spark.master"] == remote or os.environ.get(ENV_MASTER, "local[*]")
    assert config["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert config["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    if not remote:  # a Connect server keeps its own UI and warehouse settings
        assert config["spark.ui.enabled"] == "false"
        assert config["spark.sql.warehouse.dir"].endswith("/warehouse")
    assert lifecycle["same_session"] is True


@pytest.mark.spark
def test_config_changed_carries_new_and_old_values(lifecycle: dict[str, Any]) -> None:
    changed = lifecycle["emissions"][1]["payload"]
    assert changed["changed_configs"] == {"spark.sql.shuffle.partitions": "3"}
    assert changed["old_values"] == {"spark.sql.shuffle.partitions": "2"}
    assert lifecycle["changed"] == {"spark.sql.shuffle.partitions": "3"}
    assert lifecycle["unchanged"] == {}  # setting the same value again changes (and emits) nothing
    assert lifecycle["partitions"] == "3"


@pytest.mark.spark
def test_merge_shows_in_the_delta_history(lifecycle: dict[str, Any]) -> None:
    write, merge = lifecycle["history"]
    assert (write["version"], write["operation"]) == (0, "WRITE")
    assert write["metrics"]["numOutputRows"] == "2"
    assert (merge["version"], merge["operation"]) == (1, "MERGE")
    assert merge["metrics"]["numTargetRowsInserted"] == "1"
    assert merge["metrics"]["numTargetRowsUpdated"] == "1"
    assert merge["metrics"]["numSourceRows"] == "2"
    assert lifecycle["rows"] == [[1, "a"], [2, "B"], [3, "c"]]


@pytest.mark.spark
def test_session_stopped_names_the_app_and_the_provider_can_restart(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["emissions"][2]["payload"]["app_name"] == "kindling-session-test"
    assert lifecycle["is_started_after_stop"] is False


# -- the shared session fixture ------------------------------------------------------

def test_delta_table_round_trip_in_the_lakehouse(spark: SparkSession, lakehouse: Path) -> None:
    path = str(lakehouse / "customers")
    spark.createDataFrame([(1, "ada"), (2, "grace")], "id INT, name STRING").write.format("delta").save(path)
    assert (lakehouse / "customers" / "_delta_log" / "00000000000000000000.json").is_file()
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").first()["operation"] == "WRITE"
    back = sorted((r["id"], r["name"]) for r in spark.read.format("delta").load(path).collect())
    assert back == [(1, "ada"), (2, "grace")]


def test_setting_a_static_config_is_a_clear_error(spark: SparkSession) -> None:
    provider = get_spark_session_provider()
    assert provider.session is spark
    before = spark.conf.get("spark.sql.warehouse.dir")
    with pytest.raises(ValueError) as excinfo:
        provider.set_config({"spark.sql.warehouse.dir": "/tmp/elsewhere"})
    message = str(excinfo.value)
    assert message.startswith("cannot set Spark setting 'spark.sql.warehouse.dir' on a running session: ")
    assert "static settings go in SparkConfig(settings=...) before the session starts" in message
    assert spark.conf.get("spark.sql.warehouse.dir") == before


# -- configuration (no JVM) ------------------------------------------------------------

@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (ENV_MASTER, ENV_REMOTE, ENV_DRIVER_MEMORY, ENV_LAKEHOUSE):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_master_and_remote_come_from_config_then_env_then_default(clean_env: pytest.MonkeyPatch) -> None:
    assert SparkConfig().resolved_master() == "local[*]"
    assert SparkConfig().resolved_remote() is None
    clean_env.setenv(ENV_MASTER, "local[2]")
    clean_env.setenv(ENV_REMOTE, "sc://spark.example:15002")
    assert SparkConfig().resolved_master() == "local[2]"
    assert SparkConfig().resolved_remote() == "sc://spark.example:15002"
    assert SparkConfig(master="local[1]").resolved_master() == "local[1]"
    assert SparkConfig(remote="sc://other:15002").resolved_remote() == "sc://other:15002"


def test_local_settings_are_delta_enabled_and_small(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv(ENV_DRIVER_MEMORY, "1g")
    provider = SparkSessionProvider(SparkConfig(settings={"spark.sql.shuffle.partitions": "5"}))
    settings = provider._settings()
    assert settings["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert settings["spark.ui.enabled"] == "false"
    assert settings["spark.driver.memory"] == "1g"
    assert settings["spark.sql.shuffle.partitions"] == "5"  # the user's settings win
    warehouse = Path(settings["spark.sql.warehouse.dir"])
    assert warehouse.is_dir() and warehouse.name.startswith("kindling-warehouse-")
    assert provider._settings()["spark.sql.warehouse.dir"] == str(warehouse)  # one folder, not one per call
    assert not provider.is_started and provider.session is None  # nothing started a JVM


def test_a_master_on_this_machine_keeps_the_driver_on_the_loopback_address(
        clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for master in ("local[2]", "local-cluster[2,1,1024]", "spark://127.0.0.1:7077",
                   "spark://localhost:7077", "spark://127.0.0.1:7077,127.0.0.1:7078"):
        assert is_loopback_master(master), master
        settings = SparkSessionProvider(SparkConfig(master=master, warehouse_dir=str(tmp_path)))._settings()
        assert settings["spark.driver.host"] == settings["spark.driver.bindAddress"] == "127.0.0.1"
        assert settings["spark.sql.shuffle.partitions"] == "2"
    for master in ("spark://spark-master:7077", "spark://10.0.0.5:7077", "yarn",
                   "spark://127.0.0.1:7077,spark-master:7077"):
        assert not is_loopback_master(master), master


def test_a_cluster_master_gets_no_loopback_or_local_sizing(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv(ENV_MASTER, "spark://spark-master:7077")
    settings = SparkSessionProvider(SparkConfig(warehouse_dir=str(tmp_path)))._settings()
    assert "spark.driver.host" not in settings and "spark.sql.shuffle.partitions" not in settings
    assert settings["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert settings["spark.sql.warehouse.dir"] == str(tmp_path.resolve())


def test_spark_connect_leaves_the_cluster_its_own_settings(clean_env: pytest.MonkeyPatch) -> None:
    settings = SparkSessionProvider(SparkConfig(remote="sc://spark.example:15002"))._settings()
    assert "spark.sql.warehouse.dir" not in settings and "spark.driver.memory" not in settings
    assert settings["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"


def test_lakehouse_comes_from_the_env_or_a_temporary_folder(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    previous = set_lakehouse(None)
    try:
        clean_env.setenv(ENV_LAKEHOUSE, str(tmp_path / "lh"))
        assert current_lakehouse() == tmp_path / "lh" and (tmp_path / "lh").is_dir()
        set_lakehouse(None)
        clean_env.delenv(ENV_LAKEHOUSE)
        temporary = current_lakehouse()
        assert temporary.is_dir() and temporary.name.startswith("kindling-lakehouse-")
        assert current_lakehouse() == temporary  # made once
        with use_lakehouse(tmp_path / "inner") as inner:
            assert current_lakehouse() == inner == tmp_path / "inner" and inner.is_dir()
        assert current_lakehouse() == temporary
    finally:
        set_lakehouse(previous)


# -- Spark Connect helpers (no server needed) ---------------------------------------------

CONNECT_JOB_FAILURE = (
    "(org.apache.spark.SparkException) Job aborted due to stage failure: Task 0 in stage 7.0 failed "
    "1 times, most recent failure: Lost task 0.0 in stage 7.0 (TID 9) (localhost executor driver): "
    "org.apache.spark.SparkNumberFormatException: [CAST_INVALID_INPUT] The value 'lots' of the type "
    "\"STRING\" cannot be cast to \"INT\" because it is malformed.\n\tat org.apache.spark.sql.errors...")


def test_the_root_cause_is_read_from_a_connect_error_text() -> None:
    pytest.importorskip("grpc")
    from pyspark.errors.exceptions.connect import AnalysisException, SparkConnectGrpcException

    from kindling.entity_manager import DeltaOperationError, _delta_call
    from kindling.spark_errors import connect_root_cause, root_cause_in_text

    error = SparkConnectGrpcException(CONNECT_JOB_FAILURE)
    assert connect_root_cause(error) == (
        "SparkNumberFormatException: [CAST_INVALID_INPUT] The value 'lots' of the type \"STRING\" "
        "cannot be cast to \"INT\" because it is malformed.")
    assert root_cause_in_text("x\nCaused by: java.io.IOException: outer\nCaused by: a.B$C: inner") == ("a.B$C", "inner")
    assert connect_root_cause(ValueError(CONNECT_JOB_FAILURE)) is None  # not a Connect error
    with pytest.raises(DeltaOperationError) as excinfo:
        with _delta_call("merge into entity 'silver.accounts'"):
            raise error
    assert str(excinfo.value).startswith("merge into entity 'silver.accounts' failed, nothing was committed: "
                                         "SparkNumberFormatException: [CAST_INVALID_INPUT]")
    assert excinfo.value.java_class == "org.apache.spark.SparkNumberFormatException"
    with pytest.raises(AnalysisException):  # analysis errors pass as they are, as on a classic session
        with _delta_call("merge"):
            raise AnalysisException("[UNRESOLVED_COLUMN] ...")


def test_only_spark_dataframes_are_dataframes() -> None:
    from kindling.spark_session import is_dataframe

    assert not is_dataframe([("a", 1)]) and not is_dataframe(None)
    pytest.importorskip("grpc")
    from pyspark.sql.connect.dataframe import DataFrame as ConnectDataFrame

    assert is_dataframe(ConnectDataFrame.__new__(ConnectDataFrame))

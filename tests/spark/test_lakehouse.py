"""A lakehouse is a local path or a URI: it round-trips as set, Spark reaches both, local-only work refuses URIs.

The entity manager's two history readers (the ``_delta_log`` files, and
``DESCRIBE HISTORY``, the one Spark Connect and remote lakehouses use) are
checked against each other on the same tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kindling.data_entities import DataEntities
from kindling.entity_manager import DataEntityManager, MergeResult
from kindling.lakehouse import (
    ENV_LAKEHOUSE,
    HadoopFiles,
    RemoteLakehouseError,
    current_lakehouse,
    lakehouse_join,
    local_path,
    require_local,
    set_lakehouse,
    spark_path,
    use_lakehouse,
)
from kindling.spark_session import is_connect_session

URIS = [
    "file:///tmp/kindling-lh",
    "abfss://lake@account.dfs.core.windows.net/lakehouse",
    "s3a://bucket/lakehouse",
    "dbfs:/mnt/lakehouse",
]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv(ENV_LAKEHOUSE, raising=False)
    previous = set_lakehouse(None)
    yield monkeypatch
    set_lakehouse(previous)


@pytest.mark.parametrize("uri", URIS)
def test_a_uri_lakehouse_round_trips_as_the_same_string(fresh: pytest.MonkeyPatch, uri: str) -> None:
    set_lakehouse(uri)
    assert current_lakehouse() == uri and isinstance(current_lakehouse(), str)
    with use_lakehouse("/tmp/elsewhere") as inner:
        assert inner == Path("/tmp/elsewhere")
    assert current_lakehouse() == uri
    set_lakehouse(None)
    fresh.setenv(ENV_LAKEHOUSE, uri)
    assert current_lakehouse() == uri


def test_a_local_lakehouse_is_a_path(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_lakehouse(str(tmp_path / "lh"))
    assert current_lakehouse() == tmp_path / "lh" and (tmp_path / "lh").is_dir()
    set_lakehouse(None)
    fresh.setenv(ENV_LAKEHOUSE, str(tmp_path / "env-lh"))
    assert current_lakehouse() == tmp_path / "env-lh"


def test_joining_keeps_the_kind() -> None:
    assert lakehouse_join("s3a://bucket/lh/", "tables", "bronze.orders") == "s3a://bucket/lh/tables/bronze.orders"
    assert lakehouse_join(Path("/lh"), "tables", "x") == Path("/lh/tables/x")
    assert lakehouse_join("/lh", "tables") == Path("/lh/tables")
    assert spark_path("dbfs:/mnt/lh") == "dbfs:/mnt/lh"
    assert spark_path(Path("/lh/t")) == "/lh/t"


def test_local_work_gets_the_folder_or_a_clear_error() -> None:
    assert local_path("file:///tmp/lh") == Path("/tmp/lh") == require_local("ingestion", "file:/tmp/lh")
    assert require_local("ingestion", Path("/data/lh")) == Path("/data/lh")
    with pytest.raises(RemoteLakehouseError) as excinfo:
        require_local("file ingestion's moves", "abfss://lake@account.dfs.core.windows.net/lh")
    assert str(excinfo.value).startswith(
        "file ingestion's moves works on local files only, and the lakehouse is "
        "'abfss://lake@account.dfs.core.windows.net/lh' (scheme 'abfss'); ")
    assert "set_lakehouse('/mnt/lakehouse')" in str(excinfo.value)


def test_a_windows_drive_is_a_path_not_a_uri() -> None:
    assert local_path("C:/lakehouse") == Path("C:/lakehouse")


def test_entity_tables_live_under_a_uri_lakehouse(fresh: pytest.MonkeyPatch) -> None:
    DataEntities.entity(entityid="bronze.orders", name="bronze_orders", merge_columns=["id"])
    manager = DataEntityManager(lakehouse="abfss://lake@account.dfs.core.windows.net/lh")
    assert manager.table_path("bronze.orders") == "abfss://lake@account.dfs.core.windows.net/lh/tables/bronze.orders"


# -- on Spark ---------------------------------------------------------------------------------

def _merge_twice(manager: DataEntityManager, spark: Any) -> list[MergeResult]:
    DataEntities.entity(entityid="silver.people", name="silver_people", merge_columns=["id"],
                        schema="id INT NOT NULL, name STRING, tags ARRAY<STRING>, `odd-name` STRUCT<`a-b`: INT>")
    first = spark.createDataFrame([(1, "ada", ["x"], (1,)), (2, "bob", [], None)],
                                  "id INT, name STRING, tags ARRAY<STRING>, `odd-name` STRUCT<`a-b`: INT>")
    second = spark.createDataFrame([(2, "BOB", ["y"], (2,), "new"), (3, "cy", None, None, "n")],
                                   "id INT, name STRING, tags ARRAY<STRING>, `odd-name` STRUCT<`a-b`: INT>, memo STRING")
    return [manager.merge_to_entity(first, "silver.people"), manager.merge_to_entity(second, "silver.people")]


def test_both_history_readers_report_the_same_commits(spark: Any, tmp_path: Path, signal_recorder: Any) -> None:
    by_log = DataEntityManager(lakehouse=tmp_path / "a")
    by_sql = DataEntityManager(lakehouse=tmp_path / "b")
    by_sql.read_log_files = False
    results = {}
    for name, manager in (("log", by_log), ("sql", by_sql)):
        results[name] = _merge_twice(manager, spark)
        assert manager.get_entity_version("silver.people") == 2
    assert results["log"] == results["sql"] == [MergeResult(2, 0, 0, 1), MergeResult(1, 1, 0, 2)]
    # created by SQL with the declared schema: NOT NULL and quoted nested names survive
    schema = spark.read.format("delta").load(str(tmp_path / "b" / "tables" / "silver.people")).schema
    assert [f.name for f in schema.fields] == ["id", "name", "tags", "odd-name", "memo"]
    assert schema["id"].nullable is False and schema["odd-name"].dataType.fieldNames() == ["a-b"]
    changed = [r["added_columns"] for r in signal_recorder.of("entity.schema_changed")]
    assert changed == [["memo"], ["memo"]]
    signal_recorder.assert_contract()


def test_a_file_uri_lakehouse_holds_entity_tables(spark: Any, tmp_path: Path, signal_recorder: Any) -> None:
    uri = f"file://{tmp_path}/lh"
    with use_lakehouse(uri):
        manager = DataEntityManager()
        results = _merge_twice(manager, spark)
        assert manager.table_path("silver.people") == f"{uri}/tables/silver.people"
    assert results == [MergeResult(2, 0, 0, 1), MergeResult(1, 1, 0, 2)]
    assert (tmp_path / "lh" / "tables" / "silver.people" / "_delta_log").is_dir()
    signal_recorder.assert_contract()


def test_hadoop_files_reach_what_spark_reaches(spark: Any, tmp_path: Path) -> None:
    if is_connect_session(spark):
        with pytest.raises(RemoteLakehouseError, match="Spark Connect"):
            HadoopFiles(spark)
        return
    files = HadoopFiles(spark)
    root = f"file://{tmp_path}/remote"
    files.write_bytes(f"{root}/in/a.csv", b"id\n1\n")
    assert files.exists(f"{root}/in/a.csv") and files.is_dir(f"{root}/in")
    assert files.read_bytes(f"{root}/in/a.csv") == b"id\n1\n"
    files.write_bytes(f"{root}/in/a.csv", b"id\n2\n")  # replaces
    assert (tmp_path / "remote" / "in" / "a.csv").read_bytes() == b"id\n2\n"
    files.rename(f"{root}/in/a.csv", f"{root}/done/a.csv")
    assert [p.rsplit("/", 1)[-1] for p in files.list(f"{root}/done")] == ["a.csv"]
    assert files.list(f"{root}/in") == []
    assert files.delete(f"{root}/done", recursive=True) and not files.exists(f"{root}/done")
    with pytest.raises(FileNotFoundError, match="no such file"):
        files.read_bytes(f"{root}/missing.csv")


def test_the_platform_maps_file_uris_and_refuses_remote_ones() -> None:
    from kindling.platform import absolute_path

    assert absolute_path("file:///data/landing") == "/data/landing"
    with pytest.raises(RemoteLakehouseError) as excinfo:
        absolute_path("s3a://bucket/landing", "move_to")
    assert str(excinfo.value) == (
        "move_to='s3a://bucket/landing' is a remote URI, and the 'standalone' platform reads and "
        "writes local files only; pass a local or mounted folder, or a 'file:' URI")

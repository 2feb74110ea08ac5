"""Contract: DataEntityManager fires its 14 entity signals through real Delta operations.

Every test checks the full recording against the catalog (payload schemas,
closed lifecycles, no undocumented names). Each failure path is a real fault
(a cast Delta refuses, forbidden drift, a DataFrame that raises, missing
keys, foreign files, an invalid schema) and proves the table kept its version
and its rows. Spark work is kept small: a few rows, a few commits per test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from docs_examples import run_example

from kindling.data_entities import DataEntities
from kindling.entity_manager import (
    DataEntityManager,
    DeltaOperationError,
    EntityWriteError,
    MergeResult,
    SchemaDriftError,
)
from kindling import signaling
from kindling.signal_catalog import SignalCatalog
from kindling.signaling import BlinkerSignalProvider

pytestmark = pytest.mark.contract



@pytest.fixture
def manager() -> DataEntityManager:
    # No provider passed: emits through the default, which the recorder watches.
    return DataEntityManager()


def rows(df: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in df.collect())


def counted(df: Any) -> Any:
    """``df`` with its ``count()`` calls counted in ``df.count_calls``."""
    original = df.count
    df.count_calls = 0

    def count() -> int:
        df.count_calls += 1
        return int(original())

    df.count = count
    return df


def only(recorder: Any, name: str) -> dict[str, Any]:
    found = recorder.of(name)
    assert len(found) == 1, f"expected one {name}, got {recorder.names()}"
    return dict(found[0].payload)


def test_manager_emits_exactly_the_catalog_entity_signals(signal_catalog: SignalCatalog) -> None:
    assert set(DataEntityManager.EMITS) == {s.name for s in signal_catalog.by_provider("entity")}
    assert len(DataEntityManager.EMITS) == 14


def test_ensure_creates_the_declared_table_once(spark: Any, lakehouse: Path, manager: DataEntityManager,
                                                signal_recorder: Any, signal_catalog: SignalCatalog) -> None:
    DataEntities.entity(entityid="silver.customers", name="silver_customers",
                        partition_columns=["region"], merge_columns=["id"],
                        schema="id INT, name STRING, region STRING")

    assert manager.ensure_entity_table("silver.customers") is False   # created now
    assert manager.ensure_entity_table("silver.customers") is True    # already there

    assert manager.table_path("silver.customers") == lakehouse / "tables" / "silver.customers"
    assert manager.get_entity_version("silver.customers") == 0
    first_commit = manager.table_path("silver.customers") / "_delta_log" / f"{0:020d}.json"
    metadata = next(a["metaData"] for a in map(json.loads, first_commit.read_text().splitlines())
                    if "metaData" in a)
    assert metadata["partitionColumns"] == ["region"]
    assert manager.read_entity("silver.customers").schema.simpleString() == \
        "struct<id:int,name:string,region:string>"

    assert signal_recorder.names() == [
        "entity.pre_ensure_table", "entity.version_updated", "entity.post_ensure_table",
        "entity.pre_ensure_table", "entity.post_ensure_table"]
    first_pre, created, first_post, _, second_post = signal_recorder.records
    assert first_pre["entity_name"] == "silver_customers"
    assert (first_post["table_exists"], first_post["created"]) == (False, True)
    assert (second_post["table_exists"], second_post["created"]) == (True, False)
    assert {k: created[k] for k in ("old_version", "new_version", "reason")} == \
        {"old_version": None, "new_version": 0, "reason": "create"}
    assert created["operation_id"] == first_pre["operation_id"]
    signal_recorder.assert_contract()


def test_ensure_without_schema_leaves_creation_to_the_first_write(
        spark: Any, lakehouse: Path, manager: DataEntityManager, signal_recorder: Any,
        signal_catalog: SignalCatalog) -> None:
    DataEntities.entity(entityid="bronze.raw", name="bronze_raw")
    assert manager.ensure_entity_table("bronze.raw") is False
    assert manager.get_entity_version("bronze.raw") is None
    assert not manager.table_path("bronze.raw").exists()
    post = only(signal_recorder, "entity.post_ensure_table")
    assert (post["table_exists"], post["created"]) == (False, False)
    assert "entity.version_updated" not in signal_recorder.names()
    signal_recorder.assert_contract()


def test_ensure_fails_cleanly_on_an_invalid_schema_and_on_foreign_files(
        spark: Any, lakehouse: Path, manager: DataEntityManager, signal_recorder: Any,
        signal_catalog: SignalCatalog) -> None:
    # A type name only Spark's parser can reject.
    DataEntities.entity(entityid="bad.schema", name="bad_schema", schema="id INTEGR, name STRING")
    with pytest.raises(ValueError, match="not a valid DDL schema"):
        manager.ensure_entity_table("bad.schema")
    assert manager.get_entity_version("bad.schema") is None

    # Someone else's files where the table should go: reported, and left untouched.
    DataEntities.entity(entityid="taken", name="taken", schema="id INT")
    foreign = manager.table_path("taken") / "notes.csv"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("id\n1\n")
    with pytest.raises(FileExistsError, match="not a Delta table"):
        manager.ensure_entity_table("taken")
    assert foreign.read_text() == "id\n1\n"
    assert sorted(p.name for p in foreign.parent.iterdir()) == ["notes.csv"]

    failures = signal_recorder.of("entity.ensure_failed")
    assert [f["entity_id"] for f in failures] == ["bad.schema", "taken"]
    assert [f["error_type"] for f in failures] == ["EntityDeclarationError", "FileExistsError"]
    assert "INTEGR" in failures[0]["error"]
    assert "entity.version_updated" not in signal_recorder.names()
    signal_recorder.assert_contract()


def test_merge_counts_come_from_delta_and_schema_evolves(
        spark: Any, lakehouse: Path, manager: DataEntityManager, signal_recorder: Any,
        signal_catalog: SignalCatalog) -> None:
    DataEntities.entity(entityid="silver.customers", name="silver_customers", merge_columns=["id"],
                        tags={"provider_type": "delta", "layer": "silver"},
                        schema="id INT, name STRING")
    first = spark.createDataFrame([(1, "ann"), (2, "bob"), (3, "cy")], "id INT, name STRING")
    # No table yet: a nested ensure creates it (v0), then the merge inserts (v1).
    assert manager.merge_to_entity(first, "silver.customers") == MergeResult(3, 0, 0, 1)
    assert signal_recorder.names() == [
        "entity.pre_merge",
        "entity.pre_ensure_table", "entity.version_updated", "entity.post_ensure_table",
        "entity.version_updated", "entity.post_merge"]
    pre = signal_recorder.first("entity.pre_merge")
    ensure = signal_recorder.first("entity.pre_ensure_table")
    assert ensure["parent_operation_id"] == pre["operation_id"]
    assert [v["reason"] for v in signal_recorder.of("entity.version_updated")] == ["create", "merge"]
    signal_recorder.clear()

    # 5 source rows, 2 of them match (ids 2, 3), and a column the table lacks.
    second = spark.createDataFrame(
        [(2, "bob2", "gold"), (3, "cy2", None), (4, "dee", "silver"), (5, "ed", None), (6, "flo", "gold")],
        "id INT, name STRING, tier STRING")
    result = manager.merge_to_entity(second, "silver.customers")
    assert result == MergeResult(rows_inserted=3, rows_updated=2, rows_deleted=0, version=2)

    assert signal_recorder.names() == [
        "entity.pre_merge", "entity.schema_changed", "entity.version_updated", "entity.post_merge"]
    pre, changed, version, post = signal_recorder.records
    assert (pre["entity_id"], pre["merge_keys"], pre["source_row_count"]) == ("silver.customers", ["id"], 5)
    assert {k: post[k] for k in ("rows_inserted", "rows_updated", "rows_deleted", "version")} == \
        {"rows_inserted": 3, "rows_updated": 2, "rows_deleted": 0, "version": 2}
    assert post["duration_seconds"] >= 0
    assert {k: changed[k] for k in ("entity_id", "added_columns", "removed_columns", "modified_columns")} == \
        {"entity_id": "silver.customers", "added_columns": ["tier"], "removed_columns": [], "modified_columns": []}
    assert {k: version[k] for k in ("old_version", "new_version", "reason")} == \
        {"old_version": 1, "new_version": 2, "reason": "merge"}
    # Events inside the merge carry its operation id.
    assert changed["operation_id"] == version["operation_id"] == pre["operation_id"] == post["operation_id"]

    # The counts are Delta's own, for the commit the merge made.
    metrics = spark.sql(f"DESCRIBE HISTORY delta.`{manager.table_path('silver.customers')}` LIMIT 1").first()
    assert (metrics.version, metrics.operation) == (2, "MERGE")
    assert metrics.operationMetrics["numTargetRowsInserted"] == "3"
    assert rows(manager.read_entity("silver.customers")) == [
        (1, "ann", None), (2, "bob2", "gold"), (3, "cy2", None),
        (4, "dee", "silver"), (5, "ed", None), (6, "flo", "gold")]
    signal_recorder.assert_contract()


def test_merge_without_schema_creates_the_table_from_its_rows(
        spark: Any, lakehouse: Path, manager: DataEntityManager, signal_recorder: Any,
        signal_catalog: SignalCatalog) -> None:
    DataEntities.entity(entityid="bronze.orders", name="bronze_orders", merge_columns=["order_id"])
    df = counted(spark.createDataFrame([(10, 1.5), (11, 2.5)], "order_id INT, amount DOUBLE"))
    assert manager.merge_to_entity(df, "bronze.orders") == MergeResult(2, 0, 0, 0)
    assert signal_recorder.names() == ["entity.pre_merge", "entity.version_updated", "entity.post_merge"]
    created = signal_recorder.first("entity.version_updated")
    assert (created["old_version"], created["new_version"], created["reason"]) == (None, 0, "create")
    assert signal_recorder.last()["source_row_count"] == 2
    assert df.count_calls == 1  # counted once for pre_merge, reused by post_merge
    signal_recorder.assert_contract()

    # Nobody observes this manager's provider: the source is never counted.
    quiet = DataEntityManager(signal_provider=BlinkerSignalProvider())
    again = counted(spark.createDataFrame([(11, 3.5), (12, 4.5)], "order_id INT, amount DOUBLE"))
    assert quiet.merge_to_entity(again, "bronze.orders") == MergeResult(1, 1, 0, 1)
    if not signaling._Taps.taps:  # a session-wide tap (the coverage report) observes everything
        assert again.count_calls == 0
    assert len(signal_recorder.records) == 3
    assert rows(manager.read_entity("bronze.orders")) == [(10, 1.5), (11, 3.5), (12, 4.5)]


def test_append_then_overwrite_report_delta_row_counts_and_schema_changes(
        spark: Any, lakehouse: Path, manager: DataEntityManager, signal_recorder: Any,
        signal_catalog: SignalCatalog) -> None:
    DataEntities.entity(entityid="bronze.events", name="bronze_events", tags={"layer": "bronze"})
    first = spark.createDataFrame([(1, 10), (2, 20), (3, 30)], "id INT, value INT")
    assert manager.append_to_entity(first, "bronze.events") == 3         # creates v0
    more = spark.createDataFrame([(4, 40, "x"), (5, 50, "y")], "id INT, value INT, note STRING")
    assert manager.append_to_entity(more, "bronze.events") == 2          # v1, adds `note`

    pre_appends = signal_recorder.of("entity.pre_append")
    post_appends = signal_recorder.of("entity.post_append")
    assert [p["row_count"] for p in pre_appends] == [3, 2]
    assert [p["rows_appended"] for p in post_appends] == [3, 2]
    versions = signal_recorder.of("entity.version_updated")
    assert [(v["old_version"], v["new_version"], v["reason"]) for v in versions] == \
        [(None, 0, "create"), (0, 1, "append")]
    added = only(signal_recorder, "entity.schema_changed")
    assert added["added_columns"] == ["note"]
    assert added["operation_id"] == pre_appends[1]["operation_id"]
    signal_recorder.clear()

    # Overwrite with `note` dropped and `value` retyped: the table takes the new schema.
    replacement = spark.createDataFrame([(7, "seventy")], "id INT, value STRING")
    assert manager.write_to_entity(replacement, "bronze.events") == 1

    assert signal_recorder.names() == [
        "entity.pre_write", "entity.schema_changed", "entity.version_updated", "entity.post_write"]
    pre, changed, version, post = signal_recorder.records
    assert pre["mode"] == "overwrite"
    assert (post["rows_written"], post["version"]) == (1, 2)
    assert (changed["added_columns"], changed["removed_columns"], changed["modified_columns"]) == \
        ([], ["note"], ["value"])
    assert (version["old_version"], version["new_version"], version["reason"]) == (1, 2, "write")
    assert changed["operation_id"] == version["operation_id"] == pre["operation_id"]
    assert rows(manager.read_entity("bronze.events")) == [(7, "seventy")]
    assert manager.get_entity_version("bronze.events") == 2
    signal_recorder.assert_contract()


def test_failed_merge_append_and_write_leave_the_table_as_it_was(
        spark: Any, lakehouse: Path, manager: DataEntityManager, signal_recorder: Any,
        signal_catalog: SignalCatalog) -> None:
    from pyspark.sql import functions as F

    DataEntities.entity(entityid="silver.accounts", name="silver_accounts", merge_columns=["id"],
                        tags={"provider_type": "delta", "schema_drift": "error"},
                        schema="id INT, balance INT")
    good = spark.createDataFrame([(1, 100), (2, 200)], "id INT, balance INT")
    manager.merge_to_entity(good, "silver.accounts")
    table = manager.table_path("silver.accounts")
    version, contents = manager.get_entity_version("silver.accounts"), [(1, 100), (2, 200)]
    assert version == 1
    signal_recorder.clear()

    def assert_unchanged() -> None:
        assert manager.get_entity_version("silver.accounts") == version
        assert rows(spark.read.format("delta").load(str(table))) == contents

    # 1. A string Delta cannot cast into the int column.
    not_a_number = spark.createDataFrame([(1, "lots")], "id INT, balance STRING")
    with pytest.raises(DeltaOperationError, match="CAST_INVALID_INPUT"):
        manager.merge_to_entity(not_a_number, "silver.accounts")
    assert_unchanged()

    # 2. The merge key is missing from the source.
    keyless = spark.createDataFrame([(300,)], "balance INT")
    with pytest.raises(EntityWriteError, match="lacks its merge column"):
        manager.merge_to_entity(keyless, "silver.accounts")
    assert_unchanged()

    # 3. An append bringing a column the entity forbids (schema_drift='error').
    drifting = spark.createDataFrame([(3, 300, "new")], "id INT, balance INT, memo STRING")
    with pytest.raises(SchemaDriftError, match="memo"):
        manager.append_to_entity(drifting, "silver.accounts")
    assert_unchanged()

    # 4. An overwrite whose DataFrame fails while Spark evaluates it.
    exploding = spark.range(1, 4).select(
        F.col("id").cast("int").alias("id"),
        F.when(F.col("id") == 3, F.raise_error(F.lit("balance feed broke at id 3")))
         .otherwise(F.col("id") * 10).cast("int").alias("balance"))
    with pytest.raises(DeltaOperationError, match="balance feed broke at id 3"):
        manager.write_to_entity(exploding, "silver.accounts", mode="overwrite")
    assert_unchanged()

    assert signal_recorder.names() == [
        "entity.pre_merge", "entity.merge_failed", "entity.pre_merge", "entity.merge_failed",
        "entity.pre_append", "entity.append_failed", "entity.pre_write", "entity.write_failed"]
    merge_cast, merge_keys = signal_recorder.of("entity.merge_failed")
    assert merge_cast["error_type"] == "DeltaOperationError"
    assert "nothing was committed" in merge_cast["error"] and "CAST_INVALID_INPUT" in merge_cast["error"]
    assert merge_keys["error_type"] == "EntityWriteError"
    append = only(signal_recorder, "entity.append_failed")
    assert (append["entity_id"], append["error_type"]) == ("silver.accounts", "SchemaDriftError")
    write = only(signal_recorder, "entity.write_failed")
    assert "balance feed broke" in write["error"] and write["mode"] == "overwrite"
    signal_recorder.assert_contract()


def test_docs_example_runs(spark: Any, lakehouse: Path, signal_recorder: Any,
                           signal_catalog: SignalCatalog, capsys: pytest.CaptureFixture[str]) -> None:
    out, shown = run_example("providers/entity_manager.md", capsys)
    printed = out.splitlines()
    assert printed == shown.splitlines()
    assert printed == [
        "merge: inserted=2 updated=0 version=1",
        "merge: inserted=3 updated=2 version=2",
        "MergeResult(rows_inserted=3, rows_updated=2, rows_deleted=0, version=2)"]
    assert [r["reason"] for r in signal_recorder.of("entity.version_updated")] == ["create", "merge", "merge"]
    signal_recorder.assert_contract()

"""FileIngestionProcessor contract: all 9 ``file_ingestion.*`` signals from real files on local Spark.

Real CSV, JSON and Parquet files are written to a landing folder, ingested
into real Delta tables and really moved; the faults are real (a corrupt
Parquet file, malformed CSV and JSON, a type-incompatible Delta write).
"""

from __future__ import annotations

import glob
import os
import shutil
import sys

import pytest
from docs_examples import run_example

from kindling.data_entities import DataEntities
from kindling.entity_manager import DataEntityManager
from kindling.file_ingestion import FileIngestionEntries, FileIngestionProcessor
from pytest_kindling_signals.catalog import check_contract

pytestmark = pytest.mark.contract

ALL_SIGNALS = {f"file_ingestion.{s}" for s in (
    "pre_process", "post_process", "process_failed", "pre_file", "post_file", "file_failed",
    "file_moved", "batch_built", "batch_written")}


@pytest.fixture
def landing(tmp_path):
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def archive(tmp_path):
    return tmp_path / "archive"


def _write_parquet(spark, rows, schema, target):
    """One real Parquet file at ``target``, written by Spark (pyarrow may be absent)."""
    out = str(target) + ".spark-out"
    spark.createDataFrame(rows, schema).coalesce(1).write.parquet(out)
    [part] = glob.glob(os.path.join(out, "part-*.parquet"))
    shutil.move(part, target)
    shutil.rmtree(out)


def _contents(spark, manager, entity_id):
    rows = manager.read_entity(entity_id).collect()
    return sorted(tuple(sorted(r.asDict().items())) for r in rows)


def _names_in_landing(landing):
    return sorted(os.listdir(landing))


def test_csv_json_parquet_ingested_corrupt_files_fail_alone_and_a_rerun_adds_nothing(
        spark, lakehouse, landing, archive, signal_recorder, signal_catalog):
    DataEntities.entity(entityid="bronze.sales", name="bronze_sales", merge_columns=["id"],
                        schema="id INT, amount INT, day STRING")
    DataEntities.entity(entityid="bronze.events", name="bronze_events")
    DataEntities.entity(entityid="bronze.metrics", name="bronze_metrics")
    FileIngestionEntries.entry("sales", "Sales drops", [r"(?P<table>sales)_(?P<day>\d{8})\.csv"],
                               "bronze.{table}", "csv")
    FileIngestionEntries.entry("events", "Event drops", [r"events_\d+\.json"], "bronze.events", "json")
    FileIngestionEntries.entry("metrics", "Metric drops", [r"metrics_\d+\.parquet"],
                               "bronze.metrics", "parquet")
    (landing / "sales_20250101.csv").write_text("id,amount\n1,10\n2,20\n")
    (landing / "sales_20250102.csv").write_text("id,amount\n3,30\n4,40\n5,50\n")
    (landing / "sales_20250103.csv").write_text("id,amount\n6,60\n7,seventy\n")   # not an INT
    (landing / "events_1.json").write_text('{"id": 1, "kind": "click"}\n{"id": 2, "kind": "view"}\n')
    (landing / "events_2.json").write_text('{"id": 3, "kind": "click"}\n{"id": 4, "kind":\n')  # cut off
    _write_parquet(spark, [(1, 0.5), (2, 1.5), (3, 2.5)], "id INT, value DOUBLE", landing / "metrics_1.parquet")
    (landing / "metrics_2.parquet").write_bytes(b"PAR1" + os.urandom(200))              # not Parquet
    (landing / "readme.txt").write_text("no entry matches me")
    corrupt = {"sales_20250103.csv", "events_2.json", "metrics_2.parquet"}
    good = {"sales_20250101.csv", "sales_20250102.csv", "events_1.json", "metrics_1.parquet"}
    signal_recorder.clear()

    result = FileIngestionProcessor().process_path(landing, move_to=archive)

    assert check_contract(signal_recorder.records, signal_catalog) == []
    names = signal_recorder.names()
    assert ALL_SIGNALS - {"file_ingestion.process_failed"} <= set(names)
    process_id = signal_recorder.first("file_ingestion.pre_process").payload["operation_id"]

    # pre_process counts the files to process (readme.txt matches no entry)
    pre = signal_recorder.first("file_ingestion.pre_process").payload
    assert (pre["path"], pre["pattern"], pre["file_count"]) == (str(landing), None, 7)
    assert pre["batch_id"] == result.batch_id

    # each corrupt file failed alone, stayed at its source path, and was not archived
    failed = {r.payload["filename"]: r.payload for r in signal_recorder.of("file_ingestion.file_failed")}
    assert set(failed) == corrupt == {os.path.basename(p) for p in result.failed}
    assert {p["error_type"] for p in failed.values()} == {"FileReadError"}
    assert "Malformed records" in failed["sales_20250103.csv"]["error"]
    assert "not a Parquet file" in failed["metrics_2.parquet"]["error"]
    assert all(p["parent_operation_id"] == process_id for p in failed.values())
    assert _names_in_landing(landing) == sorted(corrupt | {"readme.txt"})

    # the good files were ingested, then moved
    post_files = {r.payload["filename"]: r.payload["rows_processed"]
                  for r in signal_recorder.of("file_ingestion.post_file")}
    assert post_files == {"sales_20250101.csv": 2, "sales_20250102.csv": 3, "events_1.json": 2,
                          "metrics_1.parquet": 3}
    assert sorted(os.listdir(archive)) == sorted(good)
    moved = {r.payload["source_path"]: r.payload["dest_path"]
             for r in signal_recorder.of("file_ingestion.file_moved")}
    assert moved == {str(landing / n): str(archive / n) for n in good} == result.moved

    # one batch per (entry, destination), each written before any of its files moved
    built = {r.payload["entry_id"]: r.payload["file_count"] for r in signal_recorder.of("file_ingestion.batch_built")}
    assert built == {"sales": 2, "events": 1, "metrics": 1}
    written = {r.payload["entry_id"]: r.payload for r in signal_recorder.of("file_ingestion.batch_written")}
    assert {e: p["rows_written"] for e, p in written.items()} == {"sales": 5, "events": 2, "metrics": 3}
    assert (written["sales"]["mode"], written["events"]["mode"]) == ("merge", "append")
    for i, r in enumerate(signal_recorder.records):
        if r.name == "file_ingestion.file_moved":
            entry = "sales" if "sales" in r.payload["source_path"] else (
                "events" if "events" in r.payload["source_path"] else "metrics")
            commits = [j for j, c in enumerate(signal_recorder.records)
                       if c.name == "file_ingestion.batch_written" and c.payload["entry_id"] == entry]
            assert commits and commits[0] < i, f"{r.payload['source_path']} moved before its batch was written"
    # the entity writes nest inside the process operation
    writes = signal_recorder.of("entity.post_merge") + signal_recorder.of("entity.post_append")
    assert len(writes) == 3 and {w.payload["parent_operation_id"] for w in writes} == {process_id}

    # counts agree: post_process == sum(post_file) == rows in the tables
    manager = DataEntityManager()
    table_rows = sum(manager.read_entity(e).count() for e in ("bronze.sales", "bronze.events", "bronze.metrics"))
    post = signal_recorder.last("file_ingestion.post_process").payload
    assert post["total_rows"] == sum(post_files.values()) == table_rows == result.total_rows == 10
    assert (post["success_files"], post["failed_files"]) == (4, 3)

    # named groups: {table} chose the destination, day became a column
    sales = _contents(spark, manager, "bronze.sales")
    assert [dict(r)["day"] for r in sales] == ["20250101"] * 2 + ["20250102"] * 3
    assert "table" not in manager.read_entity("bronze.sales").columns

    # a re-run ingests nothing twice: the moved files are gone, the corrupt ones fail again
    versions = {e: manager.get_entity_version(e) for e in ("bronze.sales", "bronze.events", "bronze.metrics")}
    before = {e: _contents(spark, manager, e) for e in versions}
    signal_recorder.clear()
    again = FileIngestionProcessor().process_path(landing, move_to=archive)
    assert check_contract(signal_recorder.records, signal_catalog) == []
    assert (again.file_count, again.success_files, again.failed_files, again.total_rows) == (3, 0, 3, 0)
    assert signal_recorder.of("file_ingestion.batch_written") == []
    assert {e: manager.get_entity_version(e) for e in versions} == versions
    assert {e: _contents(spark, manager, e) for e in versions} == before
    assert _names_in_landing(landing) == sorted(corrupt | {"readme.txt"})


def test_what_failfast_lets_through_fails_alone_too(spark, lakehouse, landing, archive, signal_recorder,
                                                    signal_catalog):
    DataEntities.entity(entityid="bronze.notes", name="bronze_notes", schema="id INT, note STRING")
    DataEntities.entity(entityid="bronze.events", name="bronze_events")
    FileIngestionEntries.entry("notes", "Notes", [r"notes_\d+\.csv"], "bronze.notes", "csv")
    FileIngestionEntries.entry("events", "Event drops", [r"events_\d+\.json"], "bronze.events", "json")
    # Quoting done right, in all its forms: must be read, not refused.
    (landing / "notes_1.csv").write_text('id,note\n1,"hello, world"\n2,"say \\"hi\\""\n3,"back\\\\"\n'
                                         '4,""\n5,5\'11"\n')
    # A quote never closed: Spark reads 2 as "never closed" and goes on, without an error.
    (landing / "notes_2.csv").write_text('id,note\n1,ok\n2,"never closed\n3,fine\n')
    (landing / "events_1.json").write_text('{"id": 1, "kind": "click"}\n\n{"id": 2, "kind": "a} {b"}\n')
    # Spark keeps the first value of a line and drops the rest, without an error.
    (landing / "events_2.json").write_text('{"id": 3, "kind": "click"}{"id": 4, "kind": "view"}\n')
    (landing / "events_3.json").write_text('{"id": 5, "kind": "buy"}\n{"id": 6, "kind": "buy"}] junk\n')
    malformed = {"notes_2.csv", "events_2.json", "events_3.json"}
    signal_recorder.clear()

    result = FileIngestionProcessor().process_path(landing, move_to=archive)

    assert check_contract(signal_recorder.records, signal_catalog) == []
    failed = {r.payload["filename"]: r.payload for r in signal_recorder.of("file_ingestion.file_failed")}
    assert set(failed) == malformed and {p["error_type"] for p in failed.values()} == {"FileReadError"}
    assert ("a quoted field is never closed in the record '2,\"never closed'; Spark would read on as if it "
            "were. Close the quote, or escape a quote inside the field as \\\"") in failed["notes_2.csv"]["error"]
    assert "the record '{\"id\": 3, \"kind\": \"click\"}{\"id\": 4" in failed["events_2.json"]["error"]
    assert "is not one JSON value" in failed["events_3.json"]["error"]
    assert _names_in_landing(landing) == sorted(malformed)  # they stay where they were
    assert sorted(os.listdir(archive)) == ["events_1.json", "notes_1.csv"]
    assert (result.success_files, result.failed_files) == (2, 3)
    manager = DataEntityManager()
    assert sorted(tuple(r) for r in manager.read_entity("bronze.notes").collect()) == [
        (1, "hello, world"), (2, 'say "hi"'), (3, "back\\"), (4, None), (5, "5'11\"")]
    assert sorted(r.id for r in manager.read_entity("bronze.events").collect()) == [1, 2]


def test_without_move_to_the_ledger_keeps_a_rerun_from_ingesting_twice(
        spark, lakehouse, landing, signal_recorder, signal_catalog):
    DataEntities.entity(entityid="bronze.orders", name="bronze_orders")  # append: a repeat would duplicate
    FileIngestionEntries.entry("orders", "Orders", [r"orders_(?P<batch>\d+)\.csv"], "bronze.orders", "csv")
    (landing / "orders_1.csv").write_text("order_id,qty\n1,5\n2,7\n")
    (landing / "orders_2.csv").write_text("order_id,qty\n3,1\n")
    processor = FileIngestionProcessor()

    first = processor.process_path(landing)
    manager = DataEntityManager()
    version = manager.get_entity_version("bronze.orders")
    assert first.total_rows == manager.read_entity("bronze.orders").count() == 3
    assert first.moved == {} and _names_in_landing(landing) == ["orders_1.csv", "orders_2.csv"]
    assert set(processor.ledger().files()) == {str(landing / "orders_1.csv"), str(landing / "orders_2.csv")}

    signal_recorder.clear()
    second = processor.process_path(landing)
    assert (second.file_count, second.total_rows) == (0, 0)
    assert sorted(second.skipped) == [str(landing / "orders_1.csv"), str(landing / "orders_2.csv")]
    assert manager.get_entity_version("bronze.orders") == version
    assert manager.read_entity("bronze.orders").count() == 3
    assert [r.name for r in signal_recorder.of("file_ingestion.*")] == [
        "file_ingestion.pre_process", "file_ingestion.post_process"]

    # new content under a known name is a new file: only it is read again
    (landing / "orders_2.csv").write_text("order_id,qty\n4,9\n5,2\n")
    signal_recorder.clear()
    third = processor.process_path(landing, pattern=r"orders_\d\.csv")
    assert (third.file_count, third.total_rows, third.skipped) == (1, 2, [str(landing / "orders_1.csv")])
    assert manager.read_entity("bronze.orders").count() == 5
    assert signal_recorder.first("file_ingestion.pre_process").payload["pattern"] == r"orders_\d\.csv"
    assert check_contract(signal_recorder.records, signal_catalog) == []


def test_a_failed_batch_write_fails_the_process_and_loses_nothing(
        spark, lakehouse, landing, archive, signal_recorder, signal_catalog):
    DataEntities.entity(entityid="bronze.accounts", name="bronze_accounts")
    DataEntities.entity(entityid="bronze.ledger", name="bronze_ledger")
    FileIngestionEntries.entry("accounts", "Accounts", [r"a_\d+\.csv"], "bronze.accounts", "csv")
    FileIngestionEntries.entry("ledger", "Ledger", [r"l_\d+\.csv"], "bronze.ledger", "csv")
    (landing / "l_1.csv").write_text("entry_id,amount\n1,100\n2,200\n")
    processor = FileIngestionProcessor()
    processor.process_path(landing, move_to=archive)  # bronze.ledger.amount is now INT
    manager = DataEntityManager()
    version = manager.get_entity_version("bronze.ledger")
    before = _contents(spark, manager, "bronze.ledger")

    (landing / "a_1.csv").write_text("account_id,owner\n7,ann\n")       # a good batch, written first
    (landing / "l_2.csv").write_text("entry_id,amount\n3,lots\n")       # amount is a STRING here
    signal_recorder.clear()
    with pytest.raises(Exception, match="(?i)failed to merge") as info:
        processor.process_path(landing, move_to=archive)

    assert check_contract(signal_recorder.records, signal_catalog) == []
    if sys.version_info >= (3, 11):  # exception notes
        assert "while writing the batch of entry 'ledger'" in "\n".join(info.value.__notes__)
    failed = signal_recorder.last("file_ingestion.process_failed").payload
    assert failed["failed_file"] == str(landing / "l_2.csv")
    assert failed["processed_files"] == 1                                  # a_1.csv was committed
    assert failed["error_type"] == signal_recorder.last("entity.append_failed").payload["error_type"]
    assert signal_recorder.of("file_ingestion.post_process") == []
    # the failed batch: its table is at the same version with the same rows; its file stays put
    assert manager.get_entity_version("bronze.ledger") == version
    assert _contents(spark, manager, "bronze.ledger") == before
    assert _names_in_landing(landing) == ["l_2.csv"]
    assert not (archive / "l_2.csv").exists()
    # the batch committed before it keeps its rows, and only its file moved
    assert manager.read_entity("bronze.accounts").count() == 1
    assert [r.payload["source_path"] for r in signal_recorder.of("file_ingestion.file_moved")] == [
        str(landing / "a_1.csv")]


def test_the_docs_example_runs_as_written(spark, lakehouse, capsys):
    printed, expected = run_example("providers/file_ingestion.md", capsys)
    assert printed == expected

"""What spark-kindling's standalone platform does with local files: fixture CSVs under
``tests/entities/`` replace an entity's reads, and file ingestion loads a folder of CSVs
into a Delta table and moves them."""

import pytest
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes
from kindling.file_ingestion import FileIngestionEntries, FileIngestionProcessor

SALES = StructType([StructField(name, StringType()) for name in ("sale_id", "amount", "day")]
                   + [StructField("ingestion_timestamp", TimestampType())])


def test_a_fixture_csv_replaces_the_entity_read(spark_kindling, signal_recorder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)      # spark-kindling looks for tests/entities/ under the working directory
    fixture = tmp_path / "tests" / "entities" / "bronze" / "sales.csv"   # bronze.sales
    fixture.parent.mkdir(parents=True)
    fixture.write_text("sale_id,amount,day\ns1,10,01\ns2,20,02\n")
    for entity_id in ("bronze.sales", "silver.sales"):
        DataEntities.entity(entityid=entity_id, name=entity_id.replace(".", "_"), merge_columns=["sale_id"],
                            partition_columns=[], tags={"provider_type": "delta"}, schema=SALES)
    DataPipes.pipe(pipeid="sales.to_silver", name="to silver", tags={}, input_entity_ids=["bronze.sales"],
                   output_entity_id="silver.sales", output_type="table")(
        lambda bronze_sales: bronze_sales.selectExpr(*(f"cast({c} as string) {c}" for c in ("sale_id", "amount", "day"))))

    spark_kindling.run("sales.to_silver")

    assert sorted(r.sale_id for r in spark_kindling.read("silver.sales").collect()) == ["s1", "s2"]
    assert not spark_kindling.table_path("bronze.sales").exists()      # read from the CSV
    signal_recorder.assert_not_emitted("entity.before_read", entity_id="bronze.sales")
    signal_recorder.assert_emitted_once("read.after_read", entity_id="bronze.sales", used_watermark=False)
    signal_recorder.assert_contract()


@pytest.fixture
def inbox(spark_kindling, tmp_path):
    DataEntities.entity(entityid="bronze.sales", name="bronze_sales", merge_columns=[], partition_columns=[],
                        tags={"provider_type": "delta"}, schema=SALES)
    FileIngestionEntries.entry(entry_id="sales.daily", name="Daily sales", tags={}, filetype="csv",
                               patterns=[r"sales_(?P<day>\d+)\.csv"], dest_entity_id="bronze.sales")
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "sales_01.csv").write_text("sale_id,amount\ns1,10\ns2,20\n")
    (folder / "sales_02.csv").write_text("sale_id,amount\ns3,30\n")
    return folder


def test_ingestion_loads_the_matching_files(spark_kindling, signal_recorder, inbox):
    (inbox / "notes.txt").write_text("matches no entry: left alone")
    signal_recorder.clear()

    spark_kindling.get(FileIngestionProcessor).process_path(str(inbox))

    loaded = spark_kindling.read("bronze.sales").collect()
    assert sorted((r.sale_id, r.amount, r.day) for r in loaded) == [
        ("s1", "10", "01"), ("s2", "20", "01"), ("s3", "30", "02")]
    signal_recorder.assert_emitted_once("file_ingestion.before_process", file_count=3)
    assert len(signal_recorder.of("file_ingestion.after_file")) == 3
    signal_recorder.assert_emitted_once("file_ingestion.batch_written", dest_entity_id="bronze.sales",
                                        file_count=2)
    signal_recorder.assert_emitted_once("file_ingestion.after_process")
    signal_recorder.assert_contract()


def test_ingestion_moves_a_loaded_file(spark_kindling, signal_recorder, inbox, tmp_path):
    """On standalone, ``movepath`` is where the file is copied to (a file path): one file."""
    (inbox / "sales_02.csv").unlink()
    moved = tmp_path / "done" / "sales_01.csv"

    spark_kindling.get(FileIngestionProcessor).process_path(str(inbox), movepath=str(moved))

    assert moved.exists() and not list(inbox.iterdir())
    signal_recorder.assert_emitted_once("file_ingestion.file_moved", filename="sales_01.csv",
                                        dest_path=str(moved))
    assert spark_kindling.read("bronze.sales").count() == 2
    signal_recorder.assert_contract()


def test_ingestion_into_an_unknown_entity_fails_and_leaves_the_files(spark_kindling, signal_recorder,
                                                                      inbox, tmp_path):
    FileIngestionEntries.entry(entry_id="refunds.daily", name="Daily refunds", tags={}, filetype="csv",
                               patterns=[r"refunds_(?P<day>\d+)\.csv"], dest_entity_id="bronze.refunds")
    for sales in inbox.iterdir():
        sales.unlink()
    (inbox / "refunds_01.csv").write_text("refund_id,amount\nr1,5\n")
    signal_recorder.clear()

    with pytest.raises(ValueError, match="unknown destination entity 'bronze.refunds'"):
        spark_kindling.get(FileIngestionProcessor).process_path(str(inbox), movepath=str(tmp_path / "done"))

    signal_recorder.assert_emitted_once("file_ingestion.process_failed", error_type="ValueError")
    assert [p.name for p in inbox.iterdir()] == ["refunds_01.csv"]
    assert not (tmp_path / "done").exists()
    signal_recorder.assert_contract()


def test_a_file_routed_to_an_unnamed_destination_fails_alone_in_the_inbox(spark_kindling, signal_recorder,
                                                                          inbox):
    FileIngestionEntries.entry(entry_id="returns.by_region", name="Returns by region", tags={},
                               filetype="csv", patterns=[r"returns_(?P<day>\d+)\.csv"],
                               dest_entity_id="bronze.returns_{region}")     # no 'region' group
    (inbox / "returns_01.csv").write_text("return_id\nr1\n")
    signal_recorder.clear()

    with pytest.raises(KeyError, match="region"):
        spark_kindling.get(FileIngestionProcessor).process_path(str(inbox))

    signal_recorder.assert_emitted_once("file_ingestion.file_failed", filename="returns_01.csv",
                                        error_type="KeyError")
    signal_recorder.assert_emitted_once("file_ingestion.process_failed", error_type="KeyError")
    signal_recorder.assert_not_emitted("entity.*")
    assert sorted(p.name for p in inbox.iterdir()) == ["returns_01.csv", "sales_01.csv", "sales_02.csv"]
    signal_recorder.assert_contract()

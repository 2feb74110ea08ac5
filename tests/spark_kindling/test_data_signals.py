"""DataSignals handlers on spark-kindling's DataFrame-transforming signals, sent with
``emit_chained``: ``read.after_read`` and ``persist.before_persist`` pass each handler the
DataFrame the previous one returned; a handler that raises aborts the persist."""

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes
from kindling.signaling import DataSignals

PAYMENTS = StructType([StructField("payment_id", IntegerType()), StructField("amount", DoubleType())])


@pytest.fixture
def payments(spark_kindling):
    for entity_id in ("bronze.payments", "silver.payments"):
        DataEntities.entity(entityid=entity_id, name=entity_id.replace(".", "_"),
                            merge_columns=["payment_id"], partition_columns=[],
                            tags={"provider_type": "delta"}, schema=PAYMENTS)
    DataPipes.pipe(pipeid="payments.to_silver", name="to silver", tags={},
                   input_entity_ids=["bronze.payments"], output_entity_id="silver.payments",
                   output_type="table")(lambda bronze_payments: bronze_payments)
    spark_kindling.write("bronze.payments", [(1, 10.0), (2, -3.0), (3, 0.0)])
    return spark_kindling


def rows(table):
    return sorted(tuple(r) for r in table.collect())


def test_handlers_transform_the_read_and_the_persisted_frame_in_turn(payments, signal_recorder):
    @DataSignals.handler("read.after_read", pipe_id="payments.to_silver")
    def only_settled(sender, df, **_):
        return df.filter("amount != 0")

    @DataSignals.handler("persist.before_persist", priority=10)
    def in_cents(sender, df, **_):
        return df.withColumn("amount", F.col("amount") * 100)

    @DataSignals.handler("persist.before_persist", priority=20)
    def refunds_positive(sender, df, **_):   # sees in_cents' frame, not the original
        return df.withColumn("amount", F.abs("amount"))

    payments.run("payments.to_silver")

    assert rows(payments.read("silver.payments")) == [(1, 1000.0), (2, 300.0)]
    before = signal_recorder.assert_emitted_once("persist.before_persist", pipe_id="payments.to_silver",
                                                 output_entity_id="silver.payments")
    assert before["df"].count() == 2          # recorded as sent: the frame after read.after_read
    after = signal_recorder.assert_emitted_once("persist.after_persist", persist_id=before["persist_id"])
    assert rows(after["df"]) == [(1, 1000.0), (2, 300.0)]     # the frame that was written
    signal_recorder.assert_contract()


def test_a_handler_that_raises_aborts_the_persist(payments, signal_recorder):
    @DataSignals.handler("persist.before_persist")
    def no_negative_amounts(sender, df, pipe_id, **_):
        if df.filter("amount < 0").count():
            raise ValueError(f"{pipe_id}: negative amounts")

    with pytest.raises(ValueError, match="negative amounts"):
        payments.run("payments.to_silver")

    signal_recorder.assert_emitted_once("persist.persist_failed", pipe_id="payments.to_silver",
                                        error_type="ValueError")
    assert [r.name for r in signal_recorder.get_records("call")][-4:] == [
        "persist.before_persist", "persist.persist_failed", "datapipes.pipe_failed", "datapipes.run_failed"]
    assert not payments.table_path("silver.payments").exists()
    signal_recorder.assert_contract()


def test_async_handlers_run_beside_the_pipe(payments, signal_recorder):
    counted = []

    @DataSignals.handler("persist.after_persist", mode="async", on_error="log")
    def count_rows(sender, df, pipe_id, **_):
        counted.append((pipe_id, df.count()))

    payments.run("payments.to_silver")
    DataSignals._get_executor().shutdown(wait=True)

    assert counted == [("payments.to_silver", 3)]
    signal_recorder.assert_contract()

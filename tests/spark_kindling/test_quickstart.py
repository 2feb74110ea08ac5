"""A pipeline run recorded through signal_recorder: the example of docs/spark-kindling.md."""

from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes

ORDERS = StructType([StructField("order_id", IntegerType()), StructField("amount", DoubleType())])


def declare_orders() -> None:
    for entity_id in ("bronze.orders", "silver.orders"):
        DataEntities.entity(entityid=entity_id, name=entity_id.replace(".", "_"),
                            merge_columns=["order_id"], partition_columns=[],
                            tags={"provider_type": "delta"}, schema=ORDERS)

    @DataPipes.pipe(pipeid="orders.to_silver", name="Bronze to silver orders", tags={},
                    input_entity_ids=["bronze.orders"], output_entity_id="silver.orders",
                    output_type="table")
    def to_silver(bronze_orders):
        return bronze_orders.filter("amount > 0")


def test_a_pipe_run_writes_then_merges(spark_kindling, signal_recorder):
    declare_orders()
    spark_kindling.write("bronze.orders", [(1, 10.0), (2, -1.0), (3, 7.5)])
    spark_kindling.run("orders.to_silver")            # silver.orders doesn't exist: written
    spark_kindling.write("bronze.orders", [(4, 2.0)], mode="append")

    signal_recorder.clear()
    spark_kindling.run("orders.to_silver")            # now it does: merged

    assert signal_recorder.names() == [
        "datapipes.before_run", "datapipes.before_pipe",
        "read.resolve_read", "entity.before_read", "entity.after_read", "read.after_read",
        "persist.before_persist", "entity.before_merge", "entity.after_merge", "persist.after_persist",
        "datapipes.after_pipe", "datapipes.after_run",
    ]
    signal_recorder.assert_emitted("entity.after_merge", entity_id="silver.orders")
    signal_recorder.assert_emitted("datapipes.after_run", success_count=1, failed_count=0)
    signal_recorder.assert_contract()
    assert sorted(r.order_id for r in spark_kindling.read("silver.orders").collect()) == [1, 3, 4]

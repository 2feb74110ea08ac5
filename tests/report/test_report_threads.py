"""A DAG-style run on local Spark: pipe runs from a thread pool, each run's signals on its own thread.

This is the multi-threaded run the HTML report's timeline draws in docs/report.md: three
runs of real pipes over real Delta tables, two pool threads, one run failing.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes, DataPipesExecuter, PipeExecutionError
from kindling.entity_manager import DataEntityManager
from kindling.signal_catalog import SignalCatalog
from pytest_kindling_signals.catalog import check_contract

ORDERS = "order_id INT, customer STRING, amount DOUBLE"


@pytest.fixture
def branches(spark: Any, lakehouse: Path, signal_recorder: Any) -> DataEntityManager:
    """Two independent branches of a DAG (orders, returns) and a pipe that breaks."""
    from pyspark.sql import functions as F

    for name in ("orders", "returns"):
        DataEntities.entity(entityid=f"bronze.{name}", name=f"bronze_{name}", schema=ORDERS)
        DataEntities.entity(entityid=f"silver.{name}", name=f"silver_{name}", merge_columns=["order_id"],
                            schema=ORDERS)
    DataEntities.entity(entityid="gold.customer_totals", name="gold_customer_totals")

    @DataPipes.pipe(pipeid="clean_orders", name="Clean orders", input_entity_ids=["bronze.orders"],
                    output_entity_id="silver.orders")
    def clean_orders(bronze_orders):
        return bronze_orders.dropDuplicates(["order_id"])

    @DataPipes.pipe(pipeid="customer_totals", name="Customer totals", input_entity_ids=["silver.orders"],
                    output_entity_id="gold.customer_totals")
    def customer_totals(silver_orders):
        return silver_orders.groupBy("customer").agg(F.sum("amount").alias("total"))

    @DataPipes.pipe(pipeid="clean_returns", name="Clean returns", input_entity_ids=["bronze.returns"],
                    output_entity_id="silver.returns")
    def clean_returns(bronze_returns):
        return bronze_returns.where("amount > 0")

    @DataPipes.pipe(pipeid="late_fees", name="Late fees", input_entity_ids=["bronze.orders"],
                    output_entity_id="silver.orders")
    def late_fees(bronze_orders):
        raise ValueError("late fee rules are missing for 2025")

    manager = DataEntityManager()
    for name, data in (("orders", [(1, "ann", 10.0), (1, "ann", 10.0), (2, "bob", 5.0)]),
                       ("returns", [(7, "cy", 3.0), (8, "cy", -1.0)])):
        manager.write_to_entity(spark.createDataFrame(data, ORDERS), f"bronze.{name}")
    signal_recorder.clear()
    return manager


def test_pipe_runs_from_a_thread_pool_keep_each_lifecycle_on_its_thread(
        branches: DataEntityManager, signal_recorder: Any, signal_catalog: SignalCatalog) -> None:
    executer = DataPipesExecuter()
    runs = [["clean_orders", "customer_totals"], ["clean_returns"], ["late_fees"]]
    with ThreadPoolExecutor(2, thread_name_prefix="dag") as pool:
        futures = [pool.submit(executer.run_datapipes, ids) for ids in runs]
        results = [f.exception() or f.result() for f in futures]

    assert isinstance(results[2], PipeExecutionError) and results[2].pipe_id == "late_fees"
    assert [r.succeeded for r in results[:2]] == [["clean_orders", "customer_totals"], ["clean_returns"]]  # type: ignore[union-attr]
    # the outputs were written, concurrently
    assert sorted(map(tuple, branches.read_entity("gold.customer_totals").collect())) == [("ann", 10.0), ("bob", 5.0)]
    assert branches.read_entity("silver.returns").count() == 1

    # every signal of a run comes from the thread that ran it, none from the test's own thread
    main = threading.current_thread().name
    by_run: dict[str, set[str]] = {}
    for r in signal_recorder.records:
        if r.name.startswith("datapipes.") and r.get("run_id"):
            by_run.setdefault(r["run_id"], set()).add(r.thread_name)
    assert len(by_run) == 3
    assert all(len(threads) == 1 and main not in threads for threads in by_run.values())
    assert {t for threads in by_run.values() for t in threads} <= {"dag_0", "dag_1"}
    assert len(signal_recorder.of("datapipes.run_failed")) == 1
    # and every lifecycle closes (the failed run with run_failed), payloads as the catalog says
    findings = check_contract(signal_recorder.records, signal_catalog)
    assert not findings, "\n".join(map(str, findings))

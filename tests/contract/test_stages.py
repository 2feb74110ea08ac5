"""Contract: StageProcessor fires its 6 stage signals around a real datapipes run on local Spark.

The stage's pipes read and write real Delta tables; the layer's watermark
table is really created. The nested run, pipe and entity signals are checked
to chain up to the stage's operation by parent_operation_id, and the failure
comes from a really raising pipe, leaving its output table as it was.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes, PipeExecutionError
from kindling.entity_manager import DataEntityManager
from kindling.signal_catalog import SignalCatalog
from kindling.stages import StageNotFoundError, StageProcessor, stage_pipe_ids
from pytest_kindling_signals.catalog import check_contract

from docs_examples import run_example

pytestmark = pytest.mark.contract

ORDERS = "order_id INT, customer STRING, amount DOUBLE"


def rows(df: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in df.collect())


def stage_names(recorder: Any) -> list[str]:
    return [r.name for r in recorder.records if r.name.startswith("stage.")]


@pytest.fixture
def pipes() -> None:
    """Stage 'silver': one pipe by id prefix, one by tag; 'gold_report' and 'explodes' are elsewhere."""
    from pyspark.sql import functions as F

    DataEntities.entity(entityid="bronze.orders", name="bronze_orders")
    DataEntities.entity(entityid="silver.orders", name="silver_orders", merge_columns=["order_id"])
    DataEntities.entity(entityid="silver.customer_totals", name="silver_customer_totals")
    DataEntities.entity(entityid="gold.report", name="gold_report")

    @DataPipes.pipe(pipeid="silver_clean_orders", name="Clean orders",
                    input_entity_ids=["bronze.orders"], output_entity_id="silver.orders")
    def silver_clean_orders(bronze_orders):
        return bronze_orders.dropDuplicates(["order_id"])

    @DataPipes.pipe(pipeid="customer_totals", name="Customer totals", tags={"stage": "silver"},
                    input_entity_ids=["bronze.orders"], output_entity_id="silver.customer_totals")
    def customer_totals(bronze_orders):
        return bronze_orders.dropDuplicates(["order_id"]).groupBy("customer").agg(
            F.sum("amount").alias("total"))

    @DataPipes.pipe(pipeid="gold_report", name="Report", input_entity_ids=["silver.orders"],
                    output_entity_id="gold.report")
    def gold_report(silver_orders):
        raise AssertionError("not in stage 'silver': never run")

    @DataPipes.pipe(pipeid="explodes", name="Explodes", tags={"stage": "audit"},
                    input_entity_ids=["bronze.orders"], output_entity_id="silver.orders")
    def explodes(bronze_orders):
        raise ValueError("audit rule broken: order 2 has no customer")


@pytest.fixture
def bronze(spark: Any, lakehouse: Path, pipes: None, signal_recorder: Any) -> DataEntityManager:
    manager = DataEntityManager()
    manager.write_to_entity(spark.createDataFrame(
        [(1, "ann", 10.0), (1, "ann", 10.0), (2, "bob", 5.0)], ORDERS), "bronze.orders")
    signal_recorder.clear()
    return manager


def test_the_processor_emits_exactly_the_catalog_stage_signals(signal_catalog: SignalCatalog) -> None:
    assert set(StageProcessor.EMITS) == {s.name for s in signal_catalog.by_provider("stage")}
    assert len(StageProcessor.EMITS) == 6


def test_stage_pipes_are_chosen_by_id_prefix_or_stage_tag_in_declaration_order(pipes: None) -> None:
    assert stage_pipe_ids("silver") == ["silver_clean_orders", "customer_totals"]
    assert stage_pipe_ids("audit") == ["explodes"]
    assert stage_pipe_ids("gold") == ["gold_report"]


def test_a_stage_ensures_its_watermark_table_then_runs_its_pipes_inside_the_stage(
        bronze: DataEntityManager, signal_recorder: Any, signal_catalog: SignalCatalog) -> None:
    result = StageProcessor().execute("silver", "Bronze to silver",
                                      {"owner": "data-eng", "run_date": date(2025, 1, 20)}, layer="silver")

    assert (result.succeeded, result.ok) == (["silver_clean_orders", "customer_totals"], True)
    assert rows(bronze.read_entity("silver.orders")) == [(1, "ann", 10.0), (2, "bob", 5.0)]
    assert rows(bronze.read_entity("silver.customer_totals")) == [("ann", 10.0), ("bob", 5.0)]
    # The layer's watermark table really exists (created empty, version 0).
    assert bronze.get_entity_version("silver.watermarks") == 0

    assert stage_names(signal_recorder) == [
        "stage.pre_execute", "stage.watermark_ensured", "stage.pipes_started",
        "stage.pipes_completed", "stage.post_execute"]
    pre = signal_recorder.first("stage.pre_execute")
    assert (pre["stage"], pre["layer"], pre["pipe_count"]) == ("silver", "silver", 2)
    assert pre["stage_details"] == {"owner": "data-eng", "run_date": "2025-01-20"}  # JSON-ready
    ensured = signal_recorder.first("stage.watermark_ensured")
    assert (ensured["layer"], ensured["watermark_entity_id"], ensured["created"]) == (
        "silver", "silver.watermarks", True)
    started = signal_recorder.first("stage.pipes_started")
    assert started["pipe_ids"] == ["silver_clean_orders", "customer_totals"]
    completed = signal_recorder.first("stage.pipes_completed")
    assert (completed["pipe_count"], completed["success_count"], completed["failed_count"]) == (2, 2, 0)
    post = signal_recorder.first("stage.post_execute")
    assert (post["pipes_executed"], post["run_id"]) == (2, result.run_id)
    assert post["duration_seconds"] > completed["duration_seconds"] > 0

    # Exactly who is inside whom, by parent_operation_id.
    stage_op = pre["operation_id"]
    assert pre["parent_operation_id"] is None
    assert post["operation_id"] == ensured["operation_id"] == stage_op
    ensure = signal_recorder.first("entity.pre_ensure_table", entity_id="silver.watermarks")
    assert ensure["parent_operation_id"] == stage_op
    assert started["parent_operation_id"] == stage_op
    assert completed["operation_id"] == started["operation_id"]
    run = signal_recorder.first("datapipes.pre_run")
    assert run["parent_operation_id"] == started["operation_id"]
    assert run["run_id"] == result.run_id
    parent_of = {r["operation_id"]: r["parent_operation_id"] for r in signal_recorder.records}
    for r in signal_recorder.records:
        if r.name.startswith(("datapipes.", "entity.")):
            chain, oid = [], r["operation_id"]
            while oid is not None:
                chain.append(oid)
                oid = parent_of.get(oid)
            assert chain[-1] == stage_op, f"{r.name} (#{r.seq}) is not inside the stage"
            assert pre.seq < r.seq < post.seq
    assert started.seq < run.seq < signal_recorder.last("datapipes.post_run").seq < completed.seq

    assert check_contract(signal_recorder.records, signal_catalog) == []


def test_a_raising_pipe_fails_the_stage_and_leaves_its_output_table_as_it_was(
        spark: Any, bronze: DataEntityManager, signal_recorder: Any, signal_catalog: SignalCatalog) -> None:
    bronze.merge_to_entity(spark.createDataFrame([(7, "cy", 1.5)], ORDERS), "silver.orders")
    before = bronze.get_entity_version("silver.orders"), rows(bronze.read_entity("silver.orders"))
    signal_recorder.clear()

    with pytest.raises(PipeExecutionError, match="audit rule broken") as info:
        StageProcessor().execute("audit", "Audit orders", None, layer="silver")

    assert info.value.pipe_id == "explodes"
    assert stage_names(signal_recorder) == [
        "stage.pre_execute", "stage.watermark_ensured", "stage.pipes_started",
        "stage.pipes_completed", "stage.execute_failed"]
    failed = signal_recorder.first("stage.execute_failed")
    assert (failed["stage"], failed["failed_pipe"], failed["error_type"]) == (
        "audit", "explodes", "PipeExecutionError")
    assert "audit rule broken: order 2 has no customer" in failed["error"]
    assert failed["operation_id"] == signal_recorder.first("stage.pre_execute")["operation_id"]
    # The pipes lifecycle is closed even though the run failed, and says so.
    completed = signal_recorder.first("stage.pipes_completed")
    assert (completed["pipe_count"], completed["success_count"], completed["failed_count"]) == (1, 0, 1)
    assert signal_recorder.first("datapipes.run_failed")["parent_operation_id"] == completed["operation_id"]
    # Nothing lost: the output table kept its version and rows.
    assert (bronze.get_entity_version("silver.orders"), rows(bronze.read_entity("silver.orders"))) == before
    assert check_contract(signal_recorder.records, signal_catalog) == []


def test_an_unknown_stage_names_the_pipes_and_tags_there_are_and_runs_nothing(
        pipes: None, signal_recorder: Any) -> None:
    with pytest.raises(StageNotFoundError) as info:
        StageProcessor().execute("bronze", "Ingest", {}, layer="bronze")
    message = str(info.value)
    assert "stage 'bronze' has no pipes" in message
    assert "'silver_clean_orders', 'customer_totals', 'gold_report', 'explodes'" in message
    assert "Stage tags in use: 'audit', 'silver'" in message
    assert "tags={'stage': 'bronze'}" in message
    assert signal_recorder.records == []


def test_the_docs_example_runs_and_prints_what_the_page_says(
        spark: Any, lakehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed, expected = run_example("providers/stages.md", capsys)
    assert printed == expected

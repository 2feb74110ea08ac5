"""Contract: DataPipesExecuter fires its 7 datapipes signals through real runs on local Spark.

Pipes read and write real Delta tables through the entity manager. Every test
checks the whole recording against the catalog (payloads, closed lifecycles,
no undocumented names); failures come from real faults (a raising pipe, a
value Delta can't cast, a DataFrame that fails while Spark writes it) and
prove the output table kept its version and rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from docs_examples import run_example

from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes, DataPipesExecuter, PipeExecutionError, RunResult
from kindling.entity_manager import DataEntityManager
from kindling.signal_catalog import SignalCatalog
from kindling.signaling import describe_error
from pytest_kindling_signals.catalog import check_contract

pytestmark = pytest.mark.contract

ORDERS = "order_id INT, customer STRING, amount DOUBLE"


def assert_contract(recorder: Any, catalog: SignalCatalog) -> None:
    findings = check_contract(recorder.records, catalog)
    assert not findings, "\n".join(map(str, findings))


def rows(df: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in df.collect())


def pipe_names(recorder: Any) -> list[str]:
    return [r.name for r in recorder.records if r.name.startswith("datapipes.")]


@pytest.fixture
def world(spark: Any, lakehouse: Path, signal_recorder: Any) -> DataEntityManager:
    """Entities and pipes over real tables: bronze.orders has 4 rows (order 1 twice)."""
    from pyspark.sql import functions as F

    DataEntities.entity(entityid="bronze.orders", name="bronze_orders", schema=ORDERS)
    DataEntities.entity(entityid="silver.orders", name="silver_orders", merge_columns=["order_id"],
                        schema=ORDERS)
    DataEntities.entity(entityid="gold.customer_totals", name="gold_customer_totals")
    DataEntities.entity(entityid="bronze.returns", name="bronze_returns", schema=ORDERS)
    DataEntities.entity(entityid="bronze.refunds", name="bronze_refunds", schema=ORDERS)

    @DataPipes.pipe(pipeid="clean_orders", name="Clean orders", tags={"layer": "silver"},
                    input_entity_ids=["bronze.orders"], output_entity_id="silver.orders")
    def clean_orders(bronze_orders):
        return bronze_orders.dropDuplicates(["order_id"])

    @DataPipes.pipe(pipeid="customer_totals", name="Customer totals",
                    input_entity_ids=["silver.orders"], output_entity_id="gold.customer_totals")
    def customer_totals(silver_orders):
        return silver_orders.groupBy("customer").agg(F.sum("amount").alias("total"))

    @DataPipes.pipe(pipeid="from_empty", name="From an empty table",
                    input_entity_ids=["bronze.returns"], output_entity_id="gold.customer_totals")
    def from_empty(bronze_returns):
        raise AssertionError("a pipe whose input has no rows is skipped, never called")

    @DataPipes.pipe(pipeid="from_missing", name="From a table never written",
                    input_entity_ids=["bronze.refunds"], output_entity_id="gold.customer_totals")
    def from_missing(bronze_refunds):
        raise AssertionError("a pipe whose input has no table is skipped, never called")

    @DataPipes.pipe(pipeid="nothing_today", name="Nothing today",
                    input_entity_ids=["bronze.orders"], output_entity_id="silver.orders")
    def nothing_today(bronze_orders):
        return None

    @DataPipes.pipe(pipeid="explodes", name="Explodes",
                    input_entity_ids=["bronze.orders"], output_entity_id="silver.orders")
    def explodes(bronze_orders):
        raise ValueError("upstream contract broken: amount is negative")

    @DataPipes.pipe(pipeid="amount_as_text", name="Amount as text",
                    input_entity_ids=["bronze.orders"], output_entity_id="silver.orders")
    def amount_as_text(bronze_orders):
        return bronze_orders.dropDuplicates(["order_id"]).withColumn("amount", F.lit("lots"))

    @DataPipes.pipe(pipeid="fails_while_written", name="Fails while written",
                    input_entity_ids=["bronze.orders"], output_entity_id="silver.orders")
    def fails_while_written(bronze_orders):
        # Lazy: the error surfaces only when the merge evaluates the rows.
        return bronze_orders.dropDuplicates(["order_id"]).withColumn("amount", F.when(
            F.col("order_id") == 3, F.raise_error(F.lit("feed broke at order 3")))
            .otherwise(F.col("amount") * 2).cast("double"))

    @DataPipes.pipe(pipeid="returns_a_number", name="Returns a number",
                    input_entity_ids=["bronze.orders"], output_entity_id="silver.orders")
    def returns_a_number(bronze_orders):
        return 42

    manager = DataEntityManager()
    manager.write_to_entity(spark.createDataFrame(
        [(1, "ann", 10.0), (1, "ann", 10.0), (2, "bob", 5.0), (3, "ann", 2.5)], ORDERS), "bronze.orders")
    manager.ensure_entity_table("bronze.returns")  # a table with no rows
    signal_recorder.clear()
    return manager


def test_executer_emits_exactly_the_catalog_datapipes_signals(signal_catalog: SignalCatalog) -> None:
    assert set(DataPipesExecuter.EMITS) == {s.name for s in signal_catalog.by_provider("datapipes")}
    assert len(DataPipesExecuter.EMITS) == 7


def test_a_run_writes_outputs_skips_and_nests_entity_signals_inside_pipes(
        spark: Any, world: DataEntityManager, signal_recorder: Any,
        signal_catalog: SignalCatalog) -> None:
    ids = ["clean_orders", "customer_totals", "from_empty", "from_missing", "nothing_today"]
    result = DataPipesExecuter().run_datapipes(ids)

    # The outputs were really written.
    assert rows(world.read_entity("silver.orders")) == [(1, "ann", 10.0), (2, "bob", 5.0), (3, "ann", 2.5)]
    assert rows(world.read_entity("gold.customer_totals")) == [("ann", 12.5), ("bob", 5.0)]

    assert pipe_names(signal_recorder) == [
        "datapipes.pre_run",
        "datapipes.pre_pipe", "datapipes.post_pipe",
        "datapipes.pre_pipe", "datapipes.post_pipe",
        "datapipes.pre_pipe", "datapipes.pipe_skipped",
        "datapipes.pre_pipe", "datapipes.pipe_skipped",
        "datapipes.pre_pipe", "datapipes.pipe_skipped",
        "datapipes.post_run"]
    pre_run = signal_recorder.first("datapipes.pre_run")
    assert (pre_run["pipe_ids"], pre_run["pipe_count"], pre_run["run_id"]) == (ids, 5, result.run_id)
    assert [r["pipe_index"] for r in signal_recorder.of("datapipes.pre_pipe")] == [0, 1, 2, 3, 4]
    assert [r["pipe_name"] for r in signal_recorder.of("datapipes.pre_pipe")][:2] == [
        "Clean orders", "Customer totals"]

    # rows_processed is what the entity manager's write reported, from Delta's metrics.
    clean, totals = signal_recorder.of("datapipes.post_pipe")
    merge = signal_recorder.first("entity.post_merge")
    append = signal_recorder.first("entity.post_append")
    assert (clean["rows_processed"], clean["write_mode"]) == (
        merge["rows_inserted"] + merge["rows_updated"] + merge["rows_deleted"], "merge")
    assert clean["rows_processed"] == 3
    assert (totals["rows_processed"], totals["write_mode"]) == (append["rows_appended"], "append")
    assert totals["rows_processed"] == 2
    assert [r["skip_reason"] for r in signal_recorder.of("datapipes.pipe_skipped")] == [
        "input 'bronze.returns' has no rows",
        "input 'bronze.refunds' has no table yet",
        "the pipe returned None"]

    # The run's counts agree with the per-pipe outcomes.
    post_run = signal_recorder.last("datapipes.post_run")
    assert post_run["success_count"] == len(signal_recorder.of("datapipes.post_pipe")) == 2
    assert post_run["skipped_count"] == len(signal_recorder.of("datapipes.pipe_skipped")) == 3
    assert post_run["failed_count"] == len(signal_recorder.of("datapipes.pipe_failed")) == 0
    assert post_run["pipe_count"] == 5 and post_run["duration_seconds"] > 0
    assert isinstance(result, RunResult) and result.ok
    assert (result.succeeded, result.skipped, result.failed) == (
        ["clean_orders", "customer_totals"], ["from_empty", "from_missing", "nothing_today"], [])
    assert [o.rows_processed for o in result.outcomes] == [3, 2, 0, 0, 0]

    assert_nested(signal_recorder)
    assert_contract(signal_recorder, signal_catalog)


def assert_nested(recorder: Any) -> None:
    """run > pipe > entity operation, by parent_operation_id and by sequence order."""
    records = recorder.records
    run = recorder.first("datapipes.pre_run")
    assert run["parent_operation_id"] is None
    pipes = {r["operation_id"]: r for r in records if r.name == "datapipes.pre_pipe"}
    assert pipes and all(p["parent_operation_id"] == run["operation_id"] for p in pipes.values())
    closers = {r["operation_id"]: r for r in records if r.name in (
        "datapipes.post_pipe", "datapipes.pipe_skipped", "datapipes.pipe_failed")}
    # Who opened what: every operation's parent, from the pre_ signal that opened it.
    parent_of = {r["operation_id"]: r["parent_operation_id"] for r in records
                 if r.name.split(".", 1)[1].startswith("pre_")}
    for r in (r for r in records if r.name.startswith("entity.")):
        oid = r["operation_id"]
        while oid is not None and oid not in pipes:
            oid = parent_of.get(oid)
        assert oid in pipes, f"{r.name} (record #{r.seq}) is not inside a pipe"
        assert pipes[oid].seq < r.seq < closers[oid].seq
    run_end = [r for r in records if r.name in ("datapipes.post_run", "datapipes.run_failed")]
    assert len(run_end) == 1 and run_end[0]["operation_id"] == run["operation_id"]
    assert all(run.seq < r.seq < run_end[0].seq for r in records if r is not run and r is not run_end[0])


def test_a_raising_pipe_stops_the_run_and_leaves_its_output_as_it_was(
        spark: Any, world: DataEntityManager, signal_recorder: Any,
        signal_catalog: SignalCatalog) -> None:
    DataPipesExecuter().run_datapipes(["clean_orders"])
    version, contents = world.get_entity_version("silver.orders"), rows(world.read_entity("silver.orders"))
    signal_recorder.clear()

    with pytest.raises(PipeExecutionError) as info:
        DataPipesExecuter().run_datapipes(["customer_totals", "explodes", "clean_orders"])

    error = info.value
    assert error.pipe_id == "explodes"
    assert isinstance(error.__cause__, ValueError)
    assert "pipe 'explodes' failed with ValueError: upstream contract broken" in str(error)
    assert "not run: clean_orders" in str(error) and "continue_on_error=True" in str(error)
    assert (error.result.succeeded, error.result.failed) == (["customer_totals"], ["explodes"])

    assert pipe_names(signal_recorder) == [
        "datapipes.pre_run",
        "datapipes.pre_pipe", "datapipes.post_pipe",
        "datapipes.pre_pipe", "datapipes.pipe_failed",
        "datapipes.run_failed"]  # the third pipe never started
    failed = signal_recorder.first("datapipes.pipe_failed")
    assert (failed["pipe_id"], failed["error_type"]) == ("explodes", "ValueError")
    assert failed["error"] == "upstream contract broken: amount is negative"
    run_failed = signal_recorder.first("datapipes.run_failed")
    assert (run_failed["failed_pipe"], run_failed["error_type"], run_failed["error"]) == (
        "explodes", "ValueError", failed["error"])
    assert (run_failed["success_count"], run_failed["failed_count"], run_failed["skipped_count"]) == (1, 1, 0)

    # Nothing of the failed pipe reached its output; the pipe before it kept its commit.
    assert world.get_entity_version("silver.orders") == version
    assert rows(world.read_entity("silver.orders")) == contents
    assert rows(world.read_entity("gold.customer_totals")) == [("ann", 12.5), ("bob", 5.0)]
    assert_nested(signal_recorder)
    assert_contract(signal_recorder, signal_catalog)


@pytest.mark.parametrize("pipe_id, error_fragment", [
    ("amount_as_text", "CAST_INVALID_INPUT"),       # Delta refuses the cast: fails at once
    ("fails_while_written", "feed broke at order 3"),  # the rows fail while the merge writes them
])
def test_a_failed_write_nests_merge_failed_in_pipe_failed_and_keeps_the_table(
        spark: Any, world: DataEntityManager, signal_recorder: Any, signal_catalog: SignalCatalog,
        pipe_id: str, error_fragment: str) -> None:
    DataPipesExecuter().run_datapipes(["clean_orders"])
    version, contents = world.get_entity_version("silver.orders"), rows(world.read_entity("silver.orders"))
    signal_recorder.clear()

    with pytest.raises(PipeExecutionError) as info:
        DataPipesExecuter().run_datapipes([pipe_id])

    # Spark may wrap the cause in a job failure whose text is long: look in the whole chain.
    assert error_fragment in str(info.value.__cause__)
    merge_failed = signal_recorder.first("entity.merge_failed")
    pipe_failed = signal_recorder.first("datapipes.pipe_failed")
    run_failed = signal_recorder.first("datapipes.run_failed")
    assert merge_failed["error"] == pipe_failed["error"] == describe_error(info.value.__cause__)
    assert merge_failed["parent_operation_id"] == pipe_failed["operation_id"]
    assert merge_failed.seq < pipe_failed.seq < run_failed.seq
    assert merge_failed["error_type"] == pipe_failed["error_type"] == run_failed["error_type"]
    assert run_failed["failed_pipe"] == pipe_id
    assert world.get_entity_version("silver.orders") == version
    assert rows(world.read_entity("silver.orders")) == contents
    assert_nested(signal_recorder)
    assert_contract(signal_recorder, signal_catalog)


def test_continue_on_error_runs_every_pipe_and_post_run_counts_the_failures(
        spark: Any, world: DataEntityManager, signal_recorder: Any,
        signal_catalog: SignalCatalog) -> None:
    result = DataPipesExecuter().run_datapipes(
        ["explodes", "clean_orders", "returns_a_number", "from_empty"], continue_on_error=True)

    assert pipe_names(signal_recorder) == [
        "datapipes.pre_run",
        "datapipes.pre_pipe", "datapipes.pipe_failed",
        "datapipes.pre_pipe", "datapipes.post_pipe",
        "datapipes.pre_pipe", "datapipes.pipe_failed",
        "datapipes.pre_pipe", "datapipes.pipe_skipped",
        "datapipes.post_run"]
    post_run = signal_recorder.first("datapipes.post_run")
    assert (post_run["success_count"], post_run["failed_count"], post_run["skipped_count"],
            post_run["pipe_count"]) == (1, 2, 1, 4)
    assert post_run["failed_count"] == len(signal_recorder.of("datapipes.pipe_failed"))
    assert post_run["success_count"] == len(signal_recorder.of("datapipes.post_pipe"))
    not_a_frame = signal_recorder.of("datapipes.pipe_failed")[1]
    assert not_a_frame["error_type"] == "TypeError"
    assert not_a_frame["error"] == ("pipe 'returns_a_number' returned int; a pipe returns a Spark "
                                    "DataFrame for 'silver.orders', or None to skip the write")

    assert result.failed == ["explodes", "returns_a_number"] and not result.ok
    assert isinstance(result.outcomes[0].error, ValueError)
    assert rows(world.read_entity("silver.orders")) == [(1, "ann", 10.0), (2, "bob", 5.0), (3, "ann", 2.5)]
    assert_nested(signal_recorder)
    assert_contract(signal_recorder, signal_catalog)


def test_run_with_undeclared_entity_names_it_before_anything_runs(
        spark: Any, world: DataEntityManager, signal_recorder: Any) -> None:
    from kindling.data_entities import UnknownEntityError

    @DataPipes.pipe(pipeid="typo", name="Typo", input_entity_ids=["bronze.order"],
                    output_entity_id="silver.orders")
    def typo(bronze_order):
        return bronze_order

    with pytest.raises(UnknownEntityError, match=r"'bronze.order' \(did you mean 'bronze.orders'"):
        DataPipesExecuter().run_datapipes(["clean_orders", "typo"])
    assert signal_recorder.records == []
    assert world.get_entity_version("silver.orders") is None  # clean_orders did not run either


def test_docs_example_runs(spark: Any, lakehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed, expected = run_example("providers/data_pipes.md", capsys)
    assert printed == expected

"""Pipe runs through spark-kindling's DataPipesExecuter on real Delta tables: a failing
transform and a failing persist (nothing written), a stage, and a DAG run."""

import pytest
from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes
from kindling.simple_stage_processor import StageProcessingService
from pytest_kindling_signals import check_contract

READINGS = StructType([StructField("sensor", IntegerType()), StructField("value", DoubleType())])


def declare(*entity_ids, merge_columns=("sensor",), schema=READINGS):
    for entity_id in entity_ids:
        DataEntities.entity(entityid=entity_id, name=entity_id.replace(".", "_"),
                            merge_columns=list(merge_columns), partition_columns=[],
                            tags={"provider_type": "delta"}, schema=schema)


def pipe(pipeid, source, target, **extra):
    return DataPipes.pipe(pipeid=pipeid, name=pipeid, tags={}, input_entity_ids=[source],
                          output_entity_id=target, output_type="table", **extra)


def rows(table):
    return sorted(tuple(r) for r in table.collect())


def test_a_failing_transform_fails_the_pipe_and_writes_nothing(spark_kindling, signal_recorder):
    declare("bronze.readings", "silver.readings")
    spark_kindling.write("bronze.readings", [(1, 0.5)])
    spark_kindling.write("silver.readings", [(9, 9.0)])

    @pipe("readings.clean", "bronze.readings", "silver.readings")
    def clean(bronze_readings):
        raise ValueError("sensor 1 reports a negative humidity")

    signal_recorder.clear()
    with pytest.raises(ValueError, match="negative humidity"):
        spark_kindling.run("readings.clean")

    assert signal_recorder.names()[-2:] == ["datapipes.pipe_failed", "datapipes.run_failed"]
    signal_recorder.assert_emitted_once("datapipes.pipe_failed", pipe_id="readings.clean",
                                        error_type="ValueError")
    signal_recorder.assert_emitted_once("datapipes.run_failed", failed_pipe="readings.clean",
                                        success_count=0)
    signal_recorder.assert_not_emitted("persist.*")
    assert rows(spark_kindling.read("silver.readings")) == [(9, 9.0)]
    signal_recorder.assert_contract()


def test_a_failing_persist_fails_the_pipe_and_keeps_the_target(spark_kindling, signal_recorder):
    declare("bronze.readings")
    declare("gold.readings", merge_columns=())           # no merge columns: appended
    spark_kindling.write("bronze.readings", [(1, 0.5)])
    spark_kindling.write("gold.readings", [(9, 9.0)])

    @pipe("readings.publish", "bronze.readings", "gold.readings")
    def publish(bronze_readings):
        return bronze_readings.selectExpr("sensor", "cast(value as string) as value")   # a type change

    signal_recorder.clear()
    with pytest.raises(Exception):
        spark_kindling.run("readings.publish")

    failed = [r.name for r in signal_recorder.records if r.name.endswith("_failed")]
    assert failed == ["entity.append_failed", "persist.persist_failed",
                      "datapipes.pipe_failed", "datapipes.run_failed"]
    signal_recorder.assert_emitted_once("persist.persist_failed", output_entity_id="gold.readings")
    assert rows(spark_kindling.read("gold.readings")) == [(9, 9.0)]
    signal_recorder.assert_contract()


def test_a_stage_runs_the_pipes_under_its_prefix(spark_kindling, signal_recorder):
    declare("bronze.readings", "silver.readings", "silver.other")
    spark_kindling.write("bronze.readings", [(1, 0.5), (2, 1.5)])
    pipe("silver.readings_copy", "bronze.readings", "silver.readings")(lambda bronze_readings: bronze_readings)
    pipe("other.copy", "bronze.readings", "silver.other")(lambda bronze_readings: bronze_readings)

    stages = spark_kindling.get(StageProcessingService)
    stages.execute("silver", "Silver layer", {}, "silver")

    signal_recorder.assert_emitted_once("stage.after_execute", stage="silver", pipe_count=1)
    signal_recorder.assert_emitted_once("datapipes.after_pipe", pipe_id="silver.readings_copy")
    assert rows(spark_kindling.read("silver.readings")) == [(1, 0.5), (2, 1.5)]

    pipe("silver.broken", "bronze.readings", "silver.other")(lambda bronze_readings: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        stages.execute("silver", "Silver layer", {}, "silver")
    signal_recorder.assert_emitted_once("stage.execute_failed", stage="silver", error_type="ZeroDivisionError")
    assert not spark_kindling.table_path("silver.other").exists()
    signal_recorder.assert_contract()


def test_a_dag_run_goes_through_the_orchestrator(spark_kindling, signal_recorder):
    """spark-kindling 0.14's DAG mode opens ``datapipes.before_run`` (mirroring the sequential
    path, for its subscribers) and never closes it: no ``datapipes.after_run`` or
    ``run_failed`` follows ``orchestrator.execution_completed``. A finding of its own
    catalog, asserted here so that a release that fixes it shows up."""
    declare("bronze.readings", "silver.readings", "gold.readings")
    spark_kindling.write("bronze.readings", [(1, 0.5), (2, 1.5)])
    pipe("readings.to_silver", "bronze.readings", "silver.readings")(lambda bronze_readings: bronze_readings)
    pipe("readings.to_gold", "silver.readings", "gold.readings")(
        lambda silver_readings: silver_readings.filter("value > 1"))

    spark_kindling.run("readings.to_gold", "readings.to_silver", use_dag=True)

    names = signal_recorder.names()
    assert names.index("orchestrator.plan_generated") < names.index("orchestrator.execution_completed")
    completed = [r["pipe_id"] for r in signal_recorder.of("orchestrator.pipe_completed")]
    assert completed == ["readings.to_silver", "readings.to_gold"]     # in dependency order
    assert rows(spark_kindling.read("gold.readings")) == [(2, 1.5)]
    findings = check_contract(signal_recorder.records, signal_recorder.catalog)
    assert [(f.kind, f.signal) for f in findings] == [("lifecycle", "datapipes.before_run")]
    assert "datapipes.after_run" not in names


def test_a_failing_pipe_in_a_dag_run_is_reported_not_raised(spark_kindling, signal_recorder):
    """In DAG mode a failed pipe is retried as asked, then reported, not raised:
    ``orchestrator.pipe_failed``, then ``orchestrator.execution_completed`` with
    ``all_succeeded=False``."""
    declare("bronze.readings", "silver.readings")
    spark_kindling.write("bronze.readings", [(1, 0.5)])
    spark_kindling.write("silver.readings", [(9, 9.0)])

    @pipe("readings.to_silver", "bronze.readings", "silver.readings")
    def to_silver(bronze_readings):
        raise RuntimeError("calibration table missing")

    signal_recorder.clear()
    result = spark_kindling.run("readings.to_silver", use_dag=True, retry_attempts=1,
                                retry_interval_seconds=0)

    assert [p.status for g in result.generation_results for p in g.pipe_results] == ["failed"]
    signal_recorder.assert_emitted_once("orchestrator.pipe_retrying", pipe_id="readings.to_silver")
    signal_recorder.assert_emitted_once("orchestrator.pipe_failed", pipe_id="readings.to_silver",
                                        error_type="RuntimeError", attempts=2)
    signal_recorder.assert_emitted_once("orchestrator.execution_completed", all_succeeded=False,
                                        failed_count=1)
    signal_recorder.assert_not_emitted("persist.*")
    assert rows(spark_kindling.read("silver.readings")) == [(9, 9.0)]
    findings = check_contract(signal_recorder.records, signal_recorder.catalog)
    assert [(f.kind, f.signal) for f in findings] == [("lifecycle", "datapipes.before_run")]


def test_a_source_two_pipes_read_is_cached_once_in_a_dag_run(spark_kindling, signal_recorder):
    """(Like every DAG run, it leaves ``datapipes.before_run`` open: see the test above.)"""
    declare("bronze.readings", "silver.low", "silver.high")
    spark_kindling.write("bronze.readings", [(1, 0.5), (2, 1.5)])
    pipe("readings.low", "bronze.readings", "silver.low")(lambda bronze_readings: bronze_readings.filter("value < 1"))
    pipe("readings.high", "bronze.readings", "silver.high")(lambda bronze_readings: bronze_readings.filter("value >= 1"))

    spark_kindling.run("readings.low", "readings.high", use_dag=True, auto_cache=True)

    signal_recorder.assert_emitted_once("orchestrator.cache_recommended", entity_id="bronze.readings",
                                        consumer_pipes=["readings.high", "readings.low"], auto_cache=True)
    signal_recorder.assert_emitted_once("orchestrator.cache_miss", entity_id="bronze.readings")
    signal_recorder.assert_emitted_once("orchestrator.cache_hit", entity_id="bronze.readings")
    assert rows(spark_kindling.read("silver.low")) == [(1, 0.5)]
    assert rows(spark_kindling.read("silver.high")) == [(2, 1.5)]


def test_skip_dependents_skips_what_a_failed_pipe_feeds_and_runs_the_rest(spark_kindling, signal_recorder):
    """``error_strategy='skip_dependents'``: a failed pipe's consumers are skipped
    (``orchestrator.pipe_skipped``, naming the upstream pipe), an independent branch runs."""
    from kindling.generation_executor import ErrorStrategy

    declare("bronze.readings", "silver.readings", "gold.readings", "silver.audit")
    spark_kindling.write("bronze.readings", [(1, 0.5), (2, 1.5)])

    @pipe("readings.to_silver", "bronze.readings", "silver.readings")
    def to_silver(bronze_readings):
        raise RuntimeError("calibration table missing")

    pipe("readings.to_gold", "silver.readings", "gold.readings")(lambda silver_readings: silver_readings)
    pipe("readings.audit", "bronze.readings", "silver.audit")(lambda bronze_readings: bronze_readings)

    result = spark_kindling.run("readings.to_gold", "readings.to_silver", "readings.audit", use_dag=True,
                                error_strategy=ErrorStrategy.SKIP_DEPENDENTS)

    statuses = {p.pipe_id: p.status for g in result.generation_results for p in g.pipe_results}
    assert statuses == {"readings.to_silver": "failed", "readings.audit": "success", "readings.to_gold": "skipped"}
    signal_recorder.assert_emitted_once("orchestrator.pipe_skipped", pipe_id="readings.to_gold",
                                        reason="upstream_failed", upstream_pipe="readings.to_silver")
    signal_recorder.assert_emitted_once("orchestrator.execution_completed", success_count=1, failed_count=1,
                                        skipped_count=1, all_succeeded=False)
    assert rows(spark_kindling.read("silver.audit")) == [(1, 0.5), (2, 1.5)]
    assert not spark_kindling.table_path("gold.readings").exists()


def test_a_dag_run_whose_generation_hook_raises_fails_the_execution(spark_kindling, signal_recorder):
    """An observer of ``orchestrator.generation_started`` that raises (a broken alerting hook):
    spark-kindling's receivers raise into the emitting code, so the orchestrator's run fails
    as a whole (``orchestrator.execution_failed``, re-raised) before any pipe starts."""
    from kindling.signaling import DataSignals

    declare("bronze.readings", "silver.readings")
    spark_kindling.write("bronze.readings", [(1, 0.5)])
    pipe("readings.to_silver", "bronze.readings", "silver.readings")(lambda bronze_readings: bronze_readings)

    @DataSignals.handler("orchestrator.generation_started")
    def page_the_on_call(sender, **payload):
        raise ConnectionError("pager service unreachable")

    with pytest.raises(ConnectionError, match="pager service unreachable"):
        spark_kindling.run("readings.to_silver", use_dag=True)

    failed = signal_recorder.assert_emitted_once("orchestrator.execution_failed", error_type="ConnectionError",
                                                 failed_pipes=[])
    started = signal_recorder.assert_emitted_once("orchestrator.execution_started")
    assert failed["run_id"] == started["run_id"]
    signal_recorder.assert_not_emitted("orchestrator.pipe_started")
    assert not spark_kindling.table_path("silver.readings").exists()

"""spark-kindling's streaming stack on local Structured Streaming, waited on through its signals.

A Delta entity written by the test streams into another through spark-kindling's
``StreamingOrchestrator``: its query manager starts the query, its listener's consumer
thread turns Spark's events into ``streaming.spark_query_*`` signals, its health
monitor judges each micro-batch, its recovery manager restarts what failed. Nothing
here sleeps: every wait is on a signal (``spark_kindling.streaming`` and
``signal_recorder.wait_for``), and faults come from a ``StreamGate`` in the pipe's path.
"""

import pytest
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes

EVENTS = StructType([StructField("event_id", IntegerType()), StructField("kind", StringType())])
PIPE = "events.to_silver"


def declare_events(spark_kindling):
    for entity_id in ("bronze.events", "silver.events"):
        DataEntities.entity(entityid=entity_id, name=entity_id.replace(".", "_"), merge_columns=["event_id"],
                            partition_columns=[], tags={"provider_type": "delta"}, schema=EVENTS)
    DataPipes.pipe(pipeid=PIPE, name="Bronze to silver events", tags={}, input_entity_ids=["bronze.events"],
                   output_entity_id="silver.events", output_type="table")(lambda bronze_events: bronze_events)
    spark_kindling.write("bronze.events", [(1, "click")])


def rows(table):
    return sorted(tuple(r) for r in table.collect())


def test_a_streaming_pipe_runs_until_its_rows_are_in_then_stops(spark_kindling, signal_recorder):
    """The whole lifecycle of one query. The first micro-batch is judged healthy (Spark reports
    no input rate for a first batch); the next one, started by new data after idle triggers,
    reads its rows in a few milliseconds of input time and takes seconds to merge them, which
    the health monitor's rule (processing rate under half the input rate) calls unhealthy."""
    declare_events(spark_kindling)
    spark_kindling.streaming.configure(idle_progress_interval=3600)   # no progress events while idle
    stream = spark_kindling.streaming.start(PIPE)
    query = stream.query()

    first = query.wait_for_batches(1)
    spark_kindling.write("bronze.events", [(2, "view"), (3, "click")], mode="append")
    query.wait_for_rows(3)
    query.stop()
    spark_kindling.streaming.await_termination()
    spark_kindling.streaming.stop()

    assert first[0]["batch_id"] == 0 and first[0]["num_input_rows"] == 1
    assert rows(spark_kindling.read("silver.events")) == [(1, "click"), (2, "view"), (3, "click")]
    spark_id = query.spark_query_id
    by_thread = {}
    for record in signal_recorder.of("streaming.*"):
        by_thread.setdefault(record.thread_name, []).append(record.name)
    assert by_thread == {
        "MainThread": ["streaming.query_registered", "streaming.query_started", "streaming.orchestrator_started",
                       "streaming.query_stopped", "streaming.orchestrator_completed", "streaming.orchestrator_stopped"],
        "StreamingEventConsumer": ["streaming.spark_query_started",
                                   "streaming.spark_query_progress", "streaming.query_healthy",
                                   "streaming.spark_query_progress", "streaming.query_unhealthy",
                                   "streaming.spark_query_terminated"],
    }
    signal_recorder.assert_emitted_once("streaming.query_unhealthy", query_id=spark_id, health_status="unhealthy")
    signal_recorder.assert_emitted_once("streaming.orchestrator_completed", run_id=stream.run_id,
                                        active_query_count=0)
    signal_recorder.assert_contract()


def test_a_failed_micro_batch_is_recovered_by_a_restart(spark_kindling, signal_recorder, signal_provider):
    """A batch fails in the query (a gate in the pipe's path raises): the listener reports the
    termination with its exception, the health monitor ``query_exception``, and the recovery
    manager restarts the query. Its first attempt fails (the query manager still holds the
    failed query as active, and stopping it re-raises its exception); the gate is healed at
    that moment, so the second attempt restarts the query and the batch goes through."""
    declare_events(spark_kindling)
    streaming = spark_kindling.streaming.configure(max_retries=3)
    gate = streaming.gate(PIPE)

    def heal(sender, **payload):
        gate.heal()

    signal_provider.connect("streaming.recovery_failed", heal, weak=False)
    query = streaming.start(PIPE).query()
    query.wait_for_batches(1)
    gate.fail("poisoned batch")
    spark_kindling.write("bronze.events", [(2, "view")], mode="append")

    query.wait_for("streaming.recovery_succeeded")
    query.wait_for_rows(2)
    query.stop()
    streaming.stop()

    spark_id = query.spark_query_id
    terminated = signal_recorder.assert_emitted("streaming.spark_query_terminated", query_id=spark_id)
    assert "poisoned batch" in terminated["exception"]
    assert "poisoned batch" in signal_recorder.assert_emitted_once("streaming.query_exception")["exception"]
    assert [(r.name, r["retry_count"]) for r in signal_recorder.of("streaming.recovery_*")] == [
        ("streaming.recovery_attempted", 1), ("streaming.recovery_failed", 1),
        ("streaming.recovery_attempted", 2), ("streaming.recovery_succeeded", 2)]
    signal_recorder.assert_emitted_once("streaming.query_failed", query_id=query.query_id)
    signal_recorder.assert_emitted_once("streaming.query_restarted", query_id=query.query_id, restart_count=1)
    assert rows(spark_kindling.read("silver.events")) == [(1, "click"), (2, "view")]
    signal_recorder.assert_contract()


def test_a_query_whose_recovery_is_exhausted_fails_the_orchestrator(spark_kindling, signal_recorder):
    """With no retries allowed, the recovery manager gives up at once (``recovery_exhausted``,
    nothing restarted), and the orchestrator's wait reports the failed query."""
    declare_events(spark_kindling)
    streaming = spark_kindling.streaming.configure(max_retries=0)
    gate = streaming.gate(PIPE)
    stream = streaming.start(PIPE)
    query = stream.query()
    query.wait_for_batches(1)
    gate.fail("schema registry unreachable")
    spark_kindling.write("bronze.events", [(2, "view")], mode="append")

    query.wait_for("streaming.recovery_exhausted")
    with pytest.raises(RuntimeError, match="schema registry unreachable"):
        streaming.await_termination()
    streaming.stop()

    signal_recorder.assert_emitted_once("streaming.recovery_exhausted", query_id=query.spark_query_id,
                                        retry_count=0, max_retries=0)
    failed = signal_recorder.assert_emitted_once("streaming.orchestrator_failed", run_id=stream.run_id,
                                                 error_type="StreamingQueryFailure")
    assert "schema registry unreachable" in failed["error"]
    signal_recorder.assert_not_emitted("streaming.recovery_attempted")
    assert rows(spark_kindling.read("silver.events")) == [(1, "click")]
    signal_recorder.assert_contract()


def test_a_stalled_query_is_reported_and_restarted(spark_kindling, signal_recorder):
    """A batch held at a gate makes no progress; ``stall()`` has the health monitor's stall
    checker look at that moment (``query_stalled``), and the recovery manager restarts the
    query (the held batch is cancelled, then replayed from the checkpoint once released)."""
    declare_events(spark_kindling)
    streaming = spark_kindling.streaming.configure(max_retries=1)
    gate = streaming.gate(PIPE)
    query = streaming.start(PIPE).query()
    query.wait_for_batches(1)
    gate.hold()
    spark_kindling.write("bronze.events", [(2, "view")], mode="append")
    gate.wait_held()

    stalled = query.stall()
    restarted = query.wait_for("streaming.recovery_succeeded")
    gate.release()
    query.wait_for_rows(2)
    query.stop()
    streaming.stop()

    assert stalled["health_status"] == "stalled" and stalled["seconds_since_progress"] > 0
    assert restarted["retry_count"] == 1
    signal_recorder.assert_emitted_once("streaming.query_restarted", query_id=query.query_id)
    assert rows(spark_kindling.read("silver.events")) == [(1, "click"), (2, "view")]
    signal_recorder.assert_contract()


def test_a_pipe_that_cannot_stream_fails_the_orchestrator_at_start(spark_kindling, signal_recorder):
    """A driving input that can't be read as a stream: the query manager reports the start that
    failed (``query_failed``), and fail-fast stops the orchestrator (``orchestrator_failed``)."""
    DataEntities.entity(entityid="bronze.sensors", name="bronze_sensors", merge_columns=[], partition_columns=[],
                        tags={"provider_type": "memory", "provider.stream_type": "carrier-pigeon"}, schema=EVENTS)
    DataEntities.entity(entityid="silver.sensors", name="silver_sensors", merge_columns=[], partition_columns=[],
                        tags={"provider_type": "delta"}, schema=EVENTS)
    DataPipes.pipe(pipeid="sensors.to_silver", name="sensors", tags={}, input_entity_ids=["bronze.sensors"],
                   output_entity_id="silver.sensors", output_type="table")(lambda bronze_sensors: bronze_sensors)

    with pytest.raises(RuntimeError, match="carrier-pigeon"):
        spark_kindling.streaming.start("sensors.to_silver")

    failed = signal_recorder.assert_emitted_once("streaming.query_failed", query_name="sensors.to_silver")
    assert "carrier-pigeon" in failed["error"]
    signal_recorder.assert_emitted_once("streaming.orchestrator_failed", error_type="RuntimeError")
    signal_recorder.assert_not_emitted("streaming.spark_query_*")
    signal_recorder.assert_contract()

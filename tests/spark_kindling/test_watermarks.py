"""Incremental runs with spark-kindling's WatermarkAspect, which its standalone bootstrap
doesn't register: ``@pytest.mark.spark_kindling(watermarks=True)`` does."""

import pytest
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes
from kindling.watermarking import WatermarkService
from pytest_kindling_signals import check_contract

EVENTS = StructType([StructField("event_id", IntegerType()), StructField("kind", StringType())])

pytestmark = pytest.mark.spark_kindling(watermarks=True)


@pytest.fixture
def events(spark_kindling):
    for entity_id in ("bronze.events", "silver.events"):
        DataEntities.entity(entityid=entity_id, name=entity_id.replace(".", "_"),
                            merge_columns=["event_id"], partition_columns=[],
                            tags={"provider_type": "delta"}, schema=EVENTS)
    DataPipes.pipe(pipeid="events.to_silver", name="to silver", tags={}, use_watermark=True,
                   input_entity_ids=["bronze.events"], output_entity_id="silver.events",
                   output_type="table")(lambda bronze_events: bronze_events.select("event_id", "kind"))
    return spark_kindling


def test_runs_read_only_what_is_new_since_the_saved_watermark(events, signal_recorder):
    events.write("bronze.events", [(1, "click"), (2, "view")])
    events.run("events.to_silver")                        # first run: no watermark yet
    signal_recorder.assert_emitted_once("watermark.watermark_missing", source_entity_id="bronze.events",
                                        reader_id="events.to_silver")
    # looked for in a system.watermarks table that isn't there yet (see test_entities.py)
    findings = check_contract(signal_recorder.records, signal_recorder.catalog)
    assert [(f.kind, f.signal) for f in findings] == [("lifecycle", "entity.before_read")]
    assert "system.watermarks" in findings[0].message
    saved = signal_recorder.assert_emitted_once("persist.watermark_saved", pipe_id="events.to_silver")
    signal_recorder.assert_emitted_once("watermark.after_save", cursor=saved["cursor"])

    signal_recorder.clear()
    events.run("events.to_silver")                        # nothing new: the pipe is skipped
    signal_recorder.assert_emitted_once("watermark.watermark_found", cursor=saved["cursor"])
    signal_recorder.assert_emitted_once("watermark.no_new_data", pipe_id="events.to_silver")
    signal_recorder.assert_emitted_once("datapipes.pipe_skipped", skip_reason="no_data")
    signal_recorder.assert_not_emitted("persist.*")

    signal_recorder.clear()
    events.write("bronze.events", [(3, "buy")], mode="append")
    events.run("events.to_silver")                        # only event 3 is read
    changes = signal_recorder.assert_emitted_once("watermark.after_read_changes", cursor=saved["cursor"],
                                                  is_initial_load=False)
    assert int(changes["new_cursor"]) > int(saved["cursor"])
    assert signal_recorder.assert_emitted_once("persist.before_persist")["df"].count() == 1
    assert sorted(r.event_id for r in events.read("silver.events").collect()) == [1, 2, 3]
    assert events.get(WatermarkService).get_cursor("bronze.events", "events.to_silver") == changes["new_cursor"]
    signal_recorder.assert_contract()


def test_a_watermark_that_cannot_be_saved_is_read_again_next_run(events, signal_recorder):
    """The aspect saves after the persist; a failed save is logged, not raised, and leaves the
    watermark where it was, so the next run reads the same rows again (merged: no duplicates).

    The next run looks for a watermark in a table that isn't there: like any read of a missing
    table (test_entities.py), its ``entity.before_read`` is never closed."""
    events.write("bronze.events", [(1, "click"), (2, "view")])
    blocker = events.table_root / "system" / "watermarks"   # where the watermark table goes
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a Delta table")

    events.run("events.to_silver")                          # the pipe succeeds, the save doesn't
    signal_recorder.assert_emitted_once("watermark.save_failed", source_entity_id="bronze.events",
                                        reader_id="events.to_silver")
    signal_recorder.assert_emitted_once("datapipes.after_run", success_count=1)
    signal_recorder.assert_not_emitted("persist.watermark_saved")

    blocker.unlink()
    blocker.parent.rmdir()
    signal_recorder.clear()
    events.run("events.to_silver")
    signal_recorder.assert_emitted_once("watermark.after_read_changes", is_initial_load=True)
    signal_recorder.assert_emitted_once("persist.watermark_saved", pipe_id="events.to_silver")
    assert sorted(r.event_id for r in events.read("silver.events").collect()) == [1, 2]
    findings = check_contract(signal_recorder.records, signal_recorder.catalog)
    assert [(f.kind, f.signal) for f in findings] == [("lifecycle", "entity.before_read")]
    assert "system.watermarks" in findings[0].message

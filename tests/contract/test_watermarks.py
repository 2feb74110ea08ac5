"""Contract: WatermarkManager fires its 9 watermark signals through real Delta tables on local Spark.

Watermarks live in a real Delta table written through the entity manager;
source tables are real entities whose versions move with real commits. The
failures are real faults (a watermark saved backwards, a value of the other
kind, a file where the watermark table's folder should be) and each proves
the saved watermark, and the table holding it, stayed as they were.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from kindling.data_entities import DataEntities
from kindling.entity_manager import DataEntityManager
from kindling.signal_catalog import SignalCatalog
from kindling.watermarks import (
    WATERMARK_ENTITY_ID,
    Watermark,
    WatermarkError,
    WatermarkManager,
    WatermarkRegressionError,
    WatermarkTableError,
)
from pytest_kindling_signals.catalog import check_contract

from docs_examples import run_example

pytestmark = pytest.mark.contract

EVENTS = "id INT, kind STRING"


def rows(df: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in df.collect())


def names(recorder: Any, prefix: str = "watermark.") -> list[str]:
    return [r.name for r in recorder.records if r.name.startswith(prefix)]


def table_state(manager: DataEntityManager, entity_id: str = WATERMARK_ENTITY_ID) -> tuple[Any, ...]:
    return manager.get_entity_version(entity_id), rows(
        manager.read_entity(entity_id).select("entity_id", "reader_id", "watermark_value",
                                              "source_version", "reason"))


@pytest.fixture
def events(spark: Any, lakehouse: Path, signal_recorder: Any) -> DataEntityManager:
    """bronze.events: a real table at version 0 with two rows (no schema: the write is the first commit)."""
    DataEntities.entity(entityid="bronze.events", name="bronze_events")
    manager = DataEntityManager()
    manager.write_to_entity(spark.createDataFrame([(1, "click"), (2, "view")], EVENTS), "bronze.events")
    signal_recorder.clear()
    return manager


def test_the_manager_emits_exactly_the_catalog_watermark_signals(signal_catalog: SignalCatalog) -> None:
    assert set(WatermarkManager.EMITS) == {s.name for s in signal_catalog.by_provider("watermark")}
    assert len(WatermarkManager.EMITS) == 10
    # the quick reference's 9, and get_failed: a read that fails must close its pre_get too
    assert [n for n in WatermarkManager.EMITS if signal_catalog[n].extension] == ["watermark.get_failed"]
    assert signal_catalog.operations["watermark.get"].failed == "watermark.get_failed"


def test_a_first_run_reads_everything_then_only_new_rows_as_the_watermark_advances(
        spark: Any, events: DataEntityManager, signal_recorder: Any,
        signal_catalog: SignalCatalog) -> None:
    wm = WatermarkManager(entity_manager=events)

    # First run: no watermark, every row is a change.
    assert wm.get_watermark("bronze.events", "silver") is None
    missing = signal_recorder.last("watermark.watermark_missing")
    assert (missing["entity_id"], missing["reader_id"]) == ("bronze.events", "silver")
    assert missing["operation_id"] == signal_recorder.last("watermark.pre_get")["operation_id"]
    assert rows(wm.read_changes("bronze.events", "silver")) == [(1, "click"), (2, "view")]

    first = wm.save_watermark("bronze.events", "2025-01-20T11:00:00+01:00", reader_id="silver")
    # Stored normalised to UTC, covering the version read_changes read.
    assert (first.value, first.source_version) == ("2025-01-20T10:00:00+00:00", 0)
    post = signal_recorder.last("watermark.post_save")
    assert (post["old_watermark"], post["new_watermark"], post["watermark_delta"]) == (
        None, "2025-01-20T10:00:00+00:00", None)
    assert (post["source_version"], post["table_version"]) == (0, 1)  # created at 0, merged at 1
    assert not signal_recorder.of("watermark.watermark_advanced")  # a first save sets, it doesn't move

    # The save is a merge on (entity_id, reader_id) through the entity manager, nested in the save.
    pre_save = signal_recorder.last("watermark.pre_save")
    merge = signal_recorder.last("entity.post_merge")
    assert merge["entity_id"] == WATERMARK_ENTITY_ID and merge["merge_keys"] == ["entity_id", "reader_id"]
    assert merge["parent_operation_id"] == pre_save["operation_id"]
    assert pre_save.seq < merge.seq < post.seq
    assert rows(events.read_entity(WATERMARK_ENTITY_ID).select(
        "entity_id", "reader_id", "watermark_value", "source_version", "reason")) == [
        ("bronze.events", "silver", "2025-01-20T10:00:00+00:00", 0, "save")]

    # A new commit to the source: the next get sees the version move, the read returns just it.
    events.append_to_entity(spark.createDataFrame([(3, "buy")], EVENTS), "bronze.events")
    signal_recorder.clear()
    changes = wm.read_changes("bronze.events", "silver")
    assert rows(changes) == [(3, "buy")]
    assert names(signal_recorder) == ["watermark.pre_get", "watermark.version_changed",
                                      "watermark.watermark_found"]
    pre_get, changed, found = (signal_recorder.of(n)[0] for n in names(signal_recorder))
    assert (changed["old_version"], changed["new_version"], changed["entity_id"]) == (0, 1, "bronze.events")
    assert changed["operation_id"] == pre_get["operation_id"] == found["operation_id"]
    assert (found["watermark_value"], found["version"]) == ("2025-01-20T10:00:00+00:00", 0)
    assert 0 <= found["age_hours"] < 0.1

    second = wm.save_watermark("bronze.events", "2025-01-20T12:00:00Z", reader_id="silver")
    assert second.source_version == 1
    advanced = signal_recorder.last("watermark.watermark_advanced")
    post = signal_recorder.last("watermark.post_save")
    assert advanced["advancement_seconds"] == post["watermark_delta"] == 7200.0
    assert (advanced["old_watermark"], advanced["new_watermark"]) == (
        "2025-01-20T10:00:00+00:00", "2025-01-20T12:00:00+00:00")
    assert advanced["operation_id"] == post["operation_id"]  # emitted inside the save
    assert advanced.seq < post.seq

    # Caught up: the watermark covers the current version, nothing new to read.
    signal_recorder.clear()
    now = wm.get_watermark("bronze.events", "silver")
    assert isinstance(now, Watermark)
    assert (now.value, now.source_version, now.reason) == ("2025-01-20T12:00:00+00:00", 1, "save")
    assert now.as_datetime().hour == 12
    assert names(signal_recorder) == ["watermark.pre_get", "watermark.watermark_found"]
    assert wm.read_changes("bronze.events", "silver").count() == 0
    # Another reader of the same source has its own watermark.
    assert wm.get_watermark("bronze.events", "gold") is None

    assert check_contract(signal_recorder.records, signal_catalog) == []


def test_a_backwards_or_mismatched_save_fails_and_keeps_the_watermark_until_a_reset(
        spark: Any, lakehouse: Path, signal_recorder: Any, signal_catalog: SignalCatalog) -> None:
    wm = WatermarkManager()
    # A source that is not a declared entity: its version is given.
    wm.save_watermark("external.feed", 100, source_version=7)
    before = table_state(wm.entity_manager)
    signal_recorder.clear()

    with pytest.raises(WatermarkRegressionError, match=r"behind the saved watermark 100.*reset_watermark"):
        wm.save_watermark("external.feed", 99, source_version=8)
    with pytest.raises(WatermarkError, match="is a number .* cannot be compared"):
        wm.save_watermark("external.feed", "2025-01-20T00:00:00Z", source_version=8)

    assert names(signal_recorder) == ["watermark.pre_save", "watermark.save_failed"] * 2
    backwards, mismatched = signal_recorder.of("watermark.save_failed")
    assert (backwards["entity_id"], backwards["new_watermark"], backwards["error_type"]) == (
        "external.feed", 99, "WatermarkRegressionError")
    assert "reset_watermark('external.feed'" in backwards["error"]
    assert (mismatched["new_watermark"], mismatched["error_type"]) == (
        "2025-01-20T00:00:00+00:00", "WatermarkError")
    assert not signal_recorder.of("entity.*")  # refused before anything was written
    # Nothing lost: same table version, same row, same watermark.
    assert table_state(wm.entity_manager) == before
    kept = wm.get_watermark("external.feed")
    assert kept is not None and (kept.value, kept.source_version) == (100, 7)

    # Numbers move by their difference; watermark_advanced is for timestamps (seconds).
    wm.save_watermark("external.feed", 142.5, source_version=8)
    post = signal_recorder.last("watermark.post_save")
    assert (post["old_watermark"], post["new_watermark"], post["watermark_delta"]) == (100, 142.5, 42.5)
    assert not signal_recorder.of("watermark.watermark_advanced")

    signal_recorder.clear()
    reset = wm.reset_watermark("external.feed", reason="replay the feed from scratch")
    assert reset is not None and reset.value == 142.5
    event = signal_recorder.last("watermark.watermark_reset")
    assert (event["old_watermark"], event["reason"], event["entity_id"]) == (
        142.5, "replay the feed from scratch", "external.feed")
    assert wm.get_watermark("external.feed") is None  # the next run is a first run
    # The reset is on record in the table, and going back is now allowed.
    assert table_state(wm.entity_manager)[1] == [
        ("external.feed", "default", None, None, "replay the feed from scratch")]
    assert wm.save_watermark("external.feed", 5, source_version=0).value == 5

    assert check_contract(signal_recorder.records, signal_catalog) == []


def test_a_file_where_the_watermark_table_belongs_fails_the_save_and_stays_untouched(
        spark: Any, lakehouse: Path, signal_recorder: Any, signal_catalog: SignalCatalog) -> None:
    blocker = lakehouse / "tables" / WATERMARK_ENTITY_ID
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"someone's export, not a Delta table\n")
    wm = WatermarkManager()

    with pytest.raises(NotADirectoryError):
        wm.save_watermark("external.feed", 1, source_version=0)

    assert names(signal_recorder, "") == [
        "watermark.pre_save", "entity.pre_merge", "entity.pre_ensure_table",
        "entity.ensure_failed", "entity.merge_failed", "watermark.save_failed"]
    failed = signal_recorder.last("watermark.save_failed")
    assert (failed["entity_id"], failed["error_type"]) == ("external.feed", "NotADirectoryError")
    merge_failed = signal_recorder.last("entity.merge_failed")
    assert merge_failed["parent_operation_id"] == failed["operation_id"]
    assert blocker.read_bytes() == b"someone's export, not a Delta table\n"
    assert check_contract(signal_recorder.records, signal_catalog) == []


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fault, root_cause", [
    ("data files deleted", r"SparkFileNotFoundException: File file:.*\.parquet does not exist"),
    ("commit corrupted", r"JsonParseException: Unexpected character"),
])
def test_a_damaged_watermark_table_fails_get_and_save_with_the_root_cause_and_changes_nothing(
        spark: Any, lakehouse: Path, signal_recorder: Any, signal_catalog: SignalCatalog,
        fault: str, root_cause: str) -> None:
    wm = WatermarkManager()
    wm.save_watermark("external.feed", 100, source_version=7)
    wm.save_watermark("external.feed", 142, source_version=8)
    table = wm.entity_manager.table_path(WATERMARK_ENTITY_ID)
    if fault == "data files deleted":
        for data_file in table.glob("*.parquet"):
            data_file.unlink()
    else:  # the latest commit overwritten with garbage (no checksum file, as on cloud storage)
        latest = max(table.glob("_delta_log/*.json"))
        latest.write_text('{not json\n')
        (latest.parent / f".{latest.name}.crc").unlink()
    damaged = _files(table)
    signal_recorder.clear()

    with pytest.raises(WatermarkTableError, match=rf"cannot read the watermark table 'system\.watermarks': "
                                                  rf"{root_cause}.*Nothing was changed; repair") as got:
        wm.get_watermark("external.feed")
    with pytest.raises(WatermarkTableError, match=root_cause) as saved:
        wm.save_watermark("external.feed", 200, source_version=9)

    for err in (got.value, saved.value):  # the root cause, not the raw Py4J text and its JVM stack
        assert "\tat " not in str(err) and "An error occurred while calling" not in str(err)
        # chained: the engine's own error (Py4J's on a classic session, gRPC's over Spark Connect)
        assert type(err.__cause__).__name__ in ("Py4JJavaError", "SparkConnectGrpcException")
    assert names(signal_recorder) == ["watermark.pre_get", "watermark.get_failed",
                                      "watermark.pre_save", "watermark.save_failed"]
    pre_get, get_failed, _, save_failed = (r for r in signal_recorder.records if r.name.startswith("watermark."))
    assert get_failed["operation_id"] == pre_get["operation_id"]  # the get is closed
    assert (get_failed["entity_id"], get_failed["reader_id"], get_failed["error_type"]) == (
        "external.feed", "default", "WatermarkTableError")
    assert get_failed["error"] == str(got.value) and save_failed["error"] == str(saved.value)
    assert not signal_recorder.of("entity.pre_merge")  # the save stopped at its read
    assert _files(table) == damaged  # nothing written, nothing repaired behind the user's back
    assert check_contract(signal_recorder.records, signal_catalog) == []


# -- bad arguments: clear errors before anything starts (no JVM) ---------------------------

@pytest.mark.parametrize("value, error, fragment", [
    (True, TypeError, "pass a number"),
    ([1, 2], TypeError, "is not a watermark value"),
    ("yesterday", WatermarkError, "not an ISO-8601 timestamp"),
    (float("nan"), WatermarkError, "not a finite number"),
])
def test_a_value_that_is_no_watermark_is_refused_before_anything_starts(
        value: Any, error: type[Exception], fragment: str, signal_recorder: Any) -> None:
    with pytest.raises(error, match=fragment):
        WatermarkManager().save_watermark("external.feed", value, source_version=0)
    assert signal_recorder.records == []


def test_an_undeclared_source_needs_a_source_version(signal_recorder: Any) -> None:
    with pytest.raises(WatermarkError, match=r"not a declared entity.*source_version=<"):
        WatermarkManager().save_watermark("external.feed", 1)
    with pytest.raises(ValueError, match="needs a non-empty reason"):
        WatermarkManager().reset_watermark("external.feed", reason=" ")
    assert signal_recorder.records == []


def test_the_watermark_entity_must_merge_on_entity_and_reader(signal_recorder: Any) -> None:
    DataEntities.entity(entityid="ops.marks", name="ops_marks", merge_columns=["entity_id"],
                        schema="entity_id STRING, watermark_value STRING")
    with pytest.raises(WatermarkError, match=r"must merge on \['entity_id', 'reader_id'\]"):
        WatermarkManager(watermark_entity_id="ops.marks").save_watermark("x", 1, source_version=0)


def test_the_docs_example_runs_and_prints_what_the_page_says(
        spark: Any, lakehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed, expected = run_example("providers/watermarks.md", capsys)
    assert printed == expected

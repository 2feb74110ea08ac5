"""Properties of FileIngestionProcessor over generated file batches, on local Spark.

For any batch of CSV, JSON or Parquet files (some malformed) landing on an
entity that already holds rows, the run's signals keep the contract, each
malformed file fails alone (``file_failed``) and stays where it was, the
well-formed ones are moved, and ``post_process``/``post_merge`` counts are
the rows and keys of the well-formed files.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from _world import SPARK_SETTINGS, fresh_world, table_rows
from kindling.entity_manager import DataEntityManager
from kindling.file_ingestion import FileIngestionEntries, FileIngestionProcessor
from pytest_kindling_signals.strategies import FileBatch, file_batches, rows

ENTITY = "bronze.landed"


@st.composite
def landings(draw: st.DrawFn) -> tuple[FileBatch, list]:
    batch = draw(file_batches(max_files=3, max_rows=2))
    existing = draw(rows(batch.schema, max_size=3))
    return batch, existing


@SPARK_SETTINGS
@given(case=landings())
def test_ingestion_signals_agree_with_the_files(spark: Any, signal_recorder: Any, case: Any) -> None:
    batch, existing = case
    with fresh_world() as lakehouse:
        batch.schema.declare(ENTITY, merge=True)
        FileIngestionEntries.entry(entry_id="landing", name="Landing", patterns=[batch.pattern],
                                   dest_entity_id=ENTITY, filetype=batch.filetype)
        manager = DataEntityManager()
        if existing:
            spark.createDataFrame(existing, batch.schema.struct_type()).write.format("delta").save(
                str(manager.table_path(ENTITY)))
        landing, done = lakehouse / "landing", lakehouse / "done"
        batch.write(landing, spark)
        with signal_recorder.capture() as rec:
            result = FileIngestionProcessor(entity_manager=manager).process_path(landing, move_to=done)
        rec.assert_contract()

        good, bad = batch.good, batch.bad
        good_rows = batch.good_rows
        post = rec.last("file_ingestion.post_process")
        assert (post["success_files"], post["failed_files"], post["total_rows"]) == (
            len(good), len(bad), len(good_rows))
        assert sorted(r["filename"] for r in rec.of("file_ingestion.file_failed")) == sorted(f.name for f in bad)
        assert sorted(r["filename"] for r in rec.of("file_ingestion.post_file")) == sorted(f.name for f in good)
        # Malformed files stay; well-formed ones moved, after their rows were committed.
        assert sorted(p.name for p in landing.iterdir()) == sorted(f.name for f in bad)
        moved = sorted(p.name for p in done.iterdir()) if done.exists() else []
        assert moved == sorted(f.name for f in good)
        assert result.total_rows == len(good_rows)

        old, new = {r[0] for r in existing}, {r[0] for r in good_rows}
        merges = [(m["rows_inserted"], m["rows_updated"]) for m in rec.of("entity.post_merge")]
        assert merges == ([(len(new - old), len(new & old))] if good_rows else [])
        if existing or good_rows:
            expected = {r[0]: r for r in existing} | {r[0]: r for r in good_rows}
            assert table_rows(spark, manager.table_path(ENTITY)) == sorted(expected.values(), key=repr)

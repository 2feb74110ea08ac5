"""Properties of DataEntityManager merges under generated schemas and rows, on local Spark.

For any schema and batches of rows (keys drawn from a small space so they
overlap), the signals keep the contract and ``post_merge`` counts are the
keys' arithmetic; a batch that fails while Delta writes it emits
``merge_failed`` and leaves the table's version and rows as they were.
One example does all three merges: each Spark action costs about a second.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _world import SPARK_SETTINGS, fresh_world, table_rows
from kindling.entity_manager import DataEntityManager
from pytest_kindling_signals.strategies import EntitySchema, entity_schemas, rows

ENTITY = "silver.items"


@st.composite
def merge_cases(draw: st.DrawFn) -> tuple[EntitySchema, list, list, list, Any]:
    schema = draw(entity_schemas(max_columns=3))
    first, second = (draw(rows(schema, max_size=4, key_space=6)) for _ in range(2))
    poisoned = draw(rows(schema, min_size=1, max_size=3, key_space=6))
    return schema, first, second, poisoned, draw(st.sampled_from([r[0] for r in poisoned]))


@SPARK_SETTINGS
@given(case=merge_cases())
def test_post_merge_counts_are_the_keys_arithmetic_and_a_failed_merge_loses_nothing(
        spark: Any, signal_recorder: Any, case: Any) -> None:
    from pyspark.sql import functions as F

    schema, first, second, poisoned, poison_key = case
    with fresh_world():
        schema.declare(ENTITY, merge=True)
        manager = DataEntityManager()
        with signal_recorder.capture() as rec:
            r1 = manager.merge_to_entity(spark.createDataFrame(first, schema.struct_type()), ENTITY)
            r2 = manager.merge_to_entity(spark.createDataFrame(second, schema.struct_type()), ENTITY)
            # A real fault inside the Spark job that writes: one row raises when evaluated.
            key = F.col(schema.key)
            bad = spark.createDataFrame(poisoned, schema.struct_type()).withColumn(
                schema.key, F.when(key == F.lit(poison_key), F.raise_error(F.lit("poisoned row")))
                .otherwise(key))
            with pytest.raises(Exception, match="poisoned row"):
                manager.merge_to_entity(bad, ENTITY)
        rec.assert_contract()

        old, new = {r[0] for r in first}, {r[0] for r in second}
        merges = [r.payload for r in rec.of("entity.post_merge")]
        assert [(m["rows_inserted"], m["rows_updated"], m["rows_deleted"]) for m in merges] == [
            (len(first), 0, 0), (len(new - old), len(new & old), 0)]
        assert (r1.rows_inserted, r2.rows_inserted, r2.rows_updated) == (
            len(first), len(new - old), len(new & old))
        assert [m["source_row_count"] for m in rec.of("entity.pre_merge")] == [
            len(first), len(second), len(poisoned)]
        failed = rec.of("entity.merge_failed")
        assert len(failed) == 1 and "poisoned row" in failed[0]["error"]
        assert rec.names()[-1] == "entity.merge_failed"
        # Nothing lost: the failed merge left the version and the rows of the second one.
        assert manager.get_entity_version(ENTITY) == r2.version
        expected = {r[0]: r for r in first} | {r[0]: r for r in second}
        assert table_rows(spark, manager.table_path(ENTITY)) == sorted(expected.values(), key=repr)

"""Properties of DataPipesExecuter runs over generated pipe graphs, on local Spark.

For any acyclic graph of pipes (some copying, some filtering, some returning
None, some raising) over sources with overlapping keys, the run's signals
keep the contract, ``post_run.success_count`` is the number of ``post_pipe``,
each ``post_pipe.rows_processed`` and nested ``post_merge`` agree with the
keys the pipe wrote, and every table holds exactly the keys the run should
have left (so a raising pipe lost nothing and wrote nothing).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from _world import SPARK_SETTINGS, fresh_world
from kindling.data_pipes import DataPipesExecuter, PipeExecutionError, RunResult
from kindling.entity_manager import DataEntityManager
from pytest_kindling_signals.strategies import EntitySchema, PipeGraph, PipeSpec, pipe_graphs

# Found by this test: a pipe whose output is empty appended nothing, Delta made no
# commit, and the entity manager failed the append ("commit is not in the table history").
EMPTY_APPEND = PipeGraph(EntitySchema((("id", "INT"),)), {"src0": [(1,)]}, {"out0": False},
                         (PipeSpec("p0", ("src0",), "out0", "evens"),))


@SPARK_SETTINGS
@example(graph=EMPTY_APPEND, continue_on_error=False)
@given(graph=pipe_graphs(max_sources=2, max_outputs=2, max_pipes=3, max_rows=3),
       continue_on_error=st.booleans())
def test_run_signals_agree_with_the_data(spark: Any, signal_recorder: Any, graph: PipeGraph,
                                         continue_on_error: bool) -> None:
    with fresh_world():
        run_ids = graph.declare()
        manager = DataEntityManager()
        graph.seed(spark)
        expected = graph.expected(continue_on_error=continue_on_error)
        executer = DataPipesExecuter(entity_manager=manager)
        with signal_recorder.capture() as rec:
            if expected.failed_pipe is not None:
                with pytest.raises(PipeExecutionError) as info:
                    executer.run_datapipes(run_ids, continue_on_error=continue_on_error)
                result: RunResult = info.value.result
            else:
                result = executer.run_datapipes(run_ids, continue_on_error=continue_on_error)
        rec.assert_contract()

        assert [o.status for o in result.outcomes] == expected.statuses
        post_pipes = rec.of("datapipes.post_pipe")
        assert {p["pipe_id"]: p["rows_processed"] for p in post_pipes} == expected.rows_processed
        assert len(rec.of("datapipes.pipe_failed")) == expected.statuses.count("failed")
        assert len(rec.of("datapipes.pipe_skipped")) == expected.statuses.count("skipped")
        if expected.failed_pipe is None:
            run = rec.last("datapipes.post_run")
            assert run["success_count"] == len(post_pipes) == expected.success_count
            assert run["failed_count"] == expected.statuses.count("failed")
        else:
            run = rec.last("datapipes.run_failed")
            assert run["failed_pipe"] == expected.failed_pipe
            assert run["success_count"] == len(post_pipes) == expected.success_count

        # Each pipe's merge is nested in it: its counts are the pipe's keys' arithmetic.
        pipe_of = {r["operation_id"]: r["pipe_id"] for r in rec.of("datapipes.pre_pipe")}
        merges = {pipe_of[m["parent_operation_id"]]: (m["rows_inserted"], m["rows_updated"])
                  for m in rec.of("entity.post_merge")}
        assert merges == expected.merges

        for entity, keys in expected.tables.items():
            if keys is None:
                assert manager.get_entity_version(entity) is None, f"{entity} should have no table"
            else:
                got = Counter(r[0] for r in manager.read_entity(entity).select(graph.schema.key).collect())
                assert got == keys, entity

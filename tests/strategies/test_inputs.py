"""Input strategies without Spark: schemas the entity layer accepts, rows that fit, graphs, files."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import kindling.registries
from kindling.data_pipes import get_pipe_definition
from pytest_kindling_signals.strategies import (
    EntitySchema,
    FileBatch,
    PipeGraph,
    PipeSpec,
    entity_schemas,
    file_batches,
    pipe_graphs,
    rows,
)

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out

SHRINK = settings(database=None, max_examples=500, phases=[Phase.generate, Phase.shrink])


@pytest.fixture(autouse=True)
def _clean_registries():
    # Examples declare entities and pipes; each example starts from the test's registries.
    saved = kindling.registries.snapshot()
    yield
    kindling.registries.restore(saved)


@settings(database=None)
@given(entity_schemas())
def test_schemas_declare_as_entities(schema: EntitySchema) -> None:
    definition = schema.declare("bronze.generated")
    assert definition.column_names == schema.names
    assert definition.merge_columns == ("id",)
    assert len({n.lower() for n in schema.names}) == len(schema.names)


@settings(database=None)
@given(entity_schemas().flatmap(lambda s: st.tuples(st.just(s), rows(s, key_space=5))))
def test_rows_fit_and_keys_are_unique(case: tuple[EntitySchema, list]) -> None:
    schema, generated = case
    assert len({r[0] for r in generated}) == len(generated) <= 5
    for row in generated:
        assert len(row) == len(schema.columns) and row[0] is not None


def test_schemas_shrink_to_one_int_key() -> None:
    assert find(entity_schemas(), lambda s: True, settings=SHRINK).ddl == "id INT"


@settings(database=None)
@given(pipe_graphs(max_pipes=5))
def test_pipe_graphs_are_acyclic_and_in_run_order(graph: PipeGraph) -> None:
    written: set[str] = set()
    outputs = list(graph.outputs)
    for pipe in graph.pipes:
        # a pipe reads sources and outputs strictly before its own output: no cycle
        for entity in pipe.inputs:
            assert entity in graph.sources or outputs.index(entity) < outputs.index(pipe.output)
        written.add(pipe.output)
    ids = graph.declare()
    assert ids == [p.pipeid for p in graph.pipes]
    assert get_pipe_definition(ids[0]).input_entity_ids == graph.pipes[0].inputs


def test_expected_run_of_a_known_graph() -> None:
    schema = EntitySchema((("id", "INT"),))
    graph = PipeGraph(schema, {"src0": [(1,), (2,), (3,)], "src1": []}, {"out0": True, "out1": False},
                      (PipeSpec("p0", ("src0",), "out0", "copy"),
                       PipeSpec("p1", ("src1",), "out0", "copy"),      # empty input: skipped
                       PipeSpec("p2", ("src0",), "out0", "evens"),     # 2 again: an update
                       PipeSpec("p3", ("out0",), "out1", "raise"),
                       PipeSpec("p4", ("out0", "src0"), "out1", "copy")))
    stop = graph.expected(continue_on_error=False)
    assert (stop.statuses, stop.failed_pipe) == (["succeeded", "skipped", "succeeded", "failed"], "p3")
    go_on = graph.expected(continue_on_error=True)
    assert go_on.statuses == ["succeeded", "skipped", "succeeded", "failed", "succeeded"]
    assert go_on.merges == {"p0": (3, 0), "p2": (0, 1)}
    assert go_on.rows_processed == {"p0": 3, "p2": 1, "p4": 3}
    assert go_on.tables["out0"] == Counter({1: 1, 2: 1, 3: 1})
    assert go_on.tables["out1"] == Counter({1: 1, 2: 1, 3: 1})


@settings(database=None)
@given(file_batches(filetypes=["csv", "json"]))
def test_csv_and_json_batches_write_their_rows(batch: FileBatch) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paths = batch.write(tmp)
        assert [p.name for p in paths] == [f.name for f in batch.files]
        for spec, path in zip(batch.files, paths):
            text = path.read_text()
            if batch.filetype == "json":
                lines = text.splitlines()
                parsed = [json.loads(line) for line in lines[: len(spec.rows)]]
                assert [r[batch.schema.key] for r in parsed] == [r[0] for r in spec.rows]
                if spec.malformed:
                    with pytest.raises(json.JSONDecodeError):
                        json.loads(lines[-1])
            else:
                records = list(csv.reader(text.splitlines()))
                assert records[0] == list(batch.schema.names)
                keys = [r[0] for r in records[1:]]
                assert keys == [str(r[0]) for r in spec.rows] + (["not-a-number"] if spec.malformed else [])
    assert len({r[0] for r in batch.good_rows}) == len(batch.good_rows)


def test_a_malformed_parquet_file_is_written_without_spark(tmp_path: Path) -> None:
    batch = find(file_batches(filetypes=["parquet"]), lambda b: all(f.malformed for f in b.files),
                 settings=SHRINK)
    (path,) = batch.write(tmp_path)
    assert not path.read_bytes().endswith(b"PAR1")  # a Parquet file ends with its magic bytes


def test_file_batches_shrink_to_one_well_formed_csv() -> None:
    batch = find(file_batches(), lambda b: True, settings=SHRINK)
    assert (batch.filetype, [(f.name, f.rows, f.malformed) for f in batch.files]) == (
        "csv", [("f0.csv", (), None)])

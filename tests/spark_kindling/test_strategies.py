"""The plugin's provider-input strategies drive spark-kindling's own registries and tables.

``EntitySchema.declare``, ``PipeGraph.declare`` and ``PipeGraph.seed`` go through
the ``Framework`` interface, so the same Hypothesis strategies that test this
repository's providers declare spark-kindling entities and pipes, and seed their
Delta tables where spark-kindling's ``EntityPathLocator`` puts them.
"""

import itertools
from dataclasses import replace

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pytest_kindling_signals.frameworks import find_framework
from pytest_kindling_signals.strategies import EntitySchema, PipeGraph, PipeSpec, entity_schemas, pipe_graphs, rows

ONE_COPY = PipeGraph(EntitySchema((("id", "INT"), ("name", "STRING"))), {"src0": [(1, "a"), (2, None)]},
                     {"out0": True}, (PipeSpec("p0", ("src0",), "out0", "copy"),))
_examples = itertools.count()


def apart(graph):
    """The graph with names of its own: the examples of one test share spark-kindling's table root."""
    tag = f"x{next(_examples)}_"
    name = {e: tag + e for e in [*graph.sources, *graph.outputs]}
    return replace(graph, sources={name[e]: r for e, r in graph.sources.items()},
                   outputs={name[e]: m for e, m in graph.outputs.items()},
                   pipes=tuple(PipeSpec(tag + p.pipeid, tuple(name[i] for i in p.inputs), name[p.output],
                                        p.behaviour) for p in graph.pipes))

EXAMPLES = settings(max_examples=3, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_the_strategies_use_the_spark_kindling_framework():
    assert find_framework().name == "spark-kindling"


@EXAMPLES
@given(data=st.data())
def test_a_drawn_schema_declares_a_spark_kindling_entity(spark_kindling, data):
    schema = data.draw(entity_schemas(max_columns=3))
    entity_id = f"bronze.drawn{next(_examples)}"
    definition = schema.declare(entity_id)

    assert spark_kindling.entity(entity_id) is definition
    assert [f.name for f in definition.schema.fields] == list(schema.names)
    assert list(definition.merge_columns) == [schema.key]

    batch = data.draw(rows(schema, min_size=1, max_size=3))
    spark_kindling.write(entity_id, spark_kindling.spark.createDataFrame(batch, schema.struct_type()))
    assert sorted(r[0] for r in spark_kindling.read(entity_id).collect()) == sorted(r[0] for r in batch)


@EXAMPLES
@example(graph=ONE_COPY)
@given(graph=pipe_graphs(max_sources=1, max_outputs=1, max_pipes=1, max_rows=3, behaviours=["copy"]))
def test_a_drawn_pipe_graph_runs_on_spark_kindling(spark_kindling, signal_recorder, graph):
    graph = apart(graph)
    with signal_recorder.capture() as rec:
        run_ids = graph.declare()
        graph.seed(spark_kindling.spark)
        assert set(run_ids) <= set(spark_kindling.pipes.get_pipe_ids())
        for source, source_rows in graph.sources.items():
            seeded = spark_kindling.spark.read.format("delta").load(str(spark_kindling.table_path(source)))
            assert sorted(r[0] for r in seeded.collect()) == sorted(r[0] for r in source_rows)
        if all(graph.sources.values()):
            spark_kindling.run(*run_ids)
            rec.assert_emitted("datapipes.after_run")
            expected = graph.expected(continue_on_error=False).tables
            for output in graph.outputs:
                got = sorted(r[0] for r in spark_kindling.read(output).collect())
                assert got == sorted(expected[output] or [])

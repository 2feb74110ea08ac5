"""Each test has spark-kindling to itself, though it initialises once per process.

The reset runs around the tests that take a fixture (or marker) of the plugin, once per
test, and reuses its snapshot while nothing moves between tests; a test that takes none
is left alone (the last three tests count that).

The two ``test_*_declares_shared_ids`` tests declare the same entity and pipe
ids with different schemas, tables, handlers and config; whichever runs
second must see none of the first's. spark-kindling's own ``kindling.reset()``
inside a test is undone too.
"""

import pytest
from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

import kindling
from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes
from kindling.signaling import DataSignals, SignalProvider
from kindling.spark_config import ConfigService
from pytest_kindling_signals.frameworks.spark_kindling.adapter import SparkKindlingReset
from pytest_kindling_signals.names import UnknownNameError

MARKER_KEY = "isolation_test.marker"


def declare(schema, transform):
    for entity_id in ("shared.source", "shared.target"):
        DataEntities.entity(entityid=entity_id, name=entity_id.replace(".", "_"), merge_columns=["id"],
                            partition_columns=[], tags={"provider_type": "delta"}, schema=schema)
    DataPipes.pipe(pipeid="shared.copy", name="copy", tags={}, input_entity_ids=["shared.source"],
                   output_entity_id="shared.target", output_type="table")(transform)


def nothing_of_another_test(spark_kindling):
    assert "shared.source" not in spark_kindling.entities.get_entity_ids()
    assert "shared.copy" not in spark_kindling.pipes.get_pipe_ids()
    assert spark_kindling.get(ConfigService).get(MARKER_KEY) is None
    assert DataSignals._handlers == []
    signal = spark_kindling.get(SignalProvider).create_signal("persist.before_persist")
    assert not signal.has_receivers_for(object())   # no handler of another test is connected
    assert not list(spark_kindling.table_root.glob("*"))


def check_own(spark_kindling, marker, expected_columns, rows):
    spark_kindling.get(ConfigService).set(MARKER_KEY, marker)
    spark_kindling.write("shared.source", rows)
    spark_kindling.run("shared.copy")
    target = spark_kindling.read("shared.target")
    assert target.columns == expected_columns
    assert spark_kindling.table_path("shared.target").is_relative_to(spark_kindling.table_root)
    assert target.count() == len(rows)


def test_first_declares_shared_ids(spark_kindling):
    nothing_of_another_test(spark_kindling)
    seen = []
    declare(StructType([StructField("id", IntegerType()), StructField("name", StringType())]),
            lambda shared_source: shared_source)
    DataSignals.handler("persist.before_persist")(lambda sender, **kw: seen.append("first"))
    check_own(spark_kindling, "first", ["id", "name"], [(1, "a"), (2, "b")])
    assert seen == ["first"]


def test_kindling_reset_inside_a_test_is_undone(spark_kindling):
    kindling.reset()
    with pytest.raises(kindling.KindlingNotInitializedError):
        DataEntities.entity(entityid="x.y", name="x_y", merge_columns=[], partition_columns=[],
                            tags={}, schema=StructType([]))


def test_second_declares_shared_ids(spark_kindling):
    nothing_of_another_test(spark_kindling)
    seen = []
    declare(StructType([StructField("id", LongType()), StructField("score", LongType()),
                        StructField("tag", StringType())]),
            lambda shared_source: shared_source.limit(1))
    DataSignals.handler("persist.before_persist")(lambda sender, **kw: seen.append("second"))
    spark_kindling.get(ConfigService).set(MARKER_KEY, "second")
    spark_kindling.write("shared.source", [(7, 70, "x"), (8, 80, "y")])
    spark_kindling.run("shared.copy")
    assert spark_kindling.read("shared.target").columns == ["id", "score", "tag"]
    assert spark_kindling.read("shared.target").count() == 1
    assert seen == ["second"]


def test_unknown_ids_are_named_with_the_registered_ones(spark_kindling):
    declare(StructType([StructField("id", IntegerType())]), lambda shared_source: shared_source)
    with pytest.raises(UnknownNameError, match=r"Unknown spark-kindling pipe id 'shared.cpy' "
                                               r"\(did you mean 'shared.copy'\?\)"):
        spark_kindling.run("shared.cpy")
    with pytest.raises(UnknownNameError, match="Declared entities: 'shared.source', 'shared.target'"):
        spark_kindling.read("shared.sauce")


# -- what the reset costs: nothing for a test without the plugin's fixtures, once for the others ---

seen = {}


def test_a_first_test_with_the_fixture_is_reset(spark_kindling):
    seen["resets"] = SparkKindlingReset.resets
    seen["captures"] = SparkKindlingReset.captures


def test_a_test_without_plugin_fixtures_is_left_alone():
    # the previous test's reset ran at its teardown; this one runs none of its own
    assert SparkKindlingReset.resets == seen["resets"] + 1
    seen["resets"] += 1


def test_the_next_test_reuses_the_snapshot_and_is_reset_once(spark_kindling, signal_recorder):
    # nothing moved between the tests: no new snapshot; one reset so far for the two tests before
    assert SparkKindlingReset.resets == seen["resets"]
    assert SparkKindlingReset.captures == seen["captures"]

"""Kindling's own pytest fixtures: the shared Spark session and a lakehouse per test.

Registered by the ``kindling-signals`` distribution's ``pytest11`` entry point
(the signal fixtures, the marker, the report and the Spark engine options come
from the ``pytest-kindling-signals`` plugin, which needs no ``kindling``)::

    def test_merge(spark, lakehouse, signal_recorder):
        ...

Tests that ask for ``spark`` are marked ``spark`` by the plugin, so
``-m "not spark"`` runs the ones that start no JVM. Where the session runs
(local, a master URL, Spark Connect, a throwaway cluster) is the plugin's
``--kindling-spark-*`` options' choice (:mod:`pytest_kindling_signals.spark.plugin`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kindling.lakehouse import use_lakehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["lakehouse", "spark"]


@pytest.fixture(scope="session")
def spark(kindling_spark_engine: Any) -> Iterator[SparkSession]:
    """The Delta-enabled Spark session (local unless configured), started once for the whole test session."""
    from kindling.spark_session import get_or_create_spark_session, stop_spark_session

    session = get_or_create_spark_session()
    yield session
    stop_spark_session()


@pytest.fixture
def lakehouse(tmp_path: Path) -> Iterator[Path]:
    """A fresh lakehouse folder for this test, where Kindling keeps its Delta tables."""
    path = tmp_path / "lakehouse"
    with use_lakehouse(path):
        yield path

"""Kindling's own pytest fixtures: the shared local Spark session and a lakehouse per test.

Registered by the ``kindling-signals`` distribution's ``pytest11`` entry point
(the signal fixtures, the marker and the report come from the
``pytest-kindling-signals`` plugin, which needs no ``kindling``)::

    def test_merge(spark, lakehouse, signal_recorder):
        ...

Tests that ask for ``spark`` are marked ``spark`` by the plugin, so
``-m "not spark"`` runs the ones that start no JVM.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kindling.lakehouse import use_lakehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["lakehouse", "spark"]


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The Delta-enabled local Spark session, started once for the whole test session."""
    from kindling.spark_session import get_or_create_spark_session, stop_spark_session

    session = get_or_create_spark_session()
    yield session
    stop_spark_session()


@pytest.fixture
def lakehouse(tmp_path: Path) -> Iterator[Path]:
    """A fresh lakehouse folder for this test, where Kindling keeps its Delta tables."""
    with use_lakehouse(tmp_path / "lakehouse") as path:
        yield path

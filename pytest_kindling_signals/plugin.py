"""The pytest plugin: fixtures that hand each test a provider, a recorder and Spark.

Hooks stay thin here; recording and checking live in plain classes
(:mod:`.recorder`, :mod:`.contract`) that don't import pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import kindling.registries
from kindling.lakehouse import use_lakehouse
from kindling.signal_catalog import SignalCatalog, load_catalog
from kindling.signaling import BlinkerSignalProvider, use_default_provider
from pytest_kindling_signals.recorder import SignalRecorder

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SPARK_FIXTURES = frozenset({"spark", "lakehouse_spark"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "spark: the test uses the local Spark session (added automatically to tests "
        "that ask for the `spark` fixture); deselect with -m 'not spark'")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Mark what needs a JVM, so `-m "not spark"` runs the fast tests alone.
    for item in items:
        if SPARK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(autouse=True)
def _kindling_isolated_registries() -> Iterator[None]:
    """Each test sees the declarations made at import time, and none made by another test."""
    saved = kindling.registries.snapshot()
    try:
        yield
    finally:
        kindling.registries.restore(saved)


@pytest.fixture
def signal_catalog() -> SignalCatalog:
    """The built-in signal catalog."""
    return load_catalog()


@pytest.fixture
def signal_provider() -> Iterator[BlinkerSignalProvider]:
    """A fresh provider, installed as the framework default for the test."""
    provider = BlinkerSignalProvider(name="test")
    with use_default_provider(provider):
        yield provider


@pytest.fixture
def signal_recorder(signal_provider: BlinkerSignalProvider,
                    signal_catalog: SignalCatalog) -> Iterator[SignalRecorder]:
    """Records every emission through ``signal_provider`` during the test."""
    recorder = SignalRecorder(signal_provider, signal_catalog).start()
    try:
        yield recorder
    finally:
        recorder.stop()


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

"""Fixtures of the Spark engine's tests (no JVM)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pytest_kindling_signals.spark import (
    ENV_CLASS_SHARING,
    ENV_DRIVER_JAVA_OPTIONS,
    ENV_DRIVER_MEMORY,
    ENV_MASTER,
    ENV_REMOTE,
    ENV_TEMP_DIR,
)


@pytest.fixture
def clean_env() -> Iterator[None]:
    """None of the engine's variables set, the class archive off, and the environment as it was after
    the test (``prepare_sessions`` exports into ``os.environ``, which monkeypatch does not track)."""
    saved = dict(os.environ)
    for key in (ENV_DRIVER_MEMORY, ENV_DRIVER_JAVA_OPTIONS, ENV_TEMP_DIR, "SPARK_LOCAL_DIRS", "KINDLING_SPARK_EXPORTED",
                ENV_MASTER, ENV_REMOTE):
        os.environ.pop(key, None)
    os.environ[ENV_CLASS_SHARING] = "0"  # the class archive's tests (test_class_sharing.py) turn it on
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)

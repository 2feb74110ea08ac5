"""Frameworks: the ``Framework`` base a Kindling implements for the plugin, its discovery, the emission record.

This repository's framework registers through the ``pytest_kindling_signals.frameworks``
entry point; spark-kindling's adapter is built in (``frameworks/spark_kindling/``),
with the pytest fixtures its users take.
"""

from __future__ import annotations

from pytest_kindling_signals.frameworks.base import (
    Framework,
    FrameworkError,
    TapSource,
    default_catalog,
    find_framework,
    framework_names,
)
from pytest_kindling_signals.frameworks.emission import Emission

__all__ = ["Emission", "Framework", "FrameworkError", "TapSource", "default_catalog", "find_framework",
           "framework_names"]

"""Kindling: data pipelines on Apache Spark and Delta Lake, with signals for every operation.

The public surface lives in submodules: :mod:`kindling.signaling` (providers,
the emitter), :mod:`kindling.signal_catalog` (the contract),
:mod:`kindling.spark_session` (the local Spark + Delta session). Importing
``kindling`` itself starts no JVM.
"""

from __future__ import annotations

from kindling.registries import reset

__version__ = "0.1.0"

__all__ = ["__version__", "reset"]

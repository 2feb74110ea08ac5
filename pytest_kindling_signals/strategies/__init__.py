"""Hypothesis strategies for Kindling: catalog payloads, lifecycles, and inputs that drive providers.

Everything is derived from the signal catalog (the built-in one, or yours via
``catalog=``), so a signal or field added to the catalog is generated at
once. Strategies take their first argument positionally and the rest by
keyword, check their arguments when called (``InvalidArgument`` naming the
value and the fix), and shrink to small, readable examples::

    from hypothesis import given
    from pytest_kindling_signals.strategies import invalid_payloads, payloads

    @given(payloads("entity.post_merge"))
    def test_observer_handles_any_merge(payload):
        on_merge("entity.post_merge", **payload)

    @given(invalid_payloads("entity.post_merge"))
    def test_validator_names_the_rule(bad):
        assert catalog.validate(bad.signal, bad.payload)

Needs ``hypothesis``: ``pip install 'pytest-kindling-signals[hypothesis]'`` (the plugin's
distribution: never the framework's, which would replace a spark-kindling install). See
``docs/strategies.md``.
"""

from __future__ import annotations

try:
    import hypothesis as _hypothesis  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without hypothesis installed
    raise ImportError(
        "pytest_kindling_signals.strategies needs Hypothesis: pip install "
        "'pytest-kindling-signals[hypothesis]' (or pip install hypothesis)") from exc

from pytest_kindling_signals.strategies._inputs import (
    COLUMN_TYPES,
    EntitySchema,
    dataframes,
    entity_schemas,
    rows,
)
from pytest_kindling_signals.strategies._files import FileBatch, FileSpec, file_batches
from pytest_kindling_signals.strategies._lifecycles import SignalEvent, lifecycles
from pytest_kindling_signals.strategies._payloads import (
    RULES,
    InvalidPayload,
    invalid_payloads,
    json_values,
    payloads,
    signal_names,
)
from pytest_kindling_signals.strategies._pipes import PipeGraph, PipeSpec, pipe_graphs

__all__ = [
    "COLUMN_TYPES",
    "EntitySchema",
    "FileBatch",
    "FileSpec",
    "InvalidPayload",
    "PipeGraph",
    "PipeSpec",
    "RULES",
    "SignalEvent",
    "dataframes",
    "entity_schemas",
    "file_batches",
    "invalid_payloads",
    "json_values",
    "lifecycles",
    "payloads",
    "pipe_graphs",
    "rows",
    "signal_names",
]

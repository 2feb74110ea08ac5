"""pytest-kindling-signals: record, assert and gate Kindling's signals in tests.

Installing the distribution registers the plugin (``pytest11`` entry point):
the fixtures ``signal_provider``, ``signal_recorder``, ``signal_catalog``,
``spark`` and ``lakehouse`` and the ``kindling_signals`` marker are then
available with no conftest::

    def test_merge(signal_recorder):
        merge_customers()
        signal_recorder.assert_emitted("entity.post_merge", rows_inserted=3)

The recorder also works without pytest: ``with SignalRecorder(provider) as rec:``.
"""

from __future__ import annotations

from pytest_kindling_signals.catalog import UnknownSignalError
from pytest_kindling_signals.record import SignalAssertions
from pytest_kindling_signals.catalog import ContractFinding, check_contract
from pytest_kindling_signals.record import SignalRecord, SignalRecorder, UnknownSignalPatternError
from pytest_kindling_signals.catalog import KnownFinding
from pytest_kindling_signals.record import ANY, Truncated, any_of, at_least, at_most, emitted, matching, satisfies

__all__ = [
    "ANY",
    "KnownFinding",
    "Truncated",
    "any_of",
    "at_least",
    "at_most",
    "emitted",
    "matching",
    "satisfies",
    "ContractFinding",
    "SignalAssertions",
    "SignalRecord",
    "SignalRecorder",
    "UnknownSignalError",
    "UnknownSignalPatternError",
    "check_contract",
]

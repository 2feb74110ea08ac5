"""pytest-kindling-signals: record, assert and gate Kindling's signals in tests.

Installing the distribution registers the plugin (``pytest11`` entry point):
the fixtures ``signal_provider``, ``signal_recorder``, ``signal_catalog``,
``spark`` and ``lakehouse`` are then available with no conftest.
"""

from __future__ import annotations

from pytest_kindling_signals.contract import ContractFinding, check_contract
from pytest_kindling_signals.recorder import SignalRecord, SignalRecorder

__all__ = ["ContractFinding", "SignalRecord", "SignalRecorder", "check_contract"]

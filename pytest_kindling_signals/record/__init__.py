"""Recording: the ``SignalRecorder`` a test holds, its records and assertions, and their failure text."""

from __future__ import annotations

from pytest_kindling_signals.record.assertions import Failure, SignalAssertions, render_failures
from pytest_kindling_signals.record.recorder import SignalRecord, SignalRecorder, UnknownSignalPatternError

__all__ = ["Failure", "SignalAssertions", "SignalRecord", "SignalRecorder", "UnknownSignalPatternError",
           "render_failures"]

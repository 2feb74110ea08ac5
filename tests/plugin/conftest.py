"""Fixtures of the plugin's own tests (this folder only)."""

from __future__ import annotations

from pathlib import Path

# pytester's in-process runs put sys.modules back as they found it, and
# Hypothesis's pytest plugin imports the hypothesis package at the end of every
# run: imported once here, it stays, instead of costing seconds per run.
import hypothesis.internal.observability  # noqa: F401
import pytest

import demo_merger
from kindling.signaling import BlinkerSignalProvider
from pytest_kindling_signals import SignalRecorder


@pytest.fixture
def user_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder holding the user's provider (``demo_merger.Merger``) and no conftest."""
    pytester.makepyfile(demo_merger=Path(demo_merger.__file__).read_text())
    return pytester


@pytest.fixture
def provider() -> BlinkerSignalProvider:
    """A provider of the test's own (not the plugin's ``signal_provider``)."""
    return BlinkerSignalProvider(name="unit")


@pytest.fixture
def rec(provider: BlinkerSignalProvider):
    """A plain ``SignalRecorder`` on ``provider``, recording for the whole test."""
    with SignalRecorder(provider) as recorder:
        yield recorder

"""Fixtures of the plugin's own tests (this folder only)."""

from __future__ import annotations

from pathlib import Path

# pytester's in-process runs put sys.modules back as they found it, and
# Hypothesis's pytest plugin imports the hypothesis package at the end of every
# run: imported once here, it stays, instead of costing seconds per run.
import hypothesis.internal.observability  # noqa: F401
import pytest

import demo_merger


@pytest.fixture
def user_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder holding the user's provider (``demo_merger.Merger``) and no conftest."""
    pytester.makepyfile(demo_merger=Path(demo_merger.__file__).read_text())
    return pytester

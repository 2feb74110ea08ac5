"""Hypothesis profiles for Kindling's property tests: a fast default and a thorough ``ci`` one.

Registered through the ``kindling_signals_hypothesis`` pytest11 entry point.
Pick one with ``--kindling-hypothesis-profile=ci`` or
``KINDLING_HYPOTHESIS_PROFILE=ci`` (the option wins)::

    pytest                                        # kindling-fast, unless you loaded a profile
    pytest --kindling-hypothesis-profile=ci       # kindling-ci
    KINDLING_HYPOTHESIS_PROFILE=off pytest        # leave Hypothesis' own settings alone

A profile you load yourself (``--hypothesis-profile``, or
``settings.load_profile`` in a conftest) is never replaced by the implicit
default; only an explicit choice here replaces a conftest's, and asking for
both command-line options at once is an error. Without Hypothesis installed
the plugin does nothing.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

__all__ = ["ENV_VAR", "OPTION", "PROFILES", "choose_profile", "register_profiles"]

OPTION = "--kindling-hypothesis-profile"
ENV_VAR = "KINDLING_HYPOTHESIS_PROFILE"
#: Choice -> the Hypothesis profile name registered for it ("off" loads nothing).
PROFILES = {"fast": "kindling-fast", "ci": "kindling-ci", "off": None}
DEFAULT = "fast"
#: Profiles Hypothesis picks by itself: "default", or "ci" when it sees a CI
#: environment (CI=true ...). Ours replace them; a CI run keeps the "ci"
#: profile's determinism (derandomize, no example database) underneath.
IMPLICIT = ("default", "ci")


def register_profiles(parent: Any = None) -> None:
    """Register ``kindling-fast`` and ``kindling-ci`` with Hypothesis (on top of ``parent``'s settings)."""
    from hypothesis import settings

    # No deadline in either: one Spark action can take a second on a busy machine.
    settings.register_profile("kindling-fast", parent=parent, max_examples=20, deadline=None)
    settings.register_profile("kindling-ci", parent=parent, max_examples=200, deadline=None,
                              print_blob=True)


def choose_profile(option: str | None, env: str | None, hypothesis_option: str | None,
                   current: str) -> str | None:
    """The profile to load (``None``: load nothing), or ``ValueError`` naming the bad choice.

    ``option``/``env`` are our command-line option and environment variable,
    ``hypothesis_option`` Hypothesis' own ``--hypothesis-profile``, ``current``
    the profile loaded when pytest configures.
    """
    for source, value in ((OPTION, option), (ENV_VAR, env)):
        if value is not None and value not in PROFILES:
            raise ValueError(f"{source}={value!r} is not a Kindling profile; use one of "
                             f"{', '.join(map(repr, PROFILES))}")
    explicit = option if option is not None else env
    if hypothesis_option:
        if option is not None:
            raise ValueError(f"--hypothesis-profile={hypothesis_option} and {OPTION}={option} both "
                             f"choose a Hypothesis profile; pass one of them")
        return None  # the user's own profile, named on the command line
    if explicit is not None:
        return PROFILES[explicit]
    if current not in IMPLICIT:
        return None  # loaded by the user's conftest: theirs
    return PROFILES[DEFAULT]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kindling-signals")
    group.addoption(OPTION, dest="kindling_hypothesis_profile", choices=list(PROFILES), default=None,
                    help=f"Hypothesis profile for property tests: fast (the default: 20 examples), ci "
                         f"(200 examples) or off (leave Hypothesis alone). Env: {ENV_VAR}.")


@pytest.hookimpl(trylast=True)  # after Hypothesis' own plugin has loaded --hypothesis-profile
def pytest_configure(config: pytest.Config) -> None:
    option = config.getoption("kindling_hypothesis_profile", None)
    env = os.environ.get(ENV_VAR) or None
    try:
        from hypothesis import settings
    except ImportError:
        if option is not None or env is not None:
            config.issue_config_time_warning(pytest.PytestConfigWarning(
                f"Kindling Hypothesis profile {option or env!r} ignored: hypothesis is not installed "
                f"(pip install 'kindling-signals[hypothesis]')"), stacklevel=2)
        return
    current = settings.get_current_profile_name()
    register_profiles(settings.get_profile(current) if current == "ci" else None)
    hypothesis_option: Any = config.getoption("hypothesis_profile", None)
    try:
        profile = choose_profile(option, env, hypothesis_option, current)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if profile is not None:
        settings.load_profile(profile)

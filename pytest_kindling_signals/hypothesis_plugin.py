"""Hypothesis profiles for Kindling's property tests, loaded only where asked for.

Registered through the ``kindling_signals_hypothesis`` pytest11 entry point.
Installing the plugin changes no Hypothesis setting of your project: it
registers two profiles, ``kindling-fast`` (20 examples, no deadline) and
``kindling-ci`` (200 examples, no deadline), and loads one only when you ask::

    pytest --kindling-hypothesis-profile=fast     # this run
    KINDLING_HYPOTHESIS_PROFILE=ci pytest         # this environment

    [pytest]
    kindling_hypothesis_profile = fast            # this project

The option wins over the environment variable, which wins over the ini key;
``off`` (or nothing) loads none. The ini key, a project default, does not
replace a profile your conftest loaded; the option and the variable, asked
for one run, do. Hypothesis' own ``--hypothesis-profile`` wins over the
variable and the ini key, and naming it together with
``--kindling-hypothesis-profile`` is an error. Without Hypothesis installed
the plugin does nothing.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

__all__ = ["ENV_VAR", "INI", "INSTALL_HINT", "OPTION", "PROFILES", "choose_profile", "register_profiles"]

OPTION = "--kindling-hypothesis-profile"
ENV_VAR = "KINDLING_HYPOTHESIS_PROFILE"
INI = "kindling_hypothesis_profile"
#: Choice -> the Hypothesis profile name registered for it ("off" loads nothing).
PROFILES = {"fast": "kindling-fast", "ci": "kindling-ci", "off": None}
#: Profiles Hypothesis picks by itself: "default", or "ci" when it sees a CI
#: environment (CI=true ...). Ours replace them when asked for; a CI run keeps
#: the "ci" profile's determinism (derandomize, no example database) underneath.
IMPLICIT = ("default", "ci")
#: The plugin's own distribution, never the framework's: spark-kindling users
#: have a `kindling` of their own, which installing ours would replace.
INSTALL_HINT = "pip install 'pytest-kindling-signals[hypothesis]'"


def register_profiles(parent: Any = None) -> None:
    """Register ``kindling-fast`` and ``kindling-ci`` with Hypothesis (on top of ``parent``'s settings)."""
    from hypothesis import settings

    # No deadline in either: one Spark action can take a second on a busy machine.
    settings.register_profile("kindling-fast", parent=parent, max_examples=20, deadline=None)
    settings.register_profile("kindling-ci", parent=parent, max_examples=200, deadline=None,
                              print_blob=True)


def choose_profile(option: str | None, env: str | None, ini: str | None, hypothesis_option: str | None,
                   current: str) -> str | None:
    """The profile to load (``None``: load nothing), or ``ValueError`` naming the bad choice.

    ``option``/``env``/``ini`` are our command-line option, environment
    variable and ini key (empty: not given), ``hypothesis_option``
    Hypothesis' own ``--hypothesis-profile``, ``current`` the profile loaded
    when pytest configures.
    """
    for source, value in ((OPTION, option), (ENV_VAR, env), (f"ini option {INI}", ini)):
        if value is not None and value not in PROFILES:
            raise ValueError(f"{source}={value!r} is not a Kindling profile; use one of "
                             f"{', '.join(map(repr, PROFILES))}")
    if hypothesis_option:
        if option is not None:
            raise ValueError(f"--hypothesis-profile={hypothesis_option} and {OPTION}={option} both "
                             f"choose a Hypothesis profile; pass one of them")
        return None  # the user's own profile, named on the command line
    if option is not None:
        return PROFILES[option]
    if env is not None:
        return PROFILES[env]
    if ini is not None and current in IMPLICIT:
        return PROFILES[ini]
    return None  # nothing asked for: Hypothesis' settings stay the project's


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kindling-signals")
    group.addoption(OPTION, dest=INI, choices=list(PROFILES), default=None,
                    help=f"Load a Kindling Hypothesis profile: fast (20 examples), ci (200 examples) or "
                         f"off. Nothing is loaded unless asked for. Env: {ENV_VAR}; ini: {INI}.")
    parser.addini(INI, "Kindling Hypothesis profile for this project: fast, ci or off "
                       f"({OPTION}); empty: leave Hypothesis alone.", default="")


@pytest.hookimpl(trylast=True)  # after Hypothesis' own plugin has loaded --hypothesis-profile
def pytest_configure(config: pytest.Config) -> None:
    option = config.getoption(INI, None)
    env = os.environ.get(ENV_VAR) or None
    ini = _ini(config)
    try:
        from hypothesis import settings
    except ImportError:
        asked = option or env or ini
        if asked is not None and asked != "off":
            config.issue_config_time_warning(pytest.PytestConfigWarning(
                f"Kindling Hypothesis profile {asked!r} ignored: hypothesis is not installed "
                f"({INSTALL_HINT})"), stacklevel=2)
        return
    current = settings.get_current_profile_name()
    register_profiles(settings.get_profile(current) if current == "ci" else None)
    hypothesis_option: Any = config.getoption("hypothesis_profile", None)
    try:
        profile = choose_profile(option, env, ini, hypothesis_option, current)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if profile is not None:
        settings.load_profile(profile)


def _ini(config: pytest.Config) -> str | None:
    try:
        value = str(config.getini(INI) or "").strip()
    except ValueError:  # the key is not registered (this plugin's options are not)
        return None
    return value or None

"""The Hypothesis profiles: a fast default, ci on request, never over a profile the user chose."""

from __future__ import annotations

import sys

import pytest

from pytest_kindling_signals.hypothesis_plugin import choose_profile

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


@pytest.mark.parametrize("option, env, theirs, current, expected", [
    (None, None, None, "default", "kindling-fast"),       # the fast default
    (None, None, None, "ci", "kindling-fast"),            # Hypothesis' own pick under CI=true
    ("ci", None, None, "default", "kindling-ci"),
    (None, "ci", None, "default", "kindling-ci"),         # the environment variable
    ("fast", "ci", None, "default", "kindling-fast"),     # the option wins over the env
    (None, None, None, "mine", None),                     # a profile their conftest loaded stays
    ("ci", None, None, "mine", "kindling-ci"),            # ... unless they ask for ours
    (None, None, "mine", "mine", None),                   # --hypothesis-profile is theirs
    (None, "ci", "mine", "mine", None),
    ("off", None, None, "default", None),
])
def test_choose_profile(option, env, theirs, current, expected) -> None:
    assert choose_profile(option, env, theirs, current) == expected


def test_bad_choices_name_the_value_and_the_fix() -> None:
    with pytest.raises(ValueError, match="^KINDLING_HYPOTHESIS_PROFILE='slow' is not a Kindling profile; "
                                         "use one of 'fast', 'ci', 'off'$"):
        choose_profile(None, "slow", None, "default")
    with pytest.raises(ValueError, match="both choose a Hypothesis profile; pass one of them"):
        choose_profile("ci", None, "mine", "default")


PROBE = """
    from hypothesis import settings

    def test_profile():
        print("PROFILE", settings.get_current_profile_name(), settings.default.max_examples)
"""


def _profile(pytester: pytest.Pytester, *args: str) -> str:
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", *args)
    line = next(ln for ln in result.outlines if "PROFILE" in ln)
    return line.split("PROFILE", 1)[1].strip()


def test_profiles_in_a_real_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KINDLING_HYPOTHESIS_PROFILE", raising=False)
    pytester.makepyfile(PROBE)
    assert _profile(pytester) == "kindling-fast 20"
    assert _profile(pytester, "--kindling-hypothesis-profile=ci") == "kindling-ci 200"
    monkeypatch.setenv("KINDLING_HYPOTHESIS_PROFILE", "ci")
    pytester.makeconftest("""
        from hypothesis import settings
        settings.register_profile("mine", max_examples=7)
    """)
    # Their own --hypothesis-profile wins over our environment variable.
    assert _profile(pytester, "--hypothesis-profile=mine") == "mine 7"


def test_without_hypothesis_the_plugin_does_nothing(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_kindling_signals import hypothesis_plugin

    class Config:
        warned: list = []

        def getoption(self, name, default=None):
            return "ci"

        def issue_config_time_warning(self, warning, stacklevel):
            self.warned.append(str(warning))

    monkeypatch.setitem(sys.modules, "hypothesis", None)  # import hypothesis -> ImportError
    config = Config()
    hypothesis_plugin.pytest_configure(config)  # type: ignore[arg-type]
    assert config.warned == ["Kindling Hypothesis profile 'ci' ignored: hypothesis is not installed "
                             "(pip install 'kindling-signals[hypothesis]')"]

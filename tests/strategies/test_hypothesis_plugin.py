"""The Hypothesis profiles: loaded only where asked for (option, environment, ini), never over the user's."""

from __future__ import annotations

import sys

import pytest

from pytest_kindling_signals.hypothesis_plugin import choose_profile

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


@pytest.mark.parametrize("option, env, ini, theirs, current, expected", [
    (None, None, None, None, "default", None),                # installed, not asked for: nothing
    (None, None, None, None, "ci", None),                     # Hypothesis' own pick under CI=true stays
    ("fast", None, None, None, "default", "kindling-fast"),
    ("ci", None, None, None, "default", "kindling-ci"),
    (None, "ci", None, None, "default", "kindling-ci"),       # the environment variable
    (None, None, "fast", None, "default", "kindling-fast"),   # the project's ini key
    (None, None, "fast", None, "ci", "kindling-fast"),
    ("fast", "ci", None, None, "default", "kindling-fast"),   # the option wins over the env
    (None, "ci", "fast", None, "default", "kindling-ci"),     # the env wins over the ini
    (None, None, "fast", None, "mine", None),                 # a profile their conftest loaded stays...
    ("ci", None, None, None, "mine", "kindling-ci"),          # ... unless they ask for ours in this run
    (None, "ci", None, None, "mine", "kindling-ci"),
    (None, None, None, "mine", "mine", None),                 # --hypothesis-profile is theirs
    (None, "ci", "fast", "mine", "mine", None),
    ("off", None, "fast", None, "default", None),
])
def test_choose_profile(option, env, ini, theirs, current, expected) -> None:
    assert choose_profile(option, env, ini, theirs, current) == expected


def test_bad_choices_name_the_value_and_the_fix() -> None:
    with pytest.raises(ValueError, match="^KINDLING_HYPOTHESIS_PROFILE='slow' is not a Kindling profile; "
                                         "use one of 'fast', 'ci', 'off'$"):
        choose_profile(None, "slow", None, None, "default")
    with pytest.raises(ValueError, match="^ini option kindling_hypothesis_profile='quick' is not a Kindling "
                                         "profile; use one of 'fast', 'ci', 'off'$"):
        choose_profile(None, None, "quick", None, "default")
    with pytest.raises(ValueError, match="both choose a Hypothesis profile; pass one of them"):
        choose_profile("ci", None, None, "mine", "default")


PROBE = """
    from hypothesis import settings

    def test_profile():
        print("PROFILE", settings.get_current_profile_name(), settings.default.max_examples)
"""


def _profile(pytester: pytest.Pytester, *args: str) -> str:
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", *args)
    line = next(ln for ln in result.outlines if "PROFILE" in ln)
    return line.split("PROFILE", 1)[1].strip()


def test_installing_the_plugin_changes_no_hypothesis_setting(pytester: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A project that asks for nothing keeps Hypothesis' own choice (``default``, or ``ci`` where
    the CI variable is set) and its 100 examples, in every test: the same as without the plugin."""
    monkeypatch.delenv("KINDLING_HYPOTHESIS_PROFILE", raising=False)
    pytester.makepyfile(PROBE)
    own = _profile(pytester, "-p", "no:kindling_signals_hypothesis")
    assert own in ("default 100", "ci 100")
    assert _profile(pytester) == own
    assert _profile(pytester, "--kindling-hypothesis-profile=off") == own


def test_profiles_where_asked_for(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KINDLING_HYPOTHESIS_PROFILE", raising=False)
    pytester.makepyfile(PROBE)
    assert _profile(pytester, "--kindling-hypothesis-profile=fast") == "kindling-fast 20"
    assert _profile(pytester, "--kindling-hypothesis-profile=ci") == "kindling-ci 200"
    pytester.makeini("""
        [pytest]
        kindling_hypothesis_profile = fast
    """)
    assert _profile(pytester) == "kindling-fast 20"
    monkeypatch.setenv("KINDLING_HYPOTHESIS_PROFILE", "ci")
    assert _profile(pytester) == "kindling-ci 200"
    pytester.makeconftest("""
        from hypothesis import settings
        settings.register_profile("mine", max_examples=7)
    """)
    # Their own --hypothesis-profile wins over our environment variable and ini key.
    assert _profile(pytester, "--hypothesis-profile=mine") == "mine 7"


def test_the_ini_key_keeps_a_profile_the_conftest_loaded(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KINDLING_HYPOTHESIS_PROFILE", raising=False)
    pytester.makepyfile(PROBE)
    pytester.makeini("""
        [pytest]
        kindling_hypothesis_profile = fast
    """)
    pytester.makeconftest("""
        from hypothesis import settings
        settings.register_profile("mine", max_examples=7)
        settings.load_profile("mine")
    """)
    assert _profile(pytester) == "mine 7"
    assert _profile(pytester, "--kindling-hypothesis-profile=ci") == "kindling-ci 200"


def test_this_repository_opts_in_through_its_ini(pytestconfig: pytest.Config) -> None:
    from hypothesis import settings

    assert pytestconfig.getini("kindling_hypothesis_profile") == "fast"
    assert settings.get_current_profile_name() in ("kindling-fast", "kindling-ci")


def test_without_hypothesis_the_plugin_does_nothing(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_kindling_signals import hypothesis_plugin

    class Config:
        warned: list = []

        def getoption(self, name, default=None):
            return "ci"

        def getini(self, name):
            return ""

        def issue_config_time_warning(self, warning, stacklevel):
            self.warned.append(str(warning))

    monkeypatch.setitem(sys.modules, "hypothesis", None)  # import hypothesis -> ImportError
    config = Config()
    hypothesis_plugin.pytest_configure(config)  # type: ignore[arg-type]
    assert config.warned == ["Kindling Hypothesis profile 'ci' ignored: hypothesis is not installed "
                             "(pip install 'pytest-kindling-signals[hypothesis]')"]


def test_the_install_hint_names_the_plugin_distribution_never_the_framework() -> None:
    """Following a hint that named ``kindling-signals`` inside a spark-kindling virtualenv would
    install this repository's ``kindling`` over spark-kindling's."""
    import subprocess

    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "try:\n    import pytest_kindling_signals.strategies\n"
            "except ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("pytest_kindling_signals.strategies needs Hypothesis: pip install "
                           "'pytest-kindling-signals[hypothesis]' (or pip install hypothesis)")

"""The pytest plugin: fixtures that hand each test a provider, a recorder and Spark.

Hooks stay thin here; recording and checking live in plain classes
(:mod:`.record`, :mod:`.catalog`) that don't import pytest, reached through
their public API only (``SignalRecorder.bind``, ``expectation_failures``,
``resolve_known``, ``render_failures``). Per test, the plugin keeps a :class:`_TestSignals` in the item's
stash: the test's provider, its recorder and what its marker asks for.

``signal_recorder`` is session-scoped on purpose: one recorder object that
the plugin binds to each test's fresh provider and empties between tests. So
a Hypothesis ``@given`` test may take it (the function-scoped-fixture health
check does not fire) and record each example with ``signal_recorder.capture()``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from pytest_kindling_signals.record import DEFAULT_TIMEOUT, Failure, check_timeout, render_failures, resolve_known
from pytest_kindling_signals.catalog import CatalogError, KnownFinding, SignalCatalog, UnknownSignalError, load_catalog
from pytest_kindling_signals.frameworks import Framework, FrameworkError, find_framework, framework_names
from pytest_kindling_signals.record import SignalRecorder

__all__ = ["CATALOGS_INI", "FRAMEWORK_INI", "MARKER", "TIMEOUT_INI", "catalog_for_config", "framework_for_config",
           "timeout_for_config"]

#: Fixtures that start a JVM: a test that asks for one is marked ``spark``.
SPARK_FIXTURES = frozenset({"spark", "spark_kindling"})
CATALOGS_INI = "kindling_signals_catalogs"
FRAMEWORK_INI = "kindling_signals_framework"
TIMEOUT_INI = "kindling_signals_timeout"
MARKER = "kindling_signals"
OBSERVER_ERROR_POLICIES = ("fail", "ignore")
_MAX_TRACEBACKS = 5

_catalog_key = pytest.StashKey[SignalCatalog]()
_framework_key = pytest.StashKey["Framework | None"]()
_state_key = pytest.StashKey["_TestSignals"]()
_call_passed_key = pytest.StashKey[bool]()
_timeout_key = pytest.StashKey[float]()


# -- options, marker, catalog -------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kindling-signals", "Kindling signals: catalog coverage report")
    group.addoption(
        "--kindling-signals-framework", default=None, metavar="NAME", dest=FRAMEWORK_INI,
        help="The Kindling whose signals the plugin records: auto (the one installed), none, "
             f"or a name ({', '.join(framework_names()[2:])}). ini: {FRAMEWORK_INI}")
    parser.addini(FRAMEWORK_INI, "The Kindling framework to serve (--kindling-signals-framework).",
                  default="auto")
    group.addoption(
        "--kindling-signals-timeout", default=None, metavar="SECONDS", dest=TIMEOUT_INI,
        help=f"How long signal_recorder's waits (wait_for, wait_for_all, wait_for_sequence) wait "
             f"when a test gives no timeout (default {DEFAULT_TIMEOUT:g}). ini: {TIMEOUT_INI}")
    parser.addini(TIMEOUT_INI, "Seconds signal_recorder's waits wait by default "
                  "(--kindling-signals-timeout).", default=str(DEFAULT_TIMEOUT))
    parser.addini(
        CATALOGS_INI, type="paths", default=[],
        help="Signal catalog files (YAML or JSON) of your own providers, one per line, relative "
             "to the ini file; merged with the framework's catalog for signal_catalog, "
             "assertions and --kindling-signals.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "spark: the test uses the local Spark session (added automatically to tests "
        "that ask for the `spark` fixture); deselect with -m 'not spark'")
    config.addinivalue_line(
        "markers", f"{MARKER}(expect=[...], forbid=[...], contract=False, known=[...], "
        "observer_errors='fail'): signals (names or globs) the test must emit / must not emit, "
        "whether every recorded payload and lifecycle must keep the catalog's contract, the known "
        "findings the test expects (each must happen), and whether observer errors fail the test "
        "('fail') or not ('ignore'); checked at teardown")
    timeout_for_config(config)  # a bad value is a usage error now, not in the first test that waits


def framework_for_config(config: pytest.Config) -> Framework | None:
    """The framework the option or ini key names (``auto``: the one installed); ``None`` for none."""
    if _framework_key in config.stash:
        return config.stash[_framework_key]
    choice = config.getoption(FRAMEWORK_INI, None) or _ini(config, FRAMEWORK_INI, "auto") or "auto"
    try:
        framework = find_framework(str(choice).strip())
    except FrameworkError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_framework_key] = framework
    return framework


def timeout_for_config(config: pytest.Config) -> float:
    """The waits' default timeout: ``--kindling-signals-timeout``, else the ini key, else 5 s."""
    if _timeout_key in config.stash:
        return config.stash[_timeout_key]
    option = config.getoption(TIMEOUT_INI, None)
    raw = option if option is not None else _ini(config, TIMEOUT_INI, str(DEFAULT_TIMEOUT))
    try:
        timeout = check_timeout(float(str(raw).strip()), TIMEOUT_INI)
    except ValueError:
        where, example = (("--kindling-signals-timeout", "--kindling-signals-timeout=10") if option is not None
                          else (f"ini option {TIMEOUT_INI}", f"{TIMEOUT_INI} = 10"))
        raise pytest.UsageError(f"{where}={raw!r}: the timeout is a number of seconds >= 0, "
                                f"e.g. {example}") from None
    config.stash[_timeout_key] = timeout
    return timeout


def _ini(config: pytest.Config, name: str, default: Any) -> Any:
    try:
        return config.getini(name)
    except ValueError:  # the key is not registered: this plugin is disabled
        return default


def _framework(request: pytest.FixtureRequest, fixture: str) -> Framework:
    framework = framework_for_config(request.config)
    if framework is None:
        raise pytest.UsageError(
            f"the {fixture} fixture needs a Kindling framework, and none is installed (or "
            f"{FRAMEWORK_INI} is 'none'): install kindling-signals or spark-kindling, or choose "
            "one with --kindling-signals-framework=NAME")
    return framework


def catalog_for_config(config: pytest.Config) -> SignalCatalog:
    """The framework's catalog merged with the files of the ``kindling_signals_catalogs`` ini key.

    Loaded once per test session. Paths are relative to the ini file::

        [pytest]
        kindling_signals_catalogs = catalogs/my_provider.yaml
    """
    cached = config.stash.get(_catalog_key, None)
    if cached is not None:
        return cached
    paths: list[Path] = list(_ini(config, CATALOGS_INI, []))
    framework = framework_for_config(config)
    own = framework.catalog_paths() if framework is not None else []
    if not own and not paths:
        raise pytest.UsageError(
            f"no signal catalog: no Kindling framework is installed (or {FRAMEWORK_INI} is "
            f"'none') and the ini key {CATALOGS_INI} names no file; install one, or list your "
            f"catalogs under {CATALOGS_INI}")
    try:
        catalog = load_catalog(*own, *paths)
    except CatalogError as exc:
        raise pytest.UsageError(f"ini option {CATALOGS_INI}: {exc}") from exc
    config.stash[_catalog_key] = catalog
    return catalog


@dataclass
class _Options:
    """What a test's ``kindling_signals`` markers ask for: ``expect``/``forbid`` add up across
    markers; for ``contract`` and ``observer_errors`` the closest marker wins."""

    expect: list[str] = field(default_factory=list)
    forbid: list[str] = field(default_factory=list)
    contract: bool = False
    known: list[str | KnownFinding] = field(default_factory=list)
    observer_errors: str = "fail"
    marked: bool = False


def _bad_marker(item: pytest.Item, problem: str) -> NoReturn:
    # A plain message at setup: the fix is in the user's marker, not in a traceback.
    pytest.fail(f"{item.nodeid}: {problem}", pytrace=False)


def _names(item: pytest.Item, key: str, value: Any) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
        _bad_marker(item, f"@pytest.mark.{MARKER}({key}={value!r}): {key} is a "
                                f"list of signal names or globs, e.g. {key}=['entity.post_merge']")
    return list(names)


def _marker_options(item: pytest.Item) -> _Options:
    options = _Options()
    seen: set[str] = set()
    # iter_markers yields the closest first: the test's own, then its class's, its module's.
    for mark in item.iter_markers(MARKER):
        options.marked = True
        if mark.args:
            _bad_marker(item, f"@pytest.mark.{MARKER} takes keywords only "
                                    f"(expect=, forbid=, contract=, known=, observer_errors=), got {mark.args!r}")
        for key, value in mark.kwargs.items():
            if key in ("expect", "forbid"):
                getattr(options, key).extend(_names(item, key, value))
            elif key == "known":
                known = [value] if isinstance(value, (str, KnownFinding)) else value
                if not isinstance(known, (list, tuple)) or not all(
                        isinstance(k, KnownFinding) or (isinstance(k, str) and k) for k in known):
                    _bad_marker(item, f"@pytest.mark.{MARKER}(known={value!r}): known is a list of "
                                      "signal names the catalog lists under known_findings, or "
                                      "KnownFinding(signal, rule, reason=...) of your own")
                options.known.extend(known)
            elif key == "contract":
                if not isinstance(value, bool):
                    _bad_marker(item, f"@pytest.mark.{MARKER}(contract={value!r}): "
                                            "use contract=True or contract=False")
                if key not in seen:
                    options.contract = value
            elif key == "observer_errors":
                if value not in OBSERVER_ERROR_POLICIES:
                    _bad_marker(
                        item, f"@pytest.mark.{MARKER}(observer_errors={value!r}): use "
                        f"{' or '.join(map(repr, OBSERVER_ERROR_POLICIES))}")
                if key not in seen:
                    options.observer_errors = value
            else:
                _bad_marker(
                    item, f"@pytest.mark.{MARKER}({key}=...): unknown keyword {key!r}; "
                    "use expect=, forbid=, contract=, known= or observer_errors=")
            seen.add(key)
    if options.known and not options.contract:
        _bad_marker(item, f"@pytest.mark.{MARKER}(known=...): known findings belong to the contract "
                          "check; add contract=True")
    return options


# -- per-test state and phases ------------------------------------------------

@dataclass
class _TestSignals:
    provider: Any
    recorder: SignalRecorder | None
    options: _Options


def _set_phase(item: pytest.Item, phase: str) -> None:
    state = item.stash.get(_state_key, None)
    if state is not None and state.recorder is not None:
        state.recorder.phase = phase


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    _set_phase(item, "call")
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    _set_phase(item, "teardown")
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_call_passed_key] = report.passed and not hasattr(report, "wasxfail")
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Mark what needs a JVM, so `-m "not spark"` runs the fast tests alone.
    for item in items:
        if SPARK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.spark)


# -- teardown checks ----------------------------------------------------------

def _observer_error_report(errors: list[Any], total: int) -> str:
    lines = [f"{total} observer error{'s' if total != 1 else ''} while the test ran (emission went "
             "on; opt out with @pytest.mark.kindling_signals(observer_errors='ignore'), or assert "
             "on signal_provider.errors and call signal_provider.clear_errors()):"]
    for error in errors[:_MAX_TRACEBACKS]:
        lines.append(f"--- {error} (thread {error.thread_name})")
        lines.append(error.traceback.rstrip())
    if total > _MAX_TRACEBACKS:
        lines.append(f"--- and {total - _MAX_TRACEBACKS} more")
    return "\n".join(lines)


def _marker_failures(recorder: SignalRecorder, options: _Options) -> list[Failure]:
    return recorder.expectation_failures(expect=options.expect, forbid=options.forbid,
                                         contract=options.contract, known=options.known)


def _check_at_teardown(item: pytest.Item, state: _TestSignals) -> None:
    __tracebackhide__ = True
    messages = []
    call_passed = item.stash.get(_call_passed_key, False)
    # A test that already failed (or was skipped) tells its own story; the
    # marker's expectations are checked only for tests whose body passed.
    if state.recorder is not None and state.options.marked and call_passed:
        try:
            failures = _marker_failures(state.recorder, state.options)
        except UnknownSignalError as exc:  # a misspelt name in the marker
            failures, unknown = [], str(exc)
        else:
            unknown = ""
        if unknown:
            messages.append(f"@pytest.mark.{MARKER}: {unknown}")
        if failures:
            messages.append(f"@pytest.mark.{MARKER}: {len(failures)} expectation"
                            f"{'s' if len(failures) != 1 else ''} not met.\n"
                            + render_failures(failures, state.recorder.records, state.recorder.catalog))
    if state.options.observer_errors == "fail" and state.provider.error_count:
        messages.append(_observer_error_report(state.provider.errors, state.provider.error_count))
    if messages:
        pytest.fail("\n\n".join(messages), pytrace=False)


# -- fixtures -----------------------------------------------------------------

@pytest.fixture(autouse=True)
def _kindling_isolated_registries(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test sees the declarations made at import time, and none made by another test."""
    framework = framework_for_config(request.config)
    if framework is None:
        yield
        return
    with framework.isolation():
        yield


@pytest.fixture(autouse=True)
def _kindling_signals_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Binds the recorder to the test's provider, sets phases, checks the marker at teardown.

    Does nothing for tests that use neither the signal fixtures nor the marker,
    so their emissions stay unobserved (and their lazy payloads unbuilt).
    """
    item = request.node
    options = _marker_options(item)
    wanted = {"signal_provider", "signal_recorder"} & set(request.fixturenames)
    if not wanted and not options.marked:
        yield
        return
    provider = request.getfixturevalue("signal_provider")
    recorder = None
    if "signal_recorder" in request.fixturenames or options.marked:
        recorder = request.getfixturevalue("signal_recorder")
        catalog = request.getfixturevalue("signal_catalog")
        try:
            resolve_known(options.known, catalog, f"@pytest.mark.{MARKER}(known=...)")
        except (TypeError, ValueError) as exc:
            _bad_marker(item, str(exc))
        recorder.bind(provider, catalog, phase="setup", hypothesis_guard=True)
        recorder.default_timeout = timeout_for_config(request.config)
        recorder.start()
    state = item.stash[_state_key] = _TestSignals(provider, recorder, options)
    try:
        yield
        _check_at_teardown(item, state)
    finally:
        if recorder is not None:
            recorder.stop()
        del item.stash[_state_key]


@pytest.fixture
def signal_catalog(request: pytest.FixtureRequest) -> SignalCatalog:
    """The built-in signal catalog plus the files of the ``kindling_signals_catalogs`` ini key."""
    return catalog_for_config(request.config)


@pytest.fixture
def signal_provider(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The test's provider: with Kindling, a fresh one installed as the framework default;
    with spark-kindling, every provider instance its dependency injection made.

    Observer errors it sees fail the test at teardown unless the test clears
    them (``signal_provider.clear_errors()``) or is marked
    ``@pytest.mark.kindling_signals(observer_errors="ignore")``.
    """
    with _framework(request, "signal_provider").test_provider() as provider:
        yield provider


class _Unbound:
    """What the session's recorder is bound to between tests: records nothing."""

    name = "unbound"
    error_count = 0
    errors: list[Any] = []

    def add_tap(self, tap: Any) -> Any:
        return lambda: None


@pytest.fixture(scope="session")
def signal_recorder(request: pytest.FixtureRequest) -> SignalRecorder:
    """Records every emission through ``signal_provider`` during the test, phase by phase.

    One object per session, bound to each test's fresh provider and emptied
    between tests (so Hypothesis ``@given`` tests may take it; record each
    example with ``signal_recorder.capture()``).
    """
    return SignalRecorder(_Unbound(), catalog_for_config(request.config),
                          timeout=timeout_for_config(request.config))

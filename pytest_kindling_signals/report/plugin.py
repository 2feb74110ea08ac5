"""`pytest --kindling-signals`: the catalog coverage report's hooks (a ``pytest11`` entry point).

Hooks only, each a few lines: they read the options (checked by :mod:`.options`),
make this process's :class:`~.session.ReportSession` with the collector for its
role (plain, xdist worker or xdist controller, :mod:`.collect`), hand it the
running test, and at the end call :meth:`~.session.ReportSession.finish` and
print its summary.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_kindling_signals.catalog import CatalogError, SignalCatalog
from pytest_kindling_signals.frameworks import Framework
from pytest_kindling_signals.report.collect import CentralCollector, ControllerCollector, WorkerCollector
from pytest_kindling_signals.report.data import DataLock
from pytest_kindling_signals.report.session import ReportSession, catalog_files, conformance_view
from pytest_kindling_signals.report.options import (
    Raw,
    ReportSettings,
    check_outputs,
    parse_bool,
    parse_settings,
    run_scope,
)

WORKEROUTPUT_KEY = "kindling_signals"
IGNORE_MARKER = "kindling_signals_ignore"
_OPTIONS = ("kindling_signals", "kindling_signals_report", "kindling_signals_fail_under",
            "kindling_signals_strict", "kindling_signals_gate_partial", "kindling_signals_data",
            "kindling_signals_timeline", "kindling_signals_conformance")
_BOOL_OPTIONS = ("kindling_signals", "kindling_signals_strict", "kindling_signals_gate_partial",
                 "kindling_signals_conformance")


_KEY = pytest.StashKey[ReportSession]()
_LOCK = pytest.StashKey[DataLock]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kindling-signals", "Kindling signals: catalog coverage report")
    group.addoption("--kindling-signals", action="store_const", const=True, default=None,
                    dest="kindling_signals",
                    help="Record every signal emitted in the session and report it against the catalog. "
                         "ini: kindling_signals")
    group.addoption("--no-kindling-signals", action="store_const", const=False, dest="kindling_signals",
                    help="Turn the report off even if the ini file turns it on.")
    group.addoption("--kindling-signals-report", action="append", default=None, metavar="TYPE",
                    dest="kindling_signals_report",
                    help="term, term-missing, json:PATH, markdown:PATH or html:PATH; repeatable "
                         "(default: term). ini: kindling_signals_report")
    group.addoption("--kindling-signals-fail-under", default=None, metavar="PCT",
                    dest="kindling_signals_fail_under",
                    help="Fail when total coverage is under PCT, or per tier: critical:100,high:90 "
                         "(total:95 for the total; also quick-reference:, extensions:, user-catalogs:). "
                         "ini: kindling_signals_fail_under")
    group.addoption("--kindling-signals-strict", action="store_const", const=True, default=None,
                    dest="kindling_signals_strict",
                    help="Fail on undocumented signals, payload violations and lifecycle violations. "
                         "ini: kindling_signals_strict")
    group.addoption("--kindling-signals-gate-partial", action="store_const", const=True, default=None,
                    dest="kindling_signals_gate_partial",
                    help="Apply the coverage gates to partial runs (-k, -m, file or folder arguments, "
                         "node ids, --deselect, --ignore, --lf, -x) too. ini: kindling_signals_gate_partial")
    group.addoption("--kindling-signals-data", default=None, metavar="PATH", dest="kindling_signals_data",
                    help="Where the run saves its data for kindling-signals combine / report / compare "
                         "(default: .kindling-signals in the rootdir). ini: kindling_signals_data")
    group.addoption("--kindling-signals-timeline", default=None, metavar="N", dest="kindling_signals_timeline",
                    help="Emissions each test keeps for its timeline in the HTML and JSON reports (default: "
                         "200; 0 for none). ini: kindling_signals_timeline")
    group.addoption("--kindling-signals-conformance", action="store_const", const=True, default=None,
                    dest="kindling_signals_conformance",
                    help="Add the quick-reference conformance view (spark-kindling) to every report. "
                         "ini: kindling_signals_conformance")
    parser.addini("kindling_signals_timeline", "Emissions a test keeps for its timeline "
                  "(--kindling-signals-timeline).", default="")
    parser.addini("kindling_signals_conformance", "Add the conformance view (--kindling-signals-conformance).",
                  type="bool", default=False)
    parser.addini("kindling_signals", "Turn the catalog coverage report on (--kindling-signals).",
                  type="bool", default=False)
    parser.addini("kindling_signals_report", "Report types, one a line (--kindling-signals-report).",
                  type="linelist", default=[])
    parser.addini("kindling_signals_fail_under", "Coverage gates (--kindling-signals-fail-under).",
                  default="")
    parser.addini("kindling_signals_strict", "Fail on any finding (--kindling-signals-strict).",
                  type="bool", default=False)
    parser.addini("kindling_signals_gate_partial",
                  "Gate partial runs too (--kindling-signals-gate-partial).", type="bool", default=False)
    parser.addini("kindling_signals_data", "Where the run saves its data (--kindling-signals-data); "
                  "relative to the ini file.", default="")


def _raw(config: pytest.Config, name: str, *, ini_only: bool = False) -> Raw:
    """The option's value (the command line wins) or the ini key's, with the name the user wrote."""
    value = None if ini_only else config.getoption(name)
    if value is not None:
        return Raw(value, "--" + name.replace("_", "-"), True)
    try:
        value = config.getini(name)
    except (TypeError, ValueError, pytest.UsageError) as exc:  # pytest's own check of a bool or list value
        fix = "use true or false" if name in _BOOL_OPTIONS else "see pytest --help"
        raise pytest.UsageError(f"ini key {name}: {exc}; {fix}") from None
    if name == "kindling_signals_data" and value == "":
        value = None
    return Raw(value, f"ini key {name}")


def _settings(config: pytest.Config, tiers: tuple[str, ...] | None = None, *,
              ini_only: bool = False) -> ReportSettings:
    def raw(name: str) -> Raw:
        return _raw(config, name, ini_only=ini_only)

    try:
        return parse_settings(
            enabled=raw("kindling_signals"), reports=raw("kindling_signals_report"),
            fail_under=raw("kindling_signals_fail_under"), data=raw("kindling_signals_data"),
            strict=raw("kindling_signals_strict"), gate_partial=raw("kindling_signals_gate_partial"),
            timeline=raw("kindling_signals_timeline"), conformance=raw("kindling_signals_conformance"),
            invocation_dir=config.invocation_params.dir,
            ini_dir=config.inipath.parent if config.inipath else config.rootpath,
            rootdir=config.rootpath, tiers=tiers)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _recorder_plugin(config: pytest.Config) -> Any:
    """The recorder plugin (``plugin.py``), found through the plugin manager: entry points don't
    import each other. It owns the framework and catalog choice of the run."""
    plugin = config.pluginmanager.get_plugin("kindling_signals")
    if plugin is None:
        raise pytest.UsageError("--kindling-signals needs the kindling_signals plugin; "
                                "don't disable it with -p no:kindling_signals")
    return plugin


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{IGNORE_MARKER}: the --kindling-signals report does not observe this test: its "
                   "emissions are left out and nothing extra observes its signals (for tests that emit "
                   "bad signals on purpose or check that unobserved signals build no payload)")
    if getattr(config.option, "help", False):
        return  # --help must work even when a value is wrong: that's how one finds the fix
    # Every value is checked now, report on or off: a typo must not wait for the day it's used.
    try:
        on = parse_bool(_raw(config, "kindling_signals"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    recorder = _recorder_plugin(config)
    framework: Framework | None = recorder.framework_for_config(config)
    catalog: SignalCatalog | None = recorder.catalog_for_config(config) if on else None
    # with the report on, the gates' tier names are checked against the catalog too
    tiers = catalog.tiers if catalog is not None else None
    if any(config.getoption(name) is not None for name in _OPTIONS):
        _settings(config, tiers, ini_only=True)  # the ini file's values too, where the command line wins
    settings = _settings(config, tiers)
    if catalog is None:
        return
    worker = hasattr(config, "workerinput")
    try:
        view, view_files = conformance_view(framework, catalog, config.rootpath)
        files, user = ([], []) if worker else catalog_files(framework, catalog, config.rootpath)
        if not worker:  # never over a catalog file the run reads
            check_outputs(settings.outputs, [(f"the catalog {src}", src) for src in catalog.sources])
            # one run writes a data file at a time: a second one fails now, not silently at the end
            config.stash[_LOCK] = DataLock(settings.data_path).acquire()
    except (CatalogError, ValueError, OSError) as exc:
        raise pytest.UsageError(str(exc)) from None
    tap = framework.add_global_tap if framework is not None else None
    limit = settings.timeline_limit
    if worker:
        collector: CentralCollector | ControllerCollector = WorkerCollector(catalog, tap, timeline_limit=limit)
    elif getattr(config.option, "dist", "no") != "no" and getattr(config.option, "numprocesses", None) != 0:
        collector = ControllerCollector(catalog)
    else:
        collector = CentralCollector(catalog, tap, timeline_limit=limit)
    config.stash[_KEY] = ReportSession(
        collector.start(), catalog, settings, settings.fail_under, framework.name if framework else None,
        files, view_files, view, user)


def pytest_unconfigure(config: pytest.Config) -> None:
    lock = config.stash.get(_LOCK, None)
    if lock is not None:
        lock.release()
    state = config.stash.get(_KEY, None)
    if state is not None and isinstance(state.collector, CentralCollector):
        state.collector.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Generator[None, None, None]:
    # Before anything deselects or reorders: indices in the whole collection, so runs that
    # select different parts of one suite number their tests alike.
    state = config.stash.get(_KEY, None)
    if state is not None and isinstance(state.collector, CentralCollector):
        state.collector.note_collected(item.nodeid for item in items)
    return (yield)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        state = items[0].config.stash.get(_KEY, None)
        if state is not None and isinstance(state.collector, CentralCollector):
            state.collector.note_deselected(item.nodeid for item in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(_KEY, None)
    if state is None or not isinstance(state.collector, CentralCollector):
        return
    collected = state.collector.data.collected
    known = set(collected)
    collected += [item.nodeid for item in session.items if item.nodeid not in known]  # added late
    state.order = {nodeid: i for i, nodeid in enumerate(collected)}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    state = item.config.stash.get(_KEY, None)
    if state is None or not isinstance(state.collector, CentralCollector):
        return (yield)
    state.collector.begin_test(item.nodeid, state.order.get(item.nodeid, len(state.order)),
                               ignored=item.get_closest_marker(IGNORE_MARKER) is not None)
    try:
        return (yield)
    finally:
        state.collector.end_test()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    state = item.config.stash.get(_KEY, None)
    if state is not None and isinstance(state.collector, CentralCollector):  # each test's outcome
        state.collector.note_report(item.nodeid, report.when, report.outcome, xfail=hasattr(report, "wasxfail"))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    node = getattr(report, "node", None)  # set by pytest-xdist's controller: the worker that ran it
    if node is None:
        return
    state = node.config.stash.get(_KEY, None)
    if state is not None and isinstance(state.collector, ControllerCollector):
        state.collector.test_reported(node.gateway.id, report.nodeid)


_fixture_token = pytest.StashKey[Any]()


def _shared_collector(config: pytest.Config, fixturedef: pytest.FixtureDef[Any]) -> CentralCollector | None:
    state = config.stash.get(_KEY, None)
    if state is None or not isinstance(state.collector, CentralCollector) or fixturedef.scope == "function":
        return None
    return state.collector


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Generator[None, object, object]:
    collector = _shared_collector(request.config, fixturedef)
    if collector is None:
        return (yield)
    with collector.shared_fixture(fixturedef.argname):
        result = yield
    # Finalizers run last-in first-out: this one runs just before the fixture's own
    # teardown, and pytest_fixture_post_finalizer just after it.
    def begin_teardown() -> None:
        request.node.stash[_fixture_token] = collector.enter_fixture(fixturedef.argname)

    fixturedef.addfinalizer(begin_teardown)
    return result


def pytest_fixture_post_finalizer(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> None:
    collector = _shared_collector(request.config, fixturedef)
    token = request.node.stash.get(_fixture_token, None)
    if collector is not None and token is not None:
        del request.node.stash[_fixture_token]
        collector.exit_fixture(token)


def pytest_sessionstart(session: pytest.Session) -> None:
    state = session.config.stash.get(_KEY, None)
    if state is None or hasattr(session.config, "workerinput"):
        return  # the controller (or the plain run) says what part of the suite the run is
    config = session.config
    opt = config.option
    lf = config.pluginmanager.get_plugin("lfplugin")
    data = state.collector.data
    # before the tests run: --lf forgets a failure as soon as the test passes
    data.narrowed = run_scope(
        args=[str(a) for a in config.args], args_given=config.args_source == pytest.Config.ArgsSource.ARGS,
        testpaths=config.getini("testpaths"), rootdir=config.rootpath,
        invocation_dir=config.invocation_params.dir, ignore=getattr(opt, "ignore", None) or (),
        ignore_glob=getattr(opt, "ignore_glob", None) or (), addopts=config.getini("addopts"),
        pyargs=bool(getattr(opt, "pyargs", False)),
        last_failed=bool(getattr(opt, "lf", False) and getattr(lf, "lastfailed", None)),
        python_files=config.getini("python_files"), norecursedirs=config.getini("norecursedirs"))
    data.selection = [s for s in (
        f"-k {opt.keyword!r}" if getattr(opt, "keyword", "") else "",
        f"-m {opt.markexpr!r}" if getattr(opt, "markexpr", "") else "",
        "--deselect" if getattr(opt, "deselect", None) else "") if s]


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    try:
        result = yield
    except session.Failed:  # -x / --maxfail: report what ran (a KeyboardInterrupt reports nothing)
        _finish(session)
        raise
    _finish(session)
    return result


def _finish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash.get(_KEY, None)
    if state is None or config.option.collectonly:
        return
    output = state.finish(stopped=bool(session.shouldstop or session.shouldfail))
    if output is not None:
        config.workeroutput[WORKEROUTPUT_KEY] = output  # type: ignore[attr-defined]
    elif state.failed:
        session.testsfailed += 1  # as pytest-cov's fail-under: the session's exit status becomes 1


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_KEY, None)
    if state is None or hasattr(config, "workerinput") or config.option.collectonly:
        return
    terminalreporter.write_sep("-", "kindling-signals: catalog coverage")
    for line in state.summary_lines():
        terminalreporter.write_line(line.text, red=line.error, bold=line.error, yellow=line.warning)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    state = node.config.stash.get(_KEY, None)
    if state is not None and isinstance(state.collector, ControllerCollector):
        state.collector.worker_started(node.gateway.id)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    state = node.config.stash.get(_KEY, None)
    if state is not None and isinstance(state.collector, ControllerCollector):
        output = getattr(node, "workeroutput", None) or {}
        state.collector.worker_finished(node.gateway.id, output.get(WORKEROUTPUT_KEY), error)

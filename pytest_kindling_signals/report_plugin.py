"""`pytest --kindling-signals`: the catalog coverage report (hooks only; see the report engine).

Collecting, merging and gating live in :mod:`.coverage`, rendering in
:mod:`.report_render`; the hooks here read the options, pick the collector
for this process (plain, xdist worker or xdist controller) and hand it the
running test.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_kindling_signals.catalog import CatalogError, SignalCatalog
from pytest_kindling_signals.coverage import (
    CentralCollector,
    ControllerCollector,
    CoverageReport,
    FailUnder,
    GateResult,
    WorkerCollector,
    evaluate_gates,
    gate_failure_line,
    parse_fail_under,
)
from pytest_kindling_signals.plugin import catalog_for_config, framework_for_config
from pytest_kindling_signals.report_render import (
    ReportTarget,
    parse_report_targets,
    render_term,
    write_report,
)

WORKEROUTPUT_KEY = "kindling_signals"
IGNORE_MARKER = "kindling_signals_ignore"
_OPTIONS = ("kindling_signals", "kindling_signals_report", "kindling_signals_fail_under",
            "kindling_signals_strict", "kindling_signals_gate_partial")


@dataclass
class _Session:
    """This process's report state, kept in ``config.stash``."""

    collector: CentralCollector | ControllerCollector
    catalog: SignalCatalog
    targets: list[ReportTarget]
    target_base: Path
    fail_under: tuple[FailUnder, ...]
    strict: bool
    gate_partial: bool
    order: dict[str, int] = field(default_factory=dict)
    partial_reasons: list[str] = field(default_factory=list)
    report: CoverageReport | None = None
    gates: list[GateResult] = field(default_factory=list)
    written: list[tuple[str, Path]] = field(default_factory=list)


_KEY = pytest.StashKey[_Session]()


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
                         "(total:95 for the total). ini: kindling_signals_fail_under")
    group.addoption("--kindling-signals-strict", action="store_const", const=True, default=None,
                    dest="kindling_signals_strict",
                    help="Fail on undocumented signals, payload violations and lifecycle violations. "
                         "ini: kindling_signals_strict")
    group.addoption("--kindling-signals-gate-partial", action="store_const", const=True, default=None,
                    dest="kindling_signals_gate_partial",
                    help="Apply the coverage gates to partial runs (-k, -m, node ids, --lf, "
                         "deselection) too. ini: kindling_signals_gate_partial")
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


def _setting(config: pytest.Config, name: str) -> tuple[Any, bool]:
    """The option's value and whether it came from the command line (which wins over the ini)."""
    value = config.getoption(name)
    if value is not None:
        return value, True
    return config.getini(name), False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{IGNORE_MARKER}: the --kindling-signals report does not observe this test: its "
                   "emissions are left out and nothing extra observes its signals (for tests that emit "
                   "bad signals on purpose or check that unobserved signals build no payload)")
    enabled, _ = _setting(config, "kindling_signals")
    if not enabled:
        return
    values, from_cli = _setting(config, "kindling_signals_report")
    fail_under_text, _ = _setting(config, "kindling_signals_fail_under")
    try:
        catalog = catalog_for_config(config)
        targets = parse_report_targets(values or ["term"])
        fail_under = parse_fail_under(fail_under_text, catalog.tiers) if fail_under_text else ()
    except (CatalogError, ValueError) as exc:
        raise pytest.UsageError(str(exc)) from None
    framework = framework_for_config(config)
    tap = framework.add_global_tap if framework is not None else None
    if hasattr(config, "workerinput"):
        collector: CentralCollector | ControllerCollector = WorkerCollector(catalog, tap)
    elif getattr(config.option, "dist", "no") != "no" and getattr(config.option, "numprocesses", None) != 0:
        collector = ControllerCollector(catalog)
    else:
        collector = CentralCollector(catalog, tap)
    base = config.invocation_params.dir if from_cli else (
        config.inipath.parent if config.inipath else config.rootpath)
    config.stash[_KEY] = _Session(
        collector.start(), catalog, targets, base, fail_under,
        bool(_setting(config, "kindling_signals_strict")[0]),
        bool(_setting(config, "kindling_signals_gate_partial")[0]))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_KEY, None)
    if state is not None and isinstance(state.collector, CentralCollector):
        state.collector.stop()


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        state = items[0].config.stash.get(_KEY, None)
        if state is not None and isinstance(state.collector, CentralCollector):
            state.collector.note_deselected(len(items))


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(_KEY, None)
    if state is not None:
        state.order = {item.nodeid: i for i, item in enumerate(session.items)}


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
    if state is None:
        return
    # before the tests run: --lf forgets a failure as soon as the test passes
    opt = session.config.option
    if getattr(opt, "keyword", ""):
        state.partial_reasons.append(f"-k {opt.keyword!r}")
    if getattr(opt, "markexpr", ""):
        state.partial_reasons.append(f"-m {opt.markexpr!r}")
    if any("::" in str(arg) for arg in session.config.args):
        state.partial_reasons.append("node ids given")
    lf = session.config.pluginmanager.get_plugin("lfplugin")
    if getattr(opt, "lf", False) and getattr(lf, "lastfailed", None):
        state.partial_reasons.append("--lf")


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
    data = state.collector.finish()
    if isinstance(state.collector, WorkerCollector):
        config.workeroutput[WORKEROUTPUT_KEY] = state.collector.workeroutput()  # type: ignore[attr-defined]
        return
    stopped = ["stopped early"] if session.shouldstop or session.shouldfail else []
    ctl = state.collector if isinstance(state.collector, ControllerCollector) else None
    state.report = CoverageReport(
        state.catalog, data, partial_reasons=state.partial_reasons + stopped,
        workers=ctl.workers if ctl else (),
        workers_without_data={w: ctl.problems.get(w, "sent no data") for w in ctl.workers_without_data}
        if ctl else None,
        plugin_version=_plugin_version())
    state.gates = evaluate_gates(state.report, state.fail_under, strict=state.strict,
                                 gate_partial=state.gate_partial)
    for target in state.targets:
        if target.path is not None:
            state.written.append((target.kind, write_report(target, state.report, state.gates,
                                                            state.target_base)))
    if gate_failure_line(state.gates):
        session.testsfailed += 1  # as pytest-cov's fail-under: the session's exit status becomes 1


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_KEY, None)
    if state is None or hasattr(config, "workerinput") or config.option.collectonly:
        return
    tr = terminalreporter
    tr.write_sep("-", "kindling-signals: catalog coverage")
    if state.report is None:
        tr.write_line("no report: the test session was interrupted before it finished")
        return
    term = [t for t in state.targets if t.path is None]
    if term:
        for line in render_term(state.report, state.gates, missing=term[0].kind == "term-missing"):
            tr.write_line(line)
    for kind, path in state.written:
        tr.write_line(f"{kind} report written to {path}")
    failure = gate_failure_line(state.gates)
    if failure:
        tr.write_line(failure, red=True, bold=True)


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


def _plugin_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-kindling-signals")
    except PackageNotFoundError:
        return "unknown"

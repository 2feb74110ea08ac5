"""One process's report: what the hooks of :mod:`.plugin` hand over, and the end-of-run work.

Plain code (no pytest), as syrupy's ``SnapshotSession`` and pytest-cov's engine:
the hooks create a :class:`ReportSession`, feed its collector the running test,
and at the end call :meth:`ReportSession.finish` (save the data, build the
report, write every output, evaluate the gates) and print
:meth:`ReportSession.summary_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_kindling_signals.escape import printable
from pytest_kindling_signals.catalog import SignalCatalog, conformance, load_aliases, load_catalog
from pytest_kindling_signals.frameworks import Framework
from pytest_kindling_signals.report.collect import CentralCollector, ControllerCollector, WorkerCollector
from pytest_kindling_signals.report.coverage import CoverageReport
from pytest_kindling_signals.report.data import CatalogFile, Gates, RunData
from pytest_kindling_signals.report.gates import FailUnder, GateResult, evaluate_gates, gate_failure_line
from pytest_kindling_signals.report.options import ReportSettings, ReportTarget
from pytest_kindling_signals.report.render import render_term, write_report

__all__ = ["ReportSession", "SummaryLine", "catalog_files", "conformance_view", "plugin_version"]


def plugin_version() -> str:
    """The installed ``pytest-kindling-signals`` version (``unknown`` when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-kindling-signals")
    except PackageNotFoundError:
        return "unknown"


def catalog_files(framework: Framework | None, catalog: SignalCatalog,
                  rootdir: Path) -> tuple[list[CatalogFile], list[str]]:
    """The catalog files to save with the data (the framework's first), and the user's sources."""
    own = framework.catalog_paths() if framework is not None else []
    files, user = [], []
    for i, source in enumerate(catalog.sources):
        role = "framework" if i < len(own) else "user"
        # the framework's own paths as it gives them: the catalog's sources have symlinks resolved
        files.append(CatalogFile.read(own[i] if i < len(own) else source, role, rootdir))
        if role == "user":
            user.append(source)
    return files, user


def conformance_view(framework: Framework | None, catalog: SignalCatalog,
                     rootdir: Path) -> tuple[tuple[SignalCatalog, Any] | None, list[CatalogFile]]:
    """The quick-reference conformance view of a framework that names signals its own way."""
    paths = framework.conformance_paths() if framework is not None else None
    if paths is None:
        return None, []
    qr_path, aliases_path = paths
    quick_ref = load_catalog(qr_path)
    aliases = load_aliases(aliases_path, quick_ref=quick_ref)
    conformance(quick_ref, catalog, aliases)  # checks the alias map against both catalogs
    return (quick_ref, aliases), [CatalogFile.read(qr_path, "quick-reference", rootdir),
                                  CatalogFile.read(aliases_path, "aliases", rootdir)]


@dataclass(frozen=True)
class SummaryLine:
    """A line of the terminal summary; ``error`` lines are printed red and bold."""

    text: str
    error: bool = False
    warning: bool = False


@dataclass
class ReportSession:
    """This process's report state (kept in ``config.stash`` by the hooks)."""

    collector: CentralCollector | ControllerCollector
    catalog: SignalCatalog
    settings: ReportSettings
    fail_under: tuple[FailUnder, ...]
    framework: str | None = None
    catalog_files: list[CatalogFile] = field(default_factory=list)
    conformance_files: list[CatalogFile] = field(default_factory=list)
    conformance: tuple[SignalCatalog, Any] | None = None
    user_sources: list[str] = field(default_factory=list)
    order: dict[str, int] = field(default_factory=dict)
    report: CoverageReport | None = None
    gates: list[GateResult] = field(default_factory=list)
    written: list[tuple[str, Path]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def central(self) -> CentralCollector | None:
        """The collector when this process runs tests (a plain run or an xdist worker)."""
        return self.collector if isinstance(self.collector, CentralCollector) else None

    @property
    def controller(self) -> ControllerCollector | None:
        """The collector when this process is the xdist controller."""
        return self.collector if isinstance(self.collector, ControllerCollector) else None

    @property
    def failed(self) -> bool:
        """Whether the report fails the session: a gate, or an output that couldn't be written."""
        return bool(gate_failure_line(self.gates) or self.errors)

    def finish(self, *, stopped: bool) -> dict[str, Any] | None:
        """End of the run: an xdist worker returns what it ships to the controller; otherwise the
        data is saved, the report built, every output written (one failing doesn't stop the
        others) and the gates evaluated."""
        data = self.collector.finish()
        if isinstance(self.collector, WorkerCollector):
            return self.collector.workeroutput()
        data.stopped = stopped
        s = self.settings
        # a gate typed on the command line is applied to this run, partial or not
        gate_partial = s.gate_partial or s.fail_under_from_cli
        run = RunData(data, self.catalog_files, self.conformance_files, self.framework,
                      Gates(s.fail_under_text, s.strict, gate_partial), plugin_version())
        try:
            run.save(s.data_path)  # not announced, as pytest-cov doesn't announce .coverage
        except OSError as exc:
            self.errors.append(f"cannot save the data to {s.data_path}: {exc.strerror or exc}")
        self.report = CoverageReport(self.catalog, data, catalog_refs=[f.ref for f in self.catalog_files],
                                     user_sources=self.user_sources,
                                     conformance=self.conformance if s.conformance else None,
                                     plugin_version=run.plugin_version)
        self.gates = evaluate_gates(self.report, self.fail_under, strict=s.strict, gate_partial=gate_partial)
        for out in s.outputs:
            if out.kind == "data":
                continue
            try:
                self.written.append((out.kind, write_report(ReportTarget(out.kind, str(out.path)), self.report,
                                                            self.gates, out.path.parent)))
            except (OSError, ValueError) as exc:  # the other reports are still written
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                self.errors.append(f"cannot write the {out.kind} report to {out.path}: {why}")
        return None

    def skipped_gate_warnings(self) -> list[str]:
        """A warning per coverage gate of the configuration that this partial run did not apply."""
        if self.report is None:
            return []
        s = self.settings
        return [printable(f"kindling-signals: WARNING gate {g.gate} ({s.fail_under_label}) was not applied: "
                          f"partial run ({'; '.join(self.report.partial_reasons)}); to apply it to partial "
                          "runs too, give --kindling-signals-gate-partial (ini key kindling_signals_gate_partial "
                          "= true), or run the whole suite")
                for g in self.gates if g.skipped]

    def summary_lines(self) -> list[SummaryLine]:
        """The terminal summary: the term report if asked for, what was written, errors, the verdict last."""
        if self.report is None:
            return [SummaryLine("no report: the test session was interrupted before it finished")]
        lines: list[SummaryLine] = []
        term = [t for t in self.settings.targets if t.path is None]
        if term:
            lines += [SummaryLine(line) for line in
                      render_term(self.report, self.gates, missing=term[0].kind == "term-missing")]
        lines += [SummaryLine(f"{kind} report written to {path}") for kind, path in self.written]
        lines += [SummaryLine(printable(f"kindling-signals: ERROR {error}; check that the folder exists and is "
                                        "writable"), error=True) for error in self.errors]
        lines += [SummaryLine(line, warning=True) for line in self.skipped_gate_warnings()]
        failure = gate_failure_line(self.gates)
        if failure:
            lines.append(SummaryLine(failure, error=True))
        return lines

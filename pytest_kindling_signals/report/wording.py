"""The report's sentences, shared by every writer (term, Markdown, HTML): plain text, unescaped.

Each writer escapes what it takes from here for its own format::

    >>> plural(1, "test"), plural(3, "test")
    ('1 test', '3 tests')
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_kindling_signals.report.coverage import CoverageReport
from pytest_kindling_signals.report.gates import GateResult

__all__ = [
    "GAP_FIELDS_SHOWN",
    "LOST_TESTS_SHOWN",
    "STATUS_WORDS",
    "conformance_lines",
    "known_finding_lines",
    "lost_line",
    "partial_line",
    "plural",
    "scope_line",
    "summary_line",
    "worker_lines",
]

#: Lost tests named per worker in the terminal and Markdown (all of them are in the JSON).
LOST_TESTS_SHOWN = 10
#: Missing payload fields named in the terminal's conformance summary (most frequent first).
GAP_FIELDS_SHOWN = 6
STATUS_WORDS = {"same-name": "same name", "other-name": "other name", "missing": "missing"}
GATE_PARTIAL_OPTION = "--kindling-signals-gate-partial"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(report: CoverageReport) -> str:
    t = report.totals
    return (f"{t.emitted} of {t.signals} catalog signals emitted ({t.percent}%) "
            f"by {len(report.data.tests)} tests, {report.emissions} emissions")


def scope_line(report: CoverageReport) -> str | None:
    """``quick reference 88/88 (100.0%), extensions 1/1 (100.0%)``: only when the catalog has more than one part."""
    shown = report.shown_scopes
    if not shown:
        return None
    return ", ".join(f"{c.name} {c.emitted}/{c.signals} ({c.percent}%)" for _, c in shown)


def partial_line(report: CoverageReport, gates: Sequence[GateResult] = ()) -> str | None:
    """Why the run is partial and what was decided about its coverage gates.

    Skipped gates say they were not applied and how to apply them; a gate
    that failed on a partial run was applied (it was typed on the command
    line, or ``--kindling-signals-gate-partial`` asks for it).
    """
    if not report.partial:
        return None
    head = f"Partial run ({'; '.join(report.partial_reasons)})"
    coverage = [g for g in gates if g.gate != "strict"]
    skipped = [g.gate for g in coverage if g.skipped]
    if not coverage:
        return f"{head}: no coverage gate to apply"
    if skipped:
        return (f"{head}: coverage gates not applied ({', '.join(skipped)}): a partial run is gated "
                f"only with {GATE_PARTIAL_OPTION}")
    if any(g.failed for g in coverage):
        return (f"{head}: coverage gates applied to this partial run (given on the command line, "
                f"or {GATE_PARTIAL_OPTION})")
    return f"{head}: coverage gates checked, all passed"


def lost_line(report: CoverageReport, worker: str, why: str) -> str:
    tests = report.lost_tests.get(worker, [])
    if not tests:
        return f"Worker {worker} {why}: it ran no test"
    shown = ", ".join(tests[:LOST_TESTS_SHOWN])
    more = f" and {len(tests) - LOST_TESTS_SHOWN} more" if len(tests) > LOST_TESTS_SHOWN else ""
    return f"Worker {worker} {why}: its {plural(len(tests), 'test')} are missing from this report: {shown}{more}"


def worker_lines(report: CoverageReport) -> list[str]:
    lines = []
    if report.workers:
        lines.append(f"xdist workers: {', '.join(report.workers)}")
    lines += [lost_line(report, w, why) for w, why in report.workers_without_data.items()]
    return lines


def conformance_lines(report: CoverageReport, *, rows: bool = False) -> list[str]:
    """The conformance view (spark-kindling), when asked for: each quick-reference signal under
    its name, another, or none."""
    view = report.conformance
    if view is None:
        return []
    summary = view["summary"]

    def statuses(counts: dict[str, int]) -> str:
        return ", ".join(f"{STATUS_WORDS[s]} {n}" for s, n in counts.items())

    lines = [f"Conformance to the quick reference ({view['framework']}): {summary['total']} signals: "
             f"{statuses(summary['by_status'])}"]
    lines += [f"  {tier}: {statuses(counts)}" for tier, counts in summary["by_tier"].items()]
    emitting = summary["by_status"]["same-name"] + summary["by_status"]["other-name"]
    if summary["exercised"] is not None:
        lines.append(f"  emitted in this run: {summary['exercised']} of the {emitting} it has")
    if summary["gap_fields"]:
        fields = list(summary["gap_fields"].items())
        gaps = ", ".join(f"{f} ({n})" for f, n in fields[:GAP_FIELDS_SHOWN])
        more = f" and {len(fields) - GAP_FIELDS_SHOWN} more fields" if len(fields) > GAP_FIELDS_SHOWN else ""
        lines.append(f"  payload gaps: {summary['with_gaps']} signals lack a field: {gaps}{more}")
    if rows:
        for r in view["rows"]:
            if r["status"] == "missing":
                lines.append(f"  {r['qr_name']}: missing" + (f" ({r['reason']})" if r["reason"] else ""))
                continue
            name = r["qr_name"] if r["status"] == "same-name" else f"{r['qr_name']} -> {r['framework_name']}"
            lacks = f", lacks {', '.join(r['missing_fields'])}" if r["missing_fields"] else ""
            lines.append(f"  {name}: emitted {r['count'] or 0}{lacks}")
    return lines


def known_finding_lines(report: CoverageReport) -> list[str]:
    """The catalog's known findings: how often the run met each, or that it never did (fixed?)."""
    if not report.known_findings:
        return []
    lines = [f"Known findings ({len(report.known_findings)}, they don't fail the gates):"]
    for k, met in report.known_findings:
        count = sum(f.count for f in met)
        seen = (f"{plural(count, 'time')}" if met else "not seen in this run (fixed? then drop it from the "
                "catalog's known_findings)")
        lines.append(f"  {k.describe()}: {seen}; {k.why()}")
    return lines

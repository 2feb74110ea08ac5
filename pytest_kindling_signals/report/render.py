"""Renderers of a :class:`~pytest_kindling_signals.report.coverage.CoverageReport`: term, JSON, Markdown, HTML.

No pytest in here. Each renderer takes the report and the gate verdicts::

    >>> from pytest_kindling_signals.report.options import parse_report_targets
    >>> targets = parse_report_targets(["term-missing", "json:out/signals.json"])
    >>> [(t.kind, t.path) for t in targets]
    [('term-missing', None), ('json', 'out/signals.json')]
    >>> print(render_markdown(report, gates))          # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_kindling_signals.escape import html_text, md_code, md_text, printable
from pytest_kindling_signals.files import write_atomic
from pytest_kindling_signals.report.compare import Comparison, render_compare_markdown, render_compare_term
from pytest_kindling_signals.report.results import REPORT_FORMAT_VERSION, Finding
from pytest_kindling_signals.report.coverage import Coverage, CoverageReport
from pytest_kindling_signals.report.gates import GateResult
from pytest_kindling_signals.report.html import render_html
from pytest_kindling_signals.report.options import ReportTarget
from pytest_kindling_signals.report.wording import (
    STATUS_WORDS,
    conformance_lines,
    known_finding_lines,
    partial_line,
    scope_line,
    summary_line,
    worker_lines,
)

__all__ = [
    "render_html",
    "render_json",
    "render_markdown",
    "render",
    "render_term",
    "write_report",
]

# -- shared wording -------------------------------------------------------------

def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _findings(report: CoverageReport) -> list[tuple[str, list[tuple[str, str, int, str]]]]:
    """(heading, [(signal, problem, count, first test)]) for the three kinds, always all three."""
    def problem(f: Finding) -> str:
        return f.message.removeprefix(f"{f.signal}: ")

    return [
        ("Undocumented signals", [
            (u.signal, "not in the catalog" + (f" (did you mean {' or '.join(u.suggestions)}?)"
                                               if u.suggestions else ""),
             u.count, u.tests[0] if u.tests else "<session>") for u in report.undocumented]),
        ("Payload violations", [(f.signal, problem(f), f.count, f.first_test)
                                for f in report.payload_findings]),
        ("Lifecycle violations", [(f.signal, problem(f), f.count, f.first_test)
                                  for f in report.lifecycle_findings]),
    ]


# The sentences every writer shares live in .wording (the HTML writer's module uses them too).
_summary = summary_line
_scope_line = scope_line
_partial_line = partial_line
_worker_lines = worker_lines
_conformance_lines = conformance_lines
_STATUS_WORDS = STATUS_WORDS


# -- term -----------------------------------------------------------------------------

def unreachable_lines(report: CoverageReport) -> list[str]:
    """The signals the catalog marks ``unreachable`` and no test emitted: counted apart, with the reason."""
    away = report.totals.unreachable
    if not away:
        return []
    return [f"Unreachable where these tests run ({len(away)}), not counted in the coverage:",
            *(f"  {n}: {report.catalog[n].unreachable}" for n in away)]


def render_term(report: CoverageReport, gates: Sequence[GateResult] = (), *,
                missing: bool = False, compare: Comparison | None = None) -> list[str]:
    """The terminal section's lines: the coverage table, then never-emitted names and findings."""
    groups: list[Coverage] = [*report.providers, *report.tiers, report.totals]
    w = max(len("Provider"), *(len(c.name) for c in groups))
    tw = max(len("Tier"), *(len(c.tier or "") for c in report.providers))

    def row(name: str, tier: str, signals: Any, emitted: Any, cover: str) -> str:
        return f"{name:<{w}}  {tier:<{tw}}  {signals:>7}  {emitted:>7}  {cover:>6}".rstrip()

    header = row("Provider", "Tier", "Signals", "Emitted", "Cover")
    rule = "-" * len(header)
    lines = [header, rule]
    lines += [row(c.name, c.tier or "", c.signals, c.emitted, c.percent + "%") for c in report.providers]
    lines.append(rule)
    lines += [row(c.name, "", c.signals, c.emitted, c.percent + "%") for c in report.tiers]
    lines.append(rule)
    t = report.totals
    lines.append(row("TOTAL", "", t.signals, t.emitted, t.percent + "%"))
    lines.append(_summary(report))
    scopes = _scope_line(report)
    if scopes:
        lines.append(scopes)
    partial = _partial_line(report, gates)
    if partial:
        lines.append(partial)
    lines += _worker_lines(report)
    if missing:
        lines.append(f"Never emitted ({len(t.missing)}):" if t.missing else "Never emitted: none")
        lines += [f"  {c.name}: {', '.join(c.missing)}" for c in report.providers if c.missing]
    lines += unreachable_lines(report)
    for heading, items in _findings(report):
        lines.append(f"{heading} ({len(items)}):" if items else f"{heading}: none")
        noun = "operation" if heading.startswith("Lifecycle") else "emission"
        lines += [f"  {what if what.startswith(signal) else f'{signal}: {what}'} "
                  f"({_plural(n, noun)}, first in {test})" for signal, what, n, test in items]
    lines += known_finding_lines(report)
    lines += [f"  note: {n}" for n in report.data.notes]
    lines += _conformance_lines(report, rows=missing)
    if compare is not None:
        compared = render_compare_term(compare)
        lines += [f"Compared with the base: {compared[0]}", *compared[1:]]
    for g in gates:
        if not g.failed:
            lines.append(f"Gate {g.gate}: {'skipped' if g.skipped else 'passed'}: {g.reason}")
    return [printable(line) for line in lines]  # names and test ids may hold control characters


# -- JSON -------------------------------------------------------------------------------

def _gates_dict(gates: Sequence[GateResult]) -> list[dict[str, Any]]:
    return [{"gate": g.gate, "passed": g.passed, "skipped": g.skipped, "reason": g.reason} for g in gates]


def render_json(report: CoverageReport, gates: Sequence[GateResult] = (), compare: Comparison | None = None) -> str:
    """The JSON report: ``$schema``, ``meta``, ``totals``, ``scopes``, ``tiers``, ``providers``,
    ``signals``, ``findings``, ``conformance``, ``gates`` (and ``compare`` when a base is given)."""
    out = {**report.to_dict(), "gates": _gates_dict(gates)}
    if compare is not None:
        out["compare"] = compare.to_dict()
    return json.dumps(out, indent=2) + "\n"


# -- Markdown ------------------------------------------------------------------------------

_md = md_text


def _code(text: str) -> str:
    """A code span in a table cell (or a list: ``\\|`` is read as ``|`` in tables only, so lists
    use :func:`_span`)."""
    return md_code(text, table=True)


def _span(text: str) -> str:
    return md_code(text)


#: Markdown characters spent on "which tests emitted what": a pull-request comment holds 65,536.
MARKDOWN_TESTS_BUDGET = 30_000


def _md_tests(report: CoverageReport) -> list[str]:
    by_test = report.signals_by_test()
    if not by_test:
        return []
    out = [f"<details><summary>Which tests emitted what ({_plural(len(by_test), 'test')})</summary>", ""]
    used = 0
    for i, (test, names) in enumerate(by_test):
        line = f"- {_span(test)}: " + ", ".join(_span(n) for n in names)
        used += len(line)
        if used > MARKDOWN_TESTS_BUDGET:
            out.append(f"- … and {len(by_test) - i} more tests (all of them are in the JSON and HTML reports)")
            break
        out.append(line)
    return out + ["", "</details>", ""]


def _md_conformance(report: CoverageReport) -> list[str]:
    view = report.conformance
    if view is None:
        return []
    summary = view["summary"]
    out = [f"### Conformance to the quick reference ({_md(view['framework'])})", "",
           "| Tier | Same name | Other name | Missing |", "|---|--:|--:|--:|"]
    out += [f"| {_md(t)} | {c['same-name']} | {c['other-name']} | {c['missing']} |" for t, c in summary["by_tier"].items()]
    s = summary["by_status"]
    out.append(f"| **all {summary['total']}** | **{s['same-name']}** | **{s['other-name']}** | **{s['missing']}** |")
    out.append("")
    if summary["exercised"] is not None:
        out += [f"Emitted in this run: {summary['exercised']} of the {s['same-name'] + s['other-name']} it has.", ""]
    if summary["gap_fields"]:
        gaps = ", ".join(f"{_span(f)} ({n})" for f, n in summary["gap_fields"].items())
        out += [f"Payload gaps: {summary['with_gaps']} signals lack a quick-reference field: {gaps}.", ""]
    out += ["<details><summary>Every quick-reference signal</summary>", "",
            "| Quick reference | Status | Emitted as | Count | Lacks |", "|---|---|---|--:|---|"]
    for r in view["rows"]:
        lacks = ", ".join(_code(f) for f in r["missing_fields"]) or ("" if r["status"] != "missing" else _md(r["reason"]))
        shown = _code(r["framework_name"]) if r["framework_name"] else "–"
        count = r["count"] if r["count"] is not None else "–"
        out.append(f"| {_code(r['qr_name'])} | {_STATUS_WORDS[r['status']]} | {shown} | {count} | {lacks} |")
    return out + ["", "</details>", ""]


def render_markdown(report: CoverageReport, gates: Sequence[GateResult] = (),
                    compare: Comparison | None = None) -> str:
    """GitHub-flavoured Markdown for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""
    t = report.totals
    out = ["## Kindling signals: catalog coverage", ""]
    verdict = ""
    if any(g.failed for g in gates):
        verdict = " · :x: gate failed"
    elif gates:
        verdict = " · :white_check_mark: gates passed"
    out.append(f"**{t.percent}%** of catalog signals emitted ({t.emitted} of {t.signals}) by "
               f"{len(report.data.tests)} tests{verdict}")
    scopes = _scope_line(report)
    if scopes:
        out += ["", _md(scopes[0].upper() + scopes[1:])]
    partial = _partial_line(report, gates)
    if partial:
        out += ["", f"> :warning: {_md(partial)}"]
    out += [f"> {_md(line)}" for line in _worker_lines(report)]
    out += ["", "| Provider | Tier | Signals | Emitted | Cover |", "|---|---|--:|--:|--:|"]
    out += [f"| {_md(c.name)} | {_md(c.tier or '')} | {c.signals} | {c.emitted} | {c.percent}% |"
            for c in report.providers]
    out += [f"| **{_md(c.name)}** | | {c.signals} | {c.emitted} | {c.percent}% |" for c in report.tiers]
    out.append(f"| **TOTAL** | | **{t.signals}** | **{t.emitted}** | **{t.percent}%** |")
    if gates:
        out += ["", "### Gates", ""]
        for g in gates:
            mark = ":x:" if g.failed else (":fast_forward:" if g.skipped else ":white_check_mark:")
            out.append(f"- {mark} {_span(g.gate)}: {_md(g.reason)}")
    if compare is not None:
        out += ["", render_compare_markdown(compare, heading="### Compared with the base")]
    out += ["", "### Findings", ""]
    for heading, items in _findings(report):
        out.append(f"**{heading}**: {len(items) or 'none'}")
        if items:
            out += ["", "| Signal | Problem | Count | First test |", "|---|---|--:|---|"]
            out += [f"| {_code(signal)} | {_md(what)} | {n} | {_code(test)} |" for signal, what, n, test in items]
        out.append("")
    for listed in (known_finding_lines(report), unreachable_lines(report)):
        if listed:
            out += [f"**{_md(listed[0].rstrip(':'))}**", "", *(f"- {_md(line.strip())}" for line in listed[1:]), ""]
    if t.missing:
        out += [f"<details><summary>Never emitted ({len(t.missing)})</summary>", ""]
        out += [f"- **{_md(c.name)}**: {', '.join(_span(n) for n in c.missing)}"
                for c in report.providers if c.missing]
        out += ["", "</details>", ""]
    out += _md_tests(report)
    out += _md_conformance(report)
    return "\n".join(out)


# -- HTML: report/html.py (its CSS and script in report/assets/) ------------------------------

# -- writing ----------------------------------------------------------------------------------

_RENDERERS: dict[str, Any] = {"json": render_json, "markdown": render_markdown, "html": render_html}


def render(kind: str, report: CoverageReport, gates: Sequence[GateResult] = (),
           compare: Comparison | None = None) -> str:
    """The text of a file report: ``json``, ``markdown`` or ``html``."""
    return _RENDERERS[kind](report, gates, compare)


def write_report(target: ReportTarget, report: CoverageReport, gates: Sequence[GateResult],
                 base: Path, compare: Comparison | None = None) -> Path:
    """Render ``target`` into its file (relative paths from ``base``); returns the path written.

    Folders on the way are created; :class:`OSError` when the file can't be written.
    """
    assert target.path is not None
    path = Path(target.path)
    if not path.is_absolute():
        path = base / path
    text = render(target.kind, report, gates, compare)
    write_atomic(path, text)  # whole or not at all; folders made
    return path

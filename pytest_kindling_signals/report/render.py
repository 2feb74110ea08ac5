"""Renderers of a :class:`~pytest_kindling_signals.report.coverage.CoverageReport`: term, JSON, Markdown, HTML.

No pytest in here. Each renderer takes the report and the gate verdicts::

    >>> targets = parse_report_targets(["term-missing", "json:out/signals.json"])
    >>> [(t.kind, t.path) for t in targets]
    [('term-missing', None), ('json', 'out/signals.json')]
    >>> print(render_markdown(report, gates))          # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_kindling_signals.report.compare import Comparison, render_compare_markdown, render_compare_term
from pytest_kindling_signals.report.results import REPORT_FORMAT_VERSION, Finding
from pytest_kindling_signals.report.coverage import Coverage, CoverageReport
from pytest_kindling_signals.report.gates import GateResult
from pytest_kindling_signals.report.options import ReportTarget

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


def _summary(report: CoverageReport) -> str:
    t = report.totals
    return (f"{t.emitted} of {t.signals} catalog signals emitted ({t.percent}%) "
            f"by {len(report.data.tests)} tests, {report.emissions} emissions")


def _scope_line(report: CoverageReport) -> str | None:
    """``quick reference 88/88 (100.0%), extensions 1/1 (100.0%)``: only when the catalog has more than one part."""
    shown = report.shown_scopes
    if not shown:
        return None
    return ", ".join(f"{c.name} {c.emitted}/{c.signals} ({c.percent}%)" for _, c in shown)


#: Lost tests named per worker in the terminal and Markdown (all of them are in the JSON).
LOST_TESTS_SHOWN = 10


def _partial_line(report: CoverageReport) -> str | None:
    if not report.partial:
        return None
    return (f"Partial run ({'; '.join(report.partial_reasons)}): coverage gates are not applied "
            "unless --kindling-signals-gate-partial is given")


def _lost_line(report: CoverageReport, worker: str, why: str) -> str:
    tests = report.lost_tests.get(worker, [])
    if not tests:
        return f"Worker {worker} {why}: it ran no test"
    shown = ", ".join(tests[:LOST_TESTS_SHOWN])
    more = f" and {len(tests) - LOST_TESTS_SHOWN} more" if len(tests) > LOST_TESTS_SHOWN else ""
    return f"Worker {worker} {why}: its {_plural(len(tests), 'test')} are missing from this report: {shown}{more}"


def _worker_lines(report: CoverageReport) -> list[str]:
    lines = []
    if report.workers:
        lines.append(f"xdist workers: {', '.join(report.workers)}")
    lines += [_lost_line(report, w, why) for w, why in report.workers_without_data.items()]
    return lines


#: Missing payload fields named in the terminal's conformance summary (most frequent first).
GAP_FIELDS_SHOWN = 6
_STATUS_WORDS = {"same-name": "same name", "other-name": "other name", "missing": "missing"}


def _conformance_lines(report: CoverageReport, *, rows: bool = False) -> list[str]:
    """The conformance view (spark-kindling): each quick-reference signal under its name, another, or none."""
    view = report.conformance
    if view is None:
        return []
    summary = view["summary"]

    def statuses(counts: dict[str, int]) -> str:
        return ", ".join(f"{_STATUS_WORDS[s]} {n}" for s, n in counts.items())

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


# -- term -----------------------------------------------------------------------------

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
    partial = _partial_line(report)
    if partial:
        lines.append(partial)
    lines += _worker_lines(report)
    if missing:
        lines.append(f"Never emitted ({len(t.missing)}):" if t.missing else "Never emitted: none")
        lines += [f"  {c.name}: {', '.join(c.missing)}" for c in report.providers if c.missing]
    for heading, items in _findings(report):
        lines.append(f"{heading} ({len(items)}):" if items else f"{heading}: none")
        noun = "operation" if heading.startswith("Lifecycle") else "emission"
        lines += [f"  {what if what.startswith(signal) else f'{signal}: {what}'} "
                  f"({_plural(n, noun)}, first in {test})" for signal, what, n, test in items]
    lines += [f"  note: {n}" for n in report.data.notes]
    lines += _conformance_lines(report, rows=missing)
    if compare is not None:
        compared = render_compare_term(compare)
        lines += [f"Compared with the base: {compared[0]}", *compared[1:]]
    for g in gates:
        if not g.failed:
            lines.append(f"Gate {g.gate}: {'skipped' if g.skipped else 'passed'}: {g.reason}")
    return lines


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

def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")  # "<id>" must not read as a tag


def _code(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"  # entities are not decoded inside code spans


#: Markdown characters spent on "which tests emitted what": a pull-request comment holds 65,536.
MARKDOWN_TESTS_BUDGET = 30_000


def _md_tests(report: CoverageReport) -> list[str]:
    by_test = report.signals_by_test()
    if not by_test:
        return []
    out = [f"<details><summary>Which tests emitted what ({_plural(len(by_test), 'test')})</summary>", ""]
    used = 0
    for i, (test, names) in enumerate(by_test):
        line = f"- {_code(test)}: " + ", ".join(_code(n) for n in names)
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
    out += [f"| {t} | {c['same-name']} | {c['other-name']} | {c['missing']} |" for t, c in summary["by_tier"].items()]
    s = summary["by_status"]
    out.append(f"| **all {summary['total']}** | **{s['same-name']}** | **{s['other-name']}** | **{s['missing']}** |")
    out.append("")
    if summary["exercised"] is not None:
        out += [f"Emitted in this run: {summary['exercised']} of the {s['same-name'] + s['other-name']} it has.", ""]
    if summary["gap_fields"]:
        gaps = ", ".join(f"`{f}` ({n})" for f, n in summary["gap_fields"].items())
        out += [f"Payload gaps: {summary['with_gaps']} signals lack a quick-reference field: {gaps}.", ""]
    out += ["<details><summary>Every quick-reference signal</summary>", "",
            "| Quick reference | Status | Emitted as | Count | Lacks |", "|---|---|---|--:|---|"]
    for r in view["rows"]:
        lacks = ", ".join(f"`{f}`" for f in r["missing_fields"]) or ("" if r["status"] != "missing" else _md(r["reason"]))
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
    partial = _partial_line(report)
    if partial:
        out += ["", f"> :warning: {_md(partial)}"]
    out += [f"> {_md(line)}" for line in _worker_lines(report)]
    out += ["", "| Provider | Tier | Signals | Emitted | Cover |", "|---|---|--:|--:|--:|"]
    out += [f"| {c.name} | {c.tier} | {c.signals} | {c.emitted} | {c.percent}% |" for c in report.providers]
    out += [f"| **{c.name}** | | {c.signals} | {c.emitted} | {c.percent}% |" for c in report.tiers]
    out.append(f"| **TOTAL** | | **{t.signals}** | **{t.emitted}** | **{t.percent}%** |")
    if gates:
        out += ["", "### Gates", ""]
        for g in gates:
            mark = ":x:" if g.failed else (":fast_forward:" if g.skipped else ":white_check_mark:")
            out.append(f"- {mark} `{g.gate}`: {_md(g.reason)}")
    if compare is not None:
        out += ["", render_compare_markdown(compare, heading="### Compared with the base")]
    out += ["", "### Findings", ""]
    for heading, items in _findings(report):
        out.append(f"**{heading}**: {len(items) or 'none'}")
        if items:
            out += ["", "| Signal | Problem | Count | First test |", "|---|---|--:|---|"]
            out += [f"| {_code(signal)} | {_md(what)} | {n} | {_code(test)} |" for signal, what, n, test in items]
        out.append("")
    if t.missing:
        out += [f"<details><summary>Never emitted ({len(t.missing)})</summary>", ""]
        out += [f"- **{c.name}**: {', '.join(f'`{n}`' for n in c.missing)}"
                for c in report.providers if c.missing]
        out += ["", "</details>", ""]
    out += _md_tests(report)
    out += _md_conformance(report)
    return "\n".join(out)


# -- HTML ----------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;
 margin:0;background:#f6f8fa}
main{max-width:1080px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.sub{color:#59636e;margin:0 0 16px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:12px 16px;min-width:150px}
.card b{display:block;font-size:24px}.card span{color:#59636e;font-size:12px;text-transform:uppercase}
.banner{border-radius:8px;padding:10px 14px;margin:8px 0;border:1px solid}
.warn{background:#fff8c5;border-color:#d4a72c}.fail{background:#ffebe9;border-color:#ff8182}
.ok{background:#dafbe1;border-color:#4ac26b}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d1d9e0;border-radius:8px}
th,td{padding:6px 10px;border-bottom:1px solid #eef1f4;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600;font-size:12px;text-transform:uppercase;color:#59636e}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.total td{font-weight:700;border-top:2px solid #d1d9e0}
.bar{position:relative;height:14px;width:220px;background:#eef1f4;border-radius:7px;overflow:hidden}
.bar i{position:absolute;left:0;top:0;bottom:0;border-radius:7px}
.hi{background:#1a7f37}.mid{background:#bf8700}.lo{background:#cf222e}
.tier{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;background:#ddf4ff;color:#0969da}
.tier-critical{background:#ffebe9;color:#cf222e}.tier-high{background:#fff8c5;color:#9a6700}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f4;padding:1px 5px;border-radius:4px}
ul.names{columns:2;margin:4px 0 8px;padding-left:20px}
.prov{background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:8px 12px;margin:6px 0}
.prov h3{font-size:14px;margin:0 0 6px}.prov small{color:#59636e;font-weight:400}
.chips{display:flex;flex-wrap:wrap;gap:5px}
.chip{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;padding:2px 8px;border-radius:10px;border:1px solid}
.chip.on{background:#dafbe1;border-color:#4ac26b;color:#116329}.chip.on b{margin-left:4px}
.chip.off{background:#fff;border-color:#ff8182;color:#a40e26;border-style:dashed}
details{background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:8px 12px;margin:6px 0}
summary{cursor:pointer;font-weight:600}
.none{color:#1a7f37}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _bar(c: Coverage) -> str:
    pct = float(c.percent)
    cls = "hi" if pct >= 90 else "mid" if pct >= 50 else "lo"
    return f'<div class="bar" title="{c.percent}%"><i class="{cls}" style="width:{pct:.1f}%"></i></div>'


def _coverage_row(c: Coverage, kind: str) -> str:
    badge = f'<span class="tier tier-{_e(c.name)}">{_e(c.name)}</span>'
    name = badge if kind == "tier" else _e(c.name)
    tier = f'<td><span class="tier tier-{_e(c.tier)}">{_e(c.tier)}</span></td>' if kind == "provider" else ""
    cls = ' class="total"' if kind == "total" else ""
    return (f'<tr{cls} data-kind="{kind}" data-name="{_e(c.name)}" data-signals="{c.signals}" '
            f'data-emitted="{c.emitted}" data-percent="{c.percent}"><td>{name}</td>{tier}'
            f'<td class="n">{c.signals}</td><td class="n">{c.emitted}</td><td class="n">{c.percent}%</td>'
            f"<td>{_bar(c)}</td></tr>")


def render_html(report: CoverageReport, gates: Sequence[GateResult] = (), compare: Comparison | None = None) -> str:
    """One self-contained HTML page (inline CSS, no scripts or external assets)."""
    t = report.totals
    p = []
    p.append(f'<h1>Kindling signals: catalog coverage</h1><p class="sub">{_e(_summary(report))}</p>')
    scopes = _scope_line(report)
    if scopes:
        p.append('<p class="sub">' + ", ".join(
            f'<span data-scope="{_e(sid)}" data-signals="{c.signals}" data-emitted="{c.emitted}">'
            f"{_e(c.name)} {c.emitted}/{c.signals} ({c.percent}%)</span>" for sid, c in report.shown_scopes) + "</p>")
    partial = _partial_line(report)
    if partial:
        p.append(f'<div class="banner warn" data-partial="true">{_e(partial)}</div>')
    p += [f'<div class="banner warn">{_e(line)}</div>' for line in _worker_lines(report)]
    for g in gates:
        cls = "fail" if g.failed else "warn" if g.skipped else "ok"
        word = "failed" if g.failed else "skipped" if g.skipped else "passed"
        p.append(f'<div class="banner {cls}" data-gate="{_e(g.gate)}" data-gate-result="{word}">'
                 f"Gate <code>{_e(g.gate)}</code> {word}: {_e(g.reason)}</div>")
    cards = [(f"{t.percent}%", "total coverage"), (f"{t.emitted} / {t.signals}", "signals emitted"),
             (len(report.data.tests), "tests"), (report.emissions, "emissions"),
             (report.findings_count, "findings")]
    p.append('<div class="cards">' + "".join(
        f'<div class="card"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in cards) + "</div>")
    head = "<tr><th>{}</th><th>Signals</th><th>Emitted</th><th>Cover</th><th></th></tr>"
    p.append("<h2>By tier</h2><table>" + head.format("Tier"))
    p += [_coverage_row(c, "tier") for c in report.tiers]
    p.append(_coverage_row(t, "total") + "</table>")
    p.append("<h2>By provider</h2><table>" + head.format("Provider</th><th>Tier"))
    p += [_coverage_row(c, "provider") for c in report.providers]
    p.append("</table>")

    p.append(f'<h2>Signals: {t.emitted} emitted, {len(t.missing)} never emitted</h2>'
             '<p class="sub"><span class="chip on">emitted <b>count</b></span> '
             '<span class="chip off">never emitted</span></p>')
    for c in report.providers:
        chips = []
        for spec in report.catalog.by_provider(c.namespace or c.name):
            n = report.data.counts.get(spec.name, 0)
            tip = f"{spec.name}: {n} emissions by {len(report.tests_of(spec.name))} tests" if n else \
                f"{spec.name}: never emitted"
            chips.append(
                f'<span class="chip on" title="{_e(tip)}" data-signal="{_e(spec.name)}" data-count="{n}">'
                f"{_e(spec.short_name)} <b>{n}</b></span>" if n else
                f'<span class="chip off" title="{_e(tip)}" data-missing="{_e(spec.name)}">'
                f"{_e(spec.short_name)}</span>")
        p.append(f'<div class="prov"><h3>{_e(c.name)} <span class="tier tier-{_e(c.tier)}">{_e(c.tier)}</span>'
                 f' <small>{c.emitted}/{c.signals}</small></h3><div class="chips">{"".join(chips)}</div></div>')

    p.append(f"<h2>Findings ({report.findings_count})</h2>")
    p.append(_findings_html(report))
    if compare is not None:
        p.append("<h2>Compared with the base</h2>" + "".join(
            f"<p>{_e(line)}</p>" for line in render_compare_term(compare)))
    p.append(_conformance_html(report))

    by_test = report.signals_by_test()
    p.append(f"<h2>Which tests emitted what ({len(by_test)} tests)</h2>")
    for test, names in by_test:
        items = "".join(f"<li><code>{_e(n)}</code></li>" for n in names)
        p.append(f'<details data-test="{_e(test)}"><summary><code>{_e(test)}</code> '
                 f"({_plural(len(names), 'signal')})</summary><ul class=\"names\">{items}</ul></details>")
    p.append(f'<p class="sub">Report format {REPORT_FORMAT_VERSION}, plugin {_e(report.plugin_version)}; '
             f'catalogs: {", ".join(_e(ref) for ref in report.catalog_refs)}</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>Kindling signals: {t.percent}% catalog coverage</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(p)}</main></body></html>\n")


def _conformance_html(report: CoverageReport) -> str:
    view = report.conformance
    if view is None:
        return ""
    lines = _conformance_lines(report)
    head = f"<h2>{_e(lines[0].split(':', 1)[0])}</h2>" + "".join(f"<p class=\"sub\">{_e(x.strip())}</p>" for x in lines)
    rows = "".join(
        f'<tr data-conformance="{_e(r["status"])}" data-qr="{_e(r["qr_name"])}"><td><code>{_e(r["qr_name"])}</code></td>'
        f"<td>{_e(_STATUS_WORDS[r['status']])}</td>"
        f"<td>{'<code>' + _e(r['framework_name']) + '</code>' if r['framework_name'] else '&ndash;'}</td>"
        f"<td class=\"n\">{r['count'] if r['count'] is not None else '&ndash;'}</td>"
        f"<td>{_e(', '.join(r['missing_fields']) or r['reason'])}</td></tr>"
        for r in view["rows"])
    return (head + "<table><tr><th>Quick reference</th><th>Status</th><th>Emitted as</th><th>Count</th>"
            f"<th>Lacks</th></tr>{rows}</table>")


def _findings_html(report: CoverageReport) -> str:
    out = []
    if report.undocumented:
        rows = "".join(
            f'<tr data-finding="undocumented"><td><code>{_e(u.signal)}</code></td><td class="n">{u.count}</td>'
            f"<td>{_e(', '.join(u.suggestions)) or '&ndash;'}</td>"
            f"<td><code>{_e(u.tests[0] if u.tests else '<session>')}</code></td></tr>"
            for u in report.undocumented)
        out.append("<h3>Undocumented signals</h3><table><tr><th>Signal</th><th>Count</th>"
                   f"<th>Did you mean</th><th>First test</th></tr>{rows}</table>")
    if report.payload_findings:
        rows = "".join(
            f'<tr data-finding="payload"><td><code>{_e(f.signal)}</code></td><td><code>{_e(f.field)}</code></td>'
            f"<td>{_e(f.expected)}</td><td>{_e(f.actual)}</td><td class=\"n\">{f.count}</td>"
            f"<td><code>{_e(f.first_test)}</code></td></tr>" for f in report.payload_findings)
        out.append("<h3>Payload violations</h3><table><tr><th>Signal</th><th>Field</th><th>Expected</th>"
                   f"<th>Actual</th><th>Count</th><th>First test</th></tr>{rows}</table>")
    if report.lifecycle_findings:
        rows = "".join(
            f'<tr data-finding="lifecycle"><td><code>{_e(f.signal)}</code></td><td>{_e(f.message)}</td>'
            f"<td class=\"n\">{f.count}</td><td><code>{_e(f.first_test)}</code></td></tr>"
            for f in report.lifecycle_findings)
        out.append("<h3>Lifecycle violations</h3><table><tr><th>Signal</th><th>Problem</th><th>Count</th>"
                   f"<th>First test</th></tr>{rows}</table>")
    if not out:
        return ('<p class="none">No undocumented signals, payload violations or lifecycle violations.</p>')
    return "".join(out)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path

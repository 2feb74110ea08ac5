"""The HTML report: one self-contained page, each test's signals on a timeline.

The page's summary (gates, cards, coverage by namespace and tier, signal
chips, findings grouped by signal and kind, conformance when asked for) is
written as HTML here; the tests and their timelines travel as one JSON block
that the page's script draws when a test is opened. Its CSS and script are
package data (``report/assets/``), inlined: the file fetches nothing.

The page's size grows with what it shows, not with every emission of the
run: each test's timeline is already bounded (``--kindling-signals-timeline``),
and the page keeps timelines and payloads up to :data:`TIMELINE_BUDGET` and
:data:`PAYLOAD_BUDGET` characters, failing tests and tests with findings
first. Past :data:`COMPRESS_OVER` characters the JSON is gzipped (base64) and
the page unpacks it with the browser's ``DecompressionStream``::

    >>> page = render_html(report, gates)                      # doctest: +SKIP
    >>> Path("signals.html").write_text(page, encoding="utf-8")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from pytest_kindling_signals.escape import html_text, printable
from pytest_kindling_signals.report.compare import Comparison, render_compare_term
from pytest_kindling_signals.report.coverage import Coverage, CoverageReport, ReportedTest
from pytest_kindling_signals.report.gates import GateResult
from pytest_kindling_signals.report.results import REPORT_FORMAT_VERSION
from pytest_kindling_signals.report.timeline import OUTCOMES, SPAN_STATES, Timeline
from pytest_kindling_signals.report.wording import (
    STATUS_WORDS,
    conformance_lines,
    known_finding_lines,
    partial_line,
    plural,
    scope_line,
    summary_line,
    worker_lines,
)

__all__ = ["COMPRESS_OVER", "PAYLOAD_BUDGET", "TIMELINE_BUDGET", "page_data", "render_html"]

#: Characters of timelines (their payloads aside) a page holds; the rest of the tests are listed
#: without one (every timeline is in the data file and the JSON report).
TIMELINE_BUDGET = 16_000_000
#: Characters of payloads a page holds; past it, timelines are drawn without their payloads.
PAYLOAD_BUDGET = 6_000_000
#: The page's JSON is gzipped (and base64'd) past this many characters.
COMPRESS_OVER = 1_000_000
PIN_KINDS = ("payload", "lifecycle", "undocumented")
_GOOD = frozenset({"passed", "skipped", "xfailed"})


def _e(value: Any) -> str:
    return html_text(value)


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files("pytest_kindling_signals.report").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


# -- the page's data ---------------------------------------------------------------------

def _needs_look(row: ReportedTest) -> bool:
    """A test worth its timeline first: it didn't pass, or its timeline shows a finding or an open span."""
    tl = row.timeline
    return row.outcome not in _GOOD or (tl is not None and (bool(tl.pins) or any(
        s.state in ("open", "unopened") for s in tl.spans)))


def page_data(report: CoverageReport, *, timeline_budget: int = TIMELINE_BUDGET,
              payload_budget: int = PAYLOAD_BUDGET) -> dict[str, Any]:
    """The JSON the page's script reads: names once in tables, tests as compact rows, timelines
    (within the budgets) as arrays. Documented for the script in ``assets/report.js``."""
    catalog = report.catalog
    signals = list(catalog) + sorted(n for n in report.data.counts if n not in catalog)
    sig_index = {n: i for i, n in enumerate(signals)}
    namespaces = catalog.namespaces()
    ns_index = {ns: i for i, ns in enumerate(namespaces)}
    ops: dict[str, int] = {}
    files: dict[str, int] = {}
    rows = report.test_rows()
    outcomes = [*OUTCOMES, "fixture"]  # a shared fixture that emitted is listed with the tests
    chosen = sorted(range(len(rows)), key=lambda i: (not _needs_look(rows[i]), i))
    timelines: list[Any] = []
    where: dict[int, int] = {}
    spent_tl = spent_pl = 0
    left_without = {"timelines": 0, "payloads": 0}
    for i in chosen:
        tl = rows[i].timeline
        if tl is None:
            continue
        if spent_tl >= timeline_budget:  # spent: the rest are counted, not measured
            left_without["timelines"] += 1
            continue
        compact = _compact(tl, sig_index, ops, with_payloads=False)
        size = len(json.dumps(compact, separators=(",", ":")))
        if spent_tl + size > timeline_budget:
            left_without["timelines"] += 1
            spent_tl = timeline_budget  # the budget is spent: no later timeline is fitted in
            continue
        spent_tl += size
        payloads = [e.payload for e in tl.emissions]
        size = len(json.dumps(payloads, separators=(",", ":"), default=str)) if spent_pl < payload_budget else 0
        if size and spent_pl + size <= payload_budget:
            spent_pl += size
            for em, p in zip(compact[2], payloads):
                em.append(p)
        else:
            left_without["payloads"] += 1
            spent_pl = payload_budget
        where[i] = len(timelines)
        timelines.append(compact)
    tests = []
    for i, r in enumerate(rows):
        file, sep, rest = r.nodeid.partition("::")
        f = files.setdefault(file if sep else "", len(files))
        tl = r.timeline
        tests.append([f, rest if sep else r.nodeid, outcomes.index(r.outcome) if r.outcome in outcomes else 0,
                      [sig_index[n] for n in r.signals], where.get(i, -1),
                      len(tl.pins) if tl is not None else 0, tl.size if tl is not None else 0])
    return {
        "version": 1,
        "signals": signals,
        "signalNamespace": [ns_index.get(catalog[n].namespace, -1) if n in catalog else -1 for n in signals],
        "signalRole": [_role(catalog, n) for n in signals],
        "namespaces": [[ns, catalog.provider_info(ns).cls] for ns in namespaces],
        "outcomes": outcomes,
        "spanStates": list(SPAN_STATES),
        "pinKinds": list(PIN_KINDS),
        "operations": list(ops),
        "files": list(files),
        "tests": tests,
        "timelines": timelines,
        "withoutTimeline": left_without["timelines"],
        "withoutPayloads": left_without["payloads"],
    }


def _role(catalog: Any, name: str) -> int:
    """0 an event, 1 opens an operation, 2 closes it, 3 closes it as failed."""
    if name not in catalog:
        return 0
    if catalog.operation_opened_by(name) is not None:
        return 1
    op = catalog.operation_closed_by(name)
    if op is None:
        return 0
    return 3 if name == op.failed else 2


def _compact(tl: Timeline, sig_index: dict[str, int], ops: dict[str, int], *, with_payloads: bool) -> list[Any]:
    """[duration, threads, emissions [at, thread, signal(, payload)], spans [op, start, end, state],
    pins [emission, kind, message], left out]."""
    return [
        tl.duration,
        [[name, ident] for name, ident in tl.threads],
        [[e.at, e.thread, sig_index[e.signal]] + ([e.payload] if with_payloads else []) for e in tl.emissions],
        [[ops.setdefault(s.operation, len(ops)), s.start, s.end, SPAN_STATES.index(s.state)] for s in tl.spans],
        [[p.emission, PIN_KINDS.index(p.kind), p.message] for p in tl.pins],
        tl.left_out,
    ]


def _data_block(data: dict[str, Any]) -> str:
    """The data as a ``<script>`` the page reads (``<`` written ``\\u003c``: no ``</script>`` ends it early)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True, default=str).replace("<", "\\u003c")
    if len(text) <= COMPRESS_OVER:
        return f'<script type="application/json" id="ks-data">{text}</script>'
    packed = base64.b64encode(gzip.compress(text.encode("ascii"), compresslevel=6, mtime=0)).decode("ascii")
    return f'<script type="application/gzip+base64" id="ks-data">{packed}</script>'


# -- the summary ---------------------------------------------------------------------------

def _bar(c: Coverage) -> str:
    pct = float(c.percent)
    cls = "hi" if pct >= 90 else "mid" if pct >= 50 else "lo"
    return f'<div class="bar" title="{c.percent}%"><i class="{cls}" style="width:{pct:.1f}%"></i></div>'


def _tier(name: str) -> str:
    return f'<span class="tier tier-{_e(name)}">{_e(name)}</span>'


def _coverage_row(c: Coverage, kind: str, tiers: Sequence[str]) -> str:
    attrs = (f'data-kind="{kind}" data-name="{_e(c.namespace if kind == "provider" else c.name)}" '
             f'data-signals="{c.signals}" '
             f'data-emitted="{c.emitted}" data-percent="{c.percent}"')
    if kind == "provider":
        split = {t: (n, e) for t, n, e in c.tiers}
        cells = "".join(f'<td class="n">{split[t][1]}/{split[t][0]}</td>' if t in split else '<td class="n dim">&ndash;</td>'
                        for t in tiers)
        head = (f'<td><button class="ns" data-filter-ns="{_e(c.namespace)}" title="Show the tests that emitted '
                f'{_e(c.namespace)} signals"><code>{_e(c.namespace)}</code></button></td><td class="cls">{_e(c.provider)}</td>')
        attrs += f' data-namespace="{_e(c.namespace)}" data-provider="{_e(c.provider)}"'
    elif kind == "tier":
        cells = "".join(f'<td class="n">{c.emitted}/{c.signals}</td>' if t == c.name else '<td class="n"></td>'
                        for t in tiers)
        head = f'<td colspan="2">{_tier(c.name)} <span class="dim">all namespaces</span></td>'
    else:
        cells = "".join('<td class="n"></td>' for _ in tiers)
        head = '<td colspan="2">TOTAL</td>'
    cls = {"tier": ' class="sum"', "total": ' class="total"'}.get(kind, "")
    return (f"<tr{cls} {attrs}>{head}{cells}<td class=\"n\">{c.signals}</td><td class=\"n\">{c.emitted}</td>"
            f"<td class=\"n\">{c.percent}%</td><td>{_bar(c)}</td></tr>")


def _coverage_table(report: CoverageReport) -> str:
    tiers = [c.name for c in report.tiers]
    head = ("<thead><tr><th>Namespace</th><th>Provider</th>"
            + "".join(f"<th class=\"n\">{_tier(t)}</th>" for t in tiers)
            + '<th class="n">Signals</th><th class="n">Emitted</th><th class="n">Cover</th><th></th></tr></thead>')
    body = "".join(_coverage_row(c, "provider", tiers) for c in report.providers)
    foot = "".join(_coverage_row(c, "tier", tiers) for c in report.tiers) + _coverage_row(report.totals, "total", tiers)
    return f'<table class="coverage">{head}<tbody>{body}</tbody><tfoot>{foot}</tfoot></table>'


def _chips(report: CoverageReport) -> str:
    out = []
    for c in report.providers:
        chips = []
        for spec in report.catalog.by_provider(c.namespace or c.name):
            n = report.data.counts.get(spec.name, 0)
            if n:
                tip = f"{spec.name} ({spec.tier}): {n} emissions by {plural(len(report.tests_of(spec.name)), 'test')}; click for the tests"
                chips.append(f'<button class="chip on" title="{_e(tip)}" data-signal="{_e(spec.name)}" data-count="{n}">'
                             f"{_e(spec.short_name)} <b>{n}</b></button>")
            else:
                chips.append(f'<span class="chip off" title="{_e(spec.name)} ({_e(spec.tier)}): never emitted" '
                             f'data-missing="{_e(spec.name)}">{_e(spec.short_name)}</span>')
        out.append(f'<div class="prov"><h3><code>{_e(c.namespace)}</code> <span class="cls">{_e(c.provider)}</span> '
                   f'<small>{c.emitted}/{c.signals}</small></h3><div class="chips">{"".join(chips)}</div></div>')
    return "".join(out)


def _test_link(test: str) -> str:
    return f'<a class="test-link" href="#test={_e(_url_quote(test))}" data-open-test="{_e(test)}"><code>{_e(test)}</code></a>'


def _url_quote(text: str) -> str:
    from urllib.parse import quote

    return quote(printable(text), safe="")  # as the page shows the id: a lone surrogate as \udcff


def _findings_html(report: CoverageReport) -> str:
    groups = report.finding_groups
    if not groups:
        return '<p class="none">No undocumented signals, payload violations or lifecycle violations.</p>'
    words = {"undocumented": "undocumented", "payload": "payload", "lifecycle": "lifecycle"}
    rows = []
    for g in groups:
        if g.kind == "undocumented":
            u = next(u for u in report.undocumented if u.signal == g.signal)
            what = "not in the catalog" + (f" (did you mean {' or '.join(u.suggestions)}?)" if u.suggestions else "")
            items = [(what, g.count, g.tests[0] if g.tests else "<session>")]
            noun = "emission"
        else:
            items = [(f.message.removeprefix(f"{f.signal}: "), f.count, f.first_test) for f in g.findings]
            noun = "operation" if g.kind == "lifecycle" else "emission"
        detail = "".join(f'<li><span class="msg">{_e(msg)}</span> <span class="dim">{plural(n, noun)}, first in</span> '
                         f"{_test_link(test)}</li>" for msg, n, test in items)
        summary = items[0][0] if len(items) == 1 else f"{len(items)} kinds of breach"
        rows.append(
            f'<details class="finding" data-finding="{g.kind}" data-signal-group="{_e(g.signal)}">'
            f'<summary><span class="kind kind-{g.kind}">{words[g.kind]}</span> <code>{_e(g.signal)}</code>'
            f' <span class="count">{plural(g.count, noun)}</span> <span class="dim">{_e(summary)}</span>'
            f' <span class="dim">· {plural(len(g.tests), "test")}</span></summary><ul>{detail}</ul></details>')
    return "".join(rows)


def _conformance_html(report: CoverageReport) -> str:
    view = report.conformance
    if view is None:
        return ""
    lines = conformance_lines(report)
    head = f"<h2>{_e(lines[0].split(':', 1)[0])}</h2>" + "".join(f'<p class="sub">{_e(x.strip())}</p>' for x in lines)
    rows = "".join(
        f'<tr data-conformance="{_e(r["status"])}" data-qr="{_e(r["qr_name"])}"><td><code>{_e(r["qr_name"])}</code></td>'
        f"<td>{_e(STATUS_WORDS[r['status']])}</td>"
        f"<td>{'<code>' + _e(r['framework_name']) + '</code>' if r['framework_name'] else '&ndash;'}</td>"
        f"<td class=\"n\">{r['count'] if r['count'] is not None else '&ndash;'}</td>"
        f"<td>{_e(', '.join(r['missing_fields']) or r['reason'])}</td></tr>"
        for r in view["rows"])
    return (f'<section id="conformance">{head}<details><summary>Every quick-reference signal</summary><table>'
            "<tr><th>Quick reference</th><th>Status</th><th>Emitted as</th><th>Count</th>"
            f"<th>Lacks</th></tr>{rows}</table></details></section>")


def _cards(report: CoverageReport) -> str:
    t = report.totals
    outcomes = " · ".join(f'<span class="o o-{o}">{n} {o}</span>' for o, n in report.outcomes.items() if n)
    cards = [(f"{t.percent}%", "catalog coverage", ""), (f"{t.emitted} / {t.signals}", "signals emitted", ""),
             (str(len(report.data.tests)), "tests", outcomes), (f"{report.emissions:,}", "emissions", ""),
             (str(report.findings_count), "findings", "")]
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{_e(v)}</b><span>{_e(k)}</span>{f"<small>{extra}</small>" if extra else ""}</div>'
        for v, k, extra in cards) + "</div>"


def render_html(report: CoverageReport, gates: Sequence[GateResult] = (), compare: Comparison | None = None) -> str:
    """One self-contained HTML page (inline CSS and script; nothing fetched)."""
    t = report.totals
    p = [f'<header><h1>Kindling signals</h1><p class="sub">{_e(summary_line(report))}</p></header>']
    scopes = scope_line(report)
    if scopes:
        p.append('<p class="sub">' + ", ".join(
            f'<span data-scope="{_e(sid)}" data-signals="{c.signals}" data-emitted="{c.emitted}">'
            f"{_e(c.name)} {c.emitted}/{c.signals} ({c.percent}%)</span>" for sid, c in report.shown_scopes) + "</p>")
    for g in gates:
        cls = "fail" if g.failed else "warn" if g.skipped else "ok"
        word = "failed" if g.failed else "skipped" if g.skipped else "passed"
        p.append(f'<div class="banner {cls}" data-gate="{_e(g.gate)}" data-gate-result="{word}">'
                 f"Gate <code>{_e(g.gate)}</code> {word}: {_e(g.reason)}</div>")
    partial = partial_line(report, gates)
    if partial:
        p.append(f'<div class="banner warn" data-partial="true">{_e(partial)}</div>')
    p += [f'<div class="banner warn">{_e(line)}</div>' for line in worker_lines(report)]
    p += [f'<div class="banner note">note: {_e(n)}</div>' for n in report.data.notes]
    p.append(_cards(report))
    p.append('<nav class="toc"><a href="#coverage">Coverage</a><a href="#signals">Signals</a>'
             f'<a href="#findings">Findings ({report.findings_count})</a><a href="#tests">Tests</a>'
             + ('<a href="#conformance">Conformance</a>' if report.conformance is not None else "") + "</nav>")
    p.append('<section id="coverage"><h2>Coverage by namespace and tier</h2>'
             '<p class="sub">Each signal counts in its own tier; a namespace\'s tier columns read emitted/signals.</p>'
             f"{_coverage_table(report)}</section>")
    p.append(f'<section id="signals"><h2>Signals: {t.emitted} emitted, {len(t.missing)} never emitted</h2>'
             '<p class="sub"><span class="chip on">emitted <b>count</b></span> '
             '<span class="chip off">never emitted</span> Click a signal for the tests that emitted it.</p>'
             f"{_chips(report)}</section>")
    known = known_finding_lines(report)
    known_html = (f'<details class="known"><summary>{_e(known[0].rstrip(":"))}</summary><ul>'
                  + "".join(f"<li>{_e(line.strip())}</li>" for line in known[1:]) + "</ul></details>") if known else ""
    p.append(f'<section id="findings"><h2>Findings ({report.findings_count})</h2>{_findings_html(report)}'
             f"{known_html}</section>")
    if compare is not None:
        p.append("<section id=\"compare\"><h2>Compared with the base</h2>" + "".join(
            f"<p>{_e(line)}</p>" for line in render_compare_term(compare)) + "</section>")
    p.append('<section id="tests"><h2>Tests</h2>'
             '<noscript><p class="banner warn">The test list and the timelines need JavaScript.</p></noscript>'
             '<div id="ks-tests" class="tests"><p class="sub">Loading the tests…</p></div></section>')
    p.append(_conformance_html(report))
    p.append(f'<footer class="sub">Report format {REPORT_FORMAT_VERSION}, plugin {_e(report.plugin_version)}; '
             f'catalogs: {", ".join(_e(ref) for ref in report.catalog_refs)}</footer>')
    p.append(_data_block(page_data(report)))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>Kindling signals: {t.percent}% catalog coverage</title><style>{_asset('report.css')}</style>"
            f"</head><body><main>{''.join(p)}</main><script>{_asset('report.js')}</script></body></html>\n")

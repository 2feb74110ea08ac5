"""A run's coverage report compared with a base run's: what changed, per signal and finding.

``kindling-signals compare BASE HEAD`` (and ``kindling-signals report --base``)
build a :class:`Comparison` of two :class:`~pytest_kindling_signals.report.coverage.CoverageReport`:
signals newly covered, no longer covered, added to or removed from the
catalog; findings that are new or fixed; coverage per tier before and
after. A signal no longer covered, or a new finding, is a regression::

    >>> cmp = Comparison(base_report, head_report)     # doctest: +SKIP
    >>> [c.signal for c in cmp.no_longer_covered]      # doctest: +SKIP
    ['entity.merge_failed']
    >>> cmp.regressions                                # doctest: +SKIP
    ['1 signal no longer covered (entity.merge_failed)']

No pytest in here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_kindling_signals.escape import md_code, md_text, printable
from pytest_kindling_signals.report.coverage import Coverage, CoverageReport, floor_percent

__all__ = ["COMPARE_FORMAT", "Comparison", "FindingChange", "SignalChange",
           "render_compare_json", "render_compare_markdown", "render_compare_term"]

COMPARE_FORMAT = "kindling-signals-compare"
COMPARE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class SignalChange:
    signal: str
    tier: str
    provider: str

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "tier": self.tier, "provider": self.provider}


@dataclass(frozen=True)
class FindingChange:
    """A finding (by what it is, not by how often) present on one side only."""

    kind: str  # undocumented, payload, lifecycle
    signal: str
    problem: str
    count: int
    first_test: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "signal": self.signal, "problem": self.problem,
                "count": self.count, "first_test": self.first_test}

    def __str__(self) -> str:
        return f"{self.kind}: {self.signal}: {self.problem}"


def _findings(report: CoverageReport) -> dict[tuple[str, ...], FindingChange]:
    out: dict[tuple[str, ...], FindingChange] = {}
    for u in report.undocumented:
        out[("undocumented", u.signal)] = FindingChange(
            "undocumented", u.signal, "not in the catalog", u.count, u.tests[0] if u.tests else "<session>")
    for f in report.payload_findings:
        problem = f"field {f.field!r}: expected {f.expected}"
        out[("payload", f.signal, f.field or "", f.expected or "")] = FindingChange(
            "payload", f.signal, problem, f.count, f.first_test)
    for f in report.lifecycle_findings:
        out[("lifecycle", f.signal, f.message)] = FindingChange(
            "lifecycle", f.signal, f.message.removeprefix(f"{f.signal}: "), f.count, f.first_test)
    return out


def _ratio(c: Coverage | None) -> str:
    return "–" if c is None else f"{c.emitted}/{c.signals} ({c.percent}%)"


def _delta(base: Coverage | None, head: Coverage | None) -> str:
    b = base.emitted if base is not None else 0
    h = head.emitted if head is not None else 0
    return f"{h - b:+d}" if h != b else "±0"


class Comparison:
    """``head`` set against ``base``: coverage per tier, signal and finding changes."""

    def __init__(self, base: CoverageReport, head: CoverageReport, *,
                 base_label: str = "base", head_label: str = "head") -> None:
        self.base, self.head = base, head
        self.base_label, self.head_label = base_label, head_label
        b_cat, h_cat = base.catalog, head.catalog

        def emitted(report: CoverageReport) -> set[str]:
            return {n for n, c in report.data.counts.items() if c and n in report.catalog}

        b_emitted, h_emitted = emitted(base), emitted(head)

        def change(name: str) -> SignalChange:
            spec = h_cat[name] if name in h_cat else b_cat[name]
            return SignalChange(name, spec.tier, spec.provider)

        self.newly_covered = [change(n) for n in h_cat if n in h_emitted and n not in b_emitted]
        self.no_longer_covered = [change(n) for n in h_cat if n in b_emitted and n not in h_emitted]
        self.added_to_catalog = [n for n in h_cat if n not in b_cat]
        self.removed_from_catalog = [n for n in b_cat if n not in h_cat]
        b_find, h_find = _findings(base), _findings(head)
        self.new_findings = [f for k, f in h_find.items() if k not in b_find]
        self.fixed_findings = [f for k, f in b_find.items() if k not in h_find]
        b_tiers = {c.name: c for c in base.tiers}
        h_tiers = {c.name: c for c in head.tiers}
        self.tiers = [(t, b_tiers.get(t), h_tiers.get(t)) for t in dict.fromkeys([*h_tiers, *b_tiers])]

    @property
    def regressions(self) -> list[str]:
        """What got worse: signals no longer covered, new findings; empty when nothing did."""
        out = []
        if self.no_longer_covered:
            n = len(self.no_longer_covered)
            out.append(f"{n} signal{'s' if n != 1 else ''} no longer covered "
                       f"({', '.join(c.signal for c in self.no_longer_covered)})")
        if self.new_findings:
            n = len(self.new_findings)
            out.append(f"{n} new finding{'s' if n != 1 else ''} "
                       f"({', '.join(sorted({f.signal for f in self.new_findings}))})")
        return out

    @property
    def changed(self) -> bool:
        return bool(self.newly_covered or self.no_longer_covered or self.added_to_catalog
                    or self.removed_from_catalog or self.new_findings or self.fixed_findings
                    or (self.base.totals.emitted, self.base.totals.signals)
                    != (self.head.totals.emitted, self.head.totals.signals))

    def partial_notes(self) -> list[str]:
        """A warning per partial side (one when both are partial for the same reasons)."""
        sides = [(label, "; ".join(r.partial_reasons)) for label, r in
                 ((self.base_label, self.base), (self.head_label, self.head)) if r.partial]
        if len(sides) == 2 and sides[0][1] == sides[1][1]:
            labels = sides[0][0] if sides[0][0] == sides[1][0] else f"{sides[0][0]} and {sides[1][0]}"
            return [f"{labels}: partial runs ({sides[0][1]}): a signal they lack may only not have run"]
        return [f"{label} is a partial run ({why}): a signal it lacks may only not have run" for label, why in sides]

    def to_dict(self) -> dict[str, Any]:
        def side(label: str, r: CoverageReport) -> dict[str, Any]:
            return {"source": label, "partial": r.partial, "partial_reasons": list(r.partial_reasons),
                    "signals": r.totals.signals, "emitted": r.totals.emitted,
                    "percent": float(floor_percent(r.totals.emitted, r.totals.signals, 2)),
                    "findings": r.findings_count}

        def counts(c: Coverage | None) -> dict[str, int] | None:
            return None if c is None else {"signals": c.signals, "emitted": c.emitted}

        return {
            "format": COMPARE_FORMAT,
            "format_version": COMPARE_FORMAT_VERSION,
            "base": side(self.base_label, self.base),
            "head": side(self.head_label, self.head),
            "tiers": {t: {"base": counts(b), "head": counts(h)} for t, b, h in self.tiers},
            "newly_covered": [c.to_dict() for c in self.newly_covered],
            "no_longer_covered": [c.to_dict() for c in self.no_longer_covered],
            "catalog": {"added": list(self.added_to_catalog), "removed": list(self.removed_from_catalog)},
            "findings": {"new": [f.to_dict() for f in self.new_findings],
                         "fixed": [f.to_dict() for f in self.fixed_findings]},
            "changed": self.changed,
            "regressions": self.regressions,
        }


def _signals(changes: Sequence[SignalChange]) -> str:
    return ", ".join(f"{c.signal} ({c.tier})" for c in changes)


def render_compare_term(cmp: Comparison) -> list[str]:
    """The comparison's lines for a terminal; the last says whether anything regressed."""
    b, h = cmp.base.totals, cmp.head.totals
    lines = [f"{cmp.base_label} -> {cmp.head_label}",
             f"TOTAL: {_ratio(b)} -> {_ratio(h)} ({_delta(b, h)})"]
    lines += [f"  {t}: {_ratio(bc)} -> {_ratio(hc)} ({_delta(bc, hc)})" for t, bc, hc in cmp.tiers]
    lines += cmp.partial_notes()
    if not cmp.changed:
        lines.append("No change: the same signals covered and the same findings.")
        return [printable(line) for line in lines]
    for title, changes in (("No longer covered", cmp.no_longer_covered), ("Newly covered", cmp.newly_covered)):
        lines.append(f"{title} ({len(changes)}): {_signals(changes)}" if changes else f"{title}: none")
    if cmp.added_to_catalog:
        lines.append(f"Added to the catalog ({len(cmp.added_to_catalog)}): {', '.join(cmp.added_to_catalog)}")
    if cmp.removed_from_catalog:
        lines.append(f"Removed from the catalog ({len(cmp.removed_from_catalog)}): "
                     f"{', '.join(cmp.removed_from_catalog)}")
    for title, found in (("New findings", cmp.new_findings), ("Fixed findings", cmp.fixed_findings)):
        lines.append(f"{title} ({len(found)}):" if found else f"{title}: none")
        lines += [f"  {f} ({f.count}, first in {f.first_test})" for f in found]
    regressions = cmp.regressions
    lines.append(("Regression: " + "; ".join(regressions)) if regressions else "No regression.")
    return [printable(line) for line in lines]


_md = md_text


def render_compare_markdown(cmp: Comparison, *, heading: str = "## Kindling signals: compared with the base") -> str:
    """A pull-request comment: the verdict, coverage per tier before and after, the changes."""
    regressions = cmp.regressions
    if not cmp.changed:
        verdict = ":white_check_mark: no change"
    elif regressions:
        verdict = ":x: " + _md("; ".join(regressions))
    else:
        verdict = ":white_check_mark: no regression"
    out = [heading, "", f"{md_code(cmp.base_label)} → {md_code(cmp.head_label)}: {verdict}", ""]
    out += [f"> :warning: {_md(n)}" for n in cmp.partial_notes()]
    if cmp.partial_notes():
        out.append("")
    b, h = cmp.base.totals, cmp.head.totals
    out += ["| | Base | Head | Change |", "|---|--:|--:|--:|",
            f"| **TOTAL** | {_ratio(b)} | {_ratio(h)} | {_delta(b, h)} |"]
    out += [f"| {_md(t)} | {_ratio(bc)} | {_ratio(hc)} | {_delta(bc, hc)} |" for t, bc, hc in cmp.tiers]
    out.append("")
    for title, changes in (("No longer covered", cmp.no_longer_covered), ("Newly covered", cmp.newly_covered)):
        out.append(f"**{title}** ({len(changes)}): " + ", ".join(f"{md_code(c.signal)} ({_md(c.tier)})"
                                                                 for c in changes)
                   if changes else f"**{title}**: none")
        out.append("")
    for title, names in (("Added to the catalog", cmp.added_to_catalog),
                         ("Removed from the catalog", cmp.removed_from_catalog)):
        if names:
            out += [f"**{title}** ({len(names)}): " + ", ".join(md_code(n) for n in names), ""]
    for title, found in (("New findings", cmp.new_findings), ("Fixed findings", cmp.fixed_findings)):
        out.append(f"**{title}**: {len(found) or 'none'}")
        if found:
            out += ["", "| Kind | Signal | Problem | Count | First test |", "|---|---|---|--:|---|"]
            out += [f"| {f.kind} | {md_code(f.signal, table=True)} | {_md(f.problem)} | {f.count} | "
                    f"{md_code(f.first_test, table=True)} |"
                    for f in found]
        out.append("")
    return "\n".join(out)


def render_compare_json(cmp: Comparison) -> str:
    import json

    return json.dumps(cmp.to_dict(), indent=2) + "\n"

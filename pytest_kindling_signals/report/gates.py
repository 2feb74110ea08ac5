"""The gates: ``--kindling-signals-fail-under`` parsed, and verdicts worked out from a report."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pytest_kindling_signals.names import close_matches, did_you_mean
from pytest_kindling_signals.report.coverage import Coverage, CoverageReport, SCOPES

__all__ = ["GATE_SCOPES", "FailUnder", "GateResult", "evaluate_gates", "gate_failure_line", "parse_fail_under"]

# -- gates --------------------------------------------------------------------------

_FAIL_UNDER_FORMS = "a percentage like 95, or per tier like critical:100,high:90 (total:95 for the total)"
#: Gate scopes besides the tiers (``quick-reference:100,extensions:80``), in :data:`SCOPES` order.
GATE_SCOPES = ("total", *(sid for sid, _ in SCOPES))
_PERCENT = re.compile(r"[0-9]+(?:\.[0-9]+)?%?")


@dataclass(frozen=True)
class FailUnder:
    """A coverage gate: ``scope`` (``total``, a tier, or a scope of :data:`SCOPES`) needs at
    least ``percent``."""

    scope: str
    percent: Decimal

    def passes(self, c: Coverage) -> bool:
        # integers and exact fractions: 99.6% never passes a 100 gate
        return c.emitted * 100 >= Fraction(self.percent) * c.signals

    def __str__(self) -> str:
        return f"{self.scope}:{self.percent}"


def parse_fail_under(text: Any, tiers: Sequence[str] | None,
                     option: str = "--kindling-signals-fail-under") -> tuple[FailUnder, ...]:
    """Parse ``95``, ``total:95`` or ``critical:100,high:90``; :class:`ValueError` says what's wrong.

    Percentages are plain decimals (``95``, ``99.5``, optionally ``95%``)
    between 0 and 100. Scopes are ``total``, a tier, ``quick-reference``,
    ``extensions`` or ``user-catalogs``; ``tiers=None`` leaves tier names
    unchecked (when no catalog is at hand).

    >>> parse_fail_under("critical:100,high:90", ["critical", "high", "moderate"])
    (FailUnder(scope='critical', percent=Decimal('100')), FailUnder(scope='high', percent=Decimal('90')))
    """
    text = str(text)
    known = [*(tiers or ()), *GATE_SCOPES]

    def bad(problem: str) -> ValueError:
        listed = f"tiers: {', '.join(tiers)}; " if tiers is not None else ""
        return ValueError(f"{option}={text!r}: {problem}; use {_FAIL_UNDER_FORMS} "
                          f"({listed}other scopes: {', '.join(GATE_SCOPES)})")

    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or not all(parts):
        raise bad("empty gate")
    gates: dict[str, FailUnder] = {}
    for part in parts:
        scope, sep, value = part.rpartition(":")
        scope = scope.strip() if sep else "total"
        if tiers is not None and scope not in known:
            raise bad(f"unknown tier or scope {scope!r}{did_you_mean(close_matches(scope, known, n=1))}")
        if tiers is None and (not scope or not scope.isprintable() or ":" in scope):
            raise bad(f"{scope!r} is not a tier or scope name")
        value = value.strip()
        if not _PERCENT.fullmatch(value):
            raise bad(f"{value!r} is not a number")
        pct = Decimal(value.removesuffix("%"))
        if pct > 100:
            raise bad(f"{value!r} is not a percentage between 0 and 100")
        if scope in gates:
            raise bad(f"{scope!r} is given twice")
        gates[scope] = FailUnder(scope, pct)
    return tuple(gates.values())


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict; ``skipped`` gates (partial runs) neither pass nor fail the session."""

    gate: str
    passed: bool
    reason: str
    skipped: bool = False

    @property
    def failed(self) -> bool:
        return not self.passed and not self.skipped


def _names(names: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def evaluate_gates(report: CoverageReport, fail_under: Sequence[FailUnder] = (), *,
                   strict: bool = False, gate_partial: bool = False) -> list[GateResult]:
    """Every configured gate's verdict, in the order given (coverage gates, then strict)."""
    results = []
    by_scope = {sid: c for sid, c in report.scopes.items()}
    by_scope.update({c.name: c for c in report.tiers})  # a tier wins over a scope of its name
    by_scope["total"] = report.totals
    for gate in fail_under:
        c = by_scope.get(gate.scope)
        if c is None:  # a tier the catalog doesn't have (a gate kept in saved data)
            results.append(GateResult(str(gate), False, f"{gate.scope}: no such tier or scope in the catalog"))
            continue
        label = f"{gate.scope} coverage {c.emitted}/{c.signals} ({c.percent}%)"
        if gate.passes(c):
            results.append(GateResult(str(gate), True, f"{label} >= {gate.percent}%"))
        elif report.partial and not gate_partial:
            results.append(GateResult(str(gate), False,
                                      f"{label} < {gate.percent}%, not applied: partial run", skipped=True))
        else:
            results.append(GateResult(str(gate), False,
                                      f"{label} < {gate.percent}%, never emitted: {_names(c.missing)}"))
    if strict:
        parts = []
        if report.undocumented:
            parts.append(f"{len(report.undocumented)} undocumented "
                         f"({_names([u.signal for u in report.undocumented])})")
        if report.payload_findings:
            parts.append(f"{len(report.payload_findings)} payload violations "
                         f"({_names(sorted({f.signal for f in report.payload_findings}))})")
        if report.lifecycle_findings:
            parts.append(f"{len(report.lifecycle_findings)} lifecycle violations "
                         f"({_names(sorted({f.signal for f in report.lifecycle_findings}))})")
        results.append(GateResult("strict", not parts,
                                  "strict: " + ("; ".join(parts) if parts else "no findings")))
    return results


def gate_failure_line(results: Sequence[GateResult]) -> str | None:
    """The one line that says why the session failed, or ``None`` when no gate failed."""
    failed = [r.reason for r in results if r.failed]
    if not failed:
        return None
    return "kindling-signals: FAILED " + "; ".join(failed)

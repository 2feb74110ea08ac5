"""The report model: a session's data set against the catalog, per signal, provider, tier and scope."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pytest_kindling_signals.catalog import KnownFinding, SignalCatalog
from pytest_kindling_signals.report.results import (
    REPORT_FORMAT,
    REPORT_FORMAT_VERSION,
    REPORT_SCHEMA_ID,
    SESSION,
    Finding,
    SessionData,
    why_partial,
)
from pytest_kindling_signals.report.timeline import OUTCOMES, Timeline

__all__ = ["SCOPES", "CoverageReport", "FindingGroup", "ReportedTest"]

# -- the report model ---------------------------------------------------------------

def floor_percent(emitted: int, signals: int, places: int = 1) -> str:
    """``emitted/signals`` as a percentage, rounded down: 99.96% shows as 99.9%, never 100%."""
    if signals == 0:
        return "100." + "0" * places if places else "100"
    scaled = emitted * 100 * 10 ** places // signals
    whole, frac = divmod(scaled, 10 ** places)
    return f"{whole}.{frac:0{places}d}" if places else str(whole)


@dataclass(frozen=True)
class Coverage:
    """Catalog signals of a group (a provider, a tier, the total) and how many were emitted."""

    name: str
    signals: int
    emitted: int
    missing: tuple[str, ...] = ()
    tier: str | None = None
    namespace: str | None = None
    #: A namespace's provider class, and its signals per tier: (tier, signals, emitted).
    provider: str | None = None
    tiers: tuple[tuple[str, int, int], ...] = ()
    #: Signals the catalog marks ``unreachable`` (not emitted): counted apart, not in ``signals``.
    unreachable: tuple[str, ...] = ()

    @property
    def percent(self) -> str:
        """Rounded down to one decimal, for display (gates compare the counts)."""
        return floor_percent(self.emitted, self.signals)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.provider is not None:
            out["provider"] = self.provider
        if self.tier is not None:
            out["tier"] = self.tier
        if self.provider is not None:
            out["tiers"] = {t: {"signals": n, "emitted": e, "percent": float(floor_percent(e, n, 2))}
                            for t, n, e in self.tiers}
        out.update(signals=self.signals, emitted=self.emitted,
                   percent=float(floor_percent(self.emitted, self.signals, 2)),
                   missing=list(self.missing))
        if self.unreachable:
            out["unreachable"] = list(self.unreachable)
        return out


@dataclass(frozen=True)
class Undocumented:
    signal: str
    count: int
    tests: tuple[str, ...]
    suggestions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "count": self.count, "first_test": self.tests[0] if self.tests else SESSION,
                "tests": list(self.tests), "did_you_mean": list(self.suggestions)}


@dataclass(frozen=True)
class FindingGroup:
    """The findings of one kind (``undocumented``, ``payload``, ``lifecycle``) on one signal:
    one row in a report, the operations and tests behind it a click away."""

    kind: str
    signal: str
    count: int
    findings: tuple[Finding, ...]
    tests: tuple[str, ...]


class ReportedTest(NamedTuple):
    """A test as the report lists it: its outcome, the signals it emitted, its timeline.

    A shared fixture that emitted (``<fixture spark>``) is listed too, its outcome ``fixture``.
    """

    nodeid: str
    position: int  # in the collection
    outcome: str
    signals: tuple[str, ...]
    timeline: Timeline | None


#: The parts of a catalog that reports show apart: (id, label). ``quick-reference``: the
#: framework's own signals (the quick reference's, or those it rates); ``extensions``:
#: signals marked ``extension: true``; ``user-catalogs``: the files of ``kindling_signals_catalogs``.
SCOPES = (("quick-reference", "quick reference"), ("extensions", "extensions"),
          ("user-catalogs", "your catalogs"))


class CoverageReport:
    """A session's data set against the catalog: per provider, per tier, total, findings.

    ``catalog_refs`` name the catalog files as reports show them (one per
    ``catalog.sources`` entry, e.g. ``pytest_kindling_signals:catalog/shipped/quick_reference.yaml``);
    ``user_sources`` are the sources that are the user's own catalogs;
    ``conformance`` is (the quick reference's catalog, the alias map) for a
    framework that names signals its own way.
    """

    def __init__(self, catalog: SignalCatalog, data: SessionData, *,
                 partial_reasons: Sequence[str] = (), catalog_refs: Sequence[str] | None = None,
                 user_sources: Iterable[str] = (), conformance: tuple[SignalCatalog, Any] | None = None,
                 plugin_version: str = "unknown") -> None:
        self.catalog = catalog
        self.data = data
        self.workers = list(data.workers)
        self.workers_without_data = {w: lost.reason for w, lost in sorted(data.lost.items())}
        self.lost_tests = {w: list(lost.tests) for w, lost in sorted(data.lost.items())}
        self.partial_reasons = list(dict.fromkeys([*partial_reasons, *why_partial(data)]))
        self.plugin_version = plugin_version
        self.catalog_refs = list(catalog_refs) if catalog_refs is not None else list(catalog.sources)
        order = dict(data.tests)
        order[SESSION] = -1
        self.test_order = order
        emitted = {n for n, c in data.counts.items() if c}

        def away(s: Any) -> bool:  # marked unreachable, and indeed not reached: counted apart
            return bool(s.unreachable) and s.name not in emitted

        def group(name: str, specs: Iterable[Any], **kw: Any) -> Coverage:
            specs = list(specs)
            names = [s.name for s in specs if not away(s)]
            return Coverage(name, len(names), sum(n in emitted for n in names),
                            tuple(n for n in names if n not in emitted),
                            unreachable=tuple(s.name for s in specs if away(s)), **kw)

        # One row per namespace (what users type: entity, streaming), its class beside; its
        # tier is its signals' (as the tier totals count them), several joined when they differ.
        self.providers: list[Coverage] = []
        for ns in catalog.namespaces():
            cls, specs = catalog.provider_info(ns).cls, catalog.by_provider(ns)
            split = tuple((t, sum(s.tier == t and not away(s) for s in specs),
                           sum(s.tier == t and s.name in emitted for s in specs))
                          for t in catalog.tiers if any(s.tier == t for s in specs))
            self.providers.append(group(ns if cls == ns else f"{ns} ({cls})", specs, namespace=ns, provider=cls,
                                        tier="/".join(t for t, _, _ in split), tiers=split))
        self.tiers = [group(t, catalog.by_tier(t)) for t in catalog.tiers]
        self.totals = group("TOTAL", catalog.values())
        user = set(user_sources)
        scope_of = {
            s.name: "extensions" if s.extension else "user-catalogs" if s.source in user else "quick-reference"
            for s in catalog.values()}
        self.scopes = {sid: group(label, [s for s in catalog.values() if scope_of[s.name] == sid])
                       for sid, label in SCOPES}
        undocumented = [
            Undocumented(n, c, self.tests_of(n), tuple(catalog.suggest(n)))
            for n, c in sorted(data.counts.items()) if n not in catalog]
        ordered = sorted(data.findings.values(),
                         key=lambda f: (f.first_index, f.signal, f.field or "", f.message))

        # The catalog's known findings are counted apart: they don't fail the gates.
        def known_of(signal: str, rule: str, field: str | None = None) -> KnownFinding | None:
            return next((k for k in catalog.known_findings if k.matches(signal, rule, field)), None)

        def rule_of(f: Finding) -> str:
            return f.rule or ("invalid_payload" if f.kind == "payload" else "")

        self.undocumented = [u for u in undocumented if known_of(u.signal, "undocumented") is None]
        self.payload_findings = [f for f in ordered if f.kind == "payload"
                                 and known_of(f.signal, rule_of(f), f.field) is None]
        self.lifecycle_findings = [f for f in ordered if f.kind == "lifecycle"
                                   and known_of(f.signal, rule_of(f)) is None]
        #: Each known finding of the catalog with what the run met of it ([]: not seen in this run).
        self.known_findings: list[tuple[KnownFinding, list[Finding | Undocumented]]] = [
            (k, [*(u for u in undocumented if known_of(u.signal, "undocumented") is k),
                 *(f for f in ordered if known_of(f.signal, rule_of(f), f.field) is k)])
            for k in catalog.known_findings]
        self.outcomes = {o: 0 for o in OUTCOMES}
        for t in data.tests:
            o = data.outcome(t)
            self.outcomes[o] = self.outcomes.get(o, 0) + 1
        self.conformance: dict[str, Any] | None = None
        if conformance is not None:
            from pytest_kindling_signals.catalog import conformance_dict

            quick_ref, aliases = conformance
            self.conformance = conformance_dict(quick_ref, catalog, aliases, data.counts)

    @property
    def shown_scopes(self) -> list[tuple[str, Coverage]]:
        """The scopes worth a line: none when the whole catalog is one of them."""
        present = [(sid, c) for sid, c in self.scopes.items() if c.signals]
        return present if len(present) > 1 else []

    @property
    def partial(self) -> bool:
        return bool(self.partial_reasons)

    @property
    def emissions(self) -> int:
        return sum(self.data.counts.values())

    def tests_of(self, signal: str) -> tuple[str, ...]:
        """The tests that emitted ``signal``, in collection order."""
        return tuple(sorted(self.data.emitters.get(signal, ()), key=lambda t: (self.test_order.get(t, -1), t)))

    def signals_by_test(self) -> list[tuple[str, list[str]]]:
        """Each test (in collection order) with the signals it emitted, catalog order first."""
        by_test: dict[str, list[str]] = {}
        names = list(self.catalog) + sorted(n for n in self.data.counts if n not in self.catalog)
        for n in names:
            for t in self.data.emitters.get(n, ()):
                by_test.setdefault(t, []).append(n)
        return sorted(by_test.items(), key=lambda kv: (self.test_order.get(kv[0], -1), kv[0]))

    @property
    def finding_groups(self) -> list[FindingGroup]:
        """The findings by kind and signal (undocumented, payload, lifecycle; then in order of
        first occurrence), each with its count and the tests that first showed them."""
        groups: dict[tuple[str, str], list[Finding]] = {}
        for f in self.payload_findings + self.lifecycle_findings:
            groups.setdefault((f.kind, f.signal), []).append(f)
        out = [FindingGroup("undocumented", u.signal, u.count, (), u.tests) for u in self.undocumented]
        for kind in ("payload", "lifecycle"):
            out += [FindingGroup(kind, signal, sum(f.count for f in fs), tuple(fs),
                                 tuple(dict.fromkeys(f.first_test for f in fs)))
                    for (k, signal), fs in groups.items() if k == kind]
        return out

    def test_rows(self) -> list[ReportedTest]:
        """Every test run (and shared fixtures that emitted), in collection order."""
        by_test = dict(self.signals_by_test())
        tests = dict(self.data.tests)
        for t in by_test:
            tests.setdefault(t, self.test_order.get(t, -1))
        timelines = self.data.timelines
        return [ReportedTest(t, i, self.data.outcome(t) if t in self.data.tests else "fixture",
                        tuple(by_test.get(t, ())), timelines.get(t))
                for t, i in sorted(tests.items(), key=lambda kv: (kv[1], kv[0]))]

    @property
    def findings_count(self) -> int:
        return len(self.undocumented) + len(self.payload_findings) + len(self.lifecycle_findings)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (its shape is documented in docs/report.md, its schema ships in
        ``pytest_kindling_signals/report/schemas/``)."""
        scopes = {}
        for sid, c in self.scopes.items():
            d = c.to_dict()
            d.pop("missing")
            scopes[sid] = d
        return {
            "$schema": REPORT_SCHEMA_ID,
            "meta": {
                "format": REPORT_FORMAT,
                "format_version": REPORT_FORMAT_VERSION,
                "plugin_version": self.plugin_version,
                "partial": self.partial,
                "partial_reasons": list(self.partial_reasons),
                "workers": list(self.workers),
                "workers_without_data": dict(self.workers_without_data),
                "lost_tests": {w: list(t) for w, t in self.lost_tests.items()},
                "catalogs": list(self.catalog_refs),
                "tests": len(self.data.tests),
                "tests_ignored": self.data.ignored_tests,
                "emissions": self.emissions,
                "notes": list(self.data.notes),
                "outcomes": dict(self.outcomes),
            },
            "totals": self.totals.to_dict(),
            "scopes": scopes,
            "tiers": {c.name: c.to_dict() for c in self.tiers},
            "providers": {c.namespace: c.to_dict() for c in self.providers},
            "signals": {
                n: {"provider": s.provider, "tier": s.tier, "extension": s.extension,
                    "count": self.data.counts.get(n, 0), "tests": list(self.tests_of(n)),
                    **({"unreachable": s.unreachable} if s.unreachable else {})}
                for n, s in self.catalog.items()},
            "findings": {
                "undocumented": [u.to_dict() for u in self.undocumented],
                "payload": [f.to_dict() for f in self.payload_findings],
                "lifecycle": [f.to_dict() for f in self.lifecycle_findings],
                "known": [{"signal": k.signal, "rule": k.rule, "field": k.field, "seen_in": k.seen_in,
                           "reason": k.reason, "count": sum(f.count for f in met),
                           "first_test": met[0].to_dict()["first_test"] if met else None}
                          for k, met in self.known_findings],
            },
            "tests": {r.nodeid: {"index": r.position, "outcome": r.outcome,
                                 "timeline": r.timeline.to_data() if r.timeline is not None else None}
                      for r in self.test_rows()
                      if r.nodeid in self.data.tests and (r.timeline is not None or r.outcome != "passed")},
            "conformance": self.conformance,
        }



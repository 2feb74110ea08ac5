"""The report model: a session's data set against the catalog, per signal, provider, tier and scope."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_kindling_signals.catalog import SignalCatalog
from pytest_kindling_signals.report.results import REPORT_FORMAT, REPORT_FORMAT_VERSION, REPORT_SCHEMA_ID, SESSION, SessionData, why_partial

__all__ = ["SCOPES", "CoverageReport"]

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

    @property
    def percent(self) -> str:
        """Rounded down to one decimal, for display (gates compare the counts)."""
        return floor_percent(self.emitted, self.signals)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.tier is not None:
            out["tier"] = self.tier
        out.update(signals=self.signals, emitted=self.emitted,
                   percent=float(floor_percent(self.emitted, self.signals, 2)),
                   missing=list(self.missing))
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

        def group(name: str, specs: Iterable[Any], **kw: Any) -> Coverage:
            names = [s.name for s in specs]
            return Coverage(name, len(names), sum(n in emitted for n in names),
                            tuple(n for n in names if n not in emitted), **kw)

        # One row per namespace, named by its class; a class with two namespaces
        # (spark-kindling's persist / read) names each row by both.
        classes = [catalog.provider_info(ns).cls for ns in catalog.namespaces()]
        self.providers = [
            group(cls if classes.count(cls) == 1 else f"{cls} ({ns})", catalog.by_provider(ns),
                  tier=catalog.provider_info(ns).tier, namespace=ns)
            for ns, cls in zip(catalog.namespaces(), classes)]
        self.tiers = [group(t, catalog.by_tier(t)) for t in catalog.tiers]
        self.totals = group("TOTAL", catalog.values())
        user = set(user_sources)
        scope_of = {
            s.name: "extensions" if s.extension else "user-catalogs" if s.source in user else "quick-reference"
            for s in catalog.values()}
        self.scopes = {sid: group(label, [s for s in catalog.values() if scope_of[s.name] == sid])
                       for sid, label in SCOPES}
        self.undocumented = [
            Undocumented(n, c, self.tests_of(n), tuple(catalog.suggest(n)))
            for n, c in sorted(data.counts.items()) if n not in catalog]
        ordered = sorted(data.findings.values(),
                         key=lambda f: (f.first_index, f.signal, f.field or "", f.message))
        self.payload_findings = [f for f in ordered if f.kind == "payload"]
        self.lifecycle_findings = [f for f in ordered if f.kind == "lifecycle"]
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
            },
            "totals": self.totals.to_dict(),
            "scopes": scopes,
            "tiers": {c.name: c.to_dict() for c in self.tiers},
            "providers": {c.name: c.to_dict() for c in self.providers},
            "signals": {
                n: {"provider": s.provider, "tier": s.tier, "extension": s.extension,
                    "count": self.data.counts.get(n, 0), "tests": list(self.tests_of(n))}
                for n, s in self.catalog.items()},
            "findings": {
                "undocumented": [u.to_dict() for u in self.undocumented],
                "payload": [f.to_dict() for f in self.payload_findings],
                "lifecycle": [f.to_dict() for f in self.lifecycle_findings],
            },
            "conformance": self.conformance,
        }



"""How far a framework's signals are from the quick reference's, through an alias map.

An alias map (``kindling-signal-aliases/1``) names, for every quick-reference
signal a framework emits under another name, that name; and lists the ones it
does not emit at all, with a reason::

    format: kindling-signal-aliases/1
    framework: spark-kindling 0.14.0
    aliases:
      datapipes.pre_run: datapipes.before_run
    missing:
      pip.pre_install: spark-kindling's PipManager emits no signals

A quick-reference name the framework emits unchanged needs no entry.
:func:`conformance` then gives one row per quick-reference signal::

    >>> from pytest_kindling_signals.catalog import CATALOGS_DIR, QUICK_REFERENCE_PATH, load_catalog
    >>> qr = load_catalog(QUICK_REFERENCE_PATH)
    >>> sk = load_catalog(CATALOGS_DIR / "spark_kindling_0.14.yaml")
    >>> aliases = load_aliases(CATALOGS_DIR / "spark_kindling_aliases.yaml")
    >>> rows = conformance(qr, sk, aliases)
    >>> rows[0].qr_name, rows[0].status, rows[0].framework_name
    ('datapipes.pre_run', 'other-name', 'datapipes.before_run')
    >>> "operation_id" in rows[0].missing_fields
    True

Pure data: rendering (terminal, JSON, Markdown, HTML) is the reports' job.
Imports no pytest and no framework.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_kindling_signals.names import close_matches, did_you_mean
from pytest_kindling_signals.catalog.model import QUICK_REFERENCE_PATH, CatalogError, SignalCatalog
from pytest_kindling_signals.catalog.loading import load_catalog, load_yaml_text, read_catalog_file

__all__ = [
    "ALIASES_FORMAT",
    "STATUSES",
    "AliasMap",
    "ConformanceRow",
    "ConformanceSummary",
    "conformance",
    "conformance_dict",
    "load_aliases",
    "summarize",
]

ALIASES_FORMAT = "kindling-signal-aliases/1"
#: A quick-reference signal the framework emits under its name, under another, or not at all.
STATUSES = ("same-name", "other-name", "missing")
_TOP_KEYS = ("format", "framework", "aliases", "missing")


@dataclass(frozen=True)
class AliasMap:
    """Quick-reference name -> the framework's name, and the names it does not emit (with why)."""

    framework: str
    aliases: Mapping[str, str]
    missing: Mapping[str, str]
    source: str = "<aliases>"

    def target(self, qr_name: str) -> str | None:
        """The framework's name for a quick-reference signal, when it emits it under another."""
        return self.aliases.get(qr_name)

    def reverse(self) -> dict[str, list[str]]:
        """Framework name -> the quick-reference names that map to it."""
        out: dict[str, list[str]] = {}
        for qr_name, fw_name in self.aliases.items():
            out.setdefault(fw_name, []).append(qr_name)
        return out

    def check(self, quick_ref: SignalCatalog | Iterable[str] | None = None,
              framework: SignalCatalog | Iterable[str] | None = None) -> None:
        """Raise :class:`CatalogError` for a name unknown to either side (with suggestions),
        or for an entry a same-named framework signal makes wrong."""
        qr_names = list(quick_ref) if quick_ref is not None else None
        fw_names = list(framework) if framework is not None else None
        for section in ("aliases", "missing"):
            for qr_name in getattr(self, section):
                if qr_names is not None and qr_name not in qr_names:
                    raise _error(self.source, f"{section}.{qr_name}",
                                 f"{qr_name!r} is not a quick-reference signal"
                                 f"{did_you_mean(close_matches(qr_name, qr_names))}; keys are "
                                 "the quick reference's names")
                if fw_names is not None and qr_name in fw_names:
                    fix = "drop the alias" if section == "aliases" else "remove it from 'missing'"
                    raise _error(self.source, f"{section}.{qr_name}",
                                 f"the framework emits {qr_name!r} under that very name; {fix} "
                                 "(same names need no entry)")
        if fw_names is not None:
            for qr_name, fw_name in self.aliases.items():
                if fw_name not in fw_names:
                    raise _error(self.source, f"aliases.{qr_name}",
                                 f"{fw_name!r} is not in the framework's catalog"
                                 f"{did_you_mean(close_matches(fw_name, fw_names))}; values are "
                                 "the framework's signal names")

    def to_dict(self) -> dict[str, Any]:
        return {"format": ALIASES_FORMAT, "framework": self.framework,
                "aliases": dict(self.aliases), "missing": dict(self.missing)}


def _error(source: str, where: str, problem: str) -> CatalogError:
    return CatalogError(f"{source}: {where}: {problem}")


def load_aliases(path: str | os.PathLike[str], *, quick_ref: SignalCatalog | None = None,
                 framework: SignalCatalog | Iterable[str] | None = None) -> AliasMap:
    """Read and validate an alias map; errors name the file, the key and the fix.

    Keys are checked against ``quick_ref`` (default: the shipped quick
    reference); values against ``framework`` when it is given (a catalog or
    its names).

    >>> load_aliases("nope.yaml")
    Traceback (most recent call last):
    ...
    pytest_kindling_signals.catalog.CatalogError: nope.yaml: no such alias file; check the path
    """
    source = os.fspath(path)
    p = Path(source)
    if not p.exists():
        raise CatalogError(f"{source}: no such alias file; check the path")
    # bounded as catalogs are (regular file, size, no YAML aliases, nesting)
    data = load_yaml_text(read_catalog_file(p, "alias"), source)
    if not isinstance(data, dict):
        raise _error(source, "top level", f"must be a mapping with 'format', 'framework', "
                                          f"'aliases' and 'missing', got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(_TOP_KEYS))
    if unknown:
        hint = did_you_mean(close_matches(unknown[0], _TOP_KEYS))
        raise _error(source, "top level", f"unknown keys {unknown}{hint}; allowed: {', '.join(_TOP_KEYS)}")
    fmt = data.get("format")
    if fmt != ALIASES_FORMAT:
        raise _error(source, "format", f"expected {ALIASES_FORMAT!r}, got {fmt!r}; "
                                       f"start the file with 'format: {ALIASES_FORMAT}'")
    framework_text = data.get("framework")
    if not isinstance(framework_text, str) or not framework_text.strip():
        raise _error(source, "framework", "missing: say which framework and version the map "
                                          "describes, e.g. 'framework: spark-kindling 0.14.0'")
    aliases = _mapping(source, "aliases", data.get("aliases"))
    missing = _mapping(source, "missing", data.get("missing"), values_optional=True)
    for qr_name, fw_name in aliases.items():
        if not fw_name or "." not in fw_name:
            raise _error(source, f"aliases.{qr_name}",
                         f"{fw_name!r} is not a signal name; give the framework's "
                         "'namespace.name'")
        if fw_name == qr_name:
            raise _error(source, f"aliases.{qr_name}", "maps the name to itself; drop the entry "
                                                      "(same names need no alias)")
        if qr_name in missing:
            raise _error(source, f"missing.{qr_name}", f"is also in 'aliases' (-> {fw_name}); "
                                                      "keep one of the two")
    result = AliasMap(framework_text.strip(), aliases, missing, source)
    result.check(quick_ref if quick_ref is not None else load_catalog(QUICK_REFERENCE_PATH), framework)
    return result


def _mapping(source: str, key: str, raw: Any, *, values_optional: bool = False) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _error(source, key, f"must be a mapping of quick-reference name to "
                                  f"{'reason' if values_optional else 'framework name'}, "
                                  f"got {type(raw).__name__}")
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str):
            raise _error(source, f"{key}.{name!r}", "keys must be signal names (strings)")
        if value is None and values_optional:
            value = ""
        if not isinstance(value, str):
            raise _error(source, f"{key}.{name}", f"must be a string, got {value!r}")
        out[name] = value.strip()
    return out


@dataclass(frozen=True)
class ConformanceRow:
    """One quick-reference signal and what the framework makes of it."""

    qr_name: str
    tier: str
    status: str  # one of STATUSES
    framework_name: str | None
    #: Emissions of ``framework_name`` in this run; None when no counts were given
    #: (or the framework does not emit it).
    count: int | None
    #: The quick reference's required fields the framework's spec lacks (empty for missing).
    missing_fields: tuple[str, ...]
    #: Why the framework does not emit it (``missing`` rows, from the alias map).
    reason: str = ""
    provider: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"qr_name": self.qr_name, "tier": self.tier, "provider": self.provider,
                "status": self.status, "framework_name": self.framework_name,
                "count": self.count, "missing_fields": list(self.missing_fields),
                "reason": self.reason}


@dataclass(frozen=True)
class ConformanceSummary:
    """Counts per status, per tier and status, payload gaps, and the framework's own signals."""

    total: int
    by_status: Mapping[str, int]
    by_tier: Mapping[str, Mapping[str, int]]
    #: Rows the framework emits (same or other name) whose payload lacks a required field.
    with_gaps: int
    #: How often each quick-reference field is missing across those rows.
    gap_fields: Mapping[str, int]
    #: Emitted framework rows that fired at least once (None without counts).
    exercised: int | None = None
    #: Framework signals no quick-reference signal maps to (given the framework catalog).
    framework_only: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "by_status": dict(self.by_status),
                "by_tier": {t: dict(c) for t, c in self.by_tier.items()},
                "with_gaps": self.with_gaps, "gap_fields": dict(self.gap_fields),
                "exercised": self.exercised, "framework_only": list(self.framework_only)}


def conformance(quick_ref: SignalCatalog, framework_catalog: SignalCatalog, aliases: AliasMap,
                counts: Mapping[str, int] | None = None) -> list[ConformanceRow]:
    """One row per quick-reference signal, in its catalog's order (the catalog's
    ``extension: true`` signals are not the quick reference's, and get no row).

    ``counts`` are emissions per framework signal name (e.g. one test run's).
    Raises :class:`CatalogError` when the alias map names a signal either
    catalog lacks.
    """
    aliases.check(quick_ref, framework_catalog)
    rows: list[ConformanceRow] = []
    for name in quick_ref:
        spec = quick_ref[name]
        if spec.extension:
            continue
        target = aliases.target(name)
        if target is not None:
            status, fw_name = "other-name", target
        elif name in framework_catalog:
            status, fw_name = "same-name", name
        else:
            status, fw_name = "missing", None
        gaps: tuple[str, ...] = ()
        if fw_name is not None:
            have = framework_catalog[fw_name].fields
            gaps = tuple(f for f in spec.required_fields if f not in have)
        count = None
        if counts is not None and fw_name is not None:
            count = int(counts.get(fw_name, 0))
        rows.append(ConformanceRow(name, spec.tier, status, fw_name, count, gaps,
                                   aliases.missing.get(name, "") if status == "missing" else "",
                                   spec.provider))
    return rows


def summarize(rows: Sequence[ConformanceRow], framework_catalog: SignalCatalog | None = None,
              tiers: Sequence[str] = ()) -> ConformanceSummary:
    """Totals of :func:`conformance`'s rows (tiers in ``tiers`` order, then as met)."""
    by_status = {s: 0 for s in STATUSES}
    tier_order = list(tiers) + [r.tier for r in rows if r.tier not in tiers]
    by_tier: dict[str, dict[str, int]] = {t: {s: 0 for s in STATUSES} for t in dict.fromkeys(tier_order)}
    gap_fields: dict[str, int] = {}
    with_gaps = 0
    for row in rows:
        by_status[row.status] += 1
        by_tier[row.tier][row.status] += 1
        if row.missing_fields:
            with_gaps += 1
            for f in row.missing_fields:
                gap_fields[f] = gap_fields.get(f, 0) + 1
    emitted = [r for r in rows if r.framework_name is not None]
    exercised = None
    if emitted and all(r.count is not None for r in emitted):
        exercised = sum(1 for r in emitted if r.count)
    framework_only: tuple[str, ...] = ()
    if framework_catalog is not None:
        mapped = {r.framework_name for r in rows}
        framework_only = tuple(n for n in framework_catalog if n not in mapped)
    return ConformanceSummary(
        total=len(rows), by_status=by_status, by_tier=by_tier, with_gaps=with_gaps,
        gap_fields=dict(sorted(gap_fields.items(), key=lambda kv: (-kv[1], kv[0]))),
        exercised=exercised, framework_only=framework_only)


def conformance_dict(quick_ref: SignalCatalog, framework_catalog: SignalCatalog, aliases: AliasMap,
                     counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """``{"framework", "summary", "rows"}``, JSON-ready."""
    rows = conformance(quick_ref, framework_catalog, aliases, counts)
    summary = summarize(rows, framework_catalog, quick_ref.tiers)
    return {"framework": aliases.framework, "summary": summary.to_dict(),
            "rows": [r.to_dict() for r in rows]}

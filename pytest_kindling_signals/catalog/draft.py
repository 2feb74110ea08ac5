"""A draft catalog from a scan, to review by hand: operations and their pairing fields, tiers, ``when`` texts.

    >>> draft = draft_catalog(scan("/path/to/site-packages/kindling"), framework="spark-kindling 0.14.0")  # doctest: +SKIP
    >>> print(render_yaml(draft))  # doctest: +SKIP
"""


from collections import Counter
from collections.abc import Mapping
from typing import Any

from pytest_kindling_signals.catalog.model import FORMAT, TIERS_DEFAULT, signal_kind
from pytest_kindling_signals.catalog.scan import FieldInfo, ScanError, ScanResult, ScannedSignal, operation_stem

__all__ = ["draft_catalog"]


def _rank(tier: str, tiers: tuple[str, ...]) -> int:
    return tiers.index(tier) if tier in tiers else len(tiers)


def draft_catalog(result: ScanResult, *, framework: str,
                  tiers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A catalog dict (this plugin's format) of what ``result`` found; review it before use.

    ``tiers`` maps signal names to the tier a reference catalog gives the same
    event; a namespace takes the tier most of its rated signals have (the
    highest on a tie, ``moderate`` when none is rated), and a signal whose
    tier differs says so. Given ``tiers``, the signals it does not rate are
    marked ``extension: true``.

    >>> draft = draft_catalog(result, framework="spark-kindling 0.14.0")   # doctest: +SKIP
    >>> draft["providers"]["entity"]["operations"]["entity.merge"]          # doctest: +SKIP
    {'pre': 'before_merge', 'post': ['after_merge'], 'failed': 'merge_failed'}
    """
    if not result.signals:
        raise ScanError(f"{result.target}: found no signals (no EMITS lists, no emit()/"
                        "emit_chained() calls, no .send() on a named signal); nothing to catalog")
    tier_names = TIERS_DEFAULT
    for name, tier in (tiers or {}).items():
        if tier not in tier_names:
            raise ScanError(f"tiers[{name!r}] = {tier!r}: unknown tier; use one of "
                            f"{', '.join(tier_names)}")
    by_ns: dict[str, list[ScannedSignal]] = {}
    for sig in result.signals.values():
        by_ns.setdefault(sig.namespace, []).append(sig)

    providers: dict[str, Any] = {}
    for namespace in sorted(by_ns):
        members = by_ns[namespace]
        counts = Counter(s.provider for s in members)
        cls = sorted(counts, key=lambda c: (-counts[c], c))[0]
        rated = [tiers[s.name] for s in members if tiers and s.name in tiers]
        if rated:
            tier_counts = Counter(rated)
            ns_tier = sorted(tier_counts, key=lambda t: (-tier_counts[t], _rank(t, tier_names)))[0]
        else:
            ns_tier = tier_names[-1]
        prov: dict[str, Any] = {"class": cls, "tier": ns_tier}
        others = [c for c in sorted(counts) if c != cls]
        if others:
            prov["note"] = "Also emitted by " + "; ".join(
                f"{c} ({', '.join(s.short_name for s in members if s.provider == c)})"
                for c in others) + "."
        ops = _operations(members)
        for op_name, op in ops.items():
            op["pair_by"] = _pair_by(result, f"{namespace}.", op)
        if ops:
            prov["operations"] = ops
        signals: dict[str, Any] = {}
        for sig in members:
            entry: dict[str, Any] = {"when": _when(sig)}
            if sig.kind != signal_kind(sig.name):
                entry["kind"] = sig.kind
            if tiers is not None:
                signal_tier = tiers.get(sig.name)
                if signal_tier is not None and signal_tier != ns_tier:
                    entry["tier"] = signal_tier
                if signal_tier is None:
                    entry["extension"] = True
            entry["description"] = _description(sig)
            entry["fields"] = {
                f.name: _field_entry(f) for f in result.fields.get(sig.name, {}).values()}
            signals[sig.short_name] = entry
        prov["signals"] = signals
        providers[namespace] = prov

    return {
        "format": FORMAT,
        "framework": framework,
        "json_payloads": False,
        "common_fields": {},
        "post_fields": {},
        "failed_fields": {},
        "tiers": list(tier_names),
        "providers": providers,
    }


def _operations(members: list[ScannedSignal]) -> dict[str, Any]:
    stems: dict[str, dict[str, str]] = {}
    for sig in members:
        found = operation_stem(sig.name)
        if found is not None and found[1] == sig.kind:
            stems.setdefault(found[0], {}).setdefault(found[1], sig.short_name)
    # ensure_failed closes before_ensure_table/after_ensure_table: a failure whose stem
    # matches no pair joins the one pair whose stem starts with it.
    for stem, roles in list(stems.items()):
        if set(roles) != {"failed"}:
            continue
        longer = [s for s, r in stems.items() if s.startswith(stem + "_")
                  and "pre" in r and "post" in r and "failed" not in r]
        if len(longer) == 1:
            stems[longer[0]]["failed"] = roles["failed"]
            del stems[stem]
    ops: dict[str, Any] = {}
    for stem, roles in stems.items():
        if "pre" in roles and "post" in roles:
            op: dict[str, Any] = {"pre": roles["pre"], "post": [roles["post"]]}
            if "failed" in roles:
                op["failed"] = roles["failed"]
            ops[f"{members[0].namespace}.{stem}"] = op
    return ops


def _pair_by(result: ScanResult, prefix: str, op: Mapping[str, Any]) -> list[str]:
    """The draft's pairing fields: those every signal of the operation always sends
    (with no ``operation_id`` in the payloads, e.g. ``[run_id, pipe_id]``); review them."""
    members = [op["pre"], *op["post"], *([op["failed"]] if "failed" in op else [])]
    common: list[str] | None = None
    for short in members:
        required = [f for f, info in result.fields.get(prefix + short, {}).items() if info.required]
        common = required if common is None else [f for f in common if f in required]
    if common and "operation_id" in common:
        return ["operation_id"]
    return [f for f in (common or []) if f not in ("duration_seconds", "error", "error_type")]


def _when(sig: ScannedSignal) -> str:
    if not sig.sites:
        return f"Never sent (listed in {sig.declared_by[0]}.EMITS)"
    places = sig.emitted_by
    more = f" (+{len(places) - 1} more)" if len(places) > 1 else ""
    return f"In {places[0]}(){more}"


def _description(sig: ScannedSignal) -> str:
    parts = []
    if sig.declared_by:
        parts.append("Listed in " + ", ".join(f"{c}.EMITS" for c in sig.declared_by) + ".")
    else:
        parts.append("Listed in no class's EMITS.")
    if sig.sites:
        files = list(dict.fromkeys(f"{s.where} ({s.path})" for s in sig.sites))
        parts.append("Sent by " + "; ".join(files) + ".")
        if sig.open:
            parts.append("Some calls pass **kwargs: the payload may hold more fields.")
    else:
        parts.append("No call in the source sends it.")
    return " ".join(parts)


def _field_entry(info: FieldInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": info.type, "required": info.required}
    if info.nullable:
        entry["nullable"] = True
    return entry



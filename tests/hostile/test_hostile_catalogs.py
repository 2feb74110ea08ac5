"""Hostile catalogs: every malformed catalog is a CatalogError naming the file, never another
exception (a crash) and never a silent accept.

Two generators, each run with a fixed seed so the figures in docs/reliability.md repeat:

- *known-invalid* catalogs: a valid catalog with one breach made on purpose (a required
  key deleted, a value of the wrong type, an unknown key, a bad name, an unknown tier or
  kind, an operation naming an undeclared signal, a key given twice in the text);
  every one must be refused;
- *garbage*: arbitrary YAML values put at arbitrary places of a valid catalog, and
  arbitrary text as a whole file; each must load or be a CatalogError.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_kindling_signals.catalog import CatalogError, load_catalog, parse_catalog

pytestmark = pytest.mark.kindling_signals_ignore  # no signal is emitted; nothing to observe

BASE: dict[str, Any] = {
    "format": "kindling-signal-catalog/1",
    "common_fields": {"operation_id": {"type": "string", "format": "uuid"}},
    "post_fields": {"duration_seconds": {"type": "number", "minimum": 0}},
    "failed_fields": {"error": "string"},
    "tiers": ["critical", "high"],
    "providers": {
        "shop": {
            "class": "Shop", "tier": "high", "use_cases": "tests",
            "operations": {"shop.sell": {"pre": "pre_sell", "post": ["post_sell"], "failed": "sell_failed"}},
            "signals": {
                "pre_sell": {"when": "before a sale", "fields": {"amount": {"type": "integer", "minimum": 0}}},
                "post_sell": {"when": "after a sale", "fields": {"amount": "integer"}},
                "sell_failed": {"when": "a sale failed"},
                "restocked": {"when": "stock arrived", "tier": "critical",
                              "fields": {"items": {"type": "array", "items": "string", "nullable": True}}},
            },
        },
    },
}
parse_catalog(BASE, "<base>")  # the base itself is valid

# (path, breach) pairs that must each be refused
REQUIRED = [("providers",), ("providers", "shop", "class"), ("providers", "shop", "tier"),
            ("providers", "shop", "signals"), ("providers", "shop", "signals", "pre_sell", "when"),
            ("providers", "shop", "operations", "shop.sell", "pre"),
            ("providers", "shop", "operations", "shop.sell", "post")]
CLOSED_OBJECTS = [(), ("providers", "shop"), ("providers", "shop", "signals", "pre_sell"),
                  ("providers", "shop", "operations", "shop.sell"),
                  ("providers", "shop", "signals", "pre_sell", "fields", "amount")]
TYPED = {  # path -> a strategy of values that are the wrong type there
    ("tiers",): st.one_of(st.text(), st.integers(), st.dictionaries(st.text(), st.text(), min_size=1)),
    ("providers",): st.one_of(st.text(), st.integers(), st.lists(st.text())),
    ("providers", "shop"): st.one_of(st.text(), st.integers(), st.lists(st.text())),
    ("providers", "shop", "class"): st.one_of(st.integers(), st.lists(st.text(), min_size=1), st.booleans()),
    ("providers", "shop", "operations"): st.one_of(st.text(min_size=1), st.lists(st.text(), min_size=1), st.integers()),
    ("silent_providers",): st.one_of(st.text(min_size=1), st.lists(st.text(), min_size=1), st.integers()),
    ("providers", "shop", "signals", "pre_sell", "when"): st.one_of(st.integers(), st.booleans(), st.lists(st.text())),
    ("providers", "shop", "signals", "pre_sell", "kind"): st.text().filter(lambda k: k not in ("pre", "post", "failed", "event")),
    ("providers", "shop", "signals", "pre_sell", "extension"): st.one_of(st.text(), st.integers(min_value=2)),
    ("providers", "shop", "signals", "pre_sell", "fields", "amount", "required"): st.one_of(st.text(), st.integers(min_value=2)),
    ("providers", "shop", "signals", "pre_sell", "fields", "amount", "type"): st.text().filter(
        lambda t: t not in ("string", "integer", "number", "boolean", "array", "object", "any")),
    ("providers", "shop", "signals", "pre_sell", "fields", "amount", "minimum"): st.one_of(st.text(), st.booleans()),
    ("providers", "shop", "operations", "shop.sell", "pair_by"): st.one_of(st.text(), st.integers(), st.lists(st.integers(), min_size=1)),
    ("json_payloads",): st.one_of(st.text(), st.integers(min_value=2)),
    ("format",): st.text().filter(lambda f: f != "kindling-signal-catalog/1"),
}


def _node(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    _node(data, path[:-1])[path[-1]] = value


@st.composite
def known_invalid(draw: st.DrawFn) -> tuple[str, str]:
    """(a breach's name, the catalog text as YAML) for one breach made on purpose."""
    data = copy.deepcopy(BASE)
    breach = draw(st.sampled_from(["required", "type", "unknown_key", "bad_name", "tier", "operation",
                                   "duplicate", "empty"]))
    if breach == "required":
        path = draw(st.sampled_from(REQUIRED))
        del _node(data, path[:-1])[path[-1]]
    elif breach == "type":
        path = draw(st.sampled_from(sorted(TYPED)))
        _set(data, path, draw(TYPED[path]))
    elif breach == "unknown_key":
        path = draw(st.sampled_from(CLOSED_OBJECTS))
        node = _node(data, path)
        key = draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in node and k not in (
            "format", "framework", "json_payloads", "common_fields", "post_fields", "failed_fields", "tiers",
            "providers", "silent_providers", "class", "tier", "use_cases", "warning", "note", "operations",
            "signals", "when", "kind", "description", "extension", "fields", "pre", "post", "failed", "pair_by",
            "type", "items", "required", "nullable", "minimum", "maximum", "enum", "format")))
        node[key] = draw(st.text(max_size=5))
    elif breach == "bad_name":
        name = draw(st.text(min_size=1, max_size=10).filter(
            lambda n: not (n[:1].isascii() and n[:1].islower() and all(c in "abcdefghijklmnopqrstuvwxyz0123456789_" for c in n))))
        where = draw(st.sampled_from([("providers",), ("providers", "shop", "signals")]))
        _node(data, where)[name] = copy.deepcopy(_node(data, ("providers", "shop") if where == ("providers",)
                                                        else ("providers", "shop", "signals", "pre_sell")))
    elif breach == "tier":
        tier = draw(st.text(min_size=1, max_size=10).filter(lambda t: t not in ("critical", "high")))
        path = draw(st.sampled_from([("providers", "shop", "tier"), ("providers", "shop", "signals", "restocked", "tier")]))
        _set(data, path, tier)
    elif breach == "operation":
        role = draw(st.sampled_from(["pre", "failed"]))
        _set(data, ("providers", "shop", "operations", "shop.sell", role),
             draw(st.sampled_from(["pre_sel", "other.pre_sell", "restock", "sold"])))
    elif breach == "empty":
        path = draw(st.sampled_from([("providers",), ("providers", "shop", "signals"), ("tiers",)]))
        _set(data, path, [] if path == ("tiers",) else {})
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if breach == "duplicate":
        # a key given twice: YAML would keep the second silently
        line = draw(st.sampled_from([ln for ln in text.splitlines() if ln.endswith(":") and ln.startswith("  ")]))
        text = text.replace(line, line + " {}\n" + line, 1)
    return breach, text


_written = Counter[str]()


def _write(tmp: Path, text: str, suffix: str = ".yaml") -> Path:
    # a new file per case: load_catalog caches catalogs by path
    _written[str(tmp)] += 1
    path = tmp / f"catalog{_written[str(tmp)]}{suffix}"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_known_invalid_catalog_is_a_catalog_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("known")
    outcomes: Counter[str] = Counter()
    breaches: Counter[str] = Counter()

    @settings(max_examples=600, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(known_invalid())
    def run(case: tuple[str, str]) -> None:
        breach, text = case
        breaches[breach] += 1
        path = _write(tmp, text)
        try:
            load_catalog(path)
        except CatalogError as exc:
            assert str(exc).startswith(f"{path.resolve()}: "), exc
            outcomes["clear error"] += 1
        except Exception as exc:  # noqa: BLE001 - the point: anything else is a crash
            outcomes["crash"] += 1
            raise AssertionError(f"{breach}: {type(exc).__name__}: {exc}\n{text}") from exc
        else:
            outcomes["silent accept"] += 1
            raise AssertionError(f"{breach}: accepted:\n{text}")

    run()
    assert outcomes["crash"] == outcomes["silent accept"] == 0
    assert outcomes["clear error"] == sum(breaches.values()) >= 500
    assert set(breaches) == {"required", "type", "unknown_key", "bad_name", "tier", "operation",
                             "duplicate", "empty"}


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)


@st.composite
def garbage_at_a_place(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    paths = [()] + [p for p in _all_paths(data) if p]
    path = draw(st.sampled_from(paths))
    value = draw(JSONISH)
    if not path:
        return {"providers": value} if draw(st.booleans()) else value  # type: ignore[return-value]
    _set(data, path, value)
    return data


def _all_paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _all_paths(v, prefix + (k,))
    return out


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_garbage_anywhere_loads_or_is_a_catalog_error(tmp_path_factory: pytest.TempPathFactory,
                                                      suffix: str) -> None:
    tmp = tmp_path_factory.mktemp("garbage")
    outcomes: Counter[str] = Counter()

    @settings(max_examples=400, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(garbage_at_a_place())
    def run(data: Any) -> None:
        text = json.dumps(data) if suffix == ".json" else yaml.safe_dump(data, allow_unicode=True)
        path = _write(tmp, text, suffix)
        try:
            load_catalog(path)
        except CatalogError:
            outcomes["clear error"] += 1
        except Exception as exc:  # noqa: BLE001
            outcomes["crash"] += 1
            raise AssertionError(f"{type(exc).__name__}: {exc}\n{text}") from exc
        else:
            outcomes["valid"] += 1

    run()
    print(f"garbage {suffix}: {dict(outcomes)}")  # the figures in docs/reliability.md
    assert outcomes["crash"] == 0 and outcomes["clear error"] > 100, outcomes


def test_arbitrary_text_is_a_catalog_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("text")
    outcomes: Counter[str] = Counter()

    @settings(max_examples=300, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.text(max_size=200))
    def run(text: str) -> None:
        path = _write(tmp, text)
        with pytest.raises(CatalogError):  # no text of this size is a catalog with a provider
            load_catalog(path)
        outcomes["clear error"] += 1

    run()
    assert outcomes["clear error"] == 300

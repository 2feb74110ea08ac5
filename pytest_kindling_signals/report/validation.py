"""Payload validation for the report, its verdicts remembered by payload shape (findings stay exact)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_kindling_signals.catalog import SignalCatalog, Violation
from pytest_kindling_signals.report.results import Finding

#: How many distinct valid payload shapes a run remembers (beyond it, payloads are validated one by one).
MAX_VALID_SHAPES = 20_000

# -- payload validation, remembered by shape ------------------------------------------
# Validating a payload against its JSON Schema costs ~70 us, 30x the emission
# itself. A payload's verdict depends only on its signal, its keys, the exact
# types of its values (recursively, with floats split into non-finite / whole /
# fractional), and, for fields with value constraints, whether each value meets
# them. So verdicts are remembered by that shape, invalid ones too: a payload of
# a known shape costs one key and one look-up; a known-invalid one adds one to
# each of its findings (which keep the values, test and message of their first
# occurrence). Only the first payload of each shape is validated in full.

class _Uncacheable(Exception):
    pass


_SCALARS = frozenset({str, int, bool, type(None)})
_KNOWN_KEYWORDS = frozenset({"type", "items", "minimum", "maximum", "enum", "format",
                             "pattern", "description"})
_ABSENT: Any = object()


_WHOLE, _FRACTIONAL, _NON_FINITE = ("f", "whole"), ("f", "fractional"), ("f", "non-finite")


def _shape(value: Any, json_only: bool = True) -> Any:
    t = type(value)
    if t in _SCALARS:
        return t
    if t is float:  # a whole float passes as a JSON integer; inf and nan are not JSON
        return _WHOLE if value.is_integer() else _FRACTIONAL if math.isfinite(value) else _NON_FINITE
    if t is list or t is tuple:
        items = frozenset(map(type, value))
        if items <= _SCALARS:  # the common case, a list of names: no recursion
            return (t, items)
        return (t, frozenset(_shape(v, json_only) for v in value))
    if t is dict:
        return (t, frozenset((type(k), _shape(v, json_only)) for k, v in value.items()))
    if json_only:
        raise _Uncacheable  # subclasses and other objects: always validate in full
    return t  # a catalog that allows any value (a DataFrame): its type is its verdict


def _value_rules(props: Mapping[str, Mapping[str, Any]]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """One function for a signal's value rules: equal results mean equal verdicts.

    It returns, per field with a rule, whether the value meets it (``minimum``/
    ``maximum``, ``pattern``) or the value itself (``enum``: enums are small).
    Values reaching it have exact JSON types (see :func:`_shape`), so ``type()``
    tests suffice. It is generated as straight-line code, as ``dataclasses``
    generates ``__init__``: this runs for every emission the report sees.
    """
    env: dict[str, Any] = {"_ABSENT": _ABSENT}
    lines, results = ["def rules(payload):", "    g = payload.get"], []
    for i, (fname, prop) in enumerate(props.items()):
        tests = []
        if "enum" in prop:
            tests.append(f"v{i}")
        if "pattern" in prop:
            env[f"search{i}"] = re.compile(prop["pattern"]).search
            tests.append(f"(type(v{i}) is str and search{i}(v{i}) is not None)")
        if "minimum" in prop or "maximum" in prop:
            env[f"low{i}"], env[f"high{i}"] = prop.get("minimum", -math.inf), prop.get("maximum", math.inf)
            tests.append(f"((type(v{i}) is int or type(v{i}) is float) and low{i} <= v{i} <= high{i})")
        if tests:
            env[f"field{i}"] = fname
            lines.append(f"    v{i} = g(field{i}, _ABSENT)")
            results.extend(tests)
    lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    exec("\n".join(lines), env)  # noqa: S102 - code built above from the catalog's rules
    return env["rules"]  # type: ignore[no-any-return]


_UNSET: Any = object()


class Verdicts:
    """Remembers each (signal, payload shape)'s verdict: the keys of the findings it gives."""

    def __init__(self, catalog: SignalCatalog) -> None:
        self._catalog = catalog
        # signal -> (its value rules, json only); None: validate in full always
        self._plans: dict[str, tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], bool] | None] = {}
        self._known: dict[Any, tuple[tuple[str, ...], ...]] = {}

    def _plan_for(self, name: str) -> tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], bool] | None:
        props = self._catalog.json_schema(name).get("properties", {})
        plan: tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], bool] | None = None
        if not any(set(prop) - _KNOWN_KEYWORDS or set(prop.get("items", {})) - {"type"}
                   for prop in props.values()):  # else a rule the shape doesn't capture: validate in full
            plan = (_value_rules(props), self._catalog[name].json_payload)
        self._plans[name] = plan
        return plan

    def key(self, name: str, payload: Mapping[str, Any]) -> Any:
        """The payload's shape key, or ``None`` when it must always be validated in full."""
        plan = self._plans.get(name, _UNSET)
        if plan is _UNSET:
            plan = self._plan_for(name)
        if plan is None:
            return None
        rules, json_only = plan
        values = payload.values()
        types = tuple(map(type, values))
        try:
            if not _SCALARS.issuperset(types):
                types = tuple([t if t in _SCALARS else _shape(v, json_only) for t, v in zip(types, values)])
            key = (name, tuple(payload), types, rules(payload))
            hash(key)
        except (_Uncacheable, TypeError):
            return None
        return key

    def get(self, key: Any) -> tuple[tuple[str, ...], ...] | None:
        """The finding keys a payload of this shape gives (``()``: valid), if known."""
        return self._known.get(key) if key is not None else None

    def add(self, key: Any, findings: tuple[tuple[str, ...], ...]) -> None:
        if key is not None and len(self._known) < MAX_VALID_SHAPES:
            self._known[key] = findings


@dataclass
class ValidationRecord:
    """The least a contract check needs of an emission."""

    __slots__ = ("name", "payload")
    name: str
    payload: Mapping[str, Any]


def payload_finding(v: Violation, test: str, index: int) -> Finding:
    return Finding("payload", v.signal, str(v), 1, test, index, v.field, v.expected, v.actual)



"""Payload strategies derived from the catalog's field specs (no hypothesis-jsonschema).

Every value comes from a :class:`~kindling.signal_catalog.FieldSpec`: its
types, ``nullable``, ``minimum``/``maximum``, ``enum``, ``format`` (``uuid``,
``date-time`` with an offset) and array ``items``. So a user catalog gets
strategies for free, and a field added to the catalog is generated at once.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import pathlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from pytest_kindling_signals.catalog import DATETIME_PATTERN, UUID_PATTERN, FieldSpec, SignalCatalog, SignalSpec
from pytest_kindling_signals.strategies._validation import (
    InvalidArgument,
    check_signal,
    close_matches,
    resolve_catalog,
)

__all__ = ["RULES", "InvalidPayload", "invalid_payloads", "json_values", "payloads", "signal_names", "spec_payloads"]

#: The rules an :class:`InvalidPayload` can break, one per example.
RULES = (
    "missing_required",          # a required field is absent
    "wrong_type",                # a value of a JSON type the field does not allow
    "timestamp_without_offset",  # a date-time field without its UTC offset
    "below_minimum",             # e.g. a negative duration_seconds, a count below 0
    "above_maximum",             # e.g. sample_rate above 1
    "not_in_enum",               # a value outside the field's enum
    "not_a_uuid",                # a uuid field (operation_id...) holding another string
    "not_json",                  # a value JSON cannot hold (a set, NaN, bytes, a Path...)
)

# A few offsets, whole minutes only: ISO-8601 as the catalog checks it has no offset seconds.
_ZONES = (dt.timezone.utc, dt.timezone(dt.timedelta(hours=1)), dt.timezone(dt.timedelta(hours=-5)),
          dt.timezone(dt.timedelta(hours=5, minutes=30)))
_FIRST, _LAST = dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31)
_UUID_RE = re.compile(UUID_PATTERN)
_DATETIME_RE = re.compile(DATETIME_PATTERN)

# Short, printable strings shrink to readable examples (and survive any log or JSON file).
_text = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=12)


def json_values(*, max_leaves: int = 5) -> st.SearchStrategy[Any]:
    """Any JSON value: None, bools, ints, finite floats, short strings, and lists and dicts of those."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(_text, inner, max_size=3), max_leaves=max_leaves)


def _timestamps(with_offset: bool = True) -> st.SearchStrategy[str]:
    if not with_offset:
        return st.datetimes(_FIRST, _LAST).map(dt.datetime.isoformat)

    def render(moment: dt.datetime, zulu: bool) -> str:
        text = moment.isoformat()
        return text[:-6] + "Z" if zulu and text.endswith("+00:00") else text

    return st.builds(render, st.datetimes(_FIRST, _LAST, timezones=st.sampled_from(_ZONES)), st.booleans())


def _numbers(spec: FieldSpec, integral: bool) -> st.SearchStrategy[Any]:
    low, high = spec.minimum, spec.maximum
    ints = st.integers(None if low is None else math.ceil(low), None if high is None else math.floor(high))
    if integral:
        return ints
    return ints | st.floats(low, high, allow_nan=False, allow_infinity=False)


def _of_type(json_type: str, spec: FieldSpec) -> st.SearchStrategy[Any]:
    if json_type == "string":
        if spec.format == "uuid":
            return st.uuids().map(str)
        if spec.format == "date-time":
            return _timestamps()
        return _text
    if json_type == "integer":
        return _numbers(spec, integral=True)
    if json_type == "number":
        return _numbers(spec, integral=False)
    if json_type == "boolean":
        return st.booleans()
    if json_type == "array":
        if spec.items in (None, "any"):
            return st.lists(json_values(max_leaves=3), max_size=3)
        item = FieldSpec(name=f"{spec.name}[]", types=(spec.items,))
        return st.lists(_of_type(spec.items, item), max_size=3)
    if json_type == "object":
        return st.dictionaries(_text, json_values(max_leaves=3), max_size=3)
    return json_values()  # "any"


def field_values(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Values the catalog accepts for one field."""
    if spec.enum is not None:
        values = st.sampled_from(spec.enum)
    else:
        values = st.one_of([_of_type(t, spec) for t in spec.types])
    return values | st.none() if spec.nullable else values


def payloads(name: str, *, catalog: SignalCatalog | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Payloads of signal ``name`` that the catalog accepts.

    Required fields are always there, optional ones sometimes; values follow
    each field's spec. Examples shrink to the required fields with their
    simplest values::

        @given(payloads("entity.post_merge"))
        def test_observer_accepts_any_merge(payload):
            my_observer("entity.post_merge", **payload)
    """
    spec = check_signal("payloads", name, resolve_catalog("payloads", catalog))
    return spec_payloads(spec)


def spec_payloads(spec: SignalSpec) -> st.SearchStrategy[dict[str, Any]]:
    required = {n: field_values(f) for n, f in spec.fields.items() if f.required}
    optional = {n: field_values(f) for n, f in spec.fields.items() if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


# -- invalid payloads --------------------------------------------------------

@dataclass(frozen=True)
class InvalidPayload:
    """A payload of ``signal`` that breaks exactly one ``rule`` (one of :data:`RULES`), at ``field``.

    ``description`` says it in words, e.g. ``"operation_id holds 'x', not a uuid"``.
    """

    signal: str
    payload: dict[str, Any]
    rule: str
    field: str
    description: str


_NOT_JSON: tuple[Callable[[], Any], ...] = (
    lambda: {1, 2}, lambda: b"bytes", lambda: float("nan"), lambda: float("inf"),
    lambda: dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), lambda: decimal.Decimal("1.5"),
    lambda: pathlib.PurePosixPath("/lakehouse/tables/orders"), lambda: ValueError("boom"), object,
)
# A key no catalog field uses: the non-JSON value breaks that rule and no other.
NOT_JSON_KEY = "not_json_value"

_PLAIN = FieldSpec(name="", types=("string",))
_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "string": _text,
    "integer": st.integers(),
    # Non-integral: JSON Schema counts 2.0 as an integer.
    "number": st.integers(-1000, 1000).map(lambda i: i + 0.5),
    "boolean": st.booleans(),
    "array": st.lists(st.integers(), max_size=2),
    "object": st.dictionaries(_text, st.integers(), max_size=2),
    "null": st.none(),
}


def _accepted(spec: FieldSpec) -> set[str]:
    accepted = set(spec.types) | ({"null"} if spec.nullable else set())
    if "number" in accepted:
        accepted.add("integer")
    return accepted


def _rules_for(spec: SignalSpec) -> list[tuple[str, str]]:
    """Every (rule, field) the signal's fields allow breaking alone, in a stable order."""
    pairs: list[tuple[str, str]] = []
    for name, f in spec.fields.items():
        if f.required:
            pairs.append(("missing_required", name))
        # An enum field with a value of another type breaks the enum too: not_in_enum covers it.
        if "any" not in f.types and f.enum is None and set(_WRONG) - _accepted(f):
            pairs.append(("wrong_type", name))
        if f.format == "date-time" and "string" in f.types:
            pairs.append(("timestamp_without_offset", name))
        if f.format == "uuid" and "string" in f.types:
            pairs.append(("not_a_uuid", name))
        numeric = {"integer", "number"} & set(f.types)
        if numeric and f.minimum is not None:
            pairs.append(("below_minimum", name))
        if numeric and f.maximum is not None:
            pairs.append(("above_maximum", name))
        if f.enum is not None:
            pairs.append(("not_in_enum", name))
    pairs.append(("not_json", NOT_JSON_KEY))
    return sorted(pairs, key=lambda p: RULES.index(p[0]))


def _bad_value(rule: str, f: FieldSpec) -> st.SearchStrategy[Any]:
    if rule == "wrong_type":
        wrong = {t: s for t, s in _WRONG.items() if t not in _accepted(f)}
        if "number" in wrong:  # inside the field's bounds, so only its type is wrong
            low = -1000 if f.minimum is None else math.ceil(f.minimum)
            high = 1000 if f.maximum is None else math.floor(f.maximum)
            wrong["number"] = st.integers(low, max(low, high - 1)).map(lambda i: i + 0.5)
            if f.maximum is not None and low + 0.5 > f.maximum:
                del wrong["number"]
        return st.one_of(list(wrong.values()))
    if rule == "timestamp_without_offset":
        return _timestamps(with_offset=False)
    if rule == "not_a_uuid":
        return st.one_of(
            _text.filter(lambda s: not _UUID_RE.match(s)),
            st.uuids().map(lambda u: str(u)[:-1]),          # one digit short
            st.uuids().map(lambda u: u.hex),                # no dashes
        )
    integral = "number" not in f.types
    if rule == "below_minimum":
        assert f.minimum is not None
        below = st.integers(max_value=math.ceil(f.minimum) - 1)
        if integral:
            return below
        return below | st.floats(max_value=f.minimum, exclude_max=True, allow_nan=False, allow_infinity=False)
    if rule == "above_maximum":
        assert f.maximum is not None
        above = st.integers(min_value=math.floor(f.maximum) + 1)
        if integral:
            return above
        return above | st.floats(min_value=f.maximum, exclude_min=True, allow_nan=False, allow_infinity=False)
    if rule == "not_in_enum":
        assert f.enum is not None
        enum = f.enum
        plain = FieldSpec(name=f.name, types=f.types, items=f.items, minimum=f.minimum,
                          maximum=f.maximum, format=f.format)
        return field_values(plain).filter(lambda v: v not in enum)
    raise AssertionError(rule)  # pragma: no cover


def _describe(rule: str, field: str, value: Any) -> str:
    if rule == "missing_required":
        return f"required field {field} is missing"
    return {
        "wrong_type": f"{field} holds {value!r}, of a type the field does not allow",
        "timestamp_without_offset": f"{field} holds {value!r}, a date-time without its UTC offset",
        "not_a_uuid": f"{field} holds {value!r}, not a uuid",
        "below_minimum": f"{field} holds {value!r}, below the field's minimum",
        "above_maximum": f"{field} holds {value!r}, above the field's maximum",
        "not_in_enum": f"{field} holds {value!r}, outside the field's enum",
        "not_json": f"{field} holds {type(value).__name__} {value!r}, which JSON cannot hold",
    }[rule]


def invalid_payloads(name: str, *, catalog: SignalCatalog | None = None,
                     rules: Any = None) -> st.SearchStrategy[InvalidPayload]:
    """Payloads of ``name`` that break exactly one catalog rule, as :class:`InvalidPayload`.

    Each example is a valid payload with one change; ``.rule`` and ``.field``
    say which. ``rules`` restricts the rules drawn (default: every rule that
    applies to the signal's fields)::

        @given(invalid_payloads("entity.post_merge"))
        def test_validator_rejects(bad):
            assert catalog.validate(bad.signal, bad.payload)
    """
    spec = check_signal("invalid_payloads", name, resolve_catalog("invalid_payloads", catalog))
    pairs = _rules_for(spec)
    if rules is not None:
        from pytest_kindling_signals.strategies._validation import check_choices

        chosen = check_choices("invalid_payloads", "rules", rules, RULES)
        applicable = {r for r, _ in pairs}
        pairs = [p for p in pairs if p[0] in chosen]
        if not pairs:
            raise InvalidArgument(
                f"invalid_payloads({name!r}, rules={list(chosen)!r}): none of these rules applies to "
                f"{name}'s fields; it can break {', '.join(map(repr, sorted(applicable, key=RULES.index)))}")
    return _invalid(spec, pairs)


def _invalid(spec: SignalSpec, pairs: list[tuple[str, str]]) -> st.SearchStrategy[InvalidPayload]:
    rules = list(dict.fromkeys(r for r, _ in pairs))

    @st.composite
    def build(draw: st.DrawFn) -> InvalidPayload:
        # The rule first, then its field: every rule is as likely, however many fields it has.
        rule = draw(st.sampled_from(rules))
        field = draw(st.sampled_from([f for r, f in pairs if r == rule]))
        payload = dict(draw(spec_payloads(spec)))
        value: Any = None
        if rule == "missing_required":
            del payload[field]
        elif rule == "not_json":
            value = draw(st.sampled_from(_NOT_JSON))()
            payload[field] = value
        else:
            value = draw(_bad_value(rule, spec.fields[field]))
            payload[field] = value
        return InvalidPayload(spec.name, payload, rule, field, _describe(rule, field, value))

    return build()


# -- names -------------------------------------------------------------------

def signal_names(*, provider: str | None = None, tier: str | None = None,
                 catalog: SignalCatalog | None = None) -> st.SearchStrategy[str]:
    """Catalog signal names, optionally of one provider (class or namespace) and/or one tier.

    >>> signal_names(provider="DataEntityManager", tier="critical").example()  # doctest: +SKIP
    'entity.post_merge'
    """
    cat = resolve_catalog("signal_names", catalog)
    names = list(cat)
    if provider is not None:
        known = cat.providers() + cat.namespaces()
        if not isinstance(provider, str) or provider not in known:
            raise InvalidArgument(
                f"signal_names(provider={provider!r}): unknown provider."
                f"{close_matches(str(provider), known)} Use a class name or namespace: "
                f"{', '.join(f'{c} ({n})' for c, n in zip(cat.providers(), cat.namespaces()))}")
        names = [s.name for s in cat.by_provider(provider)]
    if tier is not None:
        if tier not in cat.tiers:
            raise InvalidArgument(f"signal_names(tier={tier!r}): unknown tier.{close_matches(str(tier), cat.tiers)}"
                                  f" The catalog's tiers are {', '.join(map(repr, cat.tiers))}")
        names = [n for n in names if cat[n].tier == tier]
    if not names and provider is None:
        raise InvalidArgument(f"signal_names(tier={tier!r}): the catalog has no signal of this tier")
    if not names:
        raise InvalidArgument(
            f"signal_names(provider={provider!r}, tier={tier!r}): no catalog signal is both; "
            f"provider {provider!r} has tier(s) "
            f"{', '.join(sorted({s.tier for s in cat.by_provider(str(provider))}))}")
    return st.sampled_from(names)

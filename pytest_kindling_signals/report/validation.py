"""Payload validation for the report, its verdicts remembered by payload shape (findings stay exact).

The collector hands it a batch of one test's emissions at a time
(:class:`BatchCheck`): shapes are worked out a column at a time
(:class:`ColumnShapes`), a test's lifecycles kept as two flat lists
(:class:`Lifecycle`) and checked with sets first (:func:`lifecycles_clean`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain, compress, repeat
from operator import eq, itemgetter
from dataclasses import dataclass
from typing import Any, overload

from pytest_kindling_signals.catalog import SignalCatalog, Violation, check_payloads
from pytest_kindling_signals.frameworks import Emission
from pytest_kindling_signals.report.results import Finding, SessionData

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
        except (_Uncacheable, TypeError, RecursionError):  # (a list that holds itself): validated in full
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




# -- the same shape keys, a column at a time -------------------------------------------
# The collector checks a test's emissions in batches (see BATCH) rather than one by
# one. The payloads of a batch that share a signal and keys form a table whose
# columns are the fields. A column's part of the shape key (its type, whether its
# values meet their rules) is nearly always the same on every row, and builtins
# that run at C speed (map, set, min, max, sum) find that out; only a field with a
# pattern costs a regex search per value. Then every row has one key, equal to
# what Verdicts.key gives each payload, and one look-up gives the verdict of all:
# findings stay exact (counted per payload, with their first occurrence's values).
# A column whose part varies (a field sometimes null) adds its part to each row's key.

#: Emissions a collector keeps before it checks them (and whenever the test changes). Small
#: enough that a batch's payloads (two or three container objects each) stay under the
#: garbage collector's first threshold (700 allocations): a batch that crosses it is kept
#: alive through a collection and promoted, and then every batch pays a collection (10% of
#: the report's cost on an emission-heavy test, measured with 256).
BATCH = 128

_UNCACHEABLE: Any = object()
_EMPTY: frozenset[type] = frozenset()
_EMPTY_TYPES: set[type] = set()  # never changed: the types of an absent column
_DICT = frozenset({dict})
_name_of, _payload_of = itemgetter(0), itemgetter(2)


def _part_of_each(col: Sequence[Any], json_only: bool) -> list[Any]:
    parts = []
    for v in col:
        try:
            parts.append(_shape(v, json_only))
        except (_Uncacheable, RecursionError):
            parts.append(_UNCACHEABLE)
    return parts


def _type_part(col: Sequence[Any], types: set[type], json_only: bool) -> tuple[bool, Any]:
    """(True, the type part every value shares) or (False, each value's), as :func:`_shape` has them."""
    if len(types) == 1:
        t = next(iter(types))
        if t in _SCALARS:
            return True, t
        if t is float and math.isfinite(sum(col)):  # a finite sum: no inf, no nan
            whole = list(map(float.is_integer, col))
            if not any(whole):
                return True, _FRACTIONAL
            if all(whole):
                return True, _WHOLE
            return False, [_WHOLE if w else _FRACTIONAL for w in whole]
        if t is list or t is tuple:
            items = set(map(type, chain.from_iterable(col)))
            if len(items) == 1 and items <= _SCALARS:  # lists of names: (list, {str}), or empty
                full = (t, frozenset(items))
                filled = list(map(bool, col))
                if all(filled):
                    return True, full
                return False, [full if f else (t, _EMPTY) for f in filled]
    elif types <= _SCALARS:
        return False, list(map(type, col))
    return False, _part_of_each(col, json_only)


def _in_range(col: Sequence[Any], types: set[type], low: Any, high: Any) -> bool:
    """Whether every value is an int or float within [low, high] (checked by min and max)."""
    if not types or not types <= {int, float}:
        return False
    try:
        if float not in types or math.isfinite(sum(col)):
            return bool(low <= min(col) and max(col) <= high)
    except OverflowError:
        pass
    return False


#: A field's value rules, compiled once per signal: (field, enum?, the pattern's search or
#: None, range?, minimum, maximum), in the order :func:`_value_rules` tests them.
Rule = tuple[str, bool, Callable[[str], Any] | None, bool, Any, Any]


def _compile_rule(field: str, prop: Mapping[str, Any]) -> Rule:
    ranged = "minimum" in prop or "maximum" in prop
    search = re.compile(prop["pattern"]).search if "pattern" in prop else None
    return (field, "enum" in prop, search, ranged, prop.get("minimum", -math.inf), prop.get("maximum", math.inf))


def _rule_parts(rule: Rule, col: Sequence[Any] | None, types: set[type],
                matched: dict[Any, set[str]] | None = None) -> list[tuple[bool, Any]]:
    """The parts :func:`_value_rules` gives one field (enum, pattern, range), for a column;
    ``col`` None: the field is absent from these payloads. ``matched``: per pattern, the
    strings last seen to match it (a value's verdict is its own: only new values are searched)."""
    _, enum, search, ranged, low, high = rule
    parts: list[tuple[bool, Any]] = []
    if enum:
        if col is None:
            parts.append((True, _ABSENT))
        else:
            try:
                parts.append((True, col[0]) if len(set(col)) == 1 else (False, col))
            except TypeError:  # an unhashable value: that row is validated in full
                parts.append((False, [v if _hashable(v) else _UNCACHEABLE for v in col]))
    if search is not None:
        if col is None or str not in types:
            parts.append((True, False))
        elif len(types) == 1:
            distinct = set(col)
            known = matched.get(search) if matched is not None else None
            if all(map(search, distinct if known is None else distinct - known)):
                if matched is not None:
                    matched[search] = distinct  # one column's values: ids repeat in pre_ and post_
                parts.append((True, True))
            else:
                parts.append((False, [search(v) is not None for v in col]))
        else:
            parts.append((False, [type(v) is str and search(v) is not None for v in col]))
    if ranged:
        if col is None or types.isdisjoint({int, float}):
            parts.append((True, False))
        elif _in_range(col, types, low, high):
            parts.append((True, True))
        else:
            parts.append((False, [(type(v) is int or type(v) is float) and low <= v <= high for v in col]))
    return parts


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class ColumnShapes:
    """The shape keys of many payloads of one signal (the keys :meth:`Verdicts.key` gives), a column at a time.

    >>> shapes = ColumnShapes(catalog)                                           # doctest: +SKIP
    >>> shapes.keys("entity.post_merge", payloads)  # one key for every payload  # doctest: +SKIP
    (True, ('entity.post_merge', ('operation_id', ...), (...), (...)))
    """

    def __init__(self, catalog: SignalCatalog) -> None:
        self._catalog = catalog
        # signal -> (its fields' compiled value rules, each with its parts when the field is
        # absent, json only); None: validate in full always
        self._plans: dict[str, tuple[list[tuple[Rule, list[tuple[bool, Any]]]], bool] | None] = {}
        # a pattern's search -> the strings of the last column seen to match it
        self._matched: dict[Any, set[str]] = {}

    def _plan(self, name: str) -> tuple[list[tuple[Rule, list[tuple[bool, Any]]]], bool] | None:
        plan = self._plans.get(name, _UNSET)
        if plan is _UNSET:
            props = self._catalog.json_schema(name).get("properties", {})
            plan = None
            if not any(set(prop) - _KNOWN_KEYWORDS or set(prop.get("items", {})) - {"type"}
                       for prop in props.values()):
                rules = [_compile_rule(f, p) for f, p in props.items()
                         if {"enum", "pattern", "minimum", "maximum"} & set(p)]
                plan = ([(rule, _rule_parts(rule, None, _EMPTY_TYPES)) for rule in rules],
                        self._catalog[name].json_payload)
            self._plans[name] = plan
        return plan

    def keys(self, name: str, payloads: Sequence[dict[str, Any]]) -> tuple[bool, Any]:
        """(True, the key every payload has) or (False, each payload's key, ``None`` for one that
        is validated in full). The payloads are dicts with the same keys in the same order."""
        plan = self._plan(name)
        if plan is None:
            return True, None
        ruled, json_only = plan
        fields = tuple(payloads[0])
        columns = dict(zip(fields, zip(*map(dict.values, payloads)))) if fields else {}
        types = {f: set(map(type, col)) for f, col in columns.items()}
        type_parts = [_type_part(columns[f], types[f], json_only) for f in fields]
        matched = self._matched
        rule_parts = [part for rule, absent in ruled
                      for part in (absent if rule[0] not in columns else
                                   _rule_parts(rule, columns[rule[0]], types[rule[0]], matched))]
        if all(const for const, _ in type_parts) and all(const for const, _ in rule_parts):
            key = (name, fields, tuple(v for _, v in type_parts), tuple(v for _, v in rule_parts))
            try:
                hash(key)
            except TypeError:
                return True, None
            return True, key
        n = len(payloads)
        type_rows = zip(*[repeat(v, n) if const else v for const, v in type_parts])
        rule_rows = zip(*[repeat(v, n) if const else v for const, v in rule_parts]) if rule_parts else repeat((), n)
        keys: list[Any] = list(zip(repeat(name, n), repeat(fields, n), type_rows, rule_rows))
        if any(not const and _UNCACHEABLE in v for const, v in (*type_parts, *rule_parts)):
            keys = [None if _UNCACHEABLE in k[2] or _UNCACHEABLE in k[3] else k for k in keys]
        return False, keys


def lifecycles_clean(life: Sequence[tuple[str, tuple[Any, ...]]], catalog: SignalCatalog) -> bool:
    """Whether :func:`~pytest_kindling_signals.catalog.check_lifecycles` surely finds nothing in
    ``life`` (name, pairing key) records, found with sets and dicts: every operation paired by
    a unique id, each id opened once and closed once, after it opened. ``False``: run the full check."""
    if not life:
        return True
    if isinstance(life, Lifecycle):
        names, keys = life.names, life.values
    else:
        names, keys = (list(c) for c in zip(*life))
    opened: dict[str, list[str]] = {}
    closed: dict[str, list[str]] = {}
    for name in set(names):
        op = catalog.operation_opened_by(name)
        into = opened
        if op is None:
            op = catalog.operation_closed_by(name)
            into = closed
            if op is None:
                continue
        if not op.unique_ids:
            return False
        into.setdefault(op.name, []).append(name)
    for op_name in opened.keys() | closed.keys():
        pre = _positions(names, opened.get(op_name, ()))
        post = _positions(names, closed.get(op_name, ()))
        if len(pre) != len(post):
            return False  # an id opened and never closed, or closed and never opened
        try:
            pre_at = dict(zip(map(keys.__getitem__, pre), pre))
            post_at = dict(zip(map(keys.__getitem__, post), post))
        except TypeError:  # an unhashable pairing value: the full check names it
            return False
        if len(pre_at) != len(pre) or len(post_at) != len(post) or pre_at.keys() != post_at.keys():
            return False  # an id opened twice, closed twice, or closed without its pre_
        if not all(map(int.__lt__, map(pre_at.__getitem__, post_at), post_at.values())):
            return False  # closed before it opened
    return True


def _positions(names: Sequence[str], wanted: Sequence[str]) -> list[int]:
    if not wanted:
        return []
    if len(wanted) == 1:
        return list(compress(range(len(names)), map(eq, names, repeat(wanted[0]))))
    return list(compress(range(len(names)), map(frozenset(wanted).__contains__, names)))


FindingKeys = tuple[tuple[str, ...], ...]
LifecycleRecord = tuple[str, tuple[Any, ...]]


class Lifecycle(Sequence[LifecycleRecord]):
    """A test's lifecycle records in order: (signal, the values that pair its operation).

    Kept as two flat lists, a name and a value per record (the value itself when the
    operation pairs by one field, its operation id mostly): no object per record
    until a record is read, so a test of a million operations keeps two lists.
    """

    __slots__ = ("names", "values", "_single")

    def __init__(self, pair_fields: Mapping[str, tuple[str, ...]]) -> None:
        self.names: list[str] = []
        self.values: list[Any] = []
        self._single = {n: len(f) == 1 for n, f in pair_fields.items()}

    def __len__(self) -> int:
        return len(self.names)

    @overload
    def __getitem__(self, i: int) -> LifecycleRecord: ...
    @overload
    def __getitem__(self, i: slice) -> list[LifecycleRecord]: ...

    def __getitem__(self, i: int | slice) -> LifecycleRecord | list[LifecycleRecord]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        name, value = self.names[i], self.values[i]
        return (name, (value,)) if self._single.get(name) else (name, value)

    def __iter__(self) -> Iterator[LifecycleRecord]:
        single = self._single
        return ((n, (v,)) if single.get(n) else (n, v) for n, v in zip(self.names, self.values))

    def append(self, record: LifecycleRecord) -> None:
        name, key = record
        self.names.append(name)
        self.values.append(key[0] if self._single.get(name) else key)

    def extend(self, records: Iterable[LifecycleRecord]) -> None:
        for record in records:
            self.append(record)

    def extend_single(self, names: Sequence[str], values: Iterable[Any]) -> None:
        """Add records of operations that pair by one field: their names and that field's values."""
        self.names.extend(names)
        self.values.extend(values)


class BatchCheck:
    """Checks a batch of one test's emissions: counts, tests per signal, payload findings (in
    ``data``) and lifecycle records (appended to ``life``), the payloads a column at a time."""

    def __init__(self, catalog: SignalCatalog, pair_fields: Mapping[str, tuple[str, ...]],
                 max_lifecycle_records: int) -> None:
        self.catalog = catalog
        self.verdicts = Verdicts(catalog)
        self.shapes = ColumnShapes(catalog)
        self._names = frozenset(catalog)
        self._pair = pair_fields
        self._max_life = max_lifecycle_records

    def check(self, batch: Sequence[Emission], test: str, index: int, data: SessionData,
              life: Lifecycle | list[LifecycleRecord], keys_for: int = 0) -> list[FindingKeys | None]:
        """Returns the finding keys of the batch's first ``keys_for`` emissions (``None``: a
        signal the catalog lacks), for the test's timeline."""
        names = list(map(_name_of, batch))
        counts = Counter(names)
        for name, n in counts.items():
            data.counts[name] = data.counts.get(name, 0) + n
            tests = data.emitters.get(name)
            if tests is None:
                tests = data.emitters[name] = set()
            tests.add(test)
        payloads = list(map(_payload_of, batch))
        pair = self._pair
        if len(life) <= self._max_life and not pair.keys().isdisjoint(counts):
            room = self._max_life - len(life)
            added = self._add_lifecycle(life, names, payloads, counts, max(room, 0))
            if added > room and len(life) == self._max_life:
                life.append(("", ()))  # marks the overflow once
                data.notes.append(f"{test}: lifecycle check covers only its first "
                                  f"{self._max_life} lifecycle signals")
        documented = [n for n in counts if n in self._names]
        if not documented:
            return [None] * min(keys_for, len(batch))
        # (first row, shape key or None, rows) of each table of payloads: one signal, one set of keys
        row_keys: list[Any] = [None] * len(batch) if keys_for else []
        shapes: dict[Any, list[int]] = {}  # key -> [first row, rows]
        singles: list[int] = []  # rows validated in full
        for name in documented:
            rows = (range(len(batch)) if len(counts) == 1
                    else list(compress(range(len(batch)), map(eq, names, repeat(name)))))
            self._shape_rows(name, rows, payloads, shapes, singles, row_keys)
        # in the order of each shape's first payload: the first emitted keeps a finding's values
        order = sorted([(first, key) for key, (first, _) in shapes.items()] + [(i, None) for i in singles],
                       key=itemgetter(0))
        findings = data.findings
        verdict_of: dict[Any, FindingKeys] = {}
        single: dict[int, FindingKeys] = {}
        for first, key in order:
            if key is None:
                single[first] = self._validate(names[first], payloads[first], test, index, data, None)
                continue
            count = shapes[key][1]
            known = self.verdicts.get(key)
            if known is None:
                known = self._validate(names[first], payloads[first], test, index, data, key)
                count -= 1
            for fkey in known:  # the other payloads of this shape: its findings occur again
                findings[fkey].count += count
            verdict_of[key] = known
        return [None if names[i] not in self._names else
                single.get(i, ()) if row_keys[i] is None else verdict_of[row_keys[i]]
                for i in range(min(keys_for, len(batch)))]

    def _add_lifecycle(self, life: Lifecycle | list[LifecycleRecord], names: list[str], payloads: list[Any],
                       counts: Counter[str], room: int) -> int:
        """Add (at most ``room`` of) the batch's lifecycle records to ``life``; returns how many it has."""
        pair = self._pair
        if not all(n in pair for n in counts):
            chosen = list(map(pair.__contains__, names))
            names, payloads = list(compress(names, chosen)), list(compress(payloads, chosen))
        fields = {pair[n] for n in counts if n in pair}
        if (isinstance(life, Lifecycle) and len(fields) == 1 and len(next(iter(fields))) == 1
                and set(map(type, payloads)) <= _DICT):
            ((by,),) = fields
            life.extend_single(names[:room], map(dict.get, payloads[:room], repeat(by)))
        else:
            life.extend([(n, tuple([p.get(f) for f in pair[n]])) for n, p in zip(names[:room], payloads[:room])])
        return len(names)

    def _shape_rows(self, name: str, rows: Sequence[int], payloads: list[Any], shapes: dict[Any, list[int]],
                    singles: list[int], row_keys: list[Any]) -> None:
        mine = list(map(payloads.__getitem__, rows)) if not isinstance(rows, range) else payloads
        if not set(map(type, mine)) <= _DICT:
            for i in rows:
                self._count(shapes, singles, row_keys, i, self.verdicts.key(name, payloads[i]))
            return
        fields = list(map(tuple, mine))
        tables: dict[tuple[str, ...], list[int]] = {}
        if len(set(fields)) == 1:
            tables[fields[0]] = list(rows)
        else:
            for i, f in zip(rows, fields):
                tables.setdefault(f, []).append(i)
        for table_rows in tables.values():
            table = mine if len(tables) == 1 else list(map(payloads.__getitem__, table_rows))
            const, keys = self.shapes.keys(name, table)
            if const:
                if keys is None:
                    singles.extend(table_rows)
                    continue
                found = shapes.get(keys)
                if found is None:
                    shapes[keys] = [table_rows[0], len(table_rows)]
                else:
                    found[1] += len(table_rows)
                if row_keys:
                    for i in table_rows:
                        row_keys[i] = keys
            else:
                for i, key in zip(table_rows, keys):
                    self._count(shapes, singles, row_keys, i, key)

    @staticmethod
    def _count(shapes: dict[Any, list[int]], singles: list[int], row_keys: list[Any], i: int, key: Any) -> None:
        if key is None:
            singles.append(i)
            return
        found = shapes.get(key)
        if found is None:
            shapes[key] = [i, 1]
        else:
            found[1] += 1
        if row_keys:
            row_keys[i] = key

    def _validate(self, name: str, payload: Mapping[str, Any], test: str, index: int, data: SessionData,
                  key: Any) -> FindingKeys:
        """Validate one payload in full; add its findings; remember the verdict under ``key``."""
        try:
            found = check_payloads([ValidationRecord(name, payload)], self.catalog)
        except Exception as exc:  # a payload the validator chokes on is itself a finding
            finding = Finding(
                "payload", name, f"{name}: cannot be validated: {type(exc).__name__}: {exc}",
                1, test, index, "(payload)", "a payload the catalog can validate",
                f"{type(exc).__name__}: {exc}")
            data.add_finding(finding)
            return (finding.key,)
        keys = []
        for f in found:
            if f.violation is not None:
                finding = payload_finding(f.violation, test, index)
                data.add_finding(finding)
                keys.append(finding.key)
        self.verdicts.add(key, tuple(keys))
        return tuple(keys)

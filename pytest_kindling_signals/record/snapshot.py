"""Recorded as sent: a payload as it was at the moment it was sent.

Receivers get the sender's objects: one that rewrites ``pipe_ids[:]`` in
place changes the list every later receiver sees, and a record that kept the
list would change with it. So the recorder's tap (called before any
receiver, in both frameworks) copies the mutable containers of a payload:
lists, dicts, sets, tuples holding them, nested. Everything else is kept by
reference: strings and numbers can't change, and objects that aren't data (a
DataFrame, a Py4J handle) are never copied or looked into.

A copy is bounded: containers nested deeper than :data:`MAX_DEPTH` levels,
and items past :data:`MAX_ITEMS` in one payload, are recorded as a
:class:`Truncated` marker (never an exception)::

    >>> sent = {"pipe_ids": ["a", "b"], "n": 2}
    >>> kept = snapshot_payload(sent)
    >>> sent["pipe_ids"][:] = ["A"]
    >>> kept
    {'pipe_ids': ['a', 'b'], 'n': 2}
    >>> snapshot_payload({"rows": list(range(5))}, max_items=3)["rows"]
    <truncated list of 5 items: first 3 kept (3 items per payload)>
"""

from __future__ import annotations

import copy
import datetime
import decimal
import fractions
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "Truncated", "snapshot_payload"]

#: Container levels copied below a payload field; deeper containers are :class:`Truncated`.
MAX_DEPTH = 8
#: Container items copied per payload (all its containers together); past it, :class:`Truncated`.
MAX_ITEMS = 10_000

# Values that can't change: shared with the sender, never copied.
_IMMUTABLE = frozenset({str, bytes, int, float, complex, bool, type(None), datetime.date, datetime.datetime,
                        datetime.time, datetime.timedelta, datetime.timezone, decimal.Decimal,
                        fractions.Fraction, uuid.UUID, range})


class Truncated:
    """Where a recorded value stops: a container too deep, or past the payload's item budget.

    ``type_name`` and ``size`` describe the value that was sent, ``reason`` says
    which bound it hit, ``kept`` holds the copied head of a long container
    (``None`` for one too deep). It equals nothing but itself, so an assertion
    on a truncated value fails and shows this marker.
    """

    __kindling_safe_repr__ = True
    __slots__ = ("type_name", "size", "reason", "kept")

    def __init__(self, type_name: str, size: int, reason: str, kept: Any = None) -> None:
        self.type_name, self.size, self.reason, self.kept = type_name, size, reason, kept

    def __repr__(self) -> str:
        return f"<truncated {self.type_name} of {self.size} item{'s' if self.size != 1 else ''}: {self.reason}>"


def snapshot_payload(payload: Mapping[str, Any], *, max_depth: int = MAX_DEPTH,
                     max_items: int = MAX_ITEMS) -> Mapping[str, Any]:
    """``payload`` with its mutable containers copied (bounded); ``payload`` itself when it
    holds none (the common case costs one type test per field)."""
    for value in payload.values():
        if type(value) not in _IMMUTABLE:
            break
    else:
        return payload
    return _Copier(max_depth, max_items).payload(payload)


class _Copier:
    __slots__ = ("max_depth", "budget", "max_items", "memo")

    def __init__(self, max_depth: int, max_items: int) -> None:
        self.max_depth, self.budget, self.max_items = max_depth, max_items, max_items
        self.memo: dict[int, Any] = {}  # id -> copy: shared parts stay shared, cycles end

    def payload(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        immutable = _IMMUTABLE
        made: dict[str, Any] = {}
        for key, value in payload.items():
            cls = type(value)
            if cls in immutable:
                made[key] = value
            elif cls is list and len(value) <= self.budget and all(map(immutable.__contains__, map(type, value))):
                made[key] = self._flat(value)   # the common case, a list of names
            else:
                made[key] = self.copy(value, 0)
        return made

    def copy(self, value: Any, depth: int) -> Any:
        cls = type(value)
        if cls in _IMMUTABLE:
            return value
        if cls is list and depth < self.max_depth and len(value) <= self.budget \
                and all(map(_IMMUTABLE.__contains__, map(type, value))):
            return self._flat(value)
        if cls is list or cls is dict or cls is tuple or cls is set or cls is frozenset or cls is bytearray:
            pass
        elif isinstance(value, (list, dict, set, tuple)):
            pass  # a subclass (OrderedDict, a namedtuple...): copied, keeping its class
        else:
            return value  # not data: kept by reference, never looked into
        made = self.memo.get(id(value))
        if made is not None:
            return made
        size = len(value)
        if depth >= self.max_depth:
            return Truncated(cls.__name__, size, f"nested deeper than {self.max_depth} levels")
        if size > self.budget:
            kept = self._head(value, self.budget, depth)
            self.budget = 0
            return Truncated(cls.__name__, size, f"first {len(kept)} kept ({self.max_items} items "
                             f"per payload)", kept)
        self.budget -= size
        return self._container(value, depth)

    def _flat(self, value: list[Any]) -> list[Any]:
        """A list of immutable items: one C-level copy, no recursion (shared lists stay shared)."""
        made = self.memo.get(id(value))
        if made is None:
            made = self.memo[id(value)] = value.copy()
            self.budget -= len(value)
        return made  # type: ignore[no-any-return]

    def _head(self, value: Any, n: int, depth: int) -> Any:
        if isinstance(value, dict):
            return {k: self.copy(v, depth + 1) for k, v in list(value.items())[:n]}
        if isinstance(value, (set, frozenset)):
            return list(value)[:n]
        return [self.copy(v, depth + 1) for v in list(value)[:n]]

    def _container(self, value: Any, depth: int) -> Any:
        cls = type(value)
        if cls is bytearray:
            return bytearray(value)
        if isinstance(value, (set, frozenset)):  # items are hashable: kept as they are
            return set(value) if cls is set else value if cls is frozenset else _shallow(value)
        if isinstance(value, tuple):
            items = [self.copy(v, depth + 1) for v in value]
            if all(a is b for a, b in zip(items, value)):
                return value  # nothing mutable inside: the tuple can't change
            if cls is tuple:
                return tuple(items)
            try:
                return cls._make(items) if hasattr(cls, "_make") else cls(items)
            except Exception:
                return tuple(items)
        if isinstance(value, dict):
            made = {} if cls is dict else _shallow(value)
            self.memo[id(value)] = made
            if made is value:
                return value
            for key, item in list(value.items()):
                made[key] = self.copy(item, depth + 1)
            return made
        made = [] if cls is list else _shallow(value)
        self.memo[id(value)] = made
        if made is value:
            return value
        made[:] = [self.copy(item, depth + 1) for item in list(value)]
        return made


def _shallow(value: Any) -> Any:
    """A copy of a container subclass that keeps its class; the value itself if it refuses."""
    try:
        return copy.copy(value)
    except Exception:
        return value

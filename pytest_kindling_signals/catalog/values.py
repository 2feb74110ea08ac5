"""Describing a payload value in a message without touching it.

A payload may carry objects that aren't data: a Spark DataFrame, a Py4J
handle, a Spark Connect plan. Their ``repr()`` (or any attribute access)
can start Spark work, call into the JVM, or send a Spark Connect RPC, so a
failure message or a report must never call it. :func:`safe_repr` shows
data as ``repr`` would and everything else by its class only::

    >>> safe_repr({"rows": [1, 2], "when": None})
    "{'rows': [1, 2], 'when': None}"
    >>> class DataFrame: ...
    >>> safe_repr([DataFrame()])
    '[<pytest_kindling_signals.catalog.values.DataFrame object>]'
    >>> safe_repr("x" * 100, limit=12)
    "'xxxxxxxx..."

:func:`is_data` says whether a value is such data (the same test, without
building text).
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import pathlib
import uuid
from collections.abc import Iterator
from typing import Any

__all__ = ["SAFE_REPR_ATTRIBUTE", "is_data", "opaque_name", "safe_repr"]

#: A class whose ``repr()`` only reads plain data sets this class attribute to True (the
#: plugin's matchers and truncation markers do), so its repr is shown.
SAFE_REPR_ATTRIBUTE = "__kindling_safe_repr__"

# repr() of these reads nothing but the value itself.
_ATOMIC = frozenset({str, bytes, int, float, complex, bool, type(None), datetime.date,
                     datetime.datetime, datetime.time, datetime.timedelta, datetime.timezone,
                     decimal.Decimal, fractions.Fraction, uuid.UUID, range, pathlib.PurePosixPath,
                     pathlib.PureWindowsPath, pathlib.PosixPath, pathlib.WindowsPath})
_CONTAINERS = (list, tuple, dict, set, frozenset)
_BRACKETS: dict[type, tuple[str, str]] = {list: ("[", "]"), tuple: ("(", ")"), set: ("{", "}"), frozenset: ("frozenset({", "})")}
# Expected values users write in assertions, whose repr is theirs (not a payload's).
_SELF_DESCRIBING_MODULES = ("unittest.mock", "_pytest.python_api", "numpy")
_MAX_DEPTH = 6
_MAX_ITEMS = 20


def opaque_name(value: Any) -> str:
    """``<module.Class object>``: how a value that isn't data is shown (its class only)."""
    cls = type(value)  # type() reads the object's header, not an attribute
    module = cls.__module__
    name = cls.__qualname__
    return f"<{name} object>" if module in ("builtins", "__main__") else f"<{module}.{name} object>"


def _self_describing(cls: type) -> bool:
    try:
        return bool(getattr(cls, SAFE_REPR_ATTRIBUTE, False)) or cls.__module__.startswith(
            _SELF_DESCRIBING_MODULES)
    except Exception:  # a metaclass that refuses attribute access: not ours to describe
        return False


def is_data(value: Any, _depth: int = 0) -> bool:
    """Whether ``value`` is plain data: scalars, dates, decimals, and the builtin
    containers of those (exactly those types; a subclass may override ``repr``)."""
    cls = type(value)
    if cls in _ATOMIC:
        return True
    if cls in _CONTAINERS:
        if _depth > _MAX_DEPTH:
            return False
        items: Any = value.items() if cls is dict else value
        if cls is dict:
            return all(is_data(k, _depth + 1) and is_data(v, _depth + 1) for k, v in items)
        return all(is_data(v, _depth + 1) for v in items)
    return False


def _parts(value: Any, depth: int, budget: list[int]) -> Iterator[str]:
    cls = type(value)
    if cls in _ATOMIC:
        yield repr(value)
        return
    if isinstance(value, BaseException):
        # BaseException.args read through its C descriptor: a subclass can't run code here
        args = BaseException.args.__get__(value)  # type: ignore[attr-defined]
        yield f"{cls.__name__}("
        yield from _items(args, depth, budget, "")
        yield ")"
        return
    if cls in _CONTAINERS:
        if depth >= _MAX_DEPTH:
            yield "[...]" if cls is list else "{...}" if cls in (dict, set, frozenset) else "(...)"
            return
        if cls is dict:
            yield "{"
            first = True
            for i, (k, v) in enumerate(value.items()):
                if i >= _MAX_ITEMS or budget[0] <= 0:
                    yield f"{', ' if i else ''}... (+{len(value) - i} more)"
                    break
                budget[0] -= 1
                if not first:
                    yield ", "
                first = False
                yield from _parts(k, depth + 1, budget)
                yield ": "
                yield from _parts(v, depth + 1, budget)
            yield "}"
            return
        if cls in (set, frozenset) and not value:
            yield f"{cls.__name__}()"
            return
        opening, closing = _BRACKETS[cls]
        yield opening
        yield from _items(value, depth, budget, "," if cls is tuple and len(value) == 1 else "")
        yield closing
        return
    if _self_describing(cls):
        try:
            yield repr(value)
        except Exception:
            yield opaque_name(value)
        return
    yield opaque_name(value)


def _items(values: Any, depth: int, budget: list[int], trailer: str) -> Iterator[str]:
    n = len(values)
    for i, v in enumerate(values):
        if i >= _MAX_ITEMS or budget[0] <= 0:
            yield f"{', ' if i else ''}... (+{n - i} more)"
            return
        budget[0] -= 1
        if i:
            yield ", "
        yield from _parts(v, depth + 1, budget)
    yield trailer


def safe_repr(value: Any, limit: int | None = None) -> str:
    """``repr(value)`` for data; ``<module.Class object>`` for anything else, at any depth.

    Containers show at most 20 items each (and 200 in all), 6 levels deep;
    ``limit`` clips the text (ending it with ``...``).
    """
    budget = [200]
    out: list[str] = []
    size = 0
    for part in _parts(value, 0, budget):
        out.append(part)
        size += len(part)
        if limit is not None and size > limit:
            break
    text = "".join(out)
    if limit is not None and len(text) > limit:
        return text[: max(limit - 3, 0)] + "..."
    return text

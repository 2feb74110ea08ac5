"""Payload matchers and signal patterns: what an assertion or a wait looks for.

A payload value in an assertion is compared as ``expected == actual``; a
matcher is an expected value that compares by a rule instead::

    >>> at_least(1) == 3, at_least(1) == 0
    (True, False)
    >>> matching(r"timed? ?out") == "query timed out"
    True
    >>> any_of("ok", "skipped") == "ok"
    True

A :class:`SignalPattern` is a name (or glob) with payload items and an
optional ``check`` callable on the whole record; :func:`emitted` makes one,
for the waits that take several::

    >>> emitted("entity.post_merge", rows_inserted=at_least(1))
    emitted('entity.post_merge', rows_inserted=at_least(1))

Matchers never touch an actual value that isn't plain data (a DataFrame
compares unequal to every matcher but :data:`ANY` and :func:`satisfies`).
"""

from __future__ import annotations

import datetime
import decimal
import fnmatch
import fractions
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from unittest import mock

from pytest_kindling_signals.catalog import is_data, safe_repr

if TYPE_CHECKING:
    from pytest_kindling_signals.record.records import SignalRecord

__all__ = ["ANY", "Matcher", "SignalPattern", "any_of", "at_least", "at_most", "callable_name", "emitted",
           "is_pattern", "matches", "matching", "payload_holds", "satisfies", "values_match"]

_MISSING = object()
_NUMBERS = (int, float, decimal.Decimal, fractions.Fraction)
_ORDERED = (str, datetime.date, datetime.time, datetime.timedelta)


def is_pattern(name: str) -> bool:
    """Whether ``name`` is a glob (``*``, ``?`` or ``[...]``) rather than one signal name."""
    return any(ch in name for ch in "*?[")


def _name_matches(name: str, pattern: str) -> bool:
    return name == pattern or (is_pattern(pattern) and fnmatch.fnmatchcase(name, pattern))


def matches(record: Any, pattern: str, subset: Mapping[str, Any]) -> bool:
    """``record``'s name matches ``pattern`` (a name or glob) and its payload holds ``subset``."""
    return _name_matches(record.name, pattern) and payload_holds(record.payload, subset)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def values_match(expected: Any, actual: Any) -> bool:
    """``expected == actual`` for data; for a value that isn't data (a DataFrame), only a matcher
    that doesn't look into it, ``mock.ANY`` or the very object match (its ``__eq__`` never runs)."""
    if type(actual) in _SCALARS:
        return bool(expected == actual)
    if isinstance(expected, Matcher):
        return expected.matches(actual)
    if is_data(actual):
        return bool(expected == actual)
    return expected is actual or expected is mock.ANY


def payload_holds(payload: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    """Every item of ``fields`` is in ``payload`` (compared as :func:`values_match` does)."""
    for key, expected in fields.items():
        actual = payload.get(key, _MISSING)
        if actual is _MISSING or not values_match(expected, actual):
            return False
    return True


class Matcher:
    """An expected payload value that compares by a rule; its repr says the rule."""

    __kindling_safe_repr__ = True  # its repr shows only what the test wrote
    __hash__ = None  # type: ignore[assignment]

    def matches(self, actual: Any) -> bool:  # pragma: no cover - every matcher overrides it
        raise NotImplementedError

    def __eq__(self, actual: object) -> bool:
        return self.matches(actual)

    def __ne__(self, actual: object) -> bool:
        return not self.matches(actual)


class _Any(Matcher):
    def matches(self, actual: Any) -> bool:
        return True

    def __repr__(self) -> str:
        return "ANY"


#: Any value, as long as the field is in the payload.
ANY: Matcher = _Any()


def _check_bound(fn: str, bound: Any) -> None:
    if isinstance(bound, bool) or not isinstance(bound, (*_NUMBERS, *_ORDERED)):
        raise TypeError(f"{fn}({bound!r}): the bound is a number, a str or a date/time; e.g. {fn}(1)")


def _comparable(actual: Any, bound: Any) -> bool:
    if isinstance(bound, _NUMBERS):
        return type(actual) in (int, float, decimal.Decimal, fractions.Fraction)  # not bool, not a Column
    return type(actual) is type(bound)


class _Bound(Matcher):
    def __init__(self, fn: str, bound: Any, holds: Callable[[Any, Any], bool]) -> None:
        _check_bound(fn, bound)
        self.fn, self.bound, self.holds = fn, bound, holds

    def matches(self, actual: Any) -> bool:
        if not _comparable(actual, self.bound):
            return False
        try:
            return bool(self.holds(actual, self.bound))
        except (TypeError, ArithmeticError):  # e.g. a naive and an aware datetime
            return False

    def __repr__(self) -> str:
        return f"{self.fn}({self.bound!r})"


def at_least(bound: Any) -> Matcher:
    """A number (or str, date...) ``>= bound``: ``rows_inserted=at_least(1)``."""
    return _Bound("at_least", bound, lambda a, b: a >= b)


def at_most(bound: Any) -> Matcher:
    """A number (or str, date...) ``<= bound``: ``duration_seconds=at_most(60)``."""
    return _Bound("at_most", bound, lambda a, b: a <= b)


class _AnyOf(Matcher):
    def __init__(self, values: tuple[Any, ...]) -> None:
        if not values:
            raise TypeError("any_of() needs at least one value; e.g. any_of('ok', 'skipped')")
        self.values = values

    def matches(self, actual: Any) -> bool:
        return any(values_match(v, actual) for v in self.values)

    def __repr__(self) -> str:
        return f"any_of({', '.join(map(repr, self.values))})"


def any_of(*values: Any) -> Matcher:
    """Equal to one of ``values`` (which may be matchers): ``status=any_of("ok", "skipped")``."""
    return _AnyOf(values)


class _Matching(Matcher):
    def __init__(self, pattern: str | re.Pattern[str]) -> None:
        if not isinstance(pattern, (str, re.Pattern)):
            raise TypeError(f"matching({pattern!r}): the pattern is a regular expression (a str); "
                            "e.g. matching(r'timed? ?out')")
        try:
            self.regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"matching({pattern!r}): not a regular expression: {exc}") from None

    def matches(self, actual: Any) -> bool:
        return type(actual) is str and self.regex.search(actual) is not None

    def __repr__(self) -> str:
        return f"matching({self.regex.pattern!r})"


def matching(pattern: str | re.Pattern[str]) -> Matcher:
    """A str in which the regular expression ``pattern`` is found (``re.search``):
    ``error=matching("timed out")``."""
    return _Matching(pattern)


class _Satisfies(Matcher):
    def __init__(self, predicate: Callable[[Any], Any], description: str | None) -> None:
        if not callable(predicate):
            raise TypeError(f"satisfies({predicate!r}): give a function of the value, "
                            "e.g. satisfies(lambda rows: rows % 2 == 0)")
        self.predicate, self.description = predicate, description or callable_name(predicate)

    def matches(self, actual: Any) -> bool:
        return bool(self.predicate(actual))

    def __repr__(self) -> str:
        return f"satisfies({self.description})"


def satisfies(predicate: Callable[[Any], Any], description: str | None = None) -> Matcher:
    """A value for which ``predicate(value)`` is true; ``description`` names it in messages."""
    return _Satisfies(predicate, description)


def callable_name(fn: Callable[..., Any]) -> str:
    """How a check function is named in messages: its qualified name, else its class."""
    name = getattr(fn, "__qualname__", None)
    return name.rsplit(".<locals>.", 1)[-1] if isinstance(name, str) else safe_repr(fn)


class SignalPattern:
    """A signal name (or glob), payload items that must hold, and an optional ``check``.

    ``check`` is called with each record whose name and items match; the
    record matches when it returns a true value. Make one with :func:`emitted`.
    """

    __kindling_safe_repr__ = True
    __slots__ = ("name", "fields", "check")

    def __init__(self, name: str, fields: Mapping[str, Any] | None = None,
                 check: Callable[[SignalRecord], Any] | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a signal name or glob is a non-empty str like 'entity.post_merge' "
                            f"or 'entity.*_failed', got {name!r}")
        if check is not None and not callable(check):
            raise TypeError(f"emitted({name!r}, check={check!r}): check is a function of the record, "
                            "e.g. check=lambda r: r['rows_inserted'] > 0")
        self.name = name
        self.fields: Mapping[str, Any] = dict(fields or {})
        self.check = check

    @classmethod
    def of(cls, value: str | SignalPattern, where: str) -> SignalPattern:
        """``value`` as a pattern (a str is a name or glob); ``where`` names the call in errors."""
        if isinstance(value, SignalPattern):
            return value
        if isinstance(value, str) and value:
            return cls(value)
        raise TypeError(f"{where}: each pattern is a signal name or glob ('entity.post_merge') or "
                        f"emitted('entity.post_merge', rows_inserted=3), got {value!r}")

    def name_matches(self, record: SignalRecord) -> bool:
        return _name_matches(record.name, self.name)

    def matches(self, record: SignalRecord) -> bool:
        if not _name_matches(record.name, self.name) or not payload_holds(record.payload, self.fields):
            return False
        return self.check is None or bool(self.check(record))

    @property
    def plain(self) -> bool:
        """Only a name: no payload items, no check."""
        return not self.fields and self.check is None

    def describe(self) -> str:
        """``'entity.post_merge' with rows_inserted=3, check=has_rows`` (for messages)."""
        parts = [f"{k}={safe_repr(v, 60)}" for k, v in self.fields.items()]
        if self.check is not None:
            parts.append(f"check={callable_name(self.check)}")
        return repr(self.name) + (f" with {', '.join(parts)}" if parts else "")

    def __repr__(self) -> str:
        if self.plain:
            return repr(self.name)
        parts = [repr(self.name), *(f"{k}={safe_repr(v, 60)}" for k, v in self.fields.items())]
        if self.check is not None:
            parts.append(f"check={callable_name(self.check)}")
        return f"emitted({', '.join(parts)})"


def emitted(name: str, /, *, check: Callable[[SignalRecord], Any] | None = None,
            **fields: Any) -> SignalPattern:
    """A pattern for the waits that take several: a name or glob, payload items, a check.

        rec.wait_for_all([emitted("entity.post_merge", rows_inserted=at_least(1)),
                          "datapipes.post_run"])
    """
    return SignalPattern(name, fields, check)

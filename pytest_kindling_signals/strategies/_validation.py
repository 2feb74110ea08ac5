"""Argument checks shared by the strategies: eager, and naming the bad value and the fix.

Hypothesis reports bad strategy arguments as ``InvalidArgument``; these
helpers raise it before any strategy is built, so the error points at the
line that called the strategy, not at the first draw.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hypothesis.errors import InvalidArgument

from pytest_kindling_signals import names as _names
from pytest_kindling_signals.names import did_you_mean
from pytest_kindling_signals.catalog import SignalCatalog, SignalSpec
from pytest_kindling_signals.frameworks import Framework, FrameworkError, default_catalog, find_framework

__all__ = ["InvalidArgument", "check_bool", "check_int_range", "check_signal", "require_framework",
           "resolve_catalog"]


def resolve_catalog(fn: str, catalog: Any) -> SignalCatalog:
    """``catalog``, or the installed framework's catalog when it is ``None``."""
    if catalog is None:
        return default_catalog()
    if not isinstance(catalog, SignalCatalog):
        raise InvalidArgument(
            f"{fn}(catalog={catalog!r}): catalog must be a SignalCatalog, e.g. "
            f"catalog=load_catalog('my_catalog.yaml') (or the signal_catalog fixture), or None "
            f"for the installed framework's catalog")
    return catalog


def close_matches(value: str, known: Iterable[str]) -> str:
    """`` Did you mean 'a' or 'b'?`` or ``""`` (the wording of every Kindling "unknown name" error)."""
    return did_you_mean(_names.close_matches(value, known), sentence=True)


def check_signal(fn: str, name: Any, catalog: SignalCatalog, arg: str = "name") -> SignalSpec:
    """The catalog's spec of ``name``; an unknown name suggests close ones."""
    if not isinstance(name, str):
        raise InvalidArgument(f"{fn}({arg}={name!r}): {arg} must be a signal name (a str) like "
                              f"'entity.post_merge'")
    if name not in catalog:
        raise InvalidArgument(
            f"{fn}({arg}={name!r}): unknown signal; it is not in the signal catalog."
            f"{close_matches(name, catalog)} List the names with signal_names() or "
            f"list(signal_catalog); pass catalog= for signals of your own catalog.")
    return catalog[name]


def check_bool(fn: str, arg: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{fn}({arg}={value!r}): {arg} must be True or False")
    return value


def check_int_range(fn: str, arg: str, value: Any, low: int, high: int) -> int:
    """An int in ``[low, high]`` (the high bound keeps examples small and Spark quick)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{fn}({arg}={value!r}): {arg} must be an int between {low} and {high}")
    if not low <= value <= high:
        raise InvalidArgument(f"{fn}({arg}={value!r}): {arg} must be between {low} and {high}; "
                              f"pass e.g. {arg}={min(max(value, low), high)}")
    return value


def check_choices(fn: str, arg: str, values: Any, allowed: Sequence[str]) -> tuple[str, ...]:
    """A non-empty subset of ``allowed`` (a single str is refused: it would iterate by letter)."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidArgument(f"{fn}({arg}={values!r}): {arg} must be a list drawn from "
                              f"{', '.join(map(repr, allowed))}, e.g. {arg}=[{allowed[0]!r}]")
    chosen = tuple(values)
    if not chosen:
        raise InvalidArgument(f"{fn}({arg}=[]): give at least one of {', '.join(map(repr, allowed))}")
    for v in chosen:
        if v not in allowed:
            raise InvalidArgument(
                f"{fn}({arg}={list(chosen)!r}): {v!r} is not one of "
                f"{', '.join(map(repr, allowed))}.{close_matches(str(v), allowed)}")
    return chosen


def require_framework(framework: Framework | None, what: str) -> Framework:
    """``framework``, else the installed Kindling (this repository's or spark-kindling); an error
    that says what to install when there is none."""
    if framework is not None:
        return framework
    try:
        found = find_framework()
    except FrameworkError as exc:
        raise InvalidArgument(f"{what}: {exc}") from None
    if found is None:
        raise InvalidArgument(f"{what} declares through a Kindling framework, and none is installed: "
                              "install kindling-signals or spark-kindling, or pass framework=")
    return found

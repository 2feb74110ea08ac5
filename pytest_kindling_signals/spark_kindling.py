"""The plugin's adapter for spark-kindling (PyPI), which knows nothing of this plugin.

spark-kindling's providers emit through ``kindling.signaling.BlinkerSignalWrapper``
objects that its dependency injection creates lazily, inside a private blinker
``Namespace`` per provider instance. To see every emission, whatever provider
instance sent it and from the first signal on, the adapter wraps the two
sending methods of that class (``send`` and ``send_chained``, the latter used
by ``emit_chained``) once per process; the wrapper hands each emission to the
taps and then sends exactly as before, so receivers and return values are
unchanged. Payloads are recorded as they are (DataFrames included): the
catalog of spark-kindling says ``json_payloads: false``.

Importing this module imports no ``kindling``; the patch is applied when a
tap is first added.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pytest_kindling_signals.catalog import CATALOGS_DIR, QUICK_REFERENCE_PATH
from pytest_kindling_signals.emission import Emission
from pytest_kindling_signals.frameworks import Framework

__all__ = ["CATALOG_PATH", "ALIASES_PATH", "SparkKindling", "SparkKindlingTaps"]

logger = logging.getLogger("pytest_kindling_signals.spark_kindling")

CATALOG_PATH = CATALOGS_DIR / "spark_kindling_0.14.yaml"
ALIASES_PATH = CATALOGS_DIR / "spark_kindling_aliases.yaml"

Tap = Callable[[Emission], None]


class _Hub:
    """The process-wide taps on spark-kindling's signals, and the patch that feeds them."""

    taps: tuple[Tap, ...] = ()
    lock = threading.Lock()
    patched = False
    errors: deque[tuple[str, BaseException]] = deque(maxlen=1000)
    error_count = 0


def _deliver(name: str, sender: Any, payload: dict[str, Any]) -> None:
    taps = _Hub.taps
    if not taps:
        return
    thread = threading.current_thread()
    emission = Emission(name, sender, payload, thread.name, thread.ident or 0, time.time())
    for tap in taps:
        try:
            tap(emission)
        except Exception as exc:  # a tap must never break spark-kindling's operation
            with _Hub.lock:
                _Hub.errors.append((name, exc))
                _Hub.error_count += 1
            logger.error("kindling-signals tap %r failed on %r: %s", tap, name, exc, exc_info=exc)


def _signal_name(wrapper: Any) -> str:
    return str(getattr(getattr(wrapper, "_signal", None), "name", None) or "<unnamed signal>")


def _patch() -> None:
    """Wrap ``BlinkerSignalWrapper.send`` / ``send_chained`` once per process."""
    with _Hub.lock:
        if _Hub.patched:
            return
        # spark-kindling's module (imported by name: this plugin type-checks without it)
        signaling: Any = importlib.import_module("kindling.signaling")
        cls = signaling.BlinkerSignalWrapper
        original_send = cls.send
        original_chained = getattr(cls, "send_chained", None)

        @functools.wraps(original_send)
        def send(self: Any, sender: Any, **kwargs: Any) -> Any:
            if _Hub.taps and not getattr(self._signal, "is_muted", False):
                _deliver(_signal_name(self), sender, dict(kwargs))
            return original_send(self, sender, **kwargs)

        cls.send = send
        if original_chained is not None:
            @functools.wraps(original_chained)
            def send_chained(self: Any, sender: Any, chain_key: str, accept: Callable[[Any], bool],
                             **kwargs: Any) -> Any:
                if _Hub.taps and not getattr(self._signal, "is_muted", False):
                    _deliver(_signal_name(self), sender, dict(kwargs))
                return original_chained(self, sender, chain_key, accept, **kwargs)

            cls.send_chained = send_chained
        _Hub.patched = True


def add_global_tap(tap: Tap) -> Callable[[], None]:
    """See every emission of spark-kindling in this process; returns a remover."""
    _patch()
    with _Hub.lock:
        _Hub.taps = _Hub.taps + (tap,)

    def remove() -> None:
        with _Hub.lock:
            _Hub.taps = tuple(t for t in _Hub.taps if t is not tap)

    return remove


class SparkKindlingTaps:
    """What ``signal_provider`` is under spark-kindling: every provider instance at once.

    spark-kindling's providers are made by its dependency injection, so a
    test can't hand them one of its own; a tap added here sees the
    emissions of all of them. ``errors`` holds failures of taps (a recorder
    that raised); spark-kindling's own receivers raise into the code that
    emitted, as spark-kindling decides.
    """

    name = "spark-kindling"

    def __init__(self) -> None:
        self._first_error = _Hub.error_count

    def add_tap(self, tap: Tap) -> Callable[[], None]:
        return add_global_tap(tap)

    @property
    def error_count(self) -> int:
        return _Hub.error_count - self._first_error

    @property
    def errors(self) -> list[Any]:
        return list(_Hub.errors)[-self.error_count:] if self.error_count else []

    def clear_errors(self) -> None:
        self._first_error = _Hub.error_count

    def signal(self, name: str) -> Any:
        """spark-kindling's signal ``name`` (made on first use), from its injected provider."""
        injection: Any = importlib.import_module("kindling.injection")
        signaling: Any = importlib.import_module("kindling.signaling")
        provider = injection.GlobalInjector.get(signaling.SignalProvider)
        return provider.get_signal(name) or provider.create_signal(name)

    def connect(self, name: str, receiver: Callable[..., Any], *, weak: bool = True) -> Callable[..., Any]:
        """Connect ``receiver(sender, **payload)`` to spark-kindling's signal ``name``."""
        self.signal(name).connect(receiver, weak=weak)
        return receiver

    def __repr__(self) -> str:
        return "<SparkKindlingTaps: every spark-kindling provider>"


class SparkKindling(Framework):
    """spark-kindling from PyPI: its own names (``before_*``/``after_*``), its own catalog."""

    name = "spark-kindling"
    distribution = "spark-kindling"

    def catalog_paths(self) -> list[Path]:
        return [CATALOG_PATH]

    def add_global_tap(self, tap: Tap) -> Callable[[], None]:
        return add_global_tap(tap)

    @contextmanager
    def test_provider(self) -> Iterator[SparkKindlingTaps]:
        yield SparkKindlingTaps()

    def conformance_paths(self) -> tuple[Path, Path] | None:
        return (QUICK_REFERENCE_PATH, ALIASES_PATH)

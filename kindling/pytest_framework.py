"""How the pytest plugin serves this framework (the ``pytest_kindling_signals.frameworks``
entry point of the ``kindling-signals`` distribution).

The plugin (distribution ``pytest-kindling-signals``) knows no ``kindling``:
this class tells it where our catalog is, how to see every emission, which
provider a test records, and how to keep one test's declarations out of the
next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pytest_kindling_signals.frameworks import Framework

from kindling import registries
from kindling.signal_catalog import BUILTIN_CATALOG_PATH
from kindling.signaling import BlinkerSignalProvider, add_global_tap, use_default_provider
from kindling.spark_session import get_spark_session_provider

__all__ = ["KindlingFramework"]


class KindlingFramework(Framework):
    """This project's providers: the quick reference's names, exactly."""

    name = "kindling"
    distribution = "kindling-signals"

    def catalog_paths(self) -> list[Path]:
        return [BUILTIN_CATALOG_PATH]

    def add_global_tap(self, tap: Callable[[Any], None]) -> Callable[[], None]:
        return add_global_tap(tap)

    @contextmanager
    def test_provider(self) -> Iterator[BlinkerSignalProvider]:
        provider = BlinkerSignalProvider(name="test")
        with use_default_provider(provider):
            yield provider

    def use_engine(self, master: str | None, remote: str | None) -> None:
        provider = get_spark_session_provider()
        if not provider.is_started:
            provider.config.master = master or provider.config.master
            provider.config.remote = remote or provider.config.remote

    @contextmanager
    def isolation(self) -> Iterator[None]:
        saved = registries.snapshot()
        try:
            yield
        finally:
            registries.restore(saved)

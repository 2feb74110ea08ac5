"""The signal recorder: every emission through a provider, in order, like pytest's caplog.

    >>> provider = BlinkerSignalProvider()
    >>> recorder = SignalRecorder(provider).start()
    >>> provider.signal("entity.post_merge").send("entity.post_merge", rows_inserted=3)
    []
    >>> recorder.names()
    ['entity.post_merge']
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kindling.signal_catalog import SignalCatalog, UnknownSignalError, load_catalog
from kindling.signaling import BlinkerSignalProvider, Emission

__all__ = ["SignalRecord", "SignalRecorder"]


@dataclass(frozen=True)
class SignalRecord:
    """One recorded emission."""

    seq: int
    name: str
    sender: Any
    payload: dict[str, Any]
    thread_name: str
    thread_id: int
    time: float
    phase: str

    def __getitem__(self, key: str) -> Any:
        return self.payload[key]


class SignalRecorder:
    """Records every emission through one provider (``emit`` and direct ``send`` alike)."""

    def __init__(self, provider: BlinkerSignalProvider, catalog: SignalCatalog | None = None) -> None:
        self.provider = provider
        self.catalog = catalog if catalog is not None else load_catalog()
        self.phase = "call"
        self._records: list[SignalRecord] = []
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._remove: Any = None

    # -- lifecycle
    def start(self) -> SignalRecorder:
        if self._remove is None:
            self._remove = self.provider.add_tap(self._on_emission)
        return self

    def stop(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None

    def _on_emission(self, e: Emission) -> None:
        with self._lock:
            self._records.append(SignalRecord(next(self._seq), e.name, e.sender, e.payload,
                                              e.thread_name, e.thread_id, e.time, self.phase))

    # -- reading
    @property
    def records(self) -> list[SignalRecord]:
        """Every record so far, in emission order."""
        with self._lock:
            return list(self._records)

    def get_records(self, phase: str) -> list[SignalRecord]:
        """Records of one test phase: ``setup``, ``call`` or ``teardown``."""
        return [r for r in self.records if r.phase == phase]

    def names(self) -> list[str]:
        return [r.name for r in self.records]

    def _check_pattern(self, pattern: str) -> None:
        if any(ch in pattern for ch in "*?["):
            return
        if pattern in self.catalog or any(r.name == pattern for r in self.records):
            return
        raise UnknownSignalError(pattern, self.catalog.suggest(pattern),
                                 "the signal catalog and was not recorded")

    def of(self, pattern: str) -> list[SignalRecord]:
        """Records whose name matches ``pattern`` (an exact name or a glob like ``entity.*_failed``)."""
        self._check_pattern(pattern)
        return [r for r in self.records if fnmatch.fnmatchcase(r.name, pattern)]

    def first(self, pattern: str) -> SignalRecord | None:
        found = self.of(pattern)
        return found[0] if found else None

    def last(self, pattern: str) -> SignalRecord | None:
        found = self.of(pattern)
        return found[-1] if found else None

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[SignalRecord]:
        return iter(self.records)

    @contextmanager
    def capture(self) -> Iterator[SignalRecorder]:
        """A fresh recorder on the same provider for the block (safe inside Hypothesis examples)."""
        inner = SignalRecorder(self.provider, self.catalog).start()
        try:
            yield inner
        finally:
            inner.stop()

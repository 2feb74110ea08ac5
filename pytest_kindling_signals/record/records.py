"""One recorded emission: :class:`SignalRecord`, what the recorder hands a test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SignalRecord"]


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """One recorded emission; ``record["field"]`` reads its payload.

    ``seq`` numbers the recorder's emissions from 0 in the order they were
    recorded (across threads); ``phase`` is the test phase (``setup``,
    ``call``, ``teardown``) the emission happened in. ``payload`` is as it was
    sent: its containers were copied then (see
    :mod:`~pytest_kindling_signals.record.snapshot`).
    """

    seq: int
    name: str
    sender: Any
    payload: Mapping[str, Any]
    thread_name: str
    thread_id: int
    time: float
    phase: str

    def __getitem__(self, key: str) -> Any:
        return self.payload[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.payload.get(key, default)

    def __repr__(self) -> str:
        return f"<SignalRecord #{self.seq} {self.name} ({self.phase}, {self.thread_name})>"

"""One signal emission as a tap sees it: the unit every recorder and report consumes.

Frameworks hand the plugin these (our ``kindling.signaling`` builds them
itself; the spark-kindling adapter builds them from blinker sends).
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Emission"]


class Emission(NamedTuple):
    """One signal sent through a provider, as a tap sees it."""

    name: str
    sender: Any
    payload: dict[str, Any]
    thread_name: str
    thread_id: int
    time: float

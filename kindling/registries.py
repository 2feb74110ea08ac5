"""What ``kindling.reset()`` clears: every declaration registry and the default provider.

Each registry (entities, pipes, file-ingestion entries, ...) is a dict that its
module hands to :func:`register_registry`. Notebook cells and tests call
``kindling.reset()`` to start clean; the pytest plugin uses :func:`snapshot`
and :func:`restore` so every test sees the declarations made at import time
and none made by another test::

    >>> import kindling
    >>> kindling.reset()
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["register_registry", "reset", "restore", "snapshot"]

_registries: dict[str, dict[Any, Any]] = {}
_lock = threading.Lock()


def register_registry(name: str, store: dict[Any, Any]) -> dict[Any, Any]:
    """Make ``store`` one of the registries ``reset()`` clears; returns the store registered.

    ``name`` keeps a re-imported module from registering twice: the first
    store under a name stays the registry.
    """
    with _lock:
        return _registries.setdefault(name, store)


def snapshot() -> dict[str, dict[Any, Any]]:
    """A copy of every registry's contents."""
    with _lock:
        return {name: dict(store) for name, store in _registries.items()}


def restore(saved: dict[str, dict[Any, Any]]) -> None:
    """Put every registry back as :func:`snapshot` saw it (registries made since are emptied)."""
    with _lock:
        for name, store in _registries.items():
            store.clear()
            store.update(saved.get(name, {}))


def reset() -> None:
    """Clear every registry and install a fresh default signal provider."""
    from kindling.signaling import reset_default_provider

    with _lock:
        for store in _registries.values():
            store.clear()
    reset_default_provider()

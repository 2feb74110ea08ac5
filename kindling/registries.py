"""What ``kindling.reset()`` clears: every declaration registry and the default provider.

Each registry (entities, pipes, file-ingestion entries, ...) is a dict that its
module hands to :func:`register_registry` (which returns the registry to keep).
Notebook cells and tests call ``kindling.reset()`` to start clean; the pytest
plugin runs each test in :func:`isolated`, so every test sees the declarations
made at import time and none made by another test::

    >>> import kindling
    >>> kindling.reset()

:func:`isolated` costs what the block changed, not what was declared: a
registry notes the first change to each key while a block is open, and the
block's end puts back those keys only (nothing, for a test that declared
nothing). :func:`snapshot` and :func:`restore` copy everything.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["isolated", "register_registry", "reset", "restore", "snapshot"]

_MISSING: Any = object()
_UNNOTED: tuple[Any, Any, Any] = (None, None, None)


class _Scope:
    """One open :func:`isolated` block: each key's value before its first change in the block,
    and a full copy of a registry that lost a key it had (putting a key back would move it last)."""

    __slots__ = ("before", "copies")

    def __init__(self) -> None:
        self.before: dict[tuple[int, Any], tuple[_Registry, Any, Any]] = {}
        self.copies: dict[int, tuple[_Registry, dict[Any, Any]]] = {}

    def undo(self) -> None:
        for store, copy in self.copies.values():
            dict.clear(store)
            dict.update(store, copy)
        for store, key, old in reversed(list(self.before.values())):
            if id(store) in self.copies:
                continue
            if old is _MISSING:
                dict.pop(store, key, None)
            else:
                dict.__setitem__(store, key, old)


#: The open blocks, innermost last (a tuple: the hot path reads it without a lock).
_scopes: tuple[_Scope, ...] = ()


class _Registry(dict):  # type: ignore[type-arg]
    """A dict that, while an :func:`isolated` block is open, notes what each change replaces."""

    __slots__ = ()

    def _note(self, key: Any) -> None:
        old = dict.get(self, key, _MISSING)
        for scope in _scopes:
            scope.before.setdefault((id(self), key), (self, key, old))

    def _note_loss(self, keys: Iterable[Any]) -> None:
        """Before a key the registry had when a block opened goes: a copy of it as it was then."""
        me = id(self)
        for scope in _scopes:
            if me in scope.copies or not any(
                    scope.before.get((me, k), _UNNOTED)[2] is not _MISSING for k in keys):
                continue
            copy = dict(self)  # the keys it had come first, in their order: none was lost yet
            for (owner, key), (_, _, old) in scope.before.items():
                if owner == me:
                    if old is _MISSING:
                        copy.pop(key, None)
                    else:
                        copy[key] = old
            scope.copies[me] = (self, copy)

    def __setitem__(self, key: Any, value: Any) -> None:
        if _scopes:
            self._note(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        if _scopes and key in self:
            self._note_loss((key,))
            self._note(key)
        dict.__delitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        if _scopes and key in self:
            self._note_loss((key,))
            self._note(key)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[Any, Any]:
        if _scopes and self:
            key = next(reversed(self))
            self._note_loss((key,))
            self._note(key)
        return dict.popitem(self)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if _scopes and key not in self:
            self._note(key)
        return dict.setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        if not _scopes:
            dict.update(self, *args, **kwargs)
            return
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> _Registry:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        if _scopes and self:
            self._note_loss(list(self))
            for key in list(self):
                self._note(key)
        dict.clear(self)


_registries: dict[str, dict[Any, Any]] = {}
_lock = threading.RLock()


def register_registry(name: str, store: Mapping[Any, Any]) -> dict[Any, Any]:
    """Make a registry holding ``store``'s declarations, one that ``reset()`` clears; returns it.

    Keep the registry returned (a dict). ``name`` keeps a re-imported module
    from registering twice: the first registry under a name stays.
    """
    with _lock:
        found = _registries.get(name)
        if found is None:
            found = _registries[name] = _Registry()
            found.update(store)  # inside an isolated() block, its end empties it, as restore() does
        return found


def isolated() -> AbstractContextManager[None]:
    """Undo, when the block ends, every change made to the registries inside it.

    Costs what the block changed: nothing to undo when it declared nothing. Blocks nest.
    """
    return _Isolated()


class _Isolated:
    __slots__ = ("_scope",)

    def __enter__(self) -> None:
        global _scopes
        self._scope = scope = _Scope()
        with _lock:
            _scopes = (*_scopes, scope)

    def __exit__(self, *exc: object) -> None:
        global _scopes
        scope = self._scope
        with _lock:
            _scopes = tuple(s for s in _scopes if s is not scope)
            if scope.before or scope.copies:
                scope.undo()


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

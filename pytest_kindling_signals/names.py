"""The "unknown name" errors every registry and catalog raises, written once.

A name nobody declared (an entity id, a pipe id, a signal, ...) is a typo
more often than not, so the error names it, suggests the close matches and
says how to declare it::

    >>> str(UnknownNameError("entity id", "bronze.order", ["bronze.orders"],
    ...                      "declare it with DataEntities.entity(...).",
    ...                      declared=declared_names(["bronze.orders"], "entities")))
    "Unknown entity id 'bronze.order' (did you mean 'bronze.orders'?): declare it with DataEntities.entity(...). Declared entities: 'bronze.orders'."
"""
from __future__ import annotations

import difflib
from typing import Any, Iterable, Sequence

__all__ = ["UnknownNameError", "close_matches", "declared_names", "did_you_mean"]


def close_matches(name: Any, known: Iterable[str], *, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` names of ``known`` closest to ``name``; none for a name that is not a str."""
    if not isinstance(name, str):
        return []
    return difflib.get_close_matches(name, list(known), n=n, cutoff=cutoff)


def did_you_mean(matches: Sequence[str], *, sentence: bool = False) -> str:
    """`` (did you mean 'a' or 'b'?)``, or `` Did you mean 'a' or 'b'?`` as a sentence; "" for none."""
    if not matches:
        return ""
    options = " or ".join(map(repr, matches))
    return f" Did you mean {options}?" if sentence else f" (did you mean {options}?)"


def declared_names(known: Sequence[str], plural: str, *, limit: int = 20) -> str:
    """``Declared entities: 'a', 'b'.``; only their number past ``limit``; or that there are none."""
    if not known:
        return f"No {plural} are declared."
    if len(known) > limit:
        return f"{len(known)} {plural} are declared."
    return f"Declared {plural}: {', '.join(map(repr, known))}."


class UnknownNameError(LookupError):
    """A name that was never declared: the message names it, its close matches and the fix.

    ``kind`` says what the name is (``"entity id"``), ``name`` is the name asked
    for and ``suggestions`` its close matches among ``known`` (or the ones
    given). The message reads ``Unknown <kind> '<name>' (did you mean ...?): <fix>
    <declared>``; with ``sentence=True`` the suggestion closes the message
    as its own sentence (``... <fix> Did you mean ...?``).
    """

    def __init__(self, kind: str, name: Any, known: Iterable[str], fix: str = "", *,
                 declared: str = "", suggestions: Sequence[str] | None = None,
                 sentence: bool = False) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = list(close_matches(name, known) if suggestions is None else suggestions)
        hint = did_you_mean(self.suggestions, sentence=sentence)
        message = f"Unknown {kind} {name!r}" + ("" if sentence else hint)
        message += f": {fix}" if fix else "."
        message += (hint if sentence else "") + (f" {declared}" if declared else "")
        super().__init__(message)

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0])

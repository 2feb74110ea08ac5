"""Known findings: breaches of a catalog's contract that a framework release is known to have.

A catalog lists them under ``known_findings`` (the release it was seen in and
why); a test adds its own (always with a reason). A contract check then shows
a matching finding as *known* instead of failing on it::

    known_findings:
      - signal: datapipes.before_run
        rule: never_closed
        seen_in: spark-kindling 0.14.0
        reason: "A DAG run (use_dag=True) sends before_run, then orchestrator.*; nothing closes it."

A known finding matches one *rule* of one signal, never the signal as a
whole: a payload violation of ``datapipes.before_run`` still fails a test
whose unclosed ``before_run`` is known.

    >>> k = KnownFinding("datapipes.before_run", "never_closed", reason="DAG runs leave it open")
    >>> k.kind, k.describe()
    ('lifecycle', 'datapipes.before_run never_closed')
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["RULES", "KnownFinding", "KnownFindingError", "parse_known_findings"]

#: Each rule a finding can break, and the finding kind it belongs to.
RULES: Mapping[str, str] = {
    "undocumented": "undocumented",     # a signal the catalog does not declare
    "invalid_payload": "payload",       # a payload breaks its schema (optionally: in one field)
    "never_closed": "lifecycle",        # a pre_X no post_X or X_failed closed
    "opened_twice": "lifecycle",        # one operation id opened twice
    "closed_twice": "lifecycle",        # one operation closed twice
    "not_opened": "lifecycle",          # a post_X or X_failed with no pre_X before it
}


class KnownFindingError(ValueError):
    """A known finding that can't be used: ``where`` is its key path, the message says the fix."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


@dataclass(frozen=True, repr=False)
class KnownFinding:
    """One known breach: ``signal`` breaks ``rule`` (see :data:`RULES`), because ``reason``.

    ``field`` narrows an ``invalid_payload`` rule to one payload field;
    ``seen_in`` is the release it was seen in; ``source`` where it was declared.
    """

    signal: str
    rule: str
    reason: str
    field: str | None = None
    seen_in: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        example = "KnownFinding('datapipes.before_run', 'never_closed', reason='why it happens')"
        if not isinstance(self.signal, str) or not self.signal:
            raise ValueError(f"KnownFinding(signal={self.signal!r}): the signal is a name like "
                             f"'datapipes.before_run'; e.g. {example}")
        if self.rule not in RULES:
            raise ValueError(f"KnownFinding({self.signal!r}, rule={self.rule!r}): use one of "
                             f"{', '.join(map(repr, RULES))}")
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError(f"KnownFinding({self.signal!r}, {self.rule!r}): a known finding needs a "
                             f"reason (why it happens, so that someone can tell when it is fixed); e.g. "
                             f"{example}")
        if self.field is not None and self.rule != "invalid_payload":
            raise ValueError(f"KnownFinding({self.signal!r}, {self.rule!r}, field={self.field!r}): "
                             "field= narrows only the 'invalid_payload' rule")

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (("field", self.field), ("seen_in", self.seen_in),
                                                      ("reason", self.reason)) if v is not None)
        return f"KnownFinding({self.signal!r}, {self.rule!r}{extra})"

    @property
    def kind(self) -> str:
        """The finding kind of its rule: ``payload``, ``lifecycle`` or ``undocumented``."""
        return RULES[self.rule]

    def describe(self) -> str:
        """``signal rule`` (and ``field``): what it matches."""
        return f"{self.signal} {self.rule}" + (f" (field {self.field!r})" if self.field else "")

    def why(self) -> str:
        """The reason, after the release it was seen in when known."""
        return (f"seen in {self.seen_in}: " if self.seen_in else "") + self.reason

    def matches(self, signal: str, rule: str, field: str | None = None) -> bool:
        """Whether a finding of ``rule`` on ``signal`` (in ``field``) is this one."""
        if signal != self.signal or rule != self.rule:
            return False
        if self.field is None:
            return True
        return field is not None and (field == self.field or field.startswith((f"{self.field}.",
                                                                              f"{self.field}[")))


def parse_known_findings(raw: Sequence[Mapping[str, Any]], source: str,
                         declared: Container[str]) -> tuple[KnownFinding, ...]:
    """The ``known_findings`` of a catalog file (its structure already checked by the schema).

    ``declared`` holds the signal names the file may refer to (its own and
    its base catalog's). Raises :class:`KnownFindingError`.
    """
    found: list[KnownFinding] = []
    seen: dict[tuple[str, str, str | None], int] = {}
    for i, entry in enumerate(raw):
        where = f"known_findings.{i}"
        signal, rule = str(entry["signal"]), str(entry["rule"])
        if rule != "undocumented" and signal not in declared:
            raise KnownFindingError(f"{where}.signal", f"{signal!r} is not a signal of this catalog "
                                    "(or the one it extends); name a declared signal")
        if rule == "undocumented" and signal in declared:
            raise KnownFindingError(f"{where}.rule", f"{signal!r} is declared, so it can't be "
                                    "'undocumented'; use the rule it breaks")
        key = (signal, rule, entry.get("field"))
        if key in seen:
            raise KnownFindingError(where, f"repeats known_findings.{seen[key]} ({signal} {rule}); "
                                    "keep one")
        seen[key] = i
        try:
            found.append(KnownFinding(signal, rule, str(entry["reason"]), entry.get("field"),
                                      entry.get("seen_in"), source))
        except ValueError as exc:
            raise KnownFindingError(where, str(exc)) from None
    return tuple(found)

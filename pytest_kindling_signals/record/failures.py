"""Failure messages: what was expected, then the records, marked, in order or by thread.

A :class:`Failure` is one failed check (a headline, detail lines, the records
to mark, a footer); :func:`render_failures` renders several over one
recording with a single listing::

    assert_emitted('entity.post_merge', rows_inserted=3): no recorded signal matched.
    Recorded 2 signals, in order:
        #0  entity.pre_merge
      > #1  entity.post_merge  rows_inserted=2
    Closest candidate, #1 entity.post_merge:
      rows_inserted: expected 3, got 2

Values are shown with :func:`~pytest_kindling_signals.catalog.safe_repr`: a
DataFrame in a payload shows as its class, never through its ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pytest_kindling_signals.catalog import safe_repr
from pytest_kindling_signals.record.matchers import SignalPattern, callable_name, values_match

if TYPE_CHECKING:
    from pytest_kindling_signals.catalog import SignalCatalog
    from pytest_kindling_signals.record.records import SignalRecord

__all__ = ["Failure", "call_label", "closest_candidate", "payload_diff", "render_failure", "render_failures",
           "short"]

_MAX_ROWS = 50          # longer recordings show their head and tail
_MAX_DETAIL = 100       # characters of payload shown on a marked row
_MISSING = object()


class _Recorded(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...
    @property
    def thread_name(self) -> str: ...
    @property
    def thread_id(self) -> int: ...
    @property
    def phase(self) -> str: ...
    @property
    def time(self) -> float: ...


def short(value: Any, limit: int = 60) -> str:
    return safe_repr(value, limit)


def call_label(fn: str, args: Sequence[Any], subset: Mapping[str, Any]) -> str:
    parts = [short(a) for a in args] + [f"{k}={short(v)}" for k, v in subset.items()]
    return f"{fn}({', '.join(parts)})"


@dataclass
class Failure:
    """One failed check: a headline and detail lines (what was expected), the records to
    point at in the listing, and footer lines shown after it (e.g. a payload diff).

    ``marks`` maps a record's ``seq`` to the payload fields to show on its row:
    a tuple of field names, ``()`` for a compact payload, ``None`` for none.
    ``by_thread`` lists the records grouped by thread (the waits' failures).
    """

    headline: str
    details: list[str] = field(default_factory=list)
    marks: dict[int, tuple[str, ...] | None] = field(default_factory=dict)
    footer: list[str] = field(default_factory=list)
    by_thread: bool = False


def _row_detail(record: _Recorded, fields: tuple[str, ...], hidden: frozenset[str]) -> str:
    payload = record.payload
    if fields:
        return ", ".join(f"{k}={short(payload[k]) if k in payload else '<missing>'}" for k in fields)
    # A compact payload: whole fields while they fit, then how many were left out.
    items = [f"{k}={short(v, 40)}" for k, v in payload.items() if k not in hidden]
    shown: list[str] = []
    for i, item in enumerate(items):
        if shown and sum(len(x) + 2 for x in shown) + len(item) > _MAX_DETAIL:
            shown.append(f"... (+{len(items) - i} more)")
            break
        shown.append(item)
    return ", ".join(shown)


def _row(r: _Recorded, marks: Mapping[int, tuple[str, ...] | None], hidden: frozenset[str], width: int,
         show_phase: bool, indent: str = "") -> str:
    mark = "  > " if r.seq in marks else "    "
    row = f"{indent}{mark}#{r.seq:<{width}}  {r.name}"
    fields = marks.get(r.seq)
    if fields is not None:
        detail = _row_detail(r, fields, hidden)
        if detail:
            row += f"  {detail}"
    if show_phase:
        row += f"  ({r.phase})"
    return row


def _listing(records: Sequence[_Recorded], marks: Mapping[int, tuple[str, ...] | None],
             hidden: frozenset[str], by_thread: bool = False) -> list[str]:
    if not records:
        return ["Recorded: no signals at all. (Was the code under test given another signal "
                "provider than the recorder's, e.g. one built before `signal_provider` was installed?)"]
    n = len(records)
    width = len(str(records[-1].seq))
    show_phase = len({r.phase for r in records}) > 1
    shown: list[_Recorded | None] = list(records)
    if n > _MAX_ROWS:
        half = _MAX_ROWS // 2
        shown = [*records[:half], None, *records[-half:]]
    if by_thread:
        return _by_thread(records, shown, marks, hidden, width, show_phase)
    show_thread = len({r.thread_name for r in records}) > 1
    lines = [f"Recorded {n} signal{'s' if n != 1 else ''}, in order:"]
    for r in shown:
        if r is None:
            lines.append(f"    ... {n - 2 * (_MAX_ROWS // 2)} more ...")
            continue
        row = _row(r, marks, hidden, width, show_phase)
        if show_thread:
            row += f"  [{r.thread_name}]"
        lines.append(row)
    return lines


def _by_thread(records: Sequence[_Recorded], shown: Sequence[_Recorded | None],
               marks: Mapping[int, tuple[str, ...] | None], hidden: frozenset[str], width: int,
               show_phase: bool) -> list[str]:
    """Each thread's records in order, threads in the order they first emitted."""
    n = len(records)
    groups: dict[tuple[str, int], list[_Recorded]] = {}
    for r in shown:
        if r is not None:
            groups.setdefault((r.thread_name, r.thread_id), []).append(r)
    names = [name for name, _ in groups]
    lines = [f"Recorded {n} signal{'s' if n != 1 else ''}, by thread, in order:"]
    if len(shown) < n + 1 and None in shown:
        lines.append(f"  ({n - 2 * (_MAX_ROWS // 2)} signals in the middle not shown)")
    for (name, ident), rows in groups.items():
        same_name = names.count(name) > 1
        lines.append(f"  thread {name!r}" + (f" (id {ident})" if same_name else "") + ":")
        lines.extend(_row(r, marks, hidden, width, show_phase, "  ") for r in rows)
    return lines


def _hidden_fields(catalog: SignalCatalog | None) -> frozenset[str]:
    # The fields every catalog signal shares (operation_id, timestamp, ...) are
    # noise on a row; derived from the catalog rather than listed again here.
    if catalog is None or not len(catalog):
        return frozenset()
    return frozenset.intersection(*(frozenset(s.fields) for s in catalog.values()))


def render_failure(failure: Failure, records: Sequence[_Recorded],
                   catalog: SignalCatalog | None = None) -> str:
    """The full message: headline, details, then every record with the relevant ones marked."""
    return render_failures([failure], records, catalog)


def render_failures(failures: Sequence[Failure], records: Sequence[_Recorded],
                    catalog: SignalCatalog | None = None) -> str:
    """Several failures over one recording, followed by a single listing."""
    lines: list[str] = []
    marks: dict[int, tuple[str, ...] | None] = {}
    by_thread = any(f.by_thread for f in failures)
    for f in failures:
        lines.append(f.headline)
        lines.extend(f.details)
        for seq, fields in f.marks.items():
            old = marks.get(seq)
            if old is None or fields is None:  # a mark with fields beats one without
                marks[seq] = old if fields is None else fields
            else:
                marks[seq] = tuple(dict.fromkeys(old + fields))
    lines.extend(_listing(records, marks, _hidden_fields(catalog), by_thread))
    for f in failures:
        lines.extend(f.footer)
    return "\n".join(lines)


def payload_diff(subset: Mapping[str, Any], payload: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, expected in subset.items():
        actual = payload.get(key, _MISSING)
        if actual is _MISSING:
            lines.append(f"  {key}: expected {short(expected)}, missing")
        elif not values_match(expected, actual):
            lines.append(f"  {key}: expected {short(expected)}, got {short(actual)}")
    return lines


def closest_candidate(candidates: Sequence[SignalRecord], pattern: SignalPattern) -> list[str]:
    """``Closest candidate, #n name:`` and what differs, for the record of ``candidates`` (all
    with the pattern's name) that is closest to ``pattern``'s payload items and check."""
    def diff(r: SignalRecord) -> list[str]:
        lines = payload_diff(pattern.fields, r.payload)
        if not lines and pattern.check is not None and not pattern.check(r):
            lines.append(f"  check: {callable_name(pattern.check)}(#{r.seq}) returned a false value")
        return lines

    closest = min(candidates, key=lambda r: len(diff(r)))
    return [f"Closest candidate, #{closest.seq} {closest.name}:", *diff(closest)]

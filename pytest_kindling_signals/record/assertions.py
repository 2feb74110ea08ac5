"""Signal assertions with failures a person can read: what was expected, then what was recorded.

:class:`SignalAssertions` is mixed into
:class:`~pytest_kindling_signals.record.recorder.SignalRecorder`; every assertion
checks its signal name first (a misspelt name is an error that suggests the
close catalog names, never a silent pass or fail) and fails with an
``AssertionError`` like::

    assert_emitted('entity.post_merge', rows_inserted=3): no recorded signal matched.
    Recorded 2 signals, in order:
        #0  entity.pre_merge
      > #1  entity.post_merge  rows_inserted=2
    Closest candidate, #1 entity.post_merge:
      rows_inserted: expected 3, got 2

Payload values compare with ``expected == actual``, so ``unittest.mock.ANY``
and ``pytest.approx(...)`` work as expected values.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pytest_kindling_signals.catalog import ContractFinding, check_contract

if TYPE_CHECKING:
    from pytest_kindling_signals.catalog import SignalCatalog
    from pytest_kindling_signals.record.recorder import SignalRecord

__all__ = ["SEQUENCE_MODES", "Failure", "SignalAssertions", "is_pattern", "matches",
           "render_failure", "render_failures"]

SEQUENCE_MODES = ("subsequence", "strict")
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
    def phase(self) -> str: ...


def is_pattern(name: str) -> bool:
    """Whether ``name`` is a glob (``*``, ``?`` or ``[...]``) rather than one signal name."""
    return any(ch in name for ch in "*?[")


def matches(record: _Recorded, pattern: str, subset: Mapping[str, Any]) -> bool:
    """``record``'s name matches ``pattern`` and its payload holds every ``subset`` item."""
    if not (record.name == pattern or (is_pattern(pattern) and fnmatch.fnmatchcase(record.name, pattern))):
        return False
    payload = record.payload
    for key, expected in subset.items():
        actual = payload.get(key, _MISSING)
        if actual is _MISSING or not expected == actual:
            return False
    return True


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _call(fn: str, args: Sequence[Any], subset: Mapping[str, Any]) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in subset.items()]
    return f"{fn}({', '.join(parts)})"


@dataclass
class Failure:
    """One failed check: a headline and detail lines (what was expected), the records to
    point at in the listing, and footer lines shown after it (e.g. a payload diff).

    ``marks`` maps a record's ``seq`` to the payload fields to show on its row:
    a tuple of field names, ``()`` for a compact payload, ``None`` for none.
    """

    headline: str
    details: list[str] = field(default_factory=list)
    marks: dict[int, tuple[str, ...] | None] = field(default_factory=dict)
    footer: list[str] = field(default_factory=list)


def _row_detail(record: _Recorded, fields: tuple[str, ...], hidden: frozenset[str]) -> str:
    payload = record.payload
    if fields:
        return ", ".join(f"{k}={_short(payload[k]) if k in payload else '<missing>'}" for k in fields)
    # A compact payload: whole fields while they fit, then how many were left out.
    items = [f"{k}={_short(v, 40)}" for k, v in payload.items() if k not in hidden]
    shown: list[str] = []
    for i, item in enumerate(items):
        if shown and sum(len(x) + 2 for x in shown) + len(item) > _MAX_DETAIL:
            shown.append(f"... (+{len(items) - i} more)")
            break
        shown.append(item)
    return ", ".join(shown)


def _listing(records: Sequence[_Recorded], marks: Mapping[int, tuple[str, ...] | None],
             hidden: frozenset[str]) -> list[str]:
    if not records:
        return ["Recorded: no signals at all. (Was the code under test given another signal "
                "provider than the recorder's, e.g. one built before `signal_provider` was installed?)"]
    n = len(records)
    lines = [f"Recorded {n} signal{'s' if n != 1 else ''}, in order:"]
    width = len(str(records[-1].seq))
    show_phase = len({r.phase for r in records}) > 1
    show_thread = len({r.thread_name for r in records}) > 1
    shown: Iterable[_Recorded | None] = records
    if n > _MAX_ROWS:
        half = _MAX_ROWS // 2
        shown = [*records[:half], None, *records[-half:]]
    for r in shown:
        if r is None:
            lines.append(f"    ... {n - 2 * (_MAX_ROWS // 2)} more ...")
            continue
        mark = "  > " if r.seq in marks else "    "
        row = f"{mark}#{r.seq:<{width}}  {r.name}"
        fields = marks.get(r.seq)
        if fields is not None:
            detail = _row_detail(r, fields, hidden)
            if detail:
                row += f"  {detail}"
        if show_phase:
            row += f"  ({r.phase})"
        if show_thread:
            row += f"  [{r.thread_name}]"
        lines.append(row)
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
    for f in failures:
        lines.append(f.headline)
        lines.extend(f.details)
        for seq, fields in f.marks.items():
            old = marks.get(seq)
            if old is None or fields is None:  # a mark with fields beats one without
                marks[seq] = old if fields is None else fields
            else:
                marks[seq] = tuple(dict.fromkeys(old + fields))
    lines.extend(_listing(records, marks, _hidden_fields(catalog)))
    for f in failures:
        lines.extend(f.footer)
    return "\n".join(lines)


def _payload_diff(subset: Mapping[str, Any], payload: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, expected in subset.items():
        actual = payload.get(key, _MISSING)
        if actual is _MISSING:
            lines.append(f"  {key}: expected {_short(expected)}, missing")
        elif not expected == actual:
            lines.append(f"  {key}: expected {_short(expected)}, got {_short(actual)}")
    return lines


def _by_name(records: Sequence[_Recorded], pattern: str) -> list[_Recorded]:
    return [r for r in records if matches(r, pattern, {})]


class SignalAssertions:
    """Assertion methods over ``self.records``; ``check_pattern`` vets every name first."""

    catalog: SignalCatalog

    @property
    def records(self) -> list[SignalRecord]:  # pragma: no cover - provided by the recorder
        raise NotImplementedError

    def check_pattern(self, pattern: str) -> None:  # pragma: no cover - provided by the recorder
        raise NotImplementedError

    def _guard(self, what: str) -> None:
        """Hook for the recorder to refuse assertions where they would mislead."""

    def _fail(self, failure: Failure, records: Sequence[_Recorded]) -> AssertionError:
        return AssertionError(render_failure(failure, records, self.catalog))

    # -- building failures (shared with the marker checks) ---------------------
    def _emitted_failure(self, records: Sequence[_Recorded], pattern: str, subset: Mapping[str, Any],
                         label: str, problem: str | None = None) -> Failure:
        candidates = _by_name(records, pattern)
        if not candidates:
            what = f"{pattern!r} was not recorded." if not is_pattern(pattern) \
                else f"no recorded signal matches {pattern!r}."
            return Failure(f"{label}: {problem or what}")
        failure = Failure(f"{label}: {problem or 'no recorded signal matched.'}",
                          marks={r.seq: tuple(subset) for r in candidates})
        if subset:
            closest = min(candidates, key=lambda r: len(_payload_diff(subset, r.payload)))
            failure.footer = [f"Closest candidate, #{closest.seq} {closest.name}:",
                              *_payload_diff(subset, closest.payload)]
        return failure

    def _matched_failure(self, records: Sequence[_Recorded], pattern: str,
                         subset: Mapping[str, Any], label: str) -> Failure | None:
        found = [r for r in records if matches(r, pattern, subset)]
        if not found:
            return None
        n = len(found)
        return Failure(f"{label}: {n} recorded signal{'s' if n != 1 else ''} matched.",
                       marks={r.seq: tuple(subset) for r in found})

    def _contract_failure(self, records: Sequence[_Recorded], label: str = "assert_contract()") -> Failure | None:
        findings: list[ContractFinding] = check_contract(records, self.catalog)
        if not findings:
            return None
        n, m = len(findings), len(records)
        failure = Failure(f"{label}: {n} finding{'s' if n != 1 else ''} in "
                          f"{m} recorded signal{'s' if m != 1 else ''}:")
        for f in findings:
            where = ""
            if f.index is not None:
                seq = records[f.index].seq
                where = f"  (#{seq})"
                failure.marks[seq] = None
            else:
                failure.marks.update({r.seq: None for r in records if r.name == f.signal})
            failure.details.append(f"  [{f.kind}] {f.message}{where}")
        return failure

    # -- the assertions ----------------------------------------------------------
    def assert_emitted(self, name: str, /, **payload: Any) -> SignalRecord:
        """Assert a signal matching ``name`` (or a glob) was recorded with ``payload``'s items
        among its fields; return the first such record.

        >>> signal_recorder.assert_emitted("entity.post_merge", rows_inserted=3)  # doctest: +SKIP
        """
        __tracebackhide__ = True
        self._guard("assert_emitted")
        self.check_pattern(name)
        records = self.records
        for r in records:
            if matches(r, name, payload):
                return r
        raise self._fail(self._emitted_failure(records, name, payload,
                                               _call("assert_emitted", [name], payload)), records)

    def assert_emitted_once(self, name: str, /, **payload: Any) -> SignalRecord:
        """Assert exactly one recorded signal matches ``name`` and ``payload``; return it."""
        __tracebackhide__ = True
        self._guard("assert_emitted_once")
        self.check_pattern(name)
        records = self.records
        found = [r for r in records if matches(r, name, payload)]
        if len(found) == 1:
            return found[0]
        label = _call("assert_emitted_once", [name], payload)
        if not found:
            raise self._fail(self._emitted_failure(records, name, payload, label), records)
        raise self._fail(Failure(f"{label}: {len(found)} recorded signals matched, expected exactly 1.",
                                 marks={r.seq: tuple(payload) for r in found}), records)

    def assert_not_emitted(self, name: str, /, **payload: Any) -> None:
        """Assert no recorded signal matches ``name`` (and ``payload``, when given)."""
        __tracebackhide__ = True
        self._guard("assert_not_emitted")
        self.check_pattern(name)
        records = self.records
        failure = self._matched_failure(records, name, payload, _call("assert_not_emitted", [name], payload))
        if failure is not None:
            raise self._fail(failure, records)

    def assert_count(self, name: str, count: int, /, **payload: Any) -> None:
        """Assert exactly ``count`` recorded signals match ``name`` (and ``payload``)."""
        __tracebackhide__ = True
        self._guard("assert_count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise TypeError(f"assert_count({name!r}, {count!r}): the count is an int >= 0")
        self.check_pattern(name)
        records = self.records
        found = [r for r in records if matches(r, name, payload)]
        if len(found) != count:
            raise self._fail(Failure(
                f"{_call('assert_count', [name, count], payload)}: {len(found)} recorded signal"
                f"{'s' if len(found) != 1 else ''} matched, expected {count}.",
                marks={r.seq: tuple(payload) for r in found}), records)

    def assert_sequence(self, names: Sequence[str], /, *, mode: str = "subsequence") -> list[SignalRecord]:
        """Assert the signals were recorded in this order; return the matched records.

        ``mode="subsequence"`` (default): each name (or glob) is recorded after
        the previous one, other signals may come between. ``mode="strict"``:
        the recorded names are exactly these, nothing before, between or after.
        """
        __tracebackhide__ = True
        self._guard("assert_sequence")
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise TypeError(f"assert_sequence() takes a list of signal names, got {names!r}; "
                            f"e.g. assert_sequence(['datapipes.pre_run', 'datapipes.post_run'])")
        if mode not in SEQUENCE_MODES:
            raise ValueError(f"assert_sequence(mode={mode!r}): use one of "
                             f"{', '.join(map(repr, SEQUENCE_MODES))}")
        for n in names:
            self.check_pattern(n)
        records = self.records
        label = f"assert_sequence({list(names)!r}{', mode=' + repr(mode) if mode != 'subsequence' else ''})"
        if mode == "strict":
            return self._strict_sequence(records, list(names), label)
        matched: list[SignalRecord] = []
        pos = 0
        for step, pattern in enumerate(names, 1):
            hit = next((i for i in range(pos, len(records)) if matches(records[i], pattern, {})), None)
            if hit is None:
                after = f" after step {step - 1} (#{matched[-1].seq})" if matched else ""
                earlier = [r.seq for r in records[:pos] if matches(r, pattern, {})]
                note = f" (recorded earlier, at {', '.join(f'#{s}' for s in earlier)})" if earlier else ""
                details = ["Expected, in order:"]
                width = max(len(n) for n in names)
                for j, p in enumerate(names, 1):
                    if j < step:
                        where = f"#{matched[j - 1].seq}"
                    elif j == step:
                        where = f"not recorded after #{matched[-1].seq}" if matched else "not recorded"
                        where += note
                    else:
                        where = "-"
                    details.append(f"  {j}. {p:<{width}}  {where}")
                raise self._fail(Failure(
                    f"{label}: step {step}, {pattern!r}, was not recorded{after}.{note}", details,
                    {r.seq: None for r in matched}), records)
            matched.append(records[hit])
            pos = hit + 1
        return matched

    def _strict_sequence(self, records: list[SignalRecord], names: list[str], label: str) -> list[SignalRecord]:
        __tracebackhide__ = True
        rows = max(len(names), len(records))
        bad = [i for i in range(rows)
               if i >= len(names) or i >= len(records) or not matches(records[i], names[i], {})]
        if not bad:
            return records
        width = max([len("expected"), *(len(n) for n in names)])
        details = [f"  pos  {'expected':<{width}}  recorded"]
        for i in range(rows):
            exp = names[i] if i < len(names) else "(nothing)"
            got = f"#{records[i].seq} {records[i].name}" if i < len(records) else "(nothing)"
            details.append(f"{'>' if i in bad else ' '} {i:<4} {exp:<{width}}  {got}")
        raise self._fail(Failure(
            f"{label}: the recorded signals differ from the expected ones at position {bad[0]}.",
            details), records)

    def assert_contract(self) -> None:
        """Assert every record keeps the catalog's contract: each payload valid against its
        schema, each ``pre_X`` closed by exactly one ``post_X`` or ``X_failed`` with the same
        ``operation_id``, and no signal the catalog doesn't know.
        """
        __tracebackhide__ = True
        self._guard("assert_contract")
        records = self.records
        failure = self._contract_failure(records)
        if failure is not None:
            raise self._fail(failure, records)

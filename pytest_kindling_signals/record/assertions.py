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

Payload values compare with ``expected == actual``, so the matchers of
:mod:`~pytest_kindling_signals.record.matchers` (``at_least(1)``...),
``unittest.mock.ANY`` and ``pytest.approx(...)`` work as expected values.

The failure builders (:func:`emitted_failure`, :func:`matched_failure`,
:func:`contract_failure`) are public for the plugin's marker, which reports
several failures over one recording with
:func:`~pytest_kindling_signals.record.failures.render_failures`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_kindling_signals.catalog import KnownFinding, check_contract, unseen_known
from pytest_kindling_signals.record.failures import Failure, call_label, closest_candidate, render_failure
from pytest_kindling_signals.record.matchers import SignalPattern, is_pattern, matches
from pytest_kindling_signals.record.waiting import Ordered, key_fields

if TYPE_CHECKING:
    from pytest_kindling_signals.catalog import SignalCatalog
    from pytest_kindling_signals.record.records import SignalRecord

__all__ = ["SEQUENCE_MODES", "SignalAssertions", "contract_failure", "emitted_failure", "matched_failure",
           "resolve_known"]

SEQUENCE_MODES = ("subsequence", "strict")


# -- building failures (the assertions', and the plugin marker's) ------------------------

def emitted_failure(records: Sequence[SignalRecord], pattern: str, subset: Mapping[str, Any],
                    label: str, problem: str | None = None) -> Failure:
    """Nothing in ``records`` matched ``pattern`` with ``subset``: the candidates by name, marked,
    and the closest one's diff."""
    candidates = [r for r in records if matches(r, pattern, {})]
    if not candidates:
        what = f"{pattern!r} was not recorded." if not is_pattern(pattern) \
            else f"no recorded signal matches {pattern!r}."
        return Failure(f"{label}: {problem or what}")
    failure = Failure(f"{label}: {problem or 'no recorded signal matched.'}",
                      marks={r.seq: tuple(subset) for r in candidates})
    if subset:
        failure.footer = closest_candidate(candidates, SignalPattern(pattern, subset))
    return failure


def matched_failure(records: Sequence[SignalRecord], pattern: str, subset: Mapping[str, Any],
                    label: str) -> Failure | None:
    """Records matched ``pattern`` with ``subset`` where none should have; ``None`` if none did."""
    found = [r for r in records if matches(r, pattern, subset)]
    if not found:
        return None
    n = len(found)
    return Failure(f"{label}: {n} recorded signal{'s' if n != 1 else ''} matched.",
                   marks={r.seq: tuple(subset) for r in found})


def resolve_known(known: Iterable[str | KnownFinding], catalog: SignalCatalog,
                  where: str) -> list[KnownFinding]:
    """``known=`` items as known findings: a :class:`KnownFinding` as it is; a signal name (or
    ``"signal rule"``) as the catalog's known findings of it, which must exist."""
    if isinstance(known, (str, KnownFinding)):
        known = [known]
    resolved: list[KnownFinding] = []
    for item in known:
        if isinstance(item, KnownFinding):
            resolved.append(item)
            continue
        if not isinstance(item, str) or not item.strip():
            raise TypeError(f"{where}: each known finding is a signal name the catalog lists under "
                            f"known_findings, or KnownFinding(signal, rule, reason=...), got {item!r}")
        signal, _, rule = item.strip().partition(" ")
        found = [k for k in catalog.known_findings if k.signal == signal and (not rule or k.rule == rule.strip())]
        if not found:
            listed = ", ".join(repr(k.describe()) for k in catalog.known_findings) or "none"
            raise ValueError(
                f"{where}: the catalog lists no known finding {item!r} (it lists: {listed}). For one "
                f"of your own, pass KnownFinding({signal!r}, 'never_closed', reason='why it happens') "
                "(from pytest_kindling_signals import KnownFinding).")
        resolved.extend(k for k in found if k not in resolved)
    return resolved


def contract_failure(records: Sequence[SignalRecord], catalog: SignalCatalog,
                     label: str = "assert_contract()", known: Sequence[KnownFinding] = ()) -> Failure | None:
    """The contract's findings in ``records``, known ones shown as known; ``None`` when nothing
    fails. Each of ``known`` must occur (a strict xfail): one that didn't fails too."""
    findings = check_contract(records, catalog, [k for k in known if k not in catalog.known_findings])
    new = [f for f in findings if f.known is None]
    accepted = [f for f in findings if f.known is not None]
    unseen = unseen_known(findings, known)
    if not new and not unseen:
        return None
    m = len(records)
    if new:
        n = len(new)
        failure = Failure(f"{label}: {n} finding{'s' if n != 1 else ''} in "
                          f"{m} recorded signal{'s' if m != 1 else ''}:")
    else:
        k = len(unseen)
        failure = Failure(f"{label}: {k} known finding{'s' if k != 1 else ''} did not happen "
                          f"in {m} recorded signal{'s' if m != 1 else ''}:")

    def line(f: Any) -> str:
        where = ""
        if f.index is not None:
            seq = records[f.index].seq
            where = f"  (#{seq})"
            failure.marks[seq] = None
        else:
            failure.marks.update({r.seq: None for r in records if r.name == f.signal})
        return f"  [{f.kind}] {f.message}{where}"

    failure.details.extend(line(f) for f in new)
    if accepted:
        failure.details.append("Known findings (they don't fail the check):")
        for f in accepted:
            assert f.known is not None
            failure.details.append(line(f))
            failure.details.append(f"      known: {f.known.why()}")
    if unseen:
        if new:
            failure.details.append("Known findings that did not happen:")
        for kf in unseen:
            failure.details.append(f"  {kf.describe()}: {kf.why()}")
        failure.details.append("  If a release fixed it, take it out of known=[...] (and out of the "
                               "catalog's known_findings).")
    return failure


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

    def _fail(self, failure: Failure, records: Sequence[SignalRecord]) -> AssertionError:
        return AssertionError(render_failure(failure, records, self.catalog))

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
        raise self._fail(emitted_failure(records, name, payload,
                                         call_label("assert_emitted", [name], payload)), records)

    def assert_emitted_once(self, name: str, /, **payload: Any) -> SignalRecord:
        """Assert exactly one recorded signal matches ``name`` and ``payload``; return it."""
        __tracebackhide__ = True
        self._guard("assert_emitted_once")
        self.check_pattern(name)
        records = self.records
        found = [r for r in records if matches(r, name, payload)]
        if len(found) == 1:
            return found[0]
        label = call_label("assert_emitted_once", [name], payload)
        if not found:
            raise self._fail(emitted_failure(records, name, payload, label), records)
        raise self._fail(Failure(f"{label}: {len(found)} recorded signals matched, expected exactly 1.",
                                 marks={r.seq: tuple(payload) for r in found}), records)

    def assert_not_emitted(self, name: str, /, *, after: SignalRecord | None = None,
                           within: float | None = None, **payload: Any) -> None:
        """Assert no recorded signal matches ``name`` (and ``payload``, when given).

        ``after=record`` looks only at records after that one; with ``within=seconds``
        too, only at those recorded within that many seconds of it. This never
        waits: it reads what is recorded (:meth:`assert_not_emitted_within` waits)::

            started = signal_recorder.wait_for("streaming.query_started")
            ...
            signal_recorder.assert_not_emitted("streaming.query_failed", after=started, within=5)
        """
        __tracebackhide__ = True
        self._guard("assert_not_emitted")
        label = call_label("assert_not_emitted", [name], payload)
        if after is not None or within is not None:
            label = label[:-1] + "".join(
                f", {k}={v}" for k, v in (("after", f"#{after.seq}" if after is not None else None),
                                          ("within", f"{within:g}" if isinstance(within, (int, float)) else None))
                if v is not None) + ")"
        if within is not None:
            if after is None:
                raise TypeError(f"{label}: within= counts seconds from a record; pass after=<a record> "
                                "too (e.g. the one wait_for() returned)")
            if isinstance(within, bool) or not isinstance(within, (int, float)) or within < 0:
                raise ValueError(f"{label}: within= is a number of seconds >= 0, got {within!r}")
        if after is not None and not hasattr(after, "seq"):
            raise TypeError(f"assert_not_emitted({name!r}, after={after!r}): after= is a record "
                            "(e.g. the one wait_for() or assert_emitted() returned)")
        self.check_pattern(name)
        records = self.records
        window = records
        if after is not None:
            end = after.time + within if within is not None else None
            window = [r for r in records if r.seq > after.seq and (end is None or r.time <= end)]
        failure = matched_failure(window, name, payload, label)
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
                f"{call_label('assert_count', [name, count], payload)}: {len(found)} recorded signal"
                f"{'s' if len(found) != 1 else ''} matched, expected {count}.",
                marks={r.seq: tuple(payload) for r in found}), records)

    def assert_sequence(self, names: Sequence[str | SignalPattern], /, *, mode: str = "subsequence",
                        per: str | Sequence[str] | None = None) -> Any:
        """Assert the signals were recorded in this order; return the matched records.

        ``mode="subsequence"`` (default): each name (or glob, or
        :func:`~pytest_kindling_signals.record.matchers.emitted` pattern) is
        recorded after the previous one, other signals may come between.
        ``mode="strict"``: the recorded names are exactly these, nothing
        before, between or after. ``per="pipe_id"``: in order per value of
        that payload field (threads may interleave); returns ``{key: records}``
        and fails unless every key seen completed the sequence.
        """
        __tracebackhide__ = True
        self._guard("assert_sequence")
        if isinstance(names, str) or not isinstance(names, Sequence) or not names:
            raise TypeError(f"assert_sequence() takes a list of signal names, got {names!r}; "
                            f"e.g. assert_sequence(['datapipes.pre_run', 'datapipes.post_run'])")
        if mode not in SEQUENCE_MODES:
            raise ValueError(f"assert_sequence(mode={mode!r}): use one of "
                             f"{', '.join(map(repr, SEQUENCE_MODES))}")
        patterns = [SignalPattern.of(n, "assert_sequence()") for n in names]
        for p in patterns:
            self.check_pattern(p.name)
        shown = [p.name if p.plain else p for p in patterns]
        options = (f", mode={mode!r}" if mode != "subsequence" else "") + (f", per={per!r}" if per else "")
        label = f"assert_sequence({shown!r}{options})"
        records = self.records
        if mode == "strict":
            if per is not None:
                raise TypeError(f"{label}: per= orders each key's records; it works with "
                                "mode='subsequence' only")
            return self._strict_sequence(records, patterns, label)
        waiter = Ordered(patterns, label, key_fields(per, label))
        if not waiter.feed(records):
            raise self._fail(waiter.failure(records, None), records)
        return waiter.result

    def _strict_sequence(self, records: list[SignalRecord], patterns: list[SignalPattern],
                         label: str) -> list[SignalRecord]:
        __tracebackhide__ = True
        rows = max(len(patterns), len(records))
        bad = [i for i in range(rows)
               if i >= len(patterns) or i >= len(records) or not patterns[i].matches(records[i])]
        if not bad:
            return records
        shown = [p.describe() if not p.plain else p.name for p in patterns]
        width = max([len("expected"), *(len(n) for n in shown)])
        details = [f"  pos  {'expected':<{width}}  recorded"]
        for i in range(rows):
            exp = shown[i] if i < len(shown) else "(nothing)"
            got = f"#{records[i].seq} {records[i].name}" if i < len(records) else "(nothing)"
            details.append(f"{'>' if i in bad else ' '} {i:<4} {exp:<{width}}  {got}")
        raise self._fail(Failure(
            f"{label}: the recorded signals differ from the expected ones at position {bad[0]}.",
            details), records)

    def assert_contract(self, *, known: Iterable[str | KnownFinding] = ()) -> None:
        """Assert every record keeps the catalog's contract: each payload valid against its
        schema, each ``pre_X`` closed by exactly one ``post_X`` or ``X_failed`` with the same
        ``operation_id``, and no signal the catalog doesn't know.

        The catalog's known findings are shown as known and don't fail it.
        ``known=[...]`` names findings this test expects, each of which must then
        happen (like a strict xfail): a signal name the catalog lists under
        ``known_findings``, or a :class:`~pytest_kindling_signals.catalog.KnownFinding`
        of your own, with its reason.
        """
        __tracebackhide__ = True
        self._guard("assert_contract")
        label = f"assert_contract(known={list(known)!r})" if known else "assert_contract()"
        expected = resolve_known(known, self.catalog, label)
        records = self.records
        failure = contract_failure(records, self.catalog, label, expected)
        if failure is not None:
            raise self._fail(failure, records)

    def expectation_failures(self, *, expect: Iterable[str] = (), forbid: Iterable[str] = (),
                             contract: bool = False, known: Iterable[str | KnownFinding] = ()
                             ) -> list[Failure]:
        """What a ``kindling_signals`` marker asks of the records, as failures (empty: all met).

        For plugins: render them over :attr:`records` with :func:`render_failures`.
        An unknown name raises :class:`~pytest_kindling_signals.catalog.UnknownSignalError`.
        """
        records = self.records
        failures: list[Failure] = []
        for pattern in expect:
            self.check_pattern(pattern)
            if not any(matches(r, pattern, {}) for r in records):
                failures.append(emitted_failure(records, pattern, {}, f"expect {pattern!r}"))
        for pattern in forbid:
            self.check_pattern(pattern)
            failure = matched_failure(records, pattern, {}, f"forbid {pattern!r}")
            if failure is not None:
                failures.append(failure)
        if contract:
            label = f"contract=True, known={list(known)!r}" if known else "contract=True"
            failure = contract_failure(records, self.catalog, label, resolve_known(known, self.catalog, label))
            if failure is not None:
                failures.append(failure)
        return failures

"""What a wait is waiting for: all of several patterns, an ordered sequence (per key), or nothing.

Each kind is a plain class the recorder feeds with records as they arrive
(from any thread), which says when it is satisfied and, on a timeout, builds
the failure: what matched, what was expected next, and the closest
candidates. The recorder does the waiting (a condition its tap notifies);
nothing here sleeps, locks or imports pytest::

    >>> waiter = AllOf([SignalPattern("entity.post_merge")], "wait_for('entity.post_merge')")
    >>> waiter.feed([])
    False
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pytest_kindling_signals.catalog import safe_repr
from pytest_kindling_signals.record.failures import Failure, closest_candidate
from pytest_kindling_signals.record.matchers import SignalPattern

if TYPE_CHECKING:
    from pytest_kindling_signals.record.records import SignalRecord

__all__ = ["AllOf", "Nothing", "Ordered", "Waiter", "key_fields", "pattern_label"]


def pattern_label(fn: str, patterns: Sequence[SignalPattern], **options: Any) -> str:
    """``wait_for_all(['a', emitted('b', n=1)], per='pipe_id')``: the call, as messages show it."""
    extra = "".join(f", {k}={safe_repr(v, 80)}" for k, v in options.items() if v is not None)
    return f"{fn}([{', '.join(map(repr, patterns))}]{extra})"


def key_fields(per: str | Sequence[str] | None, where: str) -> tuple[str, ...] | None:
    """``per=`` as a tuple of payload field names (``None``: no key)."""
    if per is None:
        return None
    fields = (per,) if isinstance(per, str) else tuple(per) if isinstance(per, (list, tuple)) else ()
    if not fields or not all(isinstance(f, str) and f for f in fields):
        raise TypeError(f"{where}: per= names the payload field(s) that key the sequence, like "
                        f"per='pipe_id' or per=('run_id', 'pipe_id'), got {per!r}")
    return fields


class Waiter:
    """Fed the new records in order; ``done`` once satisfied (for :class:`Nothing`: once broken)."""

    label: str
    done: bool = False

    def feed(self, records: Sequence[SignalRecord]) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def failure(self, records: Sequence[SignalRecord], timeout: float | None) -> Failure:  # pragma: no cover
        """The failure after ``timeout`` seconds (``None``: over what is recorded, without a wait;
        for :class:`Nothing`, at the first match)."""
        raise NotImplementedError


class AllOf(Waiter):
    """Every pattern matched by a record of its own (earliest first); their order is free.

    A record counts for one pattern only, so ``["x", "x"]`` needs two ``x``.
    """

    def __init__(self, patterns: Sequence[SignalPattern], label: str) -> None:
        self.patterns = list(patterns)
        self.label = label
        self.candidates: list[list[SignalRecord]] = [[] for _ in self.patterns]
        self.assigned: list[SignalRecord | None] = [None] * len(self.patterns)
        self.owner: dict[int, int] = {}  # record seq -> the pattern it is assigned to
        self.done = not self.patterns

    def feed(self, records: Sequence[SignalRecord]) -> bool:
        grew = False
        for r in records:
            for i, p in enumerate(self.patterns):
                if p.matches(r):
                    self.candidates[i].append(r)
                    grew = True
        if grew:
            for i in range(len(self.patterns)):
                if self.assigned[i] is None:
                    self._augment(i, set())
            self.done = all(a is not None for a in self.assigned)
        return self.done

    def _augment(self, i: int, visited: set[int]) -> bool:
        # Kuhn's matching: a pattern takes a free candidate, or one whose owner can move on.
        for r in self.candidates[i]:
            if r.seq in visited:
                continue
            visited.add(r.seq)
            owner = self.owner.get(r.seq)
            if owner is None or self._augment(owner, visited):
                self.owner[r.seq] = i
                self.assigned[i] = r
                return True
        return False

    @property
    def result(self) -> list[SignalRecord]:
        return [r for r in self.assigned if r is not None]

    def failure(self, records: Sequence[SignalRecord], timeout: float | None) -> Failure:
        n = len(self.patterns)
        matched = sum(a is not None for a in self.assigned)
        if n == 1:
            headline = f"{self.label}: nothing matched within {timeout:g} s."
        else:
            headline = f"{self.label}: {matched} of {n} patterns matched within {timeout:g} s."
        failure = Failure(headline, by_thread=True)
        descriptions = [p.describe() for p in self.patterns]
        width = max(len(d) for d in descriptions)
        if n > 1:
            failure.details.append("Expected, in any order:")
        for i, (p, d) in enumerate(zip(self.patterns, descriptions), 1):
            got = self.assigned[i - 1]
            if n > 1:
                where = f"#{got.seq}" if got is not None else "expected next: no match yet"
                failure.details.append(f"  {i}. {d:<{width}}  {where}".rstrip())
            elif got is None:
                failure.details.append(f"Expected next: {d}")
            if got is not None:
                failure.marks[got.seq] = None
        for p, got in zip(self.patterns, self.assigned):
            if got is None:
                _mark_candidates(failure, records, p)
        return failure


def _mark_candidates(failure: Failure, records: Sequence[SignalRecord], pattern: SignalPattern,
                     key: tuple[str, ...] = ()) -> None:
    """Mark the records with ``pattern``'s name (showing its fields and the ``key`` fields) and add
    the closest one's diff."""
    named = [r for r in records if pattern.name_matches(r)]
    shown = tuple(dict.fromkeys((*key, *pattern.fields))) or None
    for r in named:
        failure.marks[r.seq] = shown
    if named and not pattern.plain:
        failure.footer.extend(closest_candidate(named, pattern))


class Ordered(Waiter):
    """The patterns in this order (others may come between); with ``per``, in order per key.

    A record that lacks a ``per`` field is no key's. Without ``keys``, the wait
    is over when at least one key was seen and every key seen is complete;
    with ``keys``, when each of those is.
    """

    def __init__(self, patterns: Sequence[SignalPattern], label: str, per: tuple[str, ...] | None = None,
                 keys: Iterable[Any] | None = None) -> None:
        self.patterns = list(patterns)
        self.label = label
        self.per = per
        self.fixed_keys = keys is not None
        #: key (a tuple of the per= values) -> the records matched so far, keys in order of appearance
        self.progress: dict[Any, list[SignalRecord]] = {}
        self.keyless: list[SignalRecord] = []  # records of the sequence with no key
        if keys is not None:
            if per is None:
                raise TypeError(f"{label}: keys= lists values of the per= field; pass per= too")
            for k in keys:
                if len(per) > 1 and not (isinstance(k, tuple) and len(k) == len(per)):
                    raise TypeError(f"{label}: with per={per!r}, each key is a tuple of "
                                    f"{len(per)} values, got {k!r}")
                self.progress[(k,) if len(per) == 1 else k] = []
            if not self.progress:
                raise ValueError(f"{label}: keys= is empty; list the key values to wait for, or leave "
                                 "it out to wait for every key seen")
        self.done = not self.patterns

    def _key(self, r: SignalRecord) -> Any:
        if self.per is None:
            return ()
        payload = r.payload
        if not all(f in payload for f in self.per):
            return None
        key = tuple(payload[f] for f in self.per)
        try:
            hash(key)
        except TypeError:
            key = tuple(safe_repr(v) for v in key)
        return key

    def feed(self, records: Sequence[SignalRecord]) -> bool:
        n = len(self.patterns)
        for r in records:
            if not any(p.name_matches(r) for p in self.patterns):
                continue
            key = self._key(r)
            if key is None:
                self.keyless.append(r)
                continue
            matched = self.progress.get(key)
            if matched is None:
                if self.fixed_keys:  # a key nobody waits for
                    continue
                if not any(p.matches(r) for p in self.patterns):
                    continue
                matched = self.progress[key] = []
            if len(matched) < n and self.patterns[len(matched)].matches(r):
                matched.append(r)
        self.done = bool(self.progress) and all(len(m) == n for m in self.progress.values())
        return self.done

    @property
    def result(self) -> Any:
        if self.per is None:
            return list(self.progress.get((), []))
        single = len(self.per) == 1
        return {(k[0] if single else k): list(m) for k, m in self.progress.items()}

    def _key_text(self, key: tuple[Any, ...]) -> str:
        assert self.per is not None
        return ", ".join(f"{f}={safe_repr(v, 40)}" for f, v in zip(self.per, key))

    def failure(self, records: Sequence[SignalRecord], timeout: float | None) -> Failure:
        if self.per is None:
            return self._plain_failure(records, timeout)
        n = len(self.patterns)
        open_keys = [k for k, m in self.progress.items() if len(m) < n]
        total = len(self.progress)
        if not self.progress:
            headline = f"{self.label}: no key seen{_within(timeout)}."
        else:
            headline = (f"{self.label}: {len(open_keys)} of {total} key{'s' if total != 1 else ''} "
                        f"not complete{_within(timeout)}.")
        failure = Failure(headline, by_thread=timeout is not None)
        failure.details.append("Expected next:")
        if not self.progress:
            failure.details.append(f"  step 1 of {n}, {self.patterns[0].describe()}, for any "
                                   f"{'/'.join(self.per)} (no key seen yet)")
        for key in open_keys:
            matched = self.progress[key]
            step = len(matched)
            pattern = self.patterns[step]
            where = f", after #{matched[-1].seq}" if matched else ""
            late = [r.seq for r in records if matched and r.seq < matched[-1].seq
                    and self._key(r) == key and pattern.matches(r)]
            note = f" (recorded earlier, at {', '.join(f'#{s}' for s in late)})" if late else ""
            if not matched and not any(self._key(r) == key for r in records):
                where = " (no record of this key yet)"
            failure.details.append(f"  {self._key_text(key)}: step {step + 1} of {n}, "
                                   f"{pattern.describe()}{where}{note}")
            for r in matched:
                failure.marks[r.seq] = self.per
            for seq in late:
                failure.marks[seq] = tuple(dict.fromkeys((*self.per, *pattern.fields)))
            after_last = matched[-1].seq if matched else -1
            _mark_candidates(failure, [r for r in records if r.seq > after_last and self._key(r) == key],
                             pattern, self.per)
        complete = [k for k, m in self.progress.items() if len(m) == n]
        if complete:
            failure.details.append("Complete: " + "; ".join(
                f"{self._key_text(k)} ({', '.join(f'#{r.seq}' for r in self.progress[k])})" for k in complete))
        if self.keyless:
            failure.details.append(f"Not keyed (no {'/'.join(self.per)} in the payload): "
                                   + ", ".join(f"#{r.seq}" for r in self.keyless))
        return failure

    def _plain_failure(self, records: Sequence[SignalRecord], timeout: float | None) -> Failure:
        matched = self.progress.get((), [])
        step = len(matched)
        pattern = self.patterns[step]
        after = f" after step {step} (#{matched[-1].seq})" if matched else ""
        earlier = [r.seq for r in records if matched and r.seq < matched[-1].seq and pattern.matches(r)]
        note = f" (recorded earlier, at {', '.join(f'#{s}' for s in earlier)})" if earlier else ""
        failure = Failure(f"{self.label}: step {step + 1}, {pattern.describe()}, was not recorded{after}"
                          f"{_within(timeout)}.{note}", ["Expected, in order:"], by_thread=timeout is not None)
        shown = [p.name if p.plain else p.describe() for p in self.patterns]
        width = max(len(d) for d in shown)
        for j, d in enumerate(shown):
            if j < step:
                where = f"#{matched[j].seq}"
            elif j == step:
                where = (f"not recorded after #{matched[-1].seq}" if matched else "not recorded") + note
            else:
                where = "-"
            failure.details.append(f"  {j + 1}. {d:<{width}}  {where}")
        for r in matched:
            failure.marks[r.seq] = None
        if not pattern.plain:
            _mark_candidates(failure, [r for r in records if not matched or r.seq > matched[-1].seq], pattern)
        return failure


def _within(timeout: float | None) -> str:
    return "" if timeout is None else f" within {timeout:g} s"


class Nothing(Waiter):
    """No record matches ``pattern``: ``done`` (broken) at the first one that does."""

    def __init__(self, pattern: SignalPattern, label: str) -> None:
        self.pattern = pattern
        self.label = label
        self.found: SignalRecord | None = None

    def feed(self, records: Sequence[SignalRecord]) -> bool:
        if self.found is None:
            self.found = next((r for r in records if self.pattern.matches(r)), None)
        self.done = self.found is not None
        return self.done

    def failure(self, records: Sequence[SignalRecord], timeout: float | None) -> Failure:
        assert self.found is not None
        r = self.found
        return Failure(f"{self.label}: #{r.seq} {r.name} was recorded.", by_thread=True,
                       marks={r.seq: tuple(self.pattern.fields)})

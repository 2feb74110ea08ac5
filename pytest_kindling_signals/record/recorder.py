"""The signal recorder: every emission through a provider, in order, like pytest's caplog.

    >>> from kindling.signaling import BlinkerSignalProvider   # or any framework's provider
    >>> provider = BlinkerSignalProvider()
    >>> with SignalRecorder(provider) as recorder:
    ...     _ = provider.signal("entity.post_merge").send("entity.post_merge", rows_inserted=3)
    >>> recorder.names()
    ['entity.post_merge']
    >>> recorder.assert_emitted("entity.post_merge", rows_inserted=3).seq
    0

Recording is a provider tap, so it sees ``emit`` calls and direct
``provider.signal(name).send(...)`` calls alike, from any thread, and keeps
each payload as it was sent (:mod:`~pytest_kindling_signals.record.snapshot`).
The waits (:meth:`SignalRecorder.wait_for`, :meth:`~SignalRecorder.wait_for_all`,
:meth:`~SignalRecorder.wait_for_sequence`,
:meth:`~SignalRecorder.assert_not_emitted_within`) sleep on a condition the
tap notifies: no polling. This module does not import pytest: the plugin
only creates, binds (:meth:`SignalRecorder.bind`) and finalises a recorder.
"""

from __future__ import annotations

import bisect
import fnmatch
import math
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from pytest_kindling_signals.names import UnknownNameError, close_matches
from pytest_kindling_signals.catalog import SignalCatalog, UnknownSignalError
from pytest_kindling_signals.frameworks import Emission
from pytest_kindling_signals.frameworks import TapSource, default_catalog
from pytest_kindling_signals.record.assertions import SignalAssertions
from pytest_kindling_signals.record.failures import call_label, render_failure
from pytest_kindling_signals.record.matchers import SignalPattern, callable_name, is_pattern, matches
from pytest_kindling_signals.record.records import SignalRecord
from pytest_kindling_signals.record.snapshot import snapshot_payload
from pytest_kindling_signals.record.waiting import AllOf, Nothing, Ordered, Waiter, key_fields, pattern_label

__all__ = ["DEFAULT_TIMEOUT", "PHASES", "SignalRecord", "SignalRecorder", "UnknownSignalPatternError",
           "check_timeout"]

PHASES = ("setup", "call", "teardown")
#: Seconds a wait gives up after, unless told otherwise (the plugin's ``kindling_signals_timeout``).
DEFAULT_TIMEOUT = 5.0


def check_timeout(value: Any, where: str) -> float:
    """``value`` as a number of seconds (>= 0, finite), or a ``ValueError`` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: the timeout is a number of seconds >= 0, got {value!r}")
    return float(value)


class UnknownSignalPatternError(UnknownSignalError):
    """A glob pattern that matches no catalog signal and no recorded one."""

    def __init__(self, pattern: str, suggestions: list[str]) -> None:
        UnknownNameError.__init__(self, "signal pattern", pattern, (), "it matches no signal in the "
                                  "signal catalog and no recorded signal.", suggestions=suggestions,
                                  sentence=True)


class SignalRecorder(SignalAssertions):
    """Records every emission through one provider (``emit`` and direct ``send`` alike).

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with SignalRecorder(provider) as rec:
            run_pipeline()
        rec.assert_emitted("datapipes.post_run", success_count=2)

    Reading: :attr:`records`, :meth:`names`, :meth:`of`, :meth:`first`,
    :meth:`last`, :meth:`get_records`; waiting for other threads:
    :meth:`wait_for`, :meth:`wait_for_all`, :meth:`wait_for_sequence`,
    :meth:`assert_not_emitted_within` (``timeout`` defaults to :attr:`default_timeout`);
    assertions come from
    :class:`~pytest_kindling_signals.record.assertions.SignalAssertions`.
    """

    def __init__(self, provider: TapSource, catalog: SignalCatalog | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self._lock = threading.Lock()
        # The waits sleep on this; the tap notifies it only while someone waits.
        self._cond = threading.Condition(self._lock)
        self._remove: Callable[[], None] | None = None
        self.hypothesis_guard = False
        self.default_timeout = timeout
        self.bind(provider, catalog)

    @property
    def default_timeout(self) -> float:
        """Seconds a wait gives up after when it is given no ``timeout``."""
        return self._default_timeout

    @default_timeout.setter
    def default_timeout(self, value: float) -> None:
        self._default_timeout = check_timeout(value, "SignalRecorder(timeout=...)")

    def bind(self, provider: TapSource, catalog: SignalCatalog | None = None, *,
             phase: str = "call", hypothesis_guard: bool | None = None) -> SignalRecorder:
        """Stop, forget every record, and point this recorder at ``provider`` (and ``catalog``).

        For plugins that keep one recorder for many tests (the ``signal_recorder``
        fixture does): new records are tagged ``phase``; ``hypothesis_guard``
        makes assertions inside a Hypothesis example an error that points to
        :meth:`capture`. Call :meth:`start` to record. Returns ``self``.
        """
        if not callable(getattr(provider, "add_tap", None)):
            raise TypeError(f"SignalRecorder needs a provider it can tap (something with add_tap(tap), "
                            f"like the signal_provider fixture), got {provider!r}")
        _check_phase(phase)
        self.stop()
        self.provider = provider
        self.catalog = catalog if catalog is not None else default_catalog()
        if hypothesis_guard is not None:
            self.hypothesis_guard = hypothesis_guard
        # Hot path: the tap files each emission into a column store (see _Store);
        # records are materialised lazily, when a test reads them.
        self._store = _Store()
        self._made: list[SignalRecord] = []   # materialised prefix of the store
        self._offset = 0                        # emissions dropped by clear(): seq = offset + index
        self._phase_starts: list[int] = [0]
        self._phase_names: list[str] = [phase]
        self._waiters = 0
        return self

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> SignalRecorder:
        """Begin recording (idempotent); returns ``self``."""
        if self._remove is None:
            cond = self._cond
            lock = self._lock

            def tap(emission: Emission) -> None:
                # Copied now, before any receiver runs: a record is the payload as sent.
                payload = snapshot_payload(emission.payload)
                with lock:  # one emission's columns must not interleave with another thread's
                    self._store.add(emission, payload)
                    if self._waiters:
                        cond.notify_all()

            self._remove = self.provider.add_tap(tap)
        return self

    def stop(self) -> None:
        """Stop recording; the records stay readable."""
        if self._remove is not None:
            self._remove()
            self._remove = None

    @property
    def recording(self) -> bool:
        return self._remove is not None

    def __enter__(self) -> SignalRecorder:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- phases ------------------------------------------------------------------
    @property
    def phase(self) -> str:
        """The test phase new records are tagged with."""
        return self._phase_names[-1]

    @phase.setter
    def phase(self, phase: str) -> None:
        _check_phase(phase)
        with self._lock:
            self._phase_starts.append(self._offset + len(self._store))
            self._phase_names.append(phase)

    # -- reading -----------------------------------------------------------------
    def _materialise(self) -> list[SignalRecord]:
        """Every record, built from the stored emissions not built yet; call with the lock held."""
        made = self._made
        if len(made) < len(self._store):
            starts, names, offset = self._phase_starts, self._phase_names, self._offset
            for i, (name, sender, payload, thread_name, thread_id, when) in enumerate(
                    self._store.rows(len(made)), start=len(made)):
                seq = offset + i
                phase = names[bisect.bisect_right(starts, seq) - 1]
                made.append(SignalRecord(seq, name, sender, payload, thread_name, thread_id, when, phase))
        return made

    @property
    def records(self) -> list[SignalRecord]:
        """Every record since the start (or the last :meth:`clear`), in order of ``seq``."""
        with self._lock:
            return list(self._materialise())

    def get_records(self, phase: str) -> list[SignalRecord]:
        """Records of one test phase: ``"setup"``, ``"call"`` or ``"teardown"``."""
        _check_phase(phase)
        return [r for r in self.records if r.phase == phase]

    def names(self) -> list[str]:
        """The recorded signal names, in order."""
        with self._lock:
            return self._store.names()

    def of(self, pattern: str, /, **subset: Any) -> list[SignalRecord]:
        """Records whose name matches ``pattern`` (a name or a glob like ``"entity.*_failed"``)
        and whose payload holds ``subset``.

        >>> rec.of("entity.*_failed", error_type="ValueError")   # doctest: +SKIP
        """
        self.check_pattern(pattern)
        return [r for r in self.records if matches(r, pattern, subset)]

    def first(self, pattern: str | None = None, /, **subset: Any) -> SignalRecord | None:
        """The first record matching ``pattern`` and ``subset`` (any record without them), or None."""
        found = self.of(pattern, **subset) if pattern is not None else self.records
        return found[0] if found else None

    def last(self, pattern: str | None = None, /, **subset: Any) -> SignalRecord | None:
        """The last record matching ``pattern`` and ``subset`` (any record without them), or None."""
        found = self.of(pattern, **subset) if pattern is not None else self.records
        return found[-1] if found else None

    def clear(self) -> None:
        """Forget the records so far; sequence numbers go on from where they were."""
        with self._lock:
            self._offset += len(self._store)
            self._store = _Store()
            self._made = []

    def __len__(self) -> int:
        return len(self._store)

    def __iter__(self) -> Iterator[SignalRecord]:
        return iter(self.records)

    def __repr__(self) -> str:
        state = "recording" if self.recording else "stopped"
        return f"<SignalRecorder {state}, {len(self)} records, provider {self.provider.name!r}>"

    # -- names -------------------------------------------------------------------
    def check_pattern(self, pattern: str) -> None:
        """Raise :class:`UnknownSignalError` (with close names) unless ``pattern`` is a catalog
        name, a recorded name, or a glob matching at least one of those."""
        __tracebackhide__ = True
        if not isinstance(pattern, str) or not pattern:
            raise TypeError(f"a signal name or glob is a non-empty str like 'entity.post_merge' "
                            f"or 'entity.*_failed', got {pattern!r}")
        if pattern in self.catalog:
            return
        recorded = set(self.names())
        if is_pattern(pattern):
            if any(fnmatch.fnmatchcase(n, pattern) for n in (*self.catalog, *recorded)):
                return
            raise UnknownSignalPatternError(pattern, self._suggest(pattern, recorded, cutoff=0.5))
        if pattern in recorded:
            return
        raise UnknownSignalError(pattern, self._suggest(pattern, recorded),
                                 "the signal catalog, and no such signal was recorded")

    def _suggest(self, name: str, recorded: set[str], cutoff: float = 0.6) -> list[str]:
        known = list(dict.fromkeys([*sorted(recorded), *self.catalog]))
        return close_matches(name, known, cutoff=cutoff)

    def _guard(self, what: str) -> None:
        __tracebackhide__ = True
        # The plugin's recorder lives for the whole test: inside a Hypothesis
        # example it still holds every earlier example's records, so asserting
        # on it there is almost always a bug. capture() gives a fresh one.
        if self.hypothesis_guard and "hypothesis" in sys.modules:
            from hypothesis import currently_in_test_context

            if currently_in_test_context():
                raise RuntimeError(
                    f"signal_recorder.{what}() inside a Hypothesis example sees the records of every "
                    f"example so far. Record each example on its own: "
                    f"`with signal_recorder.capture() as rec: ...`, then `rec.{what}(...)`.")

    # -- threads -----------------------------------------------------------------
    def _timeout(self, timeout: float | None, label: str) -> float:
        return self.default_timeout if timeout is None else check_timeout(timeout, label)

    def _patterns(self, patterns: Iterable[str | SignalPattern], fn: str) -> list[SignalPattern]:
        if isinstance(patterns, (str, SignalPattern)) or not isinstance(patterns, Iterable):
            raise TypeError(f"{fn}() takes a list of patterns (names, globs or emitted(...)), got "
                            f"{patterns!r}; e.g. {fn}(['entity.pre_merge', 'entity.post_merge'])")
        found = [SignalPattern.of(p, f"{fn}()") for p in patterns]
        if not found:
            raise ValueError(f"{fn}([]): give at least one pattern to wait for")
        for p in found:
            self.check_pattern(p.name)
        return found

    def _watch(self, waiter: Waiter, timeout: float) -> list[SignalRecord]:
        """Feed ``waiter`` every record (those made before too) until it is done or ``timeout``
        seconds passed; returns the records then. Sleeps on the condition the tap notifies;
        checks (user code) run outside the lock, so they may read the recorder."""
        deadline = time.monotonic() + timeout
        next_seq = self._offset
        while True:
            with self._cond:
                made = self._materialise()
                start = max(next_seq - self._offset, 0)
                if start >= len(made):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return list(made)
                    self._waiters += 1
                    try:
                        self._cond.wait(remaining)
                    finally:
                        self._waiters -= 1
                    continue
                new = made[start:]
                next_seq = new[-1].seq + 1
            if waiter.feed(new):
                return self.records

    def _wait(self, waiter: Waiter, timeout: float) -> Any:
        __tracebackhide__ = True
        records = self._watch(waiter, timeout)
        if not waiter.done:
            raise AssertionError(render_failure(waiter.failure(records, timeout), records, self.catalog))
        return waiter

    def wait_for(self, pattern: str, /, *, timeout: float | None = None,
                 check: Callable[[SignalRecord], Any] | None = None, **payload: Any) -> SignalRecord:
        """Block until a record matches ``pattern`` (a name or glob), ``payload``'s items and
        ``check``; return it.

        For code that emits from other threads. Records made before the call
        count. Payload values may be matchers (``rows_inserted=at_least(1)``);
        ``check`` is a function of the record. Fails after ``timeout`` seconds
        (default :attr:`default_timeout`) with what arrived, by thread::

            worker.start()
            rec = signal_recorder.wait_for("datapipes.post_run", timeout=10)
        """
        __tracebackhide__ = True
        self._guard("wait_for")
        self.check_pattern(pattern)
        label = call_label("wait_for", [pattern], {**payload, **({"check": _Named(check)} if check else {})})
        timeout = self._timeout(timeout, label)
        waiter = AllOf([SignalPattern(pattern, payload, check)], label)
        result: list[SignalRecord] = self._wait(waiter, timeout).result
        return result[0]

    def wait_for_all(self, patterns: Iterable[str | SignalPattern], /, *,
                     timeout: float | None = None) -> list[SignalRecord]:
        """Block until each pattern has a record of its own, in any order; return them, in the
        order of ``patterns``.

        A pattern is a name, a glob or :func:`~pytest_kindling_signals.record.matchers.emitted`
        (with payload items and a check). A record counts for one pattern only,
        so ``["x", "x"]`` waits for two ``x``::

            signal_recorder.wait_for_all(["streaming.query_started",
                                          emitted("entity.post_write", rows_written=at_least(1))])
        """
        __tracebackhide__ = True
        self._guard("wait_for_all")
        found = self._patterns(patterns, "wait_for_all")
        label = pattern_label("wait_for_all", found)
        timeout = self._timeout(timeout, label)
        result: list[SignalRecord] = self._wait(AllOf(found, label), timeout).result
        return result

    def wait_for_sequence(self, patterns: Sequence[str | SignalPattern], /, *,
                          per: str | Sequence[str] | None = None, keys: Iterable[Any] | None = None,
                          timeout: float | None = None) -> Any:
        """Block until the patterns were recorded in this order (others may come between).

        Returns the matched records. With ``per="pipe_id"`` (or a tuple of
        fields), the order holds per value of that payload field, so
        interleaved threads pass when each key is in order; it returns
        ``{key: records}``. Without ``keys``, it is over once a key was seen
        and every key seen is complete; ``keys=[...]`` names the keys to wait for::

            signal_recorder.wait_for_sequence(["datapipes.pre_pipe", "datapipes.post_pipe"],
                                              per="pipe_id", keys=["a", "b"])
        """
        __tracebackhide__ = True
        self._guard("wait_for_sequence")
        found = self._patterns(patterns, "wait_for_sequence")
        keys = list(keys) if keys is not None else None
        label = pattern_label("wait_for_sequence", found, per=per, keys=keys)
        fields = key_fields(per, label)
        timeout = self._timeout(timeout, label)
        return self._wait(Ordered(found, label, fields, keys), timeout).result

    def assert_not_emitted_within(self, pattern: str, seconds: float, /, *,
                                  check: Callable[[SignalRecord], Any] | None = None, **payload: Any) -> None:
        """Assert no record matches ``pattern`` (and ``payload``, ``check``) now or in the next
        ``seconds``; fails as soon as one arrives, with what arrived, by thread.

        It waits the whole window when nothing comes. Without waiting, over
        what is recorded: ``assert_not_emitted(pattern, after=record, within=seconds)``::

            query.start()
            signal_recorder.assert_not_emitted_within("streaming.query_failed", 2.0)
        """
        __tracebackhide__ = True
        self._guard("assert_not_emitted_within")
        self.check_pattern(pattern)
        label = call_label("assert_not_emitted_within", [pattern, seconds],
                           {**payload, **({"check": _Named(check)} if check else {})})
        seconds = check_timeout(seconds, label)
        waiter = Nothing(SignalPattern(pattern, payload, check), label)
        records = self._watch(waiter, seconds)
        if waiter.done:
            raise AssertionError(render_failure(waiter.failure(records, seconds), records, self.catalog))

    # -- Hypothesis and blocks -------------------------------------------------
    @contextmanager
    def capture(self) -> Iterator[SignalRecorder]:
        """A fresh recorder on the same provider, for one block (e.g. one Hypothesis example).

        The outer recorder keeps recording too::

            @given(st.integers(min_value=0))
            def test_merge(signal_recorder, n):
                with signal_recorder.capture() as rec:
                    merge(n)
                rec.assert_emitted("entity.post_merge", rows_inserted=n)
        """
        inner = SignalRecorder(self.provider, self.catalog, timeout=self.default_timeout)
        inner._phase_names[0] = self.phase
        with inner:
            yield inner


class _Store:
    """Recorded emissions, kept by column: less than half the memory of the emissions.

    A record's payload is not kept as the dict the receivers got: its signal
    name, sender, thread and keys make a *shape*, numbered once, and its
    values are appended to one flat list per shape. Per record that leaves
    an 8-byte slot per value, a shape number and the time in arrays, and the
    values themselves (shared with the emitter). A payload's dict is rebuilt
    only when a test reads the records.
    """

    __slots__ = ("shape_of", "shapes", "values", "shape_ids", "times")

    def __init__(self) -> None:
        self.shape_of: dict[tuple[Any, ...], int] = {}
        #: (name, sender, thread name, thread id, payload keys) per shape
        self.shapes: list[tuple[str, Any, str, int, tuple[str, ...]]] = []
        self.values: list[list[Any]] = []  # per shape: every record's values, one after another
        self.shape_ids = array("I")
        self.times = array("d")

    def __len__(self) -> int:
        return len(self.times)

    def add(self, e: Emission, payload: Mapping[str, Any]) -> None:
        # id(): a sender needn't be hashable; its shape keeps it alive, so the id stays its own
        key = (e.name, id(e.sender), e.thread_name, e.thread_id, *payload)
        shape = self.shape_of.get(key)
        if shape is None:
            shape = self.shape_of[key] = len(self.shapes)
            self.shapes.append((e.name, e.sender, e.thread_name, e.thread_id, tuple(payload)))
            self.values.append([])
        self.values[shape].extend(payload.values())
        self.shape_ids.append(shape)
        self.times.append(e.time)

    def names(self) -> list[str]:
        shapes = self.shapes
        return [shapes[i][0] for i in self.shape_ids]

    def rows(self, start: int) -> Iterator[tuple[str, Any, dict[str, Any], str, int, float]]:
        """(name, sender, payload, thread name, thread id, time) of each record from ``start`` on."""
        positions = [0] * len(self.shapes)  # where a shape's next record starts in its values
        shape_ids = self.shape_ids
        for i in range(start):
            positions[shape_ids[i]] += len(self.shapes[shape_ids[i]][4])
        for i in range(start, len(self.times)):
            shape = shape_ids[i]
            name, sender, thread_name, thread_id, keys = self.shapes[shape]
            at = positions[shape]
            positions[shape] = at + len(keys)
            payload = dict(zip(keys, self.values[shape][at:at + len(keys)]))
            yield name, sender, payload, thread_name, thread_id, self.times[i]


class _Named:
    """A check function as a call label shows it: by its name."""

    __kindling_safe_repr__ = True

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.text = callable_name(fn)

    def __repr__(self) -> str:
        return self.text


def _check_phase(phase: str) -> None:
    if phase not in PHASES:
        raise ValueError(f"phase={phase!r} is not a test phase; use one of {', '.join(map(repr, PHASES))}")

"""The collectors, as pytest-cov has one per process role.

- :class:`CentralCollector`: a plain run; a global tap records every
  emission of every Kindling provider, attributed to the running test.
- :class:`WorkerCollector`: the same inside a pytest-xdist worker, plus
  :meth:`~WorkerCollector.workeroutput`, the JSON-able data it ships.
- :class:`ControllerCollector`: the xdist controller; runs no tests, merges
  what its workers sent and names the workers that sent nothing.

Each ends in a :class:`~.results.SessionData`::

    >>> collector = CentralCollector(load_catalog()).start()        # doctest: +SKIP
    >>> collector.begin_test("tests/test_a.py::test_merge", 0)      # doctest: +SKIP
    >>> ...  # run code that emits signals                           # doctest: +SKIP
    >>> collector.end_test()                                        # doctest: +SKIP
    >>> report = CoverageReport(load_catalog(), collector.finish()) # doctest: +SKIP
    >>> report.totals.emitted, report.totals.signals                # doctest: +SKIP
    (3, 88)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from pytest_kindling_signals.catalog import SignalCatalog
from pytest_kindling_signals.catalog import check_lifecycles
from pytest_kindling_signals.frameworks import Emission
from pytest_kindling_signals.report.results import Finding, LostWorker, MAX_LIFECYCLE_RECORDS_PER_TEST, SESSION, SessionData, natural_key, fixture_label
from pytest_kindling_signals.report.timeline import DEFAULT_TIMELINE_LIMIT, build_timeline, phase_outcome, worse_outcome
from pytest_kindling_signals.report.validation import BATCH, BatchCheck, Lifecycle, ValidationRecord, lifecycles_clean

__all__ = ["CentralCollector", "ControllerCollector", "WorkerCollector"]

# -- collectors ------------------------------------------------------------------

class CentralCollector:
    """Records every emission of the process while started; one per plain test session.

    Keeps counts, the tests per signal and the findings: emissions wait in a
    short batch (:data:`~.validation.BATCH`, and whenever the test they belong
    to changes) and are checked a column at a time
    (:class:`~.validation.BatchCheck`); a test's lifecycle signals (name and
    operation id only) are kept until the test ends. For its timeline a test
    keeps its first ``timeline_limit`` emissions as they come (a reference
    each, and a count of the rest); the timeline is built when the test ends.
    """

    def __init__(self, catalog: SignalCatalog,
                 add_global_tap: Callable[[Callable[[Emission], None]], Callable[[], None]] | None = None,
                 *, timeline_limit: int = DEFAULT_TIMELINE_LIMIT) -> None:
        self.catalog = catalog
        self.timeline_limit = timeline_limit
        # the running test's first emissions (with their findings' keys), None outside tests
        self._kept: list[tuple[Emission, tuple[Any, ...] | None]] | None = None
        self._left_out = 0
        self._start = 0.0
        self.data = SessionData()
        self._add_global_tap = add_global_tap
        self._lock = threading.Lock()
        self._remove: Callable[[], None] | None = None
        self._paused = False
        self._test: str | None = SESSION
        self._index = -1
        # lifecycle signal -> the payload fields that pair its operation (operation_id mostly)
        self._pair_fields = {n: op.pair_by for op in catalog.operations.values()
                             for n in (op.pre, *op.closers)}
        self._session_life = Lifecycle(self._pair_fields)
        self._life = self._session_life
        # emissions not checked yet: checked a batch at a time, a column at a time
        self._pending: list[Emission] = []
        self._batch = BatchCheck(catalog, self._pair_fields, MAX_LIFECYCLE_RECORDS_PER_TEST)

    # -- lifecycle of the collector
    def start(self) -> CentralCollector:
        if self._remove is None and self._add_global_tap is not None:
            self._remove = self._add_global_tap(self._on_emission)
        return self

    def stop(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None

    def begin_test(self, nodeid: str, index: int, *, ignored: bool = False) -> None:
        """Attribute emissions to ``nodeid`` (collection ``index``) until :meth:`end_test`."""
        with self._lock:
            self._check_pending()
            if ignored:
                self.data.ignored.add(nodeid)
                self._test = None
            else:
                self.data.tests[nodeid] = index
                self._test, self._index, self._life = nodeid, index, Lifecycle(self._pair_fields)
                self._kept = [] if self.timeline_limit > 0 else None
                self._left_out, self._start = 0, time.time()
        if ignored and self._remove is not None:
            # no tap at all: the test runs as if nothing observed it (lazy payloads stay unbuilt)
            self.stop()
            self._paused = True

    def enter_fixture(self, name: str) -> Any:
        """Attribute emissions to the session- or module-scoped fixture ``name`` (``<fixture
        name>``) while it sets up or tears down; returns the token for :meth:`exit_fixture`.

        Such a fixture (the shared Spark session, say) belongs to every test
        that uses it, not to the test that happened to set it up or to run
        last, so serial and xdist runs credit it alike; it is observed even
        when that test is one the report ignores.
        """
        with self._lock:
            self._check_pending()
            saved = (self._test, self._index, self._life, self._kept)
            self._test, self._index, self._life, self._kept = fixture_label(name), -1, self._session_life, None
        resumed = self._paused
        if resumed:
            self.start()
        return saved, resumed

    def exit_fixture(self, token: Any) -> None:
        saved, resumed = token
        if resumed:
            self.stop()
        with self._lock:
            self._check_pending()
            self._test, self._index, self._life, self._kept = saved

    @contextmanager
    def shared_fixture(self, name: str) -> Iterator[None]:
        """:meth:`enter_fixture` ... :meth:`exit_fixture` as a block."""
        token = self.enter_fixture(name)
        try:
            yield
        finally:
            self.exit_fixture(token)

    def end_test(self) -> None:
        """Check the test's lifecycles, build its timeline; later emissions go to the session."""
        end = time.time()
        with self._lock:
            self._check_pending()
            test, index, life, kept = self._test, self._index, self._life, self._kept
            self._test, self._index, self._life, self._kept = SESSION, -1, self._session_life, None
        if self._paused:
            self._paused = False
            self.start()
        if test is not None and test != SESSION:
            pins = self._check_lifecycles(life, test, index)
            if kept:
                self._add_timeline(test, kept, end, life, pins)

    def note_report(self, nodeid: str, when: str, outcome: str, *, xfail: bool = False) -> None:
        """A test phase's report (``setup``/``call``/``teardown``; ``passed``/``failed``/``skipped``):
        the test's outcome is the worst of its phases'."""
        result = phase_outcome(when, outcome, xfail=xfail)
        if result is None:
            return
        with self._lock:
            if nodeid in self.data.tests:
                self.data.outcomes[nodeid] = worse_outcome(self.data.outcomes.get(nodeid), result)

    def _add_timeline(self, test: str, kept: list[tuple[Emission, tuple[Any, ...] | None]], end: float,
                      life: Sequence[tuple[str, tuple[Any, ...]]], pins: list[tuple[int, str]]) -> None:
        with self._lock:
            findings = self.data.findings
            text = {k: _pin_text(findings[k]) for _, keys in kept if keys for k in keys if k in findings}
            left_out, start = self._left_out, self._start
        timeline = build_timeline(kept, left_out=left_out, start=start, end=end, lifecycle=life,
                                  lifecycle_pins=pins, finding_text=text, catalog=self.catalog,
                                  paired=self._pair_fields)
        with self._lock:
            self.data.timelines[test] = timeline

    def note_collected(self, nodeids: Iterable[str]) -> None:
        """The tests collected, before any deselection, in collection order."""
        self.data.collected = list(nodeids)

    def note_deselected(self, nodeids: Iterable[str]) -> None:
        self.data.deselected.update(nodeids)

    def finish(self) -> SessionData:
        """Stop recording, check the session-level lifecycles, return the data."""
        self.stop()
        with self._lock:
            self._check_pending()
        self._check_lifecycles(self._session_life, SESSION, -1)
        self._session_life = self._life = Lifecycle(self._pair_fields)
        return self.data

    # -- the tap (hot path)
    def _on_emission(self, e: Emission) -> None:
        with self._lock:
            if self._test is None:  # an ignored test
                return
            pending = self._pending
            pending.append(e)
            if len(pending) >= BATCH:
                self._check_pending()

    def _check_pending(self) -> None:
        """Check the emissions not checked yet (under the lock; before the test they belong to changes)."""
        batch, self._pending = self._pending, []
        if not batch or self._test is None:
            return
        kept = self._kept
        want = max(0, min(len(batch), self.timeline_limit - len(kept))) if kept is not None else 0
        keys = self._batch.check(batch, self._test, self._index, self.data, self._life, keys_for=want)
        if kept is not None:
            kept.extend(zip(batch, keys))
            self._left_out += len(batch) - want

    def _check_lifecycles(self, life: Sequence[tuple[str, tuple[Any, ...]]], test: str,
                          index: int) -> list[tuple[int, str]]:
        """Add the findings of one test's lifecycle check; returns (record index, message) of each."""
        pair = self._pair_fields
        if lifecycles_clean(life, self.catalog):  # the common case, found with sets
            return []
        records = [ValidationRecord(n, dict(zip(pair[n], key))) for n, key in life if n]
        if not records:
            return []
        pins = []
        for f in check_lifecycles(records, self.catalog):
            if f.index is not None:
                pins.append((f.index, f.message))
            message = f.message
            oid = records[f.index].payload.get("operation_id") if f.index is not None else None
            if isinstance(oid, str) and oid:
                message = message.replace(oid, "<id>")  # one entry per kind of breach, not per id
            with self._lock:
                self.data.add_finding(Finding("lifecycle", f.signal, message, 1, test, index, rule=f.rule))
        return pins


def _pin_text(f: Finding) -> str:
    """What a payload finding says at an emission on a timeline (its first occurrence's value aside)."""
    if f.field is not None and f.expected is not None and f.field != "(payload)":
        return f"field {f.field!r}: expected {f.expected}"
    return f.message.removeprefix(f"{f.signal}: ")


class WorkerCollector(CentralCollector):
    """The collector of one pytest-xdist worker: ships its data through ``workeroutput``."""

    def workeroutput(self) -> dict[str, Any]:
        """The JSON-able data for the controller (call after :meth:`finish`)."""
        return self.data.to_data()


class ControllerCollector:
    """The pytest-xdist controller: runs no tests, merges what each worker sent.

    It also hears every test report (:meth:`test_reported`), so a worker
    whose data never arrives is named with the tests it ran.
    """

    def __init__(self, catalog: SignalCatalog) -> None:
        self.catalog = catalog
        self.data = SessionData()
        self.workers: list[str] = []
        self.sent: list[str] = []
        self.problems: dict[str, str] = {}
        self._ran_by: dict[str, dict[str, None]] = {}

    def start(self) -> ControllerCollector:
        return self

    def worker_started(self, worker_id: str) -> None:
        if worker_id not in self.workers:
            self.workers.append(worker_id)

    def test_reported(self, worker_id: str, nodeid: str) -> None:
        """A worker reported a phase of ``nodeid`` (xdist's ``pytest_runtest_logreport``)."""
        self._ran_by.setdefault(worker_id, {})[nodeid] = None

    def worker_finished(self, worker_id: str, output: Mapping[str, Any] | None,
                        error: object | None = None) -> None:
        """Merge one worker's ``workeroutput``; a worker without data is remembered by id."""
        self.worker_started(worker_id)
        if output is None:
            self.problems[worker_id] = f"crashed: {error}" if error else "sent no data"
            return
        try:
            self.data.merge(SessionData.from_data(output))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            self.problems[worker_id] = f"sent unreadable data: {exc}"
            return
        self.sent.append(worker_id)

    @property
    def workers_without_data(self) -> list[str]:
        return [w for w in self.workers if w not in self.sent]

    def finish(self) -> SessionData:
        """The merged data, with the workers and, for each lost one, the tests it ran."""
        data = self.data
        data.workers = sorted(set(data.workers) | set(self.workers), key=natural_key)
        position = {t: i for i, t in enumerate(data.collected)}
        for w in self.workers_without_data:
            ran = sorted(self._ran_by.get(w, {}), key=lambda t: position.get(t, len(position)))
            data.lost[w] = LostWorker(self.problems.get(w, "sent no data"), ran)
        return data



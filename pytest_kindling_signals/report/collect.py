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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from pytest_kindling_signals.catalog import SignalCatalog
from pytest_kindling_signals.catalog import check_lifecycles, check_payloads
from pytest_kindling_signals.frameworks import Emission
from pytest_kindling_signals.report.results import Finding, LostWorker, MAX_LIFECYCLE_RECORDS_PER_TEST, SESSION, SessionData, natural_key, fixture_label
from pytest_kindling_signals.report.validation import ValidationRecord, Verdicts, payload_finding

__all__ = ["CentralCollector", "ControllerCollector", "WorkerCollector"]

# -- collectors ------------------------------------------------------------------

class CentralCollector:
    """Records every emission of the process while started; one per plain test session.

    Keeps counts, the tests per signal and the findings, never the payloads:
    each payload is validated as it is emitted, and a test's lifecycle
    signals (name and operation id only) are kept until the test ends.
    """

    def __init__(self, catalog: SignalCatalog,
                 add_global_tap: Callable[[Callable[[Emission], None]], Callable[[], None]] | None = None
                 ) -> None:
        self.catalog = catalog
        self.data = SessionData()
        self._add_global_tap = add_global_tap
        self._lock = threading.Lock()
        self._remove: Callable[[], None] | None = None
        self._paused = False
        self._test: str | None = SESSION
        self._index = -1
        self._session_life: list[tuple[str, tuple[Any, ...]]] = []
        self._life = self._session_life
        # lifecycle signal -> the payload fields that pair its operation (operation_id mostly)
        self._pair_fields = {n: op.pair_by for op in catalog.operations.values()
                             for n in (op.pre, *op.closers)}
        self._verdicts = Verdicts(catalog)
        self._names = frozenset(catalog)

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
            if ignored:
                self.data.ignored.add(nodeid)
                self._test = None
            else:
                self.data.tests[nodeid] = index
                self._test, self._index, self._life = nodeid, index, []
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
            saved = (self._test, self._index, self._life)
            self._test, self._index, self._life = fixture_label(name), -1, self._session_life
        resumed = self._paused
        if resumed:
            self.start()
        return saved, resumed

    def exit_fixture(self, token: Any) -> None:
        saved, resumed = token
        if resumed:
            self.stop()
        with self._lock:
            self._test, self._index, self._life = saved

    @contextmanager
    def shared_fixture(self, name: str) -> Iterator[None]:
        """:meth:`enter_fixture` ... :meth:`exit_fixture` as a block."""
        token = self.enter_fixture(name)
        try:
            yield
        finally:
            self.exit_fixture(token)

    def end_test(self) -> None:
        """Check the test's lifecycles; later emissions go to the session."""
        with self._lock:
            test, index, life = self._test, self._index, self._life
            self._test, self._index, self._life = SESSION, -1, self._session_life
        if self._paused:
            self._paused = False
            self.start()
        if test is not None and test != SESSION:
            self._check_lifecycles(life, test, index)

    def note_collected(self, nodeids: Iterable[str]) -> None:
        """The tests collected, before any deselection, in collection order."""
        self.data.collected = list(nodeids)

    def note_deselected(self, nodeids: Iterable[str]) -> None:
        self.data.deselected.update(nodeids)

    def finish(self) -> SessionData:
        """Stop recording, check the session-level lifecycles, return the data."""
        self.stop()
        self._check_lifecycles(self._session_life, SESSION, -1)
        self._session_life = self._life = []
        return self.data

    # -- the tap (hot path)
    def _on_emission(self, e: Emission) -> None:
        name = e.name
        with self._lock:
            test = self._test
            if test is None:  # an ignored test
                return
            data = self.data
            data.counts[name] = data.counts.get(name, 0) + 1
            tests = data.emitters.get(name)
            if tests is None:
                tests = data.emitters[name] = set()
            tests.add(test)
            if name not in self._names:
                return  # undocumented: the report lists it from the counts
            self._check_payload(name, e.payload, test)
            fields = self._pair_fields.get(name)
            if fields is not None:
                life = self._life
                if len(life) < MAX_LIFECYCLE_RECORDS_PER_TEST:
                    payload = e.payload
                    life.append((name, tuple([payload.get(f) for f in fields])))
                elif len(life) == MAX_LIFECYCLE_RECORDS_PER_TEST:
                    life.append(("", ()))  # marks the overflow once
                    data.notes.append(f"{test}: lifecycle check covers only its first "
                                      f"{MAX_LIFECYCLE_RECORDS_PER_TEST} lifecycle signals")

    def _check_payload(self, name: str, payload: Mapping[str, Any], test: str) -> None:
        key = self._verdicts.key(name, payload)
        known = self._verdicts.get(key)
        if known is not None:
            findings = self.data.findings
            for fkey in known:  # a shape seen before: its findings occur once more
                findings[fkey].count += 1
            return
        try:
            found = check_payloads([ValidationRecord(name, payload)], self.catalog)
        except Exception as exc:  # a payload the validator chokes on is itself a finding
            self.data.add_finding(Finding(
                "payload", name, f"{name}: cannot be validated: {type(exc).__name__}: {exc}",
                1, test, self._index, "(payload)", "a payload the catalog can validate",
                f"{type(exc).__name__}: {exc}"))
            return
        keys = []
        for f in found:
            if f.violation is not None:
                finding = payload_finding(f.violation, test, self._index)
                self.data.add_finding(finding)
                keys.append(finding.key)
        self._verdicts.add(key, tuple(keys))

    def _check_lifecycles(self, life: Sequence[tuple[str, tuple[Any, ...]]], test: str, index: int) -> None:
        pair = self._pair_fields
        records = [ValidationRecord(n, dict(zip(pair[n], key))) for n, key in life if n]
        if not records:
            return
        for f in check_lifecycles(records, self.catalog):
            message = f.message
            oid = records[f.index].payload.get("operation_id") if f.index is not None else None
            if isinstance(oid, str) and oid:
                message = message.replace(oid, "<id>")  # one entry per kind of breach, not per id
            with self._lock:
                self.data.add_finding(Finding("lifecycle", f.signal, message, 1, test, index))


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



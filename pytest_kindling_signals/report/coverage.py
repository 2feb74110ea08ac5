"""The coverage engine behind ``pytest --kindling-signals``: collect, merge, gate.

No pytest in here (the hooks in :mod:`.report_plugin` stay thin). Three
collectors, as pytest-cov has three controllers:

- :class:`CentralCollector`: a plain run; a global tap records every
  emission of every Kindling provider, attributed to the running test.
- :class:`WorkerCollector`: the same inside a pytest-xdist worker, plus
  :meth:`~WorkerCollector.workeroutput`, the JSON-able data it ships.
- :class:`ControllerCollector`: the xdist controller; runs no tests, merges
  what its workers sent and names the workers that sent nothing.

Each ends in a :class:`SessionData`; :class:`CoverageReport` sets it against
the catalog, and :func:`evaluate_gates` decides the exit status::

    >>> collector = CentralCollector(load_catalog()).start()        # doctest: +SKIP
    >>> collector.begin_test("tests/test_a.py::test_merge", 0)      # doctest: +SKIP
    >>> ...  # run code that emits signals                           # doctest: +SKIP
    >>> collector.end_test()                                        # doctest: +SKIP
    >>> report = CoverageReport(load_catalog(), collector.finish()) # doctest: +SKIP
    >>> report.totals.emitted, report.totals.signals                # doctest: +SKIP
    (3, 88)
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pytest_kindling_signals.names import close_matches, did_you_mean
from pytest_kindling_signals.catalog import SignalCatalog, Violation
from pytest_kindling_signals.catalog import check_lifecycles, check_payloads
from pytest_kindling_signals.frameworks import Emission

__all__ = [
    "GATE_SCOPES",
    "REPORT_SCHEMA_ID",
    "SCOPES",
    "SESSION",
    "fixture_label",
    "CentralCollector",
    "ControllerCollector",
    "CoverageReport",
    "FailUnder",
    "Finding",
    "GateResult",
    "LostWorker",
    "SessionData",
    "WorkerCollector",
    "evaluate_gates",
    "gate_failure_line",
    "parse_fail_under",
    "why_partial",
]

#: The "test" that emissions outside any test (imports, collection) are attributed to.
SESSION = "<session>"


def fixture_label(name: str) -> str:
    """How a session- or module-scoped fixture shows where a test's node id would."""
    return f"<fixture {name}>"
REPORT_FORMAT = "kindling-signals-report"
REPORT_FORMAT_VERSION = 1
#: What each JSON report names as its ``$schema``: the ``$id`` of the schema shipped in
#: ``pytest_kindling_signals/report/schemas/report-1.schema.json``.
REPORT_SCHEMA_ID = "urn:kindling-signals:schema:report:1"
DATA_VERSION = 2
#: Lifecycle signals of one test kept for its lifecycle check (two short strings each).
MAX_LIFECYCLE_RECORDS_PER_TEST = 200_000
#: Payload shapes remembered as valid; past this, payloads are simply validated.
MAX_VALID_SHAPES = 20_000


# -- the data a session produces (JSON-able, mergeable) ---------------------------

@dataclass
class Finding:
    """A payload or lifecycle violation, counted, with the first test that produced it.

    "First" is in collection order, so a serial run and an xdist run agree.
    """

    kind: str  # "payload" or "lifecycle"
    signal: str
    message: str
    count: int = 1
    first_test: str = SESSION
    first_index: int = -1
    field: str | None = None
    expected: str | None = None
    actual: str | None = None

    @property
    def key(self) -> tuple[str, ...]:
        if self.kind == "payload":
            return (self.kind, self.signal, self.field or "", self.expected or "")
        return (self.kind, self.signal, self.message)

    def absorb(self, other: Finding, *, ties: bool = False) -> None:
        """Add ``other``'s occurrences; keep whichever came first in collection order.

        Within one process the first emitted wins a tie; merging data
        (``ties=True``) breaks ties by test and text, so any merge order agrees.
        """
        self.count += other.count
        earlier = other.first_index < self.first_index or (
            ties and other.first_index == self.first_index
            and (other.first_test, other.message, other.actual or "")
            < (self.first_test, self.message, self.actual or ""))
        if earlier:
            self.first_test, self.first_index = other.first_test, other.first_index
            self.message, self.actual = other.message, other.actual

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"signal": self.signal}
        if self.kind == "payload":
            out.update(field=self.field, expected=self.expected, actual=self.actual)
        out.update(message=self.message, count=self.count, first_test=self.first_test)
        return out

    def to_data(self) -> dict[str, Any]:
        return {**self.to_dict(), "kind": self.kind, "first_index": self.first_index}

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> Finding:
        return cls(d["kind"], d["signal"], d["message"], d["count"], d["first_test"],
                   d["first_index"], d.get("field"), d.get("expected"), d.get("actual"))


@dataclass
class LostWorker:
    """An xdist worker whose data never reached the controller, and the tests it ran."""

    reason: str
    tests: list[str] = field(default_factory=list)


def _natural(name: str) -> tuple[Any, ...]:
    """gw2 before gw10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _positions(data: SessionData) -> dict[str, int]:
    if data.collected:
        return {t: i for i, t in enumerate(data.collected)}
    return dict(data.tests)


def _order(parts: Sequence[tuple[SessionData, bool]]) -> dict[str, int]:
    """One collection order for merged data: each test's new index.

    ``parts`` are (data, preferred): the tests of preferred parts (runs of the
    whole suite) come first, by their lowest index among them; the others
    after, by theirs. Ties go by node id, so the result doesn't depend on the
    order of ``parts``; identical collections keep their indices.
    """
    best: dict[str, tuple[int, int]] = {}
    for data, preferred in parts:
        group = 0 if preferred else 1
        for test, index in _positions(data).items():
            key = (group, index)
            if test not in best or key < best[test]:
                best[test] = key
    ranked = sorted(best, key=lambda t: (best[t], t))
    return {t: i for i, t in enumerate(ranked)}


def _renumber(data: SessionData, order: Mapping[str, int]) -> None:
    data.tests = {t: order.get(t, i) for t, i in data.tests.items()}
    for f in data.findings.values():
        if f.first_index >= 0:
            f.first_index = order.get(f.first_test, f.first_index)


@dataclass
class SessionData:
    """What one process (or, merged, a whole xdist run; or, combined, several runs) saw.

    JSON-able via :meth:`to_data`. Test indices are positions in the run's
    collection *before* deselection (``collected``), so runs that select
    different parts of one suite (``-m "not spark"``, ``-m spark``) number
    their tests alike and combine into what one full run gives.
    """

    tests: dict[str, int] = field(default_factory=dict)  # nodeid -> collection index, tests run
    ignored: set[str] = field(default_factory=set)  # tests run but left out (kindling_signals_ignore)
    counts: dict[str, int] = field(default_factory=dict)  # signal -> emissions
    emitters: dict[str, set[str]] = field(default_factory=dict)  # signal -> test nodeids
    findings: dict[tuple[str, ...], Finding] = field(default_factory=dict)
    #: Every test collected, before deselection, in collection order.
    collected: list[str] = field(default_factory=list)
    deselected: set[str] = field(default_factory=set)
    #: Why the run did not collect the whole suite (file arguments, node ids, --ignore, --lf).
    narrowed: list[str] = field(default_factory=list)
    #: How tests were deselected (``-k 'x'``, ``-m 'y'``, ``--deselect``): context for the reasons.
    selection: list[str] = field(default_factory=list)
    stopped: bool = False  # -x / --maxfail stopped the run
    lost: dict[str, LostWorker] = field(default_factory=dict)  # xdist workers whose data is missing
    workers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ignored_tests(self) -> int:
        return len(self.ignored)

    @property
    def full_scope(self) -> bool:
        """Whether the run collected the whole suite (then deselection alone made it partial)."""
        return not self.narrowed

    def add_finding(self, finding: Finding) -> None:
        known = self.findings.get(finding.key)
        if known is None:
            self.findings[finding.key] = finding
        else:
            known.absorb(finding)

    def merge(self, other: SessionData, *, runs: bool = False) -> SessionData:
        """Fold ``other`` into this one; returns ``self``.

        Within one run (``runs=False``: an xdist worker's data) everything
        adds up. Across runs (``runs=True``: ``kindling-signals combine``) the
        same, except that a run of the whole suite makes the result whole:
        another run's narrowing (a file argument) no longer makes it partial.
        The result is the same in any order.
        """
        order = _order([(self, not runs or self.full_scope), (other, not runs or other.full_scope)])
        other = SessionData.from_data(other.to_data())  # a copy: renumbering must not touch it
        _renumber(self, order)
        _renumber(other, order)
        if self.collected or other.collected:
            self.collected = sorted(set(self.collected) | set(other.collected), key=order.__getitem__)
        self.tests.update(other.tests)
        self.ignored |= other.ignored
        for name, n in other.counts.items():
            self.counts[name] = self.counts.get(name, 0) + n
        for name, tests in other.emitters.items():
            self.emitters.setdefault(name, set()).update(tests)
        for f in other.findings.values():
            known = self.findings.get(f.key)
            if known is None:
                self.findings[f.key] = f
            else:
                known.absorb(f, ties=True)
        self.deselected |= other.deselected
        if runs and (self.full_scope or other.full_scope):
            self.narrowed = []
        else:
            self.narrowed = sorted(set(self.narrowed) | set(other.narrowed))
        self.selection = sorted(set(self.selection) | set(other.selection))
        self.stopped = self.stopped or other.stopped
        for w, lost in other.lost.items():
            mine = self.lost.get(w)
            if mine is None:
                self.lost[w] = LostWorker(lost.reason, list(lost.tests))
            else:
                mine.reason = min(mine.reason, lost.reason)
                mine.tests = sorted(set(mine.tests) | set(lost.tests), key=lambda t: (order.get(t, -1), t))
        self.workers = sorted(set(self.workers) | set(other.workers), key=_natural)
        self.notes = sorted(set(self.notes) | set(other.notes))
        return self

    def to_data(self) -> dict[str, Any]:
        """Plain JSON, in a canonical order: equal data gives equal text, however it was merged."""
        return {
            "version": DATA_VERSION,
            "collected": list(self.collected),
            "tests": dict(sorted(self.tests.items(), key=lambda kv: (kv[1], kv[0]))),
            "ignored": sorted(self.ignored),
            "deselected": sorted(self.deselected),
            "signals": {n: {"count": self.counts[n], "tests": sorted(self.emitters.get(n, ()))}
                        for n in sorted(self.counts)},
            "findings": [self.findings[k].to_data() for k in sorted(self.findings)],
            "narrowed": list(self.narrowed),
            "selection": list(self.selection),
            "stopped": self.stopped,
            "lost": {w: {"reason": self.lost[w].reason, "tests": list(self.lost[w].tests)}
                     for w in sorted(self.lost, key=_natural)},
            "workers": list(self.workers),
            "notes": list(self.notes),
        }

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> SessionData:
        """The inverse of :meth:`to_data`; :class:`ValueError` for another version or a bad shape."""
        if not isinstance(d, Mapping) or d.get("version") != DATA_VERSION:
            version = d.get("version") if isinstance(d, Mapping) else None
            raise ValueError(f"kindling-signals data version {version!r} is not "
                             f"{DATA_VERSION}; run the controller and workers on one plugin version")
        try:
            data = cls(tests={str(t): int(i) for t, i in d["tests"].items()},
                       ignored=set(d["ignored"]),
                       counts={n: int(s["count"]) for n, s in d["signals"].items()},
                       emitters={n: set(s["tests"]) for n, s in d["signals"].items()},
                       collected=list(d["collected"]), deselected=set(d["deselected"]),
                       narrowed=list(d["narrowed"]), selection=list(d["selection"]),
                       stopped=bool(d["stopped"]),
                       lost={w: LostWorker(str(lw["reason"]), list(lw["tests"])) for w, lw in d["lost"].items()},
                       workers=list(d["workers"]), notes=list(d["notes"]))
            for f in d["findings"]:
                data.add_finding(Finding.from_data(f))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"kindling-signals data is malformed: {type(exc).__name__}: {exc}") from None
        return data


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def why_partial(data: SessionData) -> list[str]:
    """Why ``data`` doesn't cover the whole suite; empty when it does.

    A run is partial when it did not collect the whole suite (file or folder
    arguments, node ids, ``--ignore``, ``--lf``), or when a test it collected
    has no data: deselected (``-k``, ``-m``, ``--deselect``), not run (``-x``),
    or run by an xdist worker whose data was lost. Combined runs that ran
    every test between them are whole.
    """
    reasons = list(data.narrowed)
    done = set(data.tests) | data.ignored
    deselected = [t for t in data.deselected if t not in done]
    if deselected:
        reasons.append(f"{_plural(len(deselected), 'test')} deselected"
                       + (f" ({'; '.join(data.selection)})" if data.selection else ""))
    lost_tests: set[str] = set()
    for w in sorted(data.lost, key=_natural):
        lost = data.lost[w]
        missing = [t for t in lost.tests if t not in done]
        lost_tests.update(lost.tests)
        if missing:
            reasons.append(f"worker {w} {lost.reason}: {_plural(len(missing), 'test')} missing")
    not_run = [t for t in data.collected if t not in done and t not in data.deselected and t not in lost_tests]
    if not_run:
        reasons.append(("stopped early: " if data.stopped else "") + f"{_plural(len(not_run), 'test')} not run")
    return reasons


# -- payload validation, remembered by shape ------------------------------------------
# Validating a payload against its JSON Schema costs ~70 us, 30x the emission
# itself. A payload's verdict depends only on its signal, its keys, the exact
# types of its values (recursively, with floats split into non-finite / whole /
# fractional), and, for fields with value constraints, whether each value meets
# them. So verdicts are remembered by that shape, invalid ones too: a payload of
# a known shape costs one key and one look-up; a known-invalid one adds one to
# each of its findings (which keep the values, test and message of their first
# occurrence). Only the first payload of each shape is validated in full.

class _Uncacheable(Exception):
    pass


_SCALARS = frozenset({str, int, bool, type(None)})
_KNOWN_KEYWORDS = frozenset({"type", "items", "minimum", "maximum", "enum", "format",
                             "pattern", "description"})
_ABSENT: Any = object()


_WHOLE, _FRACTIONAL, _NON_FINITE = ("f", "whole"), ("f", "fractional"), ("f", "non-finite")


def _shape(value: Any, json_only: bool = True) -> Any:
    t = type(value)
    if t in _SCALARS:
        return t
    if t is float:  # a whole float passes as a JSON integer; inf and nan are not JSON
        return _WHOLE if value.is_integer() else _FRACTIONAL if math.isfinite(value) else _NON_FINITE
    if t is list or t is tuple:
        items = frozenset(map(type, value))
        if items <= _SCALARS:  # the common case, a list of names: no recursion
            return (t, items)
        return (t, frozenset(_shape(v, json_only) for v in value))
    if t is dict:
        return (t, frozenset((type(k), _shape(v, json_only)) for k, v in value.items()))
    if json_only:
        raise _Uncacheable  # subclasses and other objects: always validate in full
    return t  # a catalog that allows any value (a DataFrame): its type is its verdict


def _value_rules(props: Mapping[str, Mapping[str, Any]]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """One function for a signal's value rules: equal results mean equal verdicts.

    It returns, per field with a rule, whether the value meets it (``minimum``/
    ``maximum``, ``pattern``) or the value itself (``enum``: enums are small).
    Values reaching it have exact JSON types (see :func:`_shape`), so ``type()``
    tests suffice. It is generated as straight-line code, as ``dataclasses``
    generates ``__init__``: this runs for every emission the report sees.
    """
    env: dict[str, Any] = {"_ABSENT": _ABSENT}
    lines, results = ["def rules(payload):", "    g = payload.get"], []
    for i, (fname, prop) in enumerate(props.items()):
        tests = []
        if "enum" in prop:
            tests.append(f"v{i}")
        if "pattern" in prop:
            env[f"search{i}"] = re.compile(prop["pattern"]).search
            tests.append(f"(type(v{i}) is str and search{i}(v{i}) is not None)")
        if "minimum" in prop or "maximum" in prop:
            env[f"low{i}"], env[f"high{i}"] = prop.get("minimum", -math.inf), prop.get("maximum", math.inf)
            tests.append(f"((type(v{i}) is int or type(v{i}) is float) and low{i} <= v{i} <= high{i})")
        if tests:
            env[f"field{i}"] = fname
            lines.append(f"    v{i} = g(field{i}, _ABSENT)")
            results.extend(tests)
    lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    exec("\n".join(lines), env)  # noqa: S102 - code built above from the catalog's rules
    return env["rules"]  # type: ignore[no-any-return]


_UNSET: Any = object()


class _Verdicts:
    """Remembers each (signal, payload shape)'s verdict: the keys of the findings it gives."""

    def __init__(self, catalog: SignalCatalog) -> None:
        self._catalog = catalog
        # signal -> (its value rules, json only); None: validate in full always
        self._plans: dict[str, tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], bool] | None] = {}
        self._known: dict[Any, tuple[tuple[str, ...], ...]] = {}

    def _plan_for(self, name: str) -> tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], bool] | None:
        props = self._catalog.json_schema(name).get("properties", {})
        plan: tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], bool] | None = None
        if not any(set(prop) - _KNOWN_KEYWORDS or set(prop.get("items", {})) - {"type"}
                   for prop in props.values()):  # else a rule the shape doesn't capture: validate in full
            plan = (_value_rules(props), self._catalog[name].json_payload)
        self._plans[name] = plan
        return plan

    def key(self, name: str, payload: Mapping[str, Any]) -> Any:
        """The payload's shape key, or ``None`` when it must always be validated in full."""
        plan = self._plans.get(name, _UNSET)
        if plan is _UNSET:
            plan = self._plan_for(name)
        if plan is None:
            return None
        rules, json_only = plan
        values = payload.values()
        types = tuple(map(type, values))
        try:
            if not _SCALARS.issuperset(types):
                types = tuple([t if t in _SCALARS else _shape(v, json_only) for t, v in zip(types, values)])
            key = (name, tuple(payload), types, rules(payload))
            hash(key)
        except (_Uncacheable, TypeError):
            return None
        return key

    def get(self, key: Any) -> tuple[tuple[str, ...], ...] | None:
        """The finding keys a payload of this shape gives (``()``: valid), if known."""
        return self._known.get(key) if key is not None else None

    def add(self, key: Any, findings: tuple[tuple[str, ...], ...]) -> None:
        if key is not None and len(self._known) < MAX_VALID_SHAPES:
            self._known[key] = findings


@dataclass
class _Record:
    """The least a contract check needs of an emission."""

    __slots__ = ("name", "payload")
    name: str
    payload: Mapping[str, Any]


def _payload_finding(v: Violation, test: str, index: int) -> Finding:
    return Finding("payload", v.signal, str(v), 1, test, index, v.field, v.expected, v.actual)


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
        self._verdicts = _Verdicts(catalog)
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
            found = check_payloads([_Record(name, payload)], self.catalog)
        except Exception as exc:  # a payload the validator chokes on is itself a finding
            self.data.add_finding(Finding(
                "payload", name, f"{name}: cannot be validated: {type(exc).__name__}: {exc}",
                1, test, self._index, "(payload)", "a payload the catalog can validate",
                f"{type(exc).__name__}: {exc}"))
            return
        keys = []
        for f in found:
            if f.violation is not None:
                finding = _payload_finding(f.violation, test, self._index)
                self.data.add_finding(finding)
                keys.append(finding.key)
        self._verdicts.add(key, tuple(keys))

    def _check_lifecycles(self, life: Sequence[tuple[str, tuple[Any, ...]]], test: str, index: int) -> None:
        pair = self._pair_fields
        records = [_Record(n, dict(zip(pair[n], key))) for n, key in life if n]
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
        data.workers = sorted(set(data.workers) | set(self.workers), key=_natural)
        position = {t: i for i, t in enumerate(data.collected)}
        for w in self.workers_without_data:
            ran = sorted(self._ran_by.get(w, {}), key=lambda t: position.get(t, len(position)))
            data.lost[w] = LostWorker(self.problems.get(w, "sent no data"), ran)
        return data


# -- the report model ---------------------------------------------------------------

def _floor_percent(emitted: int, signals: int, places: int = 1) -> str:
    """``emitted/signals`` as a percentage, rounded down: 99.96% shows as 99.9%, never 100%."""
    if signals == 0:
        return "100." + "0" * places if places else "100"
    scaled = emitted * 100 * 10 ** places // signals
    whole, frac = divmod(scaled, 10 ** places)
    return f"{whole}.{frac:0{places}d}" if places else str(whole)


@dataclass(frozen=True)
class Coverage:
    """Catalog signals of a group (a provider, a tier, the total) and how many were emitted."""

    name: str
    signals: int
    emitted: int
    missing: tuple[str, ...] = ()
    tier: str | None = None
    namespace: str | None = None

    @property
    def percent(self) -> str:
        """Rounded down to one decimal, for display (gates compare the counts)."""
        return _floor_percent(self.emitted, self.signals)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.tier is not None:
            out["tier"] = self.tier
        out.update(signals=self.signals, emitted=self.emitted,
                   percent=float(_floor_percent(self.emitted, self.signals, 2)),
                   missing=list(self.missing))
        return out


@dataclass(frozen=True)
class Undocumented:
    signal: str
    count: int
    tests: tuple[str, ...]
    suggestions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "count": self.count, "first_test": self.tests[0] if self.tests else SESSION,
                "tests": list(self.tests), "did_you_mean": list(self.suggestions)}


#: The parts of a catalog that reports show apart: (id, label). ``quick-reference``: the
#: framework's own signals (the quick reference's, or those it rates); ``extensions``:
#: signals marked ``extension: true``; ``user-catalogs``: the files of ``kindling_signals_catalogs``.
SCOPES = (("quick-reference", "quick reference"), ("extensions", "extensions"),
          ("user-catalogs", "your catalogs"))


class CoverageReport:
    """A session's data set against the catalog: per provider, per tier, total, findings.

    ``catalog_refs`` name the catalog files as reports show them (one per
    ``catalog.sources`` entry, e.g. ``pytest_kindling_signals:catalog/shipped/quick_reference.yaml``);
    ``user_sources`` are the sources that are the user's own catalogs;
    ``conformance`` is (the quick reference's catalog, the alias map) for a
    framework that names signals its own way.
    """

    def __init__(self, catalog: SignalCatalog, data: SessionData, *,
                 partial_reasons: Sequence[str] = (), catalog_refs: Sequence[str] | None = None,
                 user_sources: Iterable[str] = (), conformance: tuple[SignalCatalog, Any] | None = None,
                 plugin_version: str = "unknown") -> None:
        self.catalog = catalog
        self.data = data
        self.workers = list(data.workers)
        self.workers_without_data = {w: lost.reason for w, lost in sorted(data.lost.items())}
        self.lost_tests = {w: list(lost.tests) for w, lost in sorted(data.lost.items())}
        self.partial_reasons = list(dict.fromkeys([*partial_reasons, *why_partial(data)]))
        self.plugin_version = plugin_version
        self.catalog_refs = list(catalog_refs) if catalog_refs is not None else list(catalog.sources)
        order = dict(data.tests)
        order[SESSION] = -1
        self._order = order
        emitted = {n for n, c in data.counts.items() if c}

        def group(name: str, specs: Iterable[Any], **kw: Any) -> Coverage:
            names = [s.name for s in specs]
            return Coverage(name, len(names), sum(n in emitted for n in names),
                            tuple(n for n in names if n not in emitted), **kw)

        # One row per namespace, named by its class; a class with two namespaces
        # (spark-kindling's persist / read) names each row by both.
        classes = [catalog.provider_info(ns).cls for ns in catalog.namespaces()]
        self.providers = [
            group(cls if classes.count(cls) == 1 else f"{cls} ({ns})", catalog.by_provider(ns),
                  tier=catalog.provider_info(ns).tier, namespace=ns)
            for ns, cls in zip(catalog.namespaces(), classes)]
        self.tiers = [group(t, catalog.by_tier(t)) for t in catalog.tiers]
        self.totals = group("TOTAL", catalog.values())
        user = set(user_sources)
        scope_of = {
            s.name: "extensions" if s.extension else "user-catalogs" if s.source in user else "quick-reference"
            for s in catalog.values()}
        self.scopes = {sid: group(label, [s for s in catalog.values() if scope_of[s.name] == sid])
                       for sid, label in SCOPES}
        self.undocumented = [
            Undocumented(n, c, self.tests_of(n), tuple(catalog.suggest(n)))
            for n, c in sorted(data.counts.items()) if n not in catalog]
        ordered = sorted(data.findings.values(),
                         key=lambda f: (f.first_index, f.signal, f.field or "", f.message))
        self.payload_findings = [f for f in ordered if f.kind == "payload"]
        self.lifecycle_findings = [f for f in ordered if f.kind == "lifecycle"]
        self.conformance: dict[str, Any] | None = None
        if conformance is not None:
            from pytest_kindling_signals.catalog import conformance_dict

            quick_ref, aliases = conformance
            self.conformance = conformance_dict(quick_ref, catalog, aliases, data.counts)

    @property
    def shown_scopes(self) -> list[tuple[str, Coverage]]:
        """The scopes worth a line: none when the whole catalog is one of them."""
        present = [(sid, c) for sid, c in self.scopes.items() if c.signals]
        return present if len(present) > 1 else []

    @property
    def partial(self) -> bool:
        return bool(self.partial_reasons)

    @property
    def emissions(self) -> int:
        return sum(self.data.counts.values())

    def tests_of(self, signal: str) -> tuple[str, ...]:
        """The tests that emitted ``signal``, in collection order."""
        return tuple(sorted(self.data.emitters.get(signal, ()), key=lambda t: (self._order.get(t, -1), t)))

    def signals_by_test(self) -> list[tuple[str, list[str]]]:
        """Each test (in collection order) with the signals it emitted, catalog order first."""
        by_test: dict[str, list[str]] = {}
        names = list(self.catalog) + sorted(n for n in self.data.counts if n not in self.catalog)
        for n in names:
            for t in self.data.emitters.get(n, ()):
                by_test.setdefault(t, []).append(n)
        return sorted(by_test.items(), key=lambda kv: (self._order.get(kv[0], -1), kv[0]))

    @property
    def findings_count(self) -> int:
        return len(self.undocumented) + len(self.payload_findings) + len(self.lifecycle_findings)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (its shape is documented in docs/report.md, its schema ships in
        ``pytest_kindling_signals/report/schemas/``)."""
        scopes = {}
        for sid, c in self.scopes.items():
            d = c.to_dict()
            d.pop("missing")
            scopes[sid] = d
        return {
            "$schema": REPORT_SCHEMA_ID,
            "meta": {
                "format": REPORT_FORMAT,
                "format_version": REPORT_FORMAT_VERSION,
                "plugin_version": self.plugin_version,
                "partial": self.partial,
                "partial_reasons": list(self.partial_reasons),
                "workers": list(self.workers),
                "workers_without_data": dict(self.workers_without_data),
                "lost_tests": {w: list(t) for w, t in self.lost_tests.items()},
                "catalogs": list(self.catalog_refs),
                "tests": len(self.data.tests),
                "tests_ignored": self.data.ignored_tests,
                "emissions": self.emissions,
                "notes": list(self.data.notes),
            },
            "totals": self.totals.to_dict(),
            "scopes": scopes,
            "tiers": {c.name: c.to_dict() for c in self.tiers},
            "providers": {c.name: c.to_dict() for c in self.providers},
            "signals": {
                n: {"provider": s.provider, "tier": s.tier, "extension": s.extension,
                    "count": self.data.counts.get(n, 0), "tests": list(self.tests_of(n))}
                for n, s in self.catalog.items()},
            "findings": {
                "undocumented": [u.to_dict() for u in self.undocumented],
                "payload": [f.to_dict() for f in self.payload_findings],
                "lifecycle": [f.to_dict() for f in self.lifecycle_findings],
            },
            "conformance": self.conformance,
        }


# -- gates --------------------------------------------------------------------------

_FAIL_UNDER_FORMS = "a percentage like 95, or per tier like critical:100,high:90 (total:95 for the total)"
#: Gate scopes besides the tiers (``quick-reference:100,extensions:80``), in :data:`SCOPES` order.
GATE_SCOPES = ("total", *(sid for sid, _ in SCOPES))
_PERCENT = re.compile(r"[0-9]+(?:\.[0-9]+)?%?")


@dataclass(frozen=True)
class FailUnder:
    """A coverage gate: ``scope`` (``total``, a tier, or a scope of :data:`SCOPES`) needs at
    least ``percent``."""

    scope: str
    percent: Decimal

    def passes(self, c: Coverage) -> bool:
        # integers and exact fractions: 99.6% never passes a 100 gate
        return c.emitted * 100 >= Fraction(self.percent) * c.signals

    def __str__(self) -> str:
        return f"{self.scope}:{self.percent}"


def parse_fail_under(text: Any, tiers: Sequence[str] | None,
                     option: str = "--kindling-signals-fail-under") -> tuple[FailUnder, ...]:
    """Parse ``95``, ``total:95`` or ``critical:100,high:90``; :class:`ValueError` says what's wrong.

    Percentages are plain decimals (``95``, ``99.5``, optionally ``95%``)
    between 0 and 100. Scopes are ``total``, a tier, ``quick-reference``,
    ``extensions`` or ``user-catalogs``; ``tiers=None`` leaves tier names
    unchecked (when no catalog is at hand).

    >>> parse_fail_under("critical:100,high:90", ["critical", "high", "moderate"])
    (FailUnder(scope='critical', percent=Decimal('100')), FailUnder(scope='high', percent=Decimal('90')))
    """
    text = str(text)
    known = [*(tiers or ()), *GATE_SCOPES]

    def bad(problem: str) -> ValueError:
        listed = f"tiers: {', '.join(tiers)}; " if tiers is not None else ""
        return ValueError(f"{option}={text!r}: {problem}; use {_FAIL_UNDER_FORMS} "
                          f"({listed}other scopes: {', '.join(GATE_SCOPES)})")

    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or not all(parts):
        raise bad("empty gate")
    gates: dict[str, FailUnder] = {}
    for part in parts:
        scope, sep, value = part.rpartition(":")
        scope = scope.strip() if sep else "total"
        if tiers is not None and scope not in known:
            raise bad(f"unknown tier or scope {scope!r}{did_you_mean(close_matches(scope, known, n=1))}")
        if tiers is None and (not scope or not scope.isprintable() or ":" in scope):
            raise bad(f"{scope!r} is not a tier or scope name")
        value = value.strip()
        if not _PERCENT.fullmatch(value):
            raise bad(f"{value!r} is not a number")
        pct = Decimal(value.removesuffix("%"))
        if pct > 100:
            raise bad(f"{value!r} is not a percentage between 0 and 100")
        if scope in gates:
            raise bad(f"{scope!r} is given twice")
        gates[scope] = FailUnder(scope, pct)
    return tuple(gates.values())


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict; ``skipped`` gates (partial runs) neither pass nor fail the session."""

    gate: str
    passed: bool
    reason: str
    skipped: bool = False

    @property
    def failed(self) -> bool:
        return not self.passed and not self.skipped


def _names(names: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def evaluate_gates(report: CoverageReport, fail_under: Sequence[FailUnder] = (), *,
                   strict: bool = False, gate_partial: bool = False) -> list[GateResult]:
    """Every configured gate's verdict, in the order given (coverage gates, then strict)."""
    results = []
    by_scope = {sid: c for sid, c in report.scopes.items()}
    by_scope.update({c.name: c for c in report.tiers})  # a tier wins over a scope of its name
    by_scope["total"] = report.totals
    for gate in fail_under:
        c = by_scope.get(gate.scope)
        if c is None:  # a tier the catalog doesn't have (a gate kept in saved data)
            results.append(GateResult(str(gate), False, f"{gate.scope}: no such tier or scope in the catalog"))
            continue
        label = f"{gate.scope} coverage {c.emitted}/{c.signals} ({c.percent}%)"
        if gate.passes(c):
            results.append(GateResult(str(gate), True, f"{label} >= {gate.percent}%"))
        elif report.partial and not gate_partial:
            results.append(GateResult(str(gate), False,
                                      f"{label} < {gate.percent}%, not applied: partial run", skipped=True))
        else:
            results.append(GateResult(str(gate), False,
                                      f"{label} < {gate.percent}%, never emitted: {_names(c.missing)}"))
    if strict:
        parts = []
        if report.undocumented:
            parts.append(f"{len(report.undocumented)} undocumented "
                         f"({_names([u.signal for u in report.undocumented])})")
        if report.payload_findings:
            parts.append(f"{len(report.payload_findings)} payload violations "
                         f"({_names(sorted({f.signal for f in report.payload_findings}))})")
        if report.lifecycle_findings:
            parts.append(f"{len(report.lifecycle_findings)} lifecycle violations "
                         f"({_names(sorted({f.signal for f in report.lifecycle_findings}))})")
        results.append(GateResult("strict", not parts,
                                  "strict: " + ("; ".join(parts) if parts else "no findings")))
    return results


def gate_failure_line(results: Sequence[GateResult]) -> str | None:
    """The one line that says why the session failed, or ``None`` when no gate failed."""
    failed = [r.reason for r in results if r.failed]
    if not failed:
        return None
    return "kindling-signals: FAILED " + "; ".join(failed)

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
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from pytest_kindling_signals._names import close_matches, did_you_mean
from pytest_kindling_signals.catalog import SignalCatalog, Violation
from pytest_kindling_signals.contract import check_lifecycles, check_payloads
from pytest_kindling_signals.emission import Emission

__all__ = [
    "SESSION",
    "fixture_label",
    "CentralCollector",
    "ControllerCollector",
    "CoverageReport",
    "FailUnder",
    "Finding",
    "GateResult",
    "SessionData",
    "WorkerCollector",
    "evaluate_gates",
    "gate_failure_line",
    "parse_fail_under",
]

#: The "test" that emissions outside any test (imports, collection) are attributed to.
SESSION = "<session>"


def fixture_label(name: str) -> str:
    """How a session- or module-scoped fixture shows where a test's node id would."""
    return f"<fixture {name}>"
REPORT_FORMAT = "kindling-signals-report"
REPORT_FORMAT_VERSION = 1
DATA_VERSION = 1
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

    def absorb(self, other: Finding) -> None:
        """Add ``other``'s occurrences; keep whichever came first in collection order."""
        self.count += other.count
        if other.first_index < self.first_index:
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
class SessionData:
    """What one process (or, merged, a whole xdist run) saw; JSON-able via :meth:`to_data`."""

    tests: dict[str, int] = field(default_factory=dict)  # nodeid -> collection index, tests run
    ignored_tests: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # signal -> emissions
    emitters: dict[str, set[str]] = field(default_factory=dict)  # signal -> test nodeids
    findings: dict[tuple[str, ...], Finding] = field(default_factory=dict)
    deselected: int = 0
    notes: list[str] = field(default_factory=list)

    def add_finding(self, finding: Finding) -> None:
        known = self.findings.get(finding.key)
        if known is None:
            self.findings[finding.key] = finding
        else:
            known.absorb(finding)

    def merge(self, other: SessionData) -> SessionData:
        """Fold ``other`` (another worker's data) into this one; returns ``self``."""
        self.tests.update(other.tests)
        self.ignored_tests += other.ignored_tests
        for name, n in other.counts.items():
            self.counts[name] = self.counts.get(name, 0) + n
        for name, tests in other.emitters.items():
            self.emitters.setdefault(name, set()).update(tests)
        for f in other.findings.values():
            self.add_finding(Finding(**vars(f)))
        # every worker collects (and deselects) the whole suite: the largest count is the run's
        self.deselected = max(self.deselected, other.deselected)
        self.notes += [n for n in other.notes if n not in self.notes]
        return self

    def to_data(self) -> dict[str, Any]:
        return {
            "version": DATA_VERSION,
            "tests": dict(self.tests),
            "ignored_tests": self.ignored_tests,
            "signals": {n: {"count": c, "tests": sorted(self.emitters.get(n, ()))}
                        for n, c in self.counts.items()},
            "findings": [f.to_data() for f in self.findings.values()],
            "deselected": self.deselected,
            "notes": list(self.notes),
        }

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> SessionData:
        if d.get("version") != DATA_VERSION:
            raise ValueError(f"kindling-signals data version {d.get('version')!r} is not "
                             f"{DATA_VERSION}; run the controller and workers on one plugin version")
        data = cls(tests=dict(d["tests"]), ignored_tests=d["ignored_tests"],
                   counts={n: s["count"] for n, s in d["signals"].items()},
                   emitters={n: set(s["tests"]) for n, s in d["signals"].items()},
                   deselected=d["deselected"], notes=list(d["notes"]))
        for f in d["findings"]:
            data.add_finding(Finding.from_data(f))
        return data


# -- payload validation, remembered by shape ------------------------------------------
# Validating a payload against its JSON Schema costs ~70 us, 30x the emission
# itself. A payload's verdict depends only on its signal, its keys, the exact
# types of its values (recursively, with floats split into non-finite / whole /
# fractional), and, for fields with value constraints, whether each value meets
# them. Payloads with a known-valid shape skip the schema; everything else
# (including every invalid payload, so each finding keeps its own values) is
# validated in full.

class _Uncacheable(Exception):
    pass


_SCALARS = frozenset({str, int, bool, type(None)})
_KNOWN_KEYWORDS = frozenset({"type", "items", "minimum", "maximum", "enum", "format",
                             "pattern", "description"})


def _shape(value: Any) -> Any:
    t = type(value)
    if t in _SCALARS:
        return t
    if t is float:
        return ("f", math.isfinite(value) and value.is_integer(), math.isfinite(value))
    if t is list or t is tuple:
        return (t, frozenset(_shape(v) for v in value))
    if t is dict:
        return (t, frozenset((type(k), _shape(v)) for k, v in value.items()))
    raise _Uncacheable  # subclasses and other objects: always validate in full


def _value_check(prop: Mapping[str, Any]) -> Callable[[Any], Any] | None:
    """A cheap stand-in for a field's value rules: equal results mean equal verdicts.

    Values reaching it have exact JSON types (see :func:`_shape`), so ``type()``
    tests suffice; an enum keys on the value itself (enums are small).
    """
    parts: list[Callable[[Any], Any]] = []
    if "enum" in prop:
        parts.append(lambda v: v)
    if "pattern" in prop:
        search = re.compile(prop["pattern"]).search
        parts.append(lambda v: type(v) is str and search(v) is not None)
    if "minimum" in prop or "maximum" in prop:
        low = prop.get("minimum", -math.inf)
        high = prop.get("maximum", math.inf)
        parts.append(lambda v: (type(v) is int or type(v) is float) and low <= v <= high)
    if len(parts) > 1:
        return lambda v: tuple(part(v) for part in parts)
    return parts[0] if parts else None


_UNSET: Any = object()


class _ValidShapes:
    """Remembers (signal, payload shape) pairs whose payloads validated clean."""

    def __init__(self, catalog: SignalCatalog) -> None:
        self._catalog = catalog
        self._checks: dict[str, dict[str, Callable[[Any], Any]] | None] = {}
        self._valid: set[Any] = set()

    def _checks_for(self, name: str) -> dict[str, Callable[[Any], Any]] | None:
        props = self._catalog.json_schema(name).get("properties", {})
        checks: dict[str, Callable[[Any], Any]] | None = {}
        for fname, prop in props.items():
            if set(prop) - _KNOWN_KEYWORDS or set(prop.get("items", {})) - {"type"}:
                checks = None  # a rule the shape doesn't capture: always validate this signal in full
                break
            check = _value_check(prop)
            if check is not None:
                checks[fname] = check  # type: ignore[index]
        self._checks[name] = checks
        return checks

    def key(self, name: str, payload: Mapping[str, Any]) -> Any:
        """The payload's shape key, or ``None`` when it must always be validated in full."""
        checks = self._checks.get(name, _UNSET)
        if checks is _UNSET:
            checks = self._checks_for(name)
        if checks is None:
            return None
        parts: list[Any] = [name]
        try:
            for k, v in payload.items():
                t = type(v)
                parts.append(k)
                parts.append(t if t in _SCALARS else _shape(v))
                check = checks.get(k)
                if check is not None:
                    parts.append(check(v))
            key = tuple(parts)
            hash(key)
        except (_Uncacheable, TypeError):
            return None
        return key

    def __contains__(self, key: Any) -> bool:
        return key is not None and key in self._valid

    def add(self, key: Any) -> None:
        if key is not None and len(self._valid) < MAX_VALID_SHAPES:
            self._valid.add(key)


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
        self._valid = _ValidShapes(catalog)
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
                self.data.ignored_tests += 1
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

    def note_deselected(self, n: int) -> None:
        self.data.deselected += n

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
        key = self._valid.key(name, payload)
        if key in self._valid:
            return
        try:
            found = check_payloads([_Record(name, payload)], self.catalog)
        except Exception as exc:  # a payload the validator chokes on is itself a finding
            self.data.add_finding(Finding(
                "payload", name, f"{name}: cannot be validated: {type(exc).__name__}: {exc}",
                1, test, self._index, "(payload)", "a payload the catalog can validate",
                f"{type(exc).__name__}: {exc}"))
            return
        if not found:
            self._valid.add(key)
        for f in found:
            if f.violation is not None:
                self.data.add_finding(_payload_finding(f.violation, test, self._index))

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
    """The pytest-xdist controller: runs no tests, merges what each worker sent."""

    def __init__(self, catalog: SignalCatalog) -> None:
        self.catalog = catalog
        self.data = SessionData()
        self.workers: list[str] = []
        self.sent: list[str] = []
        self.problems: dict[str, str] = {}

    def start(self) -> ControllerCollector:
        return self

    def worker_started(self, worker_id: str) -> None:
        if worker_id not in self.workers:
            self.workers.append(worker_id)

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
        return self.data


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


class CoverageReport:
    """A session's data set against the catalog: per provider, per tier, total, findings."""

    def __init__(self, catalog: SignalCatalog, data: SessionData, *,
                 partial_reasons: Sequence[str] = (), workers: Sequence[str] = (),
                 workers_without_data: Mapping[str, str] | None = None,
                 plugin_version: str = "unknown") -> None:
        self.catalog = catalog
        self.data = data
        self.workers = list(workers)
        self.workers_without_data = dict(workers_without_data or {})
        self.partial_reasons = list(dict.fromkeys(partial_reasons))
        if data.deselected:
            self.partial_reasons.append(f"{data.deselected} test{'s' if data.deselected != 1 else ''} deselected")
        for w, why in self.workers_without_data.items():
            self.partial_reasons.append(f"worker {w} {why}")
        self.plugin_version = plugin_version
        order = dict(data.tests)
        order[SESSION] = -1
        self._order = order
        emitted = {n for n, c in data.counts.items() if c}

        def group(name: str, specs: Iterable[Any], **kw: Any) -> Coverage:
            names = [s.name for s in specs]
            return Coverage(name, len(names), sum(n in emitted for n in names),
                            tuple(n for n in names if n not in emitted), **kw)

        self.providers = [
            group(p, catalog.by_provider(p), tier=catalog.provider_info(p).tier,
                  namespace=catalog.provider_info(p).namespace)
            for p in catalog.providers()]
        self.tiers = [group(t, catalog.by_tier(t)) for t in catalog.tiers]
        self.totals = group("TOTAL", catalog.values())
        self.undocumented = [
            Undocumented(n, c, self.tests_of(n), tuple(catalog.suggest(n)))
            for n, c in sorted(data.counts.items()) if n not in catalog]
        ordered = sorted(data.findings.values(),
                         key=lambda f: (f.first_index, f.signal, f.field or "", f.message))
        self.payload_findings = [f for f in ordered if f.kind == "payload"]
        self.lifecycle_findings = [f for f in ordered if f.kind == "lifecycle"]

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
        """The JSON report (its shape is documented in docs/report.md)."""
        return {
            "meta": {
                "format": REPORT_FORMAT,
                "format_version": REPORT_FORMAT_VERSION,
                "plugin_version": self.plugin_version,
                "partial": self.partial,
                "partial_reasons": list(self.partial_reasons),
                "workers": list(self.workers),
                "workers_without_data": dict(self.workers_without_data),
                "catalogs": list(self.catalog.sources),
                "tests": len(self.data.tests),
                "tests_ignored": self.data.ignored_tests,
                "emissions": self.emissions,
                "notes": list(self.data.notes),
            },
            "totals": self.totals.to_dict(),
            "tiers": {c.name: c.to_dict() for c in self.tiers},
            "providers": {c.name: c.to_dict() for c in self.providers},
            "signals": {
                n: {"provider": s.provider, "tier": s.tier, "count": self.data.counts.get(n, 0),
                    "tests": list(self.tests_of(n))}
                for n, s in self.catalog.items()},
            "findings": {
                "undocumented": [u.to_dict() for u in self.undocumented],
                "payload": [f.to_dict() for f in self.payload_findings],
                "lifecycle": [f.to_dict() for f in self.lifecycle_findings],
            },
        }


# -- gates --------------------------------------------------------------------------

_FAIL_UNDER_FORMS = "a percentage like 95, or per tier like critical:100,high:90 (total:95 for the total)"


@dataclass(frozen=True)
class FailUnder:
    """A coverage gate: ``scope`` (``total`` or a tier) needs at least ``percent``."""

    scope: str
    percent: Decimal

    def passes(self, c: Coverage) -> bool:
        # integers and exact fractions: 99.6% never passes a 100 gate
        return c.emitted * 100 >= Fraction(self.percent) * c.signals

    def __str__(self) -> str:
        return f"{self.scope}:{self.percent}"


def parse_fail_under(text: str, tiers: Sequence[str],
                     option: str = "--kindling-signals-fail-under") -> tuple[FailUnder, ...]:
    """Parse ``95``, ``total:95`` or ``critical:100,high:90``; :class:`ValueError` says what's wrong.

    >>> parse_fail_under("critical:100,high:90", ["critical", "high", "moderate"])
    (FailUnder(scope='critical', percent=Decimal('100')), FailUnder(scope='high', percent=Decimal('90')))
    """
    def bad(problem: str) -> ValueError:
        return ValueError(f"{option}={text!r}: {problem}; use {_FAIL_UNDER_FORMS} "
                          f"(tiers: {', '.join(tiers)})")

    parts = [p.strip() for p in str(text).split(",")]
    if not text or not str(text).strip() or not all(parts):
        raise bad("empty gate")
    gates: dict[str, FailUnder] = {}
    for part in parts:
        scope, sep, value = part.rpartition(":")
        scope = scope.strip() if sep else "total"
        if scope != "total" and scope not in tiers:
            raise bad(f"unknown tier {scope!r}{did_you_mean(close_matches(scope, [*tiers, 'total'], n=1))}")
        value = value.strip().removesuffix("%")
        try:
            pct = Decimal(value)
        except InvalidOperation:
            raise bad(f"{value!r} is not a number") from None
        if not pct.is_finite() or not 0 <= pct <= 100:
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
    by_scope = {c.name: c for c in report.tiers}
    by_scope["total"] = report.totals
    for gate in fail_under:
        c = by_scope[gate.scope]
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

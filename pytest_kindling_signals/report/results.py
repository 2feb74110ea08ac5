"""What a session produces, JSON-able and mergeable: findings, lost workers, :class:`SessionData`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_kindling_signals.report.timeline import Timeline, worse_outcome

__all__ = ["REPORT_SCHEMA_ID", "SESSION", "fixture_label", "Finding", "LostWorker", "SessionData", "why_partial"]

SESSION = "<session>"


def fixture_label(name: str) -> str:
    """How a session- or module-scoped fixture shows where a test's node id would."""
    return f"<fixture {name}>"
REPORT_FORMAT = "kindling-signals-report"
REPORT_FORMAT_VERSION = 2
#: What each JSON report names as its ``$schema``: the ``$id`` of the schema shipped in
#: ``pytest_kindling_signals/report/schemas/report-2.schema.json``.
REPORT_SCHEMA_ID = "urn:kindling-signals:schema:report:2"
DATA_VERSION = 3
#: Lifecycle signals of one test kept for its lifecycle check (two short strings each).
MAX_LIFECYCLE_RECORDS_PER_TEST = 200_000
#: Payload shapes remembered as valid; past this, payloads are simply validated.


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
    #: the contract rule it breaks (``never_closed``...; see catalog.known.RULES): known findings match by it
    rule: str = ""

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
        return {**self.to_dict(), "kind": self.kind, "first_index": self.first_index,
                **({"rule": self.rule} if self.rule else {})}

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> Finding:
        return cls(d["kind"], d["signal"], d["message"], d["count"], d["first_test"],
                   d["first_index"], d.get("field"), d.get("expected"), d.get("actual"), d.get("rule", ""))


@dataclass
class LostWorker:
    """An xdist worker whose data never reached the controller, and the tests it ran."""

    reason: str
    tests: list[str] = field(default_factory=list)


def natural_key(name: str) -> tuple[Any, ...]:
    """gw2 before gw10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _positions(data: SessionData) -> dict[str, int]:
    if data.collected:
        return {t: i for i, t in enumerate(data.collected)}
    return dict(data.tests)


def test_order(parts: Sequence[tuple[SessionData, bool]]) -> dict[str, int]:
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
    #: Each test's outcome (``passed``, ``failed``, ``error``, ``skipped``, ``xfailed``, ``xpassed``).
    outcomes: dict[str, str] = field(default_factory=dict)
    #: Each test's first emissions, its lifecycles and findings (tests that emitted nothing have none).
    timelines: dict[str, Timeline] = field(default_factory=dict)

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
        order = test_order([(self, not runs or self.full_scope), (other, not runs or other.full_scope)])
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
        self.workers = sorted(set(self.workers) | set(other.workers), key=natural_key)
        self.notes = sorted(set(self.notes) | set(other.notes))
        for test, outcome in other.outcomes.items():
            self.outcomes[test] = worse_outcome(self.outcomes.get(test), outcome)
        for test, timeline in other.timelines.items():
            had = self.timelines.get(test)
            self.timelines[test] = timeline if had is None else _kept_timeline(had, timeline)
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
                     for w in sorted(self.lost, key=natural_key)},
            "workers": list(self.workers),
            "notes": list(self.notes),
            # "passed" is the default: a large run's file names only the tests that didn't pass
            "outcomes": {t: self.outcomes[t] for t in self._in_order(self.outcomes) if self.outcomes[t] != "passed"},
            "timelines": {t: self.timelines[t].to_data() for t in self._in_order(self.timelines)},
        }

    def _in_order(self, tests: Iterable[str]) -> list[str]:
        index = self.tests
        return sorted(tests, key=lambda t: (index.get(t, -1), t))

    def outcome(self, test: str) -> str:
        """The test's outcome; ``passed`` for a test run without a failure on record."""
        return self.outcomes.get(test, "passed")

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
                       workers=list(d["workers"]), notes=list(d["notes"]),
                       outcomes={str(t): str(o) for t, o in d["outcomes"].items()},
                       timelines={str(t): Timeline.from_data(tl) for t, tl in d["timelines"].items()})
            for f in d["findings"]:
                data.add_finding(Finding.from_data(f))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"kindling-signals data is malformed: {type(exc).__name__}: {exc}") from None
        return data


def _kept_timeline(a: Timeline, b: Timeline) -> Timeline:
    """Which of two runs' timelines of one test a merge keeps, the same in any order: the
    longer, then the one whose text sorts first."""
    def key(t: Timeline) -> tuple[int, str]:
        return (-t.size, json.dumps(t.to_data(), sort_keys=True, default=str))

    return a if key(a) <= key(b) else b


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
    for w in sorted(data.lost, key=natural_key):
        lost = data.lost[w]
        missing = [t for t in lost.tests if t not in done]
        lost_tests.update(lost.tests)
        if missing:
            reasons.append(f"worker {w} {lost.reason}: {_plural(len(missing), 'test')} missing")
    not_run = [t for t in data.collected if t not in done and t not in data.deselected and t not in lost_tests]
    if not_run:
        reasons.append(("stopped early: " if data.stopped else "") + f"{_plural(len(not_run), 'test')} not run")
    return reasons



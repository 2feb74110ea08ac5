"""Each test's signals in emission order: the data the HTML report draws as a timeline.

The collector keeps a test's first N emissions as they come (the emission
itself and the keys of the findings its payload gave, nothing more) and,
when the test ends, :func:`build_timeline` makes a :class:`Timeline`: each
emission's offset from the test's start, its thread, its payload as recorded
(clipped where long, see :func:`clip_payload`), the lifecycles paired as the
contract pairs them (:func:`pair_operations`) and the findings pinned at the
emission that caused them::

    >>> from pytest_kindling_signals.catalog import QUICK_REFERENCE_PATH, load_catalog
    >>> catalog = load_catalog(QUICK_REFERENCE_PATH)
    >>> pair_operations([("entity.pre_merge", ("a",)), ("entity.pre_merge", ("b",)),
    ...                  ("entity.merge_failed", ("a",))], catalog)
    [Span(operation='entity.merge', start=0, end=2, state='failed'), Span(operation='entity.merge', start=1, end=None, state='open')]

No pytest in here.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pytest_kindling_signals.catalog import SignalCatalog
from pytest_kindling_signals.frameworks import Emission

__all__ = [
    "DEFAULT_TIMELINE_LIMIT",
    "OUTCOMES",
    "SPAN_STATES",
    "Pin",
    "Span",
    "Timeline",
    "TimelineEmission",
    "build_timeline",
    "clip_payload",
    "outcome_rank",
    "pair_operations",
    "phase_outcome",
    "worse_outcome",
]

#: Emissions a test keeps for its timeline unless ``--kindling-signals-timeline`` says otherwise.
DEFAULT_TIMELINE_LIMIT = 200
#: A test's outcome, as pytest reports it; ``error``: its setup or teardown failed.
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
#: How a lifecycle span ends: ``closed`` (by a ``post_``/``after_``), ``failed`` (by its ``_failed``),
#: ``open`` (never closed), ``closed-later`` (closed after the timeline's last kept emission),
#: ``unopened`` (a closer no opener opened).
SPAN_STATES = ("closed", "failed", "open", "closed-later", "unopened")
# Which outcome a test (or two runs of it, combined) ends with: the worst.
_RANK = {"skipped": 0, "xfailed": 1, "passed": 2, "xpassed": 3, "failed": 4, "error": 5}

# Payload clipping: a page (and a data file) stays readable whatever a payload holds.
CLIP_TEXT = 240
CLIP_ITEMS = 20
CLIP_FIELDS = 40
CLIP_DEPTH = 5


def phase_outcome(when: str, outcome: str, *, xfail: bool = False) -> str | None:
    """What one phase's report says of the test (``None``: nothing, a set-up or teardown that passed).

    >>> phase_outcome("teardown", "failed"), phase_outcome("call", "skipped", xfail=True)
    ('error', 'xfailed')
    """
    if outcome == "failed":
        return "failed" if when == "call" else "error"
    if outcome == "skipped":
        return "xfailed" if xfail else "skipped"
    if when == "call":
        return "xpassed" if xfail else "passed"
    return None


def outcome_rank(outcome: str) -> int:
    return _RANK.get(outcome, -1)


def worse_outcome(a: str | None, b: str) -> str:
    """The outcome that wins: ``error`` over ``failed`` over ``xpassed``, ``passed``, ``xfailed``, ``skipped``."""
    return b if a is None or _RANK.get(b, -1) > _RANK.get(a, -1) else a


class TimelineEmission(NamedTuple):
    """One kept emission: seconds from the test's start, thread (an index into
    :attr:`Timeline.threads`), signal name, and its payload as recorded, clipped,
    kept as compact JSON text (a third of a dict's memory: a run keeps every test's)."""

    at: float
    thread: int
    signal: str
    payload_json: str

    @property
    def payload(self) -> Any:
        return json.loads(self.payload_json)


class Span(NamedTuple):
    """A lifecycle as the contract pairs it; ``start``/``end`` index :attr:`Timeline.emissions`."""

    operation: str
    start: int | None
    end: int | None
    state: str


class Pin(NamedTuple):
    """A finding at the emission that caused it (``kind``: payload, lifecycle or undocumented)."""

    emission: int
    kind: str
    message: str


@dataclass
class Timeline:
    """One test's emissions in order, its lifecycles and its findings, JSON-able.

    ``duration`` is the test's wall time (set-up to teardown) in seconds;
    ``threads`` are (name, id) in the order they first emitted; ``left_out``
    counts the emissions past the limit (the first N are kept).
    """

    duration: float
    threads: list[tuple[str, int]] = field(default_factory=list)
    emissions: list[TimelineEmission] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    left_out: int = 0

    def to_data(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "threads": [{"name": n, "id": i} for n, i in self.threads],
            "emissions": [{"at": e.at, "thread": e.thread, "signal": e.signal, "payload": e.payload}
                          for e in self.emissions],
            "spans": [{"operation": s.operation, "start": s.start, "end": s.end, "state": s.state}
                      for s in self.spans],
            "pins": [{"emission": p.emission, "kind": p.kind, "message": p.message} for p in self.pins],
            "left_out": self.left_out,
        }

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> Timeline:
        return cls(float(d["duration"]), [(str(t["name"]), int(t["id"])) for t in d["threads"]],
                   [TimelineEmission(float(e["at"]), int(e["thread"]), str(e["signal"]), _json(e["payload"]))
                    for e in d["emissions"]],
                   [Span(str(s["operation"]), s["start"], s["end"], str(s["state"])) for s in d["spans"]],
                   [Pin(int(p["emission"]), str(p["kind"]), str(p["message"])) for p in d["pins"]],
                   int(d["left_out"]))

    @property
    def size(self) -> int:
        """How many emissions the test made (kept and left out)."""
        return len(self.emissions) + self.left_out


# -- payloads -------------------------------------------------------------------------

def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def clip_payload(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-able data, clipped: long strings, lists and objects cut with a note of
    what was cut; objects that aren't data shown by their type, never by ``repr()`` (a DataFrame's
    could start Spark work).

    >>> clip_payload({"rows": list(range(25)), "df": object()})
    {'rows': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, '… 5 more items'], 'df': '<object>'}
    """
    t = type(value)
    if value is None or t is bool or t is int:
        return value
    if t is str:
        return value if len(value) <= CLIP_TEXT else f"{value[:CLIP_TEXT]}… ({len(value) - CLIP_TEXT} more characters)"
    if t is float:
        return value if math.isfinite(value) else repr(value)
    if depth >= CLIP_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        out = {str(k): clip_payload(v, depth + 1) for k, v in list(value.items())[:CLIP_FIELDS]}
        if len(value) > CLIP_FIELDS:
            out["…"] = f"{len(value) - CLIP_FIELDS} more fields"
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        kept = [clip_payload(v, depth + 1) for v in items[:CLIP_ITEMS]]
        if len(items) > CLIP_ITEMS:
            kept.append(f"… {len(items) - CLIP_ITEMS} more items")
        return kept
    if isinstance(value, (bool, int)):  # subclasses (an IntEnum)
        return int(value)
    if isinstance(value, float):
        return clip_payload(float(value))
    if isinstance(value, str):
        return clip_payload(str(value))
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, BaseException):
        return clip_payload(f"<{type(value).__name__}: {value}>")
    return f"<{t.__name__}>"


# -- lifecycles ------------------------------------------------------------------------

def _hashable(values: tuple[Any, ...]) -> tuple[Any, ...]:
    try:
        hash(values)
        return values
    except TypeError:
        return tuple(repr(v) for v in values)


def pair_operations(records: Sequence[tuple[str, tuple[Any, ...]]], catalog: SignalCatalog) -> list[Span]:
    """The lifecycles in ``records`` (signal name, values of its operation's ``pair_by`` fields),
    paired as :func:`~pytest_kindling_signals.catalog.check_lifecycles` pairs them: a closer
    closes the latest open operation of its key; an operation id opened a second time
    forgets the first (which stays open). Spans index ``records``, in the order they open.
    """
    spans: list[Span] = []
    open_ops: dict[tuple[str, tuple[Any, ...]], list[int]] = {}
    for i, (name, values) in enumerate(records):
        op = catalog.operation_opened_by(name)
        if op is not None:
            stack = open_ops.setdefault((op.name, _hashable(values)), [])
            if op.unique_ids:
                stack.clear()
            stack.append(len(spans))
            spans.append(Span(op.name, i, None, "open"))
            continue
        op = catalog.operation_closed_by(name)
        if op is None:
            continue
        opened = open_ops.get((op.name, _hashable(values)))
        state = "failed" if name == op.failed else "closed"
        if opened:
            s = opened.pop()
            spans[s] = spans[s]._replace(end=i, state=state)
        else:
            spans.append(Span(op.name, None, i, "unopened"))
    return spans


def build_timeline(kept: Sequence[tuple[Emission, tuple[Any, ...] | None]], *, left_out: int, start: float,
                   end: float, lifecycle: Sequence[tuple[str, tuple[Any, ...]]],
                   lifecycle_pins: Sequence[tuple[int, str]], finding_text: Mapping[tuple[Any, ...], str],
                   catalog: SignalCatalog, paired: Mapping[str, Any]) -> Timeline:
    """A test's :class:`Timeline` from what the collector kept.

    ``kept``: the first emissions, each with the keys of its payload's findings (``None``:
    undocumented); ``lifecycle``: every lifecycle signal of the test (name, pairing
    values), of which the kept ones are the first; ``lifecycle_pins``: (index into
    ``lifecycle``, message) of the lifecycle check's findings; ``finding_text``: finding
    key -> what a pin says; ``paired``: the signals that open or close an operation.
    """
    threads: dict[tuple[str, int], int] = {}
    emissions: list[TimelineEmission] = []
    pins: list[Pin] = []
    to_timeline: list[int] = []  # index into ``lifecycle`` -> index into ``emissions``
    for i, (e, keys) in enumerate(kept):
        thread = threads.setdefault((e.thread_name, e.thread_id), len(threads))
        emissions.append(TimelineEmission(round(max(e.time - start, 0.0), 6), thread, e.name,
                                           _json(clip_payload(e.payload))))
        if keys is None:
            pins.append(Pin(i, "undocumented", f"{e.name} is not in the catalog"))
            continue
        pins += [Pin(i, str(k[0]), finding_text.get(k, str(k))) for k in keys]
        if e.name in paired:
            to_timeline.append(i)
    pins += [Pin(to_timeline[j], "lifecycle", message) for j, message in lifecycle_pins if j < len(to_timeline)]
    pins.sort(key=lambda p: p.emission)
    # Pair the kept lifecycle signals; an operation they leave open may close after the last kept
    # emission: only its key is looked for in the rest (a test may have 200,000 lifecycle signals).
    kept_life = len(to_timeline)
    spans = pair_operations(lifecycle[:kept_life], catalog)
    pending: dict[tuple[str, tuple[Any, ...]], list[int]] = {}
    for k, s in enumerate(spans):
        if s.state == "open" and s.start is not None:
            pending.setdefault((s.operation, _hashable(lifecycle[s.start][1])), []).append(k)
    if pending and kept_life < len(lifecycle):
        for name, values in lifecycle[kept_life:]:
            op = catalog.operation_closed_by(name)
            if op is None:
                continue
            waiting = pending.get((op.name, _hashable(values)))
            if waiting:
                k = waiting.pop()
                spans[k] = spans[k]._replace(state="closed-later")
    spans = [s._replace(start=to_timeline[s.start] if s.start is not None else None,
                        end=to_timeline[s.end] if s.end is not None else None) for s in spans]
    return Timeline(round(max(end - start, 0.0), 6), list(threads), emissions, spans, pins, left_out)

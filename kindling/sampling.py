"""Sampling and periodic summaries for high-volume signals (the catalog's Performance Guidelines).

A :class:`SamplingPolicy` set on a provider thins out chosen signals before
their payloads are built. Off by default: a provider without a policy sends
everything::

    >>> from kindling.signaling import BlinkerSignalProvider
    >>> from kindling.sampling import SamplingPolicy
    >>> provider = BlinkerSignalProvider()
    >>> provider.sampling = (SamplingPolicy()
    ...     .every("file_ingestion.pre_file", 10)        # 1 file operation in 10
    ...     .rate("platform.file_read", 0.25)             # about 1 read in 4, seeded
    ...     .summarize("platform.file_written", every_n=100))

Sampling is visible in the payload, so observers and the coverage report stay
honest (the catalog declares these as optional common fields):

- a **sampled** emission carries ``sample_rate`` (the configured fraction)
  and ``sampled_count``: how many emissions it stands for, i.e. itself plus
  those suppressed since the previous kept one. Summing ``sampled_count``
  gives the exact number of emissions up to the last kept one.
- a **summary** is an ordinary emission of the same signal, with the payload
  of the window's last emission plus ``summary: true``, ``summarized_count``
  (the emissions in the window, itself included), ``window_start`` and
  ``window_end``. :meth:`SamplingPolicy.flush` sends the open windows' summaries.
- a payload without these fields stands for itself.

Rules:

- Operations are sampled whole: a rule names (or globs) the operation's
  ``pre_X`` signal and its closing ``post_X`` follows the same decision, so
  lifecycles stay closed. Failures are never sampled away: a ``*_failed``
  signal always goes out, and when it closes an operation whose ``pre_X`` was
  dropped that ``pre_X`` is sent first, unsampled, and stops counting in the
  ``sampled_count`` of the next kept one.
- :meth:`SamplingPolicy.summarize` applies to events only (not ``pre_``/``post_``).
- The first rule that matches a signal name wins. A pattern is a signal name,
  a glob (``platform.*``) or a provider namespace (``platform``).
- Counting is per signal name and counts only observed emissions (an
  unobserved signal costs nothing and is not counted).
- Deterministic: :meth:`~SamplingPolicy.every` keeps exactly the 1st,
  (n+1)th, (2n+1)th... emission, under a lock, whatever the threads;
  :meth:`~SamplingPolicy.rate` draws from a ``random.Random(seed)`` per
  signal name, so a single-threaded run is reproducible.
"""

from __future__ import annotations

import fnmatch
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kindling.signal_catalog import load_catalog, signal_kind

if TYPE_CHECKING:
    from kindling.signaling import Operation, SignalEmitter

__all__ = ["SAMPLING_FIELDS", "SamplingPolicy", "SamplingRule", "SamplingStats"]

#: Payload fields sampling adds; the catalog declares them in ``common_fields``.
SAMPLING_FIELDS = ("sample_rate", "sampled_count", "summary", "summarized_count",
                   "window_start", "window_end")

_PASS: dict[str, Any] = {}  # "send unchanged"; never mutated
_UNROUTED: Any = object()


class _Local(threading.local):
    forced: dict[str, Any] | None = None  # a class default: reading it never raises


@dataclass(frozen=True)
class SamplingRule:
    """One rule of a policy: which signals, and ``every``, ``rate`` or ``summarize``."""

    pattern: str
    mode: str  # "every" | "rate" | "summarize"
    n: int | None = None
    rate: float | None = None
    seed: int = 0
    interval_seconds: float | None = None

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern)


@dataclass(frozen=True)
class SamplingStats:
    """What a policy did to one signal: ``seen`` = ``sent`` + ``suppressed``.

    ``pending`` counts suppressed emissions no sent payload accounts for yet
    (the tail after the last sample, or a summary window still open).
    """

    seen: int
    sent: int
    suppressed: int
    pending: int


class _Stream:
    """Counters for one signal name under one rule; every method runs under the policy's lock."""

    __slots__ = ("rule", "mode", "n", "rate", "interval", "seen", "sent", "since", "rng",
                 "window_start", "window_mono", "last")

    def __init__(self, rule: SamplingRule, name: str) -> None:
        self.rule, self.mode, self.n = rule, rule.mode, rule.n
        self.rate = 1.0 / rule.n if rule.mode == "every" else rule.rate  # type: ignore[operator]
        self.interval = rule.interval_seconds
        self.seen = 0
        self.sent = 0
        self.since = 0  # emissions since the last sent one (sampling) or in the window (summary)
        self.rng = random.Random(f"{rule.seed}:{name}") if rule.mode == "rate" else None
        self.window_start = 0.0
        self.window_mono = 0.0
        self.last: tuple[Any, ...] | None = None  # the window's last call, for flush()

    def sample(self) -> dict[str, Any] | None:
        self.seen += 1
        self.since += 1
        if self.rng is None:
            if (self.seen - 1) % self.n:  # type: ignore[operator]
                return None
        elif self.rng.random() >= self.rate:  # type: ignore[operator]
            return None
        extra = {"sample_rate": self.rate, "sampled_count": self.since}
        self.since = 0
        self.sent += 1
        return extra

    def summarize(self, call: tuple[Any, ...]) -> dict[str, Any] | None:
        now = time.monotonic()
        if self.since == 0:
            self.window_start, self.window_mono = time.time(), now
        self.seen += 1
        self.since += 1
        if (self.since < self.n if self.n is not None
                else now - self.window_mono < self.interval):  # type: ignore[operator]
            self.last = call
            return None
        return self.close_window()

    def close_window(self) -> dict[str, Any]:
        extra = {"summary": True, "summarized_count": self.since,
                 "window_start": _timestamp(self.window_start),
                 "window_end": _timestamp(time.time())}
        self.since = 0
        self.sent += 1
        self.last = None
        return extra


class _DroppedOp:
    __slots__ = ("stream", "emitter", "pre", "payload", "parent_id")

    def __init__(self, stream: _Stream, emitter: SignalEmitter, pre: str,
                 payload: dict[str, Any] | None, parent_id: str | None) -> None:
        self.stream, self.emitter, self.pre = stream, emitter, pre
        self.payload, self.parent_id = payload, parent_id


_roles: dict[str, str] = {}


def _role(name: str) -> str:
    """``pre``, ``failed`` or ``other``; the catalog knows irregular names like ``trace.span_started``."""
    role = _roles.get(name)
    if role is None:
        catalog = load_catalog()
        closes = catalog.operation_closed_by(name)
        if catalog.operation_opened_by(name) is not None:
            role = "pre"
        elif closes is not None:
            role = "failed" if closes.failed == name else "other"
        else:
            kind = signal_kind(name)
            role = kind if kind in ("pre", "failed") else "other"
        _roles[name] = role
    return role


def _pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise TypeError(f"pattern={pattern!r}: pass a signal name, a glob like 'platform.*' "
                        f"or a namespace like 'platform'")
    return pattern if "." in pattern or any(c in pattern for c in "*?[") else f"{pattern}.*"


def _timestamp(t: float) -> str:
    from kindling.signaling import utc_timestamp
    return utc_timestamp(t)


class SamplingPolicy:
    """Which signals to sample or summarise; set it as ``provider.sampling``.

    Builder methods check their arguments and return the policy::

        >>> policy = SamplingPolicy().every("platform.*", 10)
        >>> policy.rules[0].n
        10

    The policy is thread-safe and keeps its counters until :meth:`reset`.
    """

    def __init__(self) -> None:
        self._rules: tuple[SamplingRule, ...] = ()
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] = {}
        # per signal name: the stream that counts it, or None for "send unchanged"
        self._routes: dict[str, _Stream | None] = {}
        self._lifecycle_routes: dict[str, _Stream | None] = {}
        self._kept_ops: dict[str, dict[str, Any]] = {}
        self._dropped_ops: dict[str, _DroppedOp] = {}
        self._local = _Local()

    def __repr__(self) -> str:
        return f"<SamplingPolicy {len(self._rules)} rules>"

    # -- building
    @property
    def rules(self) -> tuple[SamplingRule, ...]:
        return self._rules

    def every(self, pattern: str, n: int) -> SamplingPolicy:
        """Send the 1st, (n+1)th, (2n+1)th... emission of each matching signal (``sample_rate`` = 1/n)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"every({pattern!r}, n={n!r}): n must be an int >= 1 (1 sends all)")
        return self._add(SamplingRule(_pattern(pattern), "every", n=n))

    def rate(self, pattern: str, r: float, *, seed: int = 0) -> SamplingPolicy:
        """Send each matching emission with probability ``r`` (0 < r <= 1), from a seeded RNG."""
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r <= 1:
            raise ValueError(f"rate({pattern!r}, r={r!r}): r must be a number with 0 < r <= 1, "
                             f"e.g. 0.1 for one in ten")
        return self._add(SamplingRule(_pattern(pattern), "rate", rate=float(r), seed=seed))

    def summarize(self, pattern: str, *, interval_seconds: float | None = None,
                  every_n: int | None = None) -> SamplingPolicy:
        """Replace matching events by one summary per ``every_n`` emissions or per ``interval_seconds``.

        The summary goes out with the emission that fills the window (a time
        window closes at the first emission after ``interval_seconds``);
        :meth:`flush` sends what the open windows hold.
        """
        if (interval_seconds is None) == (every_n is None):
            raise ValueError(f"summarize({pattern!r}): give exactly one of interval_seconds=... "
                             f"or every_n=..., got interval_seconds={interval_seconds!r}, "
                             f"every_n={every_n!r}")
        if every_n is not None and (isinstance(every_n, bool) or not isinstance(every_n, int)
                                    or every_n < 1):
            raise ValueError(f"summarize({pattern!r}, every_n={every_n!r}): every_n must be an int >= 1")
        if interval_seconds is not None and (isinstance(interval_seconds, bool)
                                             or not isinstance(interval_seconds, (int, float))
                                             or interval_seconds <= 0):
            raise ValueError(f"summarize({pattern!r}, interval_seconds={interval_seconds!r}): "
                             f"interval_seconds must be a number > 0")
        return self._add(SamplingRule(
            _pattern(pattern), "summarize", n=every_n,
            interval_seconds=None if interval_seconds is None else float(interval_seconds)))

    def _add(self, rule: SamplingRule) -> SamplingPolicy:
        with self._lock:
            self._rules = self._rules + (rule,)
            self._routes, self._lifecycle_routes = {}, {}
        return self

    def reset(self) -> None:
        """Forget every counter and open window (the rules stay)."""
        with self._lock:
            self._streams.clear()
            self._routes, self._lifecycle_routes = {}, {}
            self._kept_ops.clear()
            self._dropped_ops.clear()

    # -- reporting
    def stats(self) -> dict[str, SamplingStats]:
        """Per signal name: how many emissions were seen, sent, suppressed, and still pending."""
        with self._lock:
            return {name: SamplingStats(s.seen, s.sent, s.seen - s.sent, s.since)
                    for name, s in self._streams.items()}

    def flush(self) -> int:
        """Send a summary for every open summary window; returns how many were sent.

        Call it when a batch ends (or on a timer) so no summarised emission
        goes unaccounted.
        """
        with self._lock:
            due = []
            for name, s in self._streams.items():
                if s.mode == "summarize" and s.since and s.last is not None:
                    due.append((name, s.last, s.close_window()))
        for name, (emitter, build, payload, op), extra in due:
            self._send_unsampled(extra, emitter, name, build, payload, op)
        return len(due)

    def _send_unsampled(self, extra: dict[str, Any], emitter: SignalEmitter, *args: Any) -> None:
        """``emitter._send(*args)`` past the rules, adding ``extra`` to the payload."""
        self._local.forced = extra
        try:
            emitter._send(*args)
        finally:  # also when nobody observes and admit() never ran
            self._local.forced = None

    # -- the hook SignalEmitter._send calls for observed emissions
    def admit(self, emitter: SignalEmitter, name: str,
              build: Callable[[], Mapping[str, Any]] | None, payload: dict[str, Any] | None,
              op: Operation | None, operation_id: str | None, parent_id: str | None = None,
              ) -> dict[str, Any] | None:
        """``None`` to drop this emission, else the fields to add to its payload (often none)."""
        local = self._local
        if local.forced is not None:  # flush() or a failure replay sending on purpose
            forced, local.forced = local.forced, None
            return forced
        if operation_id is not None:  # a lifecycle signal sent by an Operation
            return self._admit_lifecycle(emitter, name, payload, operation_id, parent_id)
        stream = self._routes.get(name, _UNROUTED)
        if stream is _UNROUTED:
            stream = self._route(name, lifecycle=False)
        if stream is None:
            return _PASS
        with self._lock:
            if stream.mode == "summarize":
                return stream.summarize((emitter, build, payload, op))
            return stream.sample()

    def _admit_lifecycle(self, emitter: SignalEmitter, name: str, payload: dict[str, Any] | None,
                         operation_id: str, parent_id: str | None) -> dict[str, Any] | None:
        if self._kept_ops or self._dropped_ops:
            with self._lock:
                kept = self._kept_ops.pop(operation_id, None)
                dropped = None if kept is not None else self._dropped_ops.pop(operation_id, None)
            if kept is not None:
                return kept
            if dropped is not None:
                if _role(name) != "failed":
                    return None
                with self._lock:  # the op now stands for itself, not for the next sample
                    dropped.stream.since -= 1
                    dropped.stream.sent += 1
                self._send_unsampled(_PASS, dropped.emitter, dropped.pre, None, dropped.payload,
                                     None, operation_id, dropped.parent_id)
                return _PASS
        stream = self._lifecycle_routes.get(name, _UNROUTED)
        if stream is _UNROUTED:
            stream = self._route(name, lifecycle=True)
        if stream is None:
            return _PASS
        with self._lock:
            extra = stream.sample()
            if extra is None:
                self._dropped_ops[operation_id] = _DroppedOp(stream, emitter, name, payload, parent_id)
            else:
                self._kept_ops[operation_id] = extra
        return extra

    def _route(self, name: str, *, lifecycle: bool) -> _Stream | None:
        """The stream that counts ``name`` (``None``: send unchanged); cached per name."""
        with self._lock:
            rule = next((r for r in self._rules if r.matches(name)), None)
            role = _role(name)
            if rule is None:
                stream = None
            elif lifecycle:  # only an operation's opening signal decides, and never by summary
                stream = None if rule.mode == "summarize" or role != "pre" else self._stream(name, rule)
            else:  # failures are never sampled away
                stream = None if role == "failed" else self._stream(name, rule)
            (self._lifecycle_routes if lifecycle else self._routes)[name] = stream
            return stream

    def _stream(self, name: str, rule: SamplingRule) -> _Stream:
        stream = self._streams.get(name)
        if stream is None or stream.rule is not rule:
            stream = self._streams[name] = _Stream(rule, name)
        return stream

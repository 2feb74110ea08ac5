"""Kindling's signalling core: providers, signals, and the emitter mixin.

Observers connect to a signal by name and receive the signal's name as the
sender and the payload as keyword arguments::

    >>> provider = BlinkerSignalProvider()
    >>> seen = []
    >>> def on_merge(sender, **payload):
    ...     seen.append((sender, payload["rows_inserted"]))
    >>> _ = provider.connect("entity.post_merge", on_merge)
    >>> class Demo(SignalEmitter):
    ...     EMITS = ("entity.post_merge",)
    >>> Demo(provider).emit("entity.post_merge", rows_inserted=3)
    >>> seen
    [('entity.post_merge', 3)]

Emission is fail-safe: an observer that raises is logged and counted on its
provider (:attr:`BlinkerSignalProvider.errors`), and the operation that
emitted goes on, unless the provider's ``receiver_errors`` policy is
``"raise"``. ``KeyboardInterrupt`` and ``SystemExit`` from an observer are
recorded the same way, reach every other observer first, and then propagate:
an operation they abort still sends its ``*_failed``.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import threading
import time
import traceback
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar

import blinker
from pytest_kindling_signals.frameworks import Emission
from kindling.spark_errors import describe_error  # re-exported: providers describe errors from here

__all__ = [
    "BlinkerSignalProvider",
    "Emission",
    "KindlingSignal",
    "Operation",
    "ReceiverError",
    "SignalEmitter",
    "SignalProvider",
    "add_global_tap",
    "current_operation",
    "describe_error",
    "get_default_provider",
    "lazy",
    "new_operation_id",
    "reset_default_provider",
    "set_default_provider",
    "use_default_provider",
    "utc_timestamp",
]

logger = logging.getLogger("kindling.signaling")

RECEIVER_ERROR_POLICIES = ("log", "raise")
_MAX_KEPT_ERRORS = 1000
# Raised by an observer, these still stop the program (after every other
# observer got the signal); any other BaseException is an observer error like any.
_INTERRUPTS = (KeyboardInterrupt, SystemExit)


# -- ids and timestamps --------------------------------------------------------
# Every payload carries an operation id and a timestamp, so both sit on the hot
# path: uuid4() costs a syscall per call, so ids are a per-process random
# prefix plus a counter (unique in the process, random across processes), and
# the seconds part of the timestamp is formatted once per second.

def _fresh_prefix() -> str:
    # The first four UUID groups, formatted once: an id is then one f-string.
    p = uuid.uuid4().hex[:20]
    return f"{p[:8]}-{p[8:12]}-{p[12:16]}-{p[16:20]}-"


_id_state = [_fresh_prefix(), itertools.count(1)]


def _reseed_after_fork() -> None:
    _id_state[0] = _fresh_prefix()
    _id_state[1] = itertools.count(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_after_fork)


def new_operation_id() -> str:
    """A new id in UUID form, unique across the operations of all processes."""
    return f"{_id_state[0]}{next(_id_state[1]):012x}"  # type: ignore[call-overload]


_ts_cache: tuple[int, str] = (-1, "")


def utc_timestamp(now: float | None = None) -> str:
    """ISO-8601 in UTC with its offset, microsecond precision: ``2025-01-20T10:00:45.123456+00:00``."""
    global _ts_cache
    t = time.time() if now is None else now
    sec = int(t)
    cached_sec, prefix = _ts_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _ts_cache = (sec, prefix)
    return f"{prefix}.{int((t - sec) * 1_000_000):06d}+00:00"


class lazy:  # noqa: N801 - reads as a function at call sites
    """A payload value computed only if something observes the signal, at most once.

    >>> emitter.emit("entity.pre_merge", source_row_count=lazy(df.count))  # doctest: +SKIP
    """

    __slots__ = ("_fn", "_value", "_done")

    def __init__(self, fn: Callable[[], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"lazy() takes a zero-argument callable, got {fn!r}")
        self._fn = fn
        self._done = False
        self._value: Any = None

    def __call__(self) -> Any:
        if not self._done:
            self._value = self._fn()
            self._done = True
        return self._value

    def __repr__(self) -> str:
        return f"lazy({self._value!r})" if self._done else f"lazy({self._fn!r})"


# -- emissions, taps and errors -------------------------------------------------

Tap = Callable[[Emission], None]


@dataclass(frozen=True)
class ReceiverError:
    """An exception raised by an observer (or a tap) while a signal was sent."""

    signal: str
    receiver: str
    exception: BaseException
    traceback: str
    thread_name: str
    time: float

    def __str__(self) -> str:
        return (f"observer {self.receiver} of {self.signal!r} raised "
                f"{type(self.exception).__name__}: {self.exception}")


class _Taps:
    """Process-wide taps: see every emission of every Kindling provider."""

    taps: tuple[Tap, ...] = ()
    lock = threading.Lock()


def add_global_tap(tap: Tap) -> Callable[[], None]:
    """See every emission through every :class:`BlinkerSignalProvider`; returns a remover.

    Used by the coverage report, which must see emissions from providers the
    test never handed to it. Taps must be quick and must not raise (errors are
    recorded like observer errors and never reach the emitting code).
    """
    return _add_to_tuple(_Taps, "taps", tap, _Taps.lock)


def _add_to_tuple(owner: Any, attr: str, item: Any, lock: threading.Lock) -> Callable[[], None]:
    """Add ``item`` to the tuple ``owner.<attr>``; returns the function that removes it.

    Copy on write under ``lock``: the emission path reads the tuple without locking.
    """
    with lock:
        setattr(owner, attr, getattr(owner, attr) + (item,))

    def remove() -> None:
        with lock:
            setattr(owner, attr, tuple(x for x in getattr(owner, attr) if x is not item))

    return remove


def _receiver_label(receiver: Any) -> str:
    name = getattr(receiver, "__qualname__", None) or getattr(receiver, "__name__", None)
    module = getattr(receiver, "__module__", None)
    if name:
        return f"{module}.{name}" if module else str(name)
    return repr(receiver)


# -- signals and providers ----------------------------------------------------

class KindlingSignal(blinker.NamedSignal):
    """A blinker signal whose ``send`` is fail-safe and visible to the provider's taps."""

    def __init__(self, name: str, doc: str | None, provider: BlinkerSignalProvider) -> None:
        super().__init__(name, doc)
        self.provider = provider

    def send(self, sender: Any = None, /, *args: Any, **payload: Any) -> list[tuple[Callable[..., Any], Any]]:  # type: ignore[override]
        """Send to every receiver; errors follow the provider's ``receiver_errors`` policy."""
        if args:
            raise TypeError(
                f"{self.name}: send() takes the sender and keyword payload fields only, "
                f"got extra positional arguments {args!r}")
        if payload.pop("_async_wrapper", None) is not None:
            raise TypeError(f"{self.name}: Kindling signals are sent synchronously")
        return self.provider._dispatch(self, sender, payload)

    def has_receivers_for(self, sender: Any) -> bool:
        """True when a receiver, or a tap (e.g. a recorder), will see ``sender``'s emission."""
        return bool(self.provider._taps or _Taps.taps) or super().has_receivers_for(sender)

    @property
    def observed(self) -> bool:
        return bool(self.receivers or self.provider._taps or _Taps.taps)


class SignalProvider(ABC):
    """Where signals live. ``SignalProvider()`` gives the default implementation,
    a :class:`BlinkerSignalProvider` (as ``pathlib.Path()`` gives a concrete path).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> SignalProvider:
        if cls is SignalProvider:
            cls = BlinkerSignalProvider
        return super().__new__(cls)

    @abstractmethod
    def signal(self, name: str) -> Any:
        """The signal called ``name``, created on first use."""

    @abstractmethod
    def create_signal(self, name: str, doc: str | None = None) -> Any:
        """Create (or return) the signal called ``name``, with a docstring."""

    @abstractmethod
    def get_signal(self, name: str) -> Any | None:
        """The signal called ``name`` if it was created, else ``None``."""

    def connect(self, name: str, receiver: Callable[..., Any], *, weak: bool = True) -> Callable[..., Any]:
        """Connect ``receiver(sender, **payload)`` to the signal ``name``.

        As in blinker, ``weak=True`` holds the receiver by weak reference: a
        lambda or closure nothing else holds is dropped; pass ``weak=False``.
        """
        self.signal(name).connect(receiver, weak=weak)
        return receiver

    def disconnect(self, name: str, receiver: Callable[..., Any]) -> None:
        sig = self.get_signal(name)
        if sig is not None:
            sig.disconnect(receiver)


class BlinkerSignalProvider(SignalProvider):
    """Signals backed by blinker, with taps and a receiver-error policy.

    ``receiver_errors="log"`` (the default) logs an observer's exception,
    counts it and keeps it in :attr:`errors`; ``"raise"`` also lets it
    propagate into the code that emitted (for tests that want to be strict).

    ``sampling`` takes a :class:`kindling.sampling.SamplingPolicy` to thin out
    high-volume signals (``None``, the default, sends everything).
    """

    sampling: Any = None  # a class default keeps the unsampled hot path one attribute read

    def __init__(self, *, receiver_errors: str = "log", name: str | None = None) -> None:
        self.name = name or f"provider-{id(self):x}"
        self._signals: dict[str, KindlingSignal] = {}
        self._lock = threading.Lock()
        self._taps: tuple[Tap, ...] = ()
        self._errors: deque[ReceiverError] = deque(maxlen=_MAX_KEPT_ERRORS)
        self._error_count = 0
        self._error_listeners: tuple[Callable[[ReceiverError], None], ...] = ()
        self.receiver_errors = receiver_errors

    def __repr__(self) -> str:
        return f"<BlinkerSignalProvider {self.name!r}: {len(self._signals)} signals>"

    @property
    def receiver_errors(self) -> str:
        return self._policy

    @receiver_errors.setter
    def receiver_errors(self, policy: str) -> None:
        if policy not in RECEIVER_ERROR_POLICIES:
            raise ValueError(f"receiver_errors={policy!r} is not a policy; use one of "
                             f"{', '.join(map(repr, RECEIVER_ERROR_POLICIES))}")
        self._policy = policy

    # -- signals
    def signal(self, name: str) -> KindlingSignal:
        sig = self._signals.get(name)
        return sig if sig is not None else self.create_signal(name)

    def create_signal(self, name: str, doc: str | None = None) -> KindlingSignal:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a signal name is a non-empty str like 'entity.post_merge', got {name!r}")
        with self._lock:
            sig = self._signals.get(name)
            if sig is None:
                sig = KindlingSignal(name, doc, self)
                self._signals[name] = sig
            elif doc and not sig.__doc__:
                sig.__doc__ = doc
            return sig

    def get_signal(self, name: str) -> KindlingSignal | None:
        return self._signals.get(name)

    def signal_names(self) -> list[str]:
        return list(self._signals)

    def has_observers(self, name: str) -> bool:
        """True when emitting ``name`` would reach a receiver or a tap."""
        sig = self._signals.get(name)
        return bool(self._taps or _Taps.taps or (sig is not None and sig.receivers))

    # -- taps
    def add_tap(self, tap: Tap) -> Callable[[], None]:
        """Call ``tap(emission)`` for every emission through this provider; returns a remover.

        A tap sees ``emit`` calls and direct ``provider.signal(name).send(...)``
        alike, before the receivers run, and changes nothing they receive.
        """
        return _add_to_tuple(self, "_taps", tap, self._lock)

    @contextmanager
    def tapped(self, tap: Tap) -> Iterator[Tap]:
        remove = self.add_tap(tap)
        try:
            yield tap
        finally:
            remove()

    # -- errors
    @property
    def errors(self) -> list[ReceiverError]:
        """The observer errors kept so far (the last 1000), oldest first."""
        return list(self._errors)

    @property
    def error_count(self) -> int:
        """How many observer or tap errors this provider has seen in all."""
        return self._error_count

    def clear_errors(self) -> None:
        with self._lock:
            self._errors.clear()
            self._error_count = 0

    def add_error_listener(self, listener: Callable[[ReceiverError], None]) -> Callable[[], None]:
        """Call ``listener(error)`` whenever an observer raises; returns a remover."""
        return _add_to_tuple(self, "_error_listeners", listener, self._lock)

    def _record_error(self, signal_name: str, receiver: Any, exc: BaseException, *,
                      notify: bool = True) -> BaseException | None:
        """Keep, count and log an observer's error, then tell the error listeners.

        Returns a ``KeyboardInterrupt``/``SystemExit`` a listener raised, for
        the dispatch to raise once every observer has had the signal.
        """
        error = ReceiverError(
            signal=signal_name, receiver=_receiver_label(receiver), exception=exc,
            traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
            thread_name=threading.current_thread().name, time=time.time())
        with self._lock:  # observers may fail on several threads at once
            self._errors.append(error)
            self._error_count += 1
        logger.error("%s (receiver_errors=%r)", error, self._policy, exc_info=exc)
        interrupt = None
        for listener in self._error_listeners if notify else ():
            try:
                listener(error)
            except BaseException as failure:  # a listener must not turn a logged error into a crash
                # Kept and counted like an observer's error; not re-announced (no loops).
                self._record_error(signal_name, listener, failure, notify=False)
                if interrupt is None and isinstance(failure, _INTERRUPTS):
                    interrupt = failure
        return interrupt

    def _observer_failed(self, signal_name: str, observer: Any, exc: BaseException,
                         interrupt: BaseException | None, *, tap: bool = False) -> BaseException | None:
        """Record ``exc``; returns the interrupt to raise after the dispatch (the first one wins).

        Under the ``"raise"`` policy a receiver's other errors propagate at once
        (a tap's never do).
        """
        from_listener = self._record_error(signal_name, observer, exc)
        if interrupt is None:
            interrupt = exc if isinstance(exc, _INTERRUPTS) else from_listener
        if self._policy == "raise" and not tap and not isinstance(exc, _INTERRUPTS):
            raise interrupt if interrupt is not None else exc
        return interrupt

    # -- sending
    def _dispatch(self, signal: KindlingSignal, sender: Any, payload: dict[str, Any]) -> list[tuple[Callable[..., Any], Any]]:
        if signal.is_muted:
            return []
        taps = self._taps + _Taps.taps if _Taps.taps else self._taps
        if taps:
            thread = threading.current_thread()
            emission = Emission(signal.name, sender, payload, thread.name, thread.ident or 0, time.time())
            interrupt = None
            for tap in taps:
                try:
                    tap(emission)
                except BaseException as exc:
                    interrupt = self._observer_failed(signal.name, tap, exc, interrupt, tap=True)
            if interrupt is not None:  # the receivers get the signal before it propagates
                return self._deliver_rest(signal, sender, payload, signal.receivers_for(sender),
                                          [], interrupt)
        if not signal.receivers:
            return []
        results: list[tuple[Callable[..., Any], Any]] = []
        receivers = signal.receivers_for(sender)  # a generator: _deliver_rest goes on with it
        for receiver in receivers:
            try:
                results.append((receiver, receiver(sender, **payload)))
            except BaseException as exc:  # free while nothing raises: the hot path is unchanged
                interrupt = self._observer_failed(signal.name, receiver, exc, None)
                return self._deliver_rest(signal, sender, payload, receivers, results, interrupt)
        return results

    def _deliver_rest(self, signal: KindlingSignal, sender: Any, payload: dict[str, Any],
                      receivers: Iterator[Callable[..., Any]], results: list[tuple[Callable[..., Any], Any]],
                      interrupt: BaseException | None) -> list[tuple[Callable[..., Any], Any]]:
        """After an observer failed: send to the remaining receivers, then raise a pending interrupt."""
        for receiver in receivers:
            try:
                results.append((receiver, receiver(sender, **payload)))
            except BaseException as exc:
                interrupt = self._observer_failed(signal.name, receiver, exc, interrupt)
        if interrupt is not None:
            raise interrupt
        return results


# -- the framework default provider ----------------------------------------------

class _Default:
    provider: SignalProvider = BlinkerSignalProvider(name="default")


def get_default_provider() -> SignalProvider:
    """The provider emitters use when none was passed to them."""
    return _Default.provider


def set_default_provider(provider: SignalProvider) -> SignalProvider:
    """Install ``provider`` as the framework default; returns the one it replaces."""
    if not callable(getattr(provider, "signal", None)):
        raise TypeError(f"set_default_provider() needs an object with .signal(name), got {provider!r}")
    previous, _Default.provider = _Default.provider, provider
    return previous


def reset_default_provider() -> SignalProvider:
    """Install a fresh :class:`BlinkerSignalProvider` as the default and return it."""
    _Default.provider = BlinkerSignalProvider(name="default")
    return _Default.provider


@contextmanager
def use_default_provider(provider: SignalProvider) -> Iterator[SignalProvider]:
    """Make ``provider`` the default inside the block, restoring the previous one after."""
    previous = set_default_provider(provider)
    try:
        yield provider
    finally:
        set_default_provider(previous)


# -- the emitter mixin ---------------------------------------------------------------

_current_op: contextvars.ContextVar[Operation | None] = contextvars.ContextVar(
    "kindling_current_operation", default=None)
# Set by kindling.tracing.enable_tracing(): op -> a span context manager (or None).
_span_hook: Callable[[Operation], Any] | None = None


def current_operation() -> Operation | None:
    """The innermost operation open in this thread or task, if any."""
    return _current_op.get()


class SignalEmitter:
    """Mixin for providers: emit catalog signals through a provider, fail-safe.

    Subclasses list what they emit in ``EMITS`` and open operations with
    :meth:`operation`, which sends ``pre_X``, then ``post_X`` or ``X_failed``::

        class Merger(SignalEmitter):
            EMITS = ("entity.pre_merge", "entity.post_merge", "entity.merge_failed")

            def merge(self, df, entity_id):
                with self.operation("entity.merge", entity_id=entity_id,
                                    merge_keys=["id"], source_row_count=lazy(df.count)) as op:
                    metrics = do_merge(df)
                    op.set(rows_inserted=metrics.inserted, ...)
    """

    EMITS: ClassVar[tuple[str, ...]] = ()
    # Class-level default so a subclass that forgets super().__init__() still
    # emits (through the default provider) instead of failing its operation.
    _signal_provider: SignalProvider | None = None

    def __init__(self, signal_provider: SignalProvider | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._signal_provider = signal_provider
        self._emission_errors: deque[tuple[str, BaseException]] = deque(maxlen=_MAX_KEPT_ERRORS)

    @property
    def signal_provider(self) -> SignalProvider:
        """The provider passed in, or else the framework default at the time of asking."""
        return self._signal_provider if self._signal_provider is not None else _Default.provider

    @signal_provider.setter
    def signal_provider(self, provider: SignalProvider | None) -> None:
        self._signal_provider = provider

    @property
    def emission_errors(self) -> list[tuple[str, BaseException]]:
        """Failures of a non-Kindling provider (e.g. a broken mock) while emitting: (signal, exception)."""
        return list(getattr(self, "_emission_errors", ()))

    # -- plain emission
    def emit(self, name: str, /, **payload: Any) -> None:
        """Send ``name`` with ``payload`` plus the common fields, if anything observes it."""
        # The unobserved case, inline (it is most emissions): no call, no context lookup.
        provider = self._signal_provider
        if provider is None:
            provider = _Default.provider
        if type(provider) is BlinkerSignalProvider and not (provider._taps or _Taps.taps):
            sig = provider._signals.get(name)
            if sig is not None and not sig.receivers:
                return
        self._send(name, None, payload, _current_op.get())

    def emit_lazy(self, name: str, build: Callable[[], Mapping[str, Any]], /) -> None:
        """Like :meth:`emit`, but ``build()`` makes the payload only when the signal is observed."""
        provider = self._signal_provider
        if provider is None:
            provider = _Default.provider
        if type(provider) is BlinkerSignalProvider and not (provider._taps or _Taps.taps):
            sig = provider._signals.get(name)
            if sig is not None and not sig.receivers:
                return
        self._send(name, build, None, _current_op.get())

    def is_observed(self, name: str) -> bool:
        """Whether emitting ``name`` now would reach anyone (receiver, recorder, tap)."""
        provider = self.signal_provider
        if isinstance(provider, BlinkerSignalProvider):
            return provider.has_observers(name)
        try:
            return bool(provider.signal(name).has_receivers_for(name))
        except Exception:
            return False

    def operation(self, name: str, /, *, pre: str | None = None, post: str | tuple[str, ...] | None = None,
                  failed: str | None = None, **fields: Any) -> Operation:
        """Open an operation: ``pre_X`` now, then ``post_X`` or ``X_failed`` when the block ends.

        ``name`` is a catalog operation (``"entity.merge"``); ``pre``/``post``/
        ``failed`` override its signal names. ``fields`` go into all three
        payloads; :meth:`Operation.set` adds to the closing one.
        """
        pre_name, post_names, failed_name = _resolve_operation(name, pre, post, failed)
        return Operation(self, name, pre_name, post_names, failed_name, fields)

    # -- the one place payloads are completed and sent
    def _send(self, name: str, build: Callable[[], Mapping[str, Any]] | None,
              payload: dict[str, Any] | None, op: Operation | None,
              operation_id: str | None = None, parent_id: str | None = None) -> None:
        provider = self._signal_provider if self._signal_provider is not None else _Default.provider
        if type(provider) is BlinkerSignalProvider:
            sig = provider._signals.get(name)
            if sig is None:
                sig = provider.create_signal(name)
            if not (sig.receivers or provider._taps or _Taps.taps):
                return  # nobody listens: build nothing
            sampling = provider.sampling
        else:
            try:
                sig = provider.signal(name)
                if not sig.has_receivers_for(name):
                    return
            except Exception as exc:
                self._provider_failed(name, provider, exc)
                return
            sampling = getattr(provider, "sampling", None) if isinstance(provider, BlinkerSignalProvider) else None
        extra = None
        if sampling is not None:  # kindling.sampling: decide before building anything
            try:
                extra = sampling.admit(self, name, build, payload, op, operation_id, parent_id)
            except Exception as exc:  # a broken policy must not lose the emission
                self._provider_failed(name, provider, exc)
            else:
                if extra is None:
                    return
        interrupt = None
        try:
            body = dict(build()) if build is not None else payload or {}
            if operation_id is None:
                if op is not None:
                    operation_id, parent_id = op.operation_id, op.parent_operation_id
                else:
                    operation_id = new_operation_id()
            full: dict[str, Any] = {
                "operation_id": operation_id,
                "timestamp": utc_timestamp(),
                "parent_operation_id": parent_id,
                **body,
            }
            for key, value in body.items():  # copying first is cheaper than per-key stores
                if type(value) is lazy:
                    try:
                        full[key] = value()
                    except BaseException as exc:
                        # Send the signal anyway (a dropped pre_X would leave its
                        # post_X unopened); the null shows up as a payload violation.
                        full[key] = None
                        self._provider_failed(name, provider, exc)
                        if interrupt is None and isinstance(exc, _INTERRUPTS):
                            interrupt = exc  # raised once the signal is sent
            if extra:
                full.update(extra)
        except BaseException as exc:  # a payload builder that fails must not fail the operation
            self._provider_failed(name, provider, exc)
            if isinstance(exc, _INTERRUPTS):
                raise
            return
        if type(provider) is BlinkerSignalProvider:
            # What sig.send() would do, minus a second copy of the payload.
            provider._dispatch(sig, name, full)  # fail-safe per the provider's policy
        else:
            try:
                sig.send(name, **full)
            except BaseException as exc:
                self._provider_failed(name, provider, exc)
                if isinstance(exc, _INTERRUPTS):
                    raise
        if interrupt is not None:
            raise interrupt

    def _provider_failed(self, name: str, provider: Any, exc: BaseException) -> None:
        if not hasattr(self, "_emission_errors"):
            self._emission_errors = deque(maxlen=_MAX_KEPT_ERRORS)
        self._emission_errors.append((name, exc))
        logger.warning("emitting %r through %r failed; the operation goes on: %s: %s",
                       name, provider, type(exc).__name__, exc)


_resolved_ops: dict[tuple[str, Any, Any, Any], tuple[str, tuple[str, ...], str | None]] = {}


def _resolve_operation(name: str, pre: str | None, post: str | tuple[str, ...] | None,
                       failed: str | None) -> tuple[str, tuple[str, ...], str | None]:
    key = (name, pre, post, failed)
    found = _resolved_ops.get(key)
    if found is not None:
        return found
    if "." not in name:
        raise ValueError(f"operation name {name!r} needs a namespace, like 'entity.merge'")
    from kindling.signal_catalog import load_catalog  # the catalog knows irregular names

    spec = load_catalog().operations.get(name)
    ns, op = name.split(".", 1)
    d_pre = spec.pre if spec else f"{ns}.pre_{op}"
    d_post = spec.post if spec else (f"{ns}.post_{op}",)
    d_failed = spec.failed if spec else f"{ns}.{op}_failed"
    posts = (post,) if isinstance(post, str) else post
    found = (pre or d_pre, tuple(posts) if posts else d_post, failed if failed is not None else d_failed)
    _resolved_ops[key] = found
    return found


class Operation:
    """An open operation; use it as a context manager from :meth:`SignalEmitter.operation`."""

    __slots__ = ("emitter", "name", "pre", "post", "failed", "fields", "result", "closer",
                 "operation_id", "parent_operation_id", "_started", "_token", "duration_seconds",
                 "_span")

    def __init__(self, emitter: SignalEmitter, name: str, pre: str, post: tuple[str, ...],
                 failed: str | None, fields: dict[str, Any]) -> None:
        self.emitter = emitter
        self.name = name
        self.pre = pre
        self.post = post
        self.failed = failed
        self.fields = fields
        self.result: dict[str, Any] = {}
        self.closer = post[0]
        self.operation_id = new_operation_id()
        parent = _current_op.get()
        self.parent_operation_id = parent.operation_id if parent is not None else None
        self.duration_seconds: float | None = None

    def set(self, **fields: Any) -> Operation:
        """Add fields to the closing payload (``post_X`` or ``X_failed``)."""
        self.result.update(fields)
        return self

    def close_as(self, name: str, **fields: Any) -> Operation:
        """Close with another of the operation's outcomes, e.g. ``datapipes.pipe_skipped``."""
        if name not in self.post:
            raise ValueError(f"{name!r} does not close operation {self.name!r}; "
                             f"its outcomes are {', '.join(self.post)}")
        self.closer = name
        self.result.update(fields)
        return self

    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def __enter__(self) -> Operation:
        hook = _span_hook  # tracing: the span wraps the whole lifecycle, pre_X to post_X
        self._span = span = hook(self) if hook is not None else None
        if span is not None:
            span.__enter__()
        self._token = _current_op.set(self)
        try:
            self.emitter._send(self.pre, None, {"operation": self.name, **self.fields}, None,
                               self.operation_id, self.parent_operation_id)
        except BaseException as exc:
            # An observer aborted the operation (a "raise" receiver policy, a
            # KeyboardInterrupt or SystemExit). __exit__ won't run: close the
            # lifecycle and the context now, or later operations would nest under this one.
            _current_op.reset(self._token)
            try:
                self._send_failed(exc, 0.0)  # it never started
            except BaseException:  # already propagating exc; this one was recorded when raised
                pass
            finally:
                if span is not None:
                    span.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._started = time.perf_counter()
        return self

    def _send_failed(self, exc: BaseException, duration: float) -> None:
        self.duration_seconds = duration
        if self.failed is not None:
            payload = {"operation": self.name, **self.fields, **self.result,
                       "error": describe_error(exc),
                       "error_type": type(exc).__name__, "duration_seconds": duration}
            self.emitter._send(self.failed, None, payload, None,
                               self.operation_id, self.parent_operation_id)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.duration_seconds = duration = time.perf_counter() - self._started
        _current_op.reset(self._token)
        try:
            if exc is None:
                payload = {"operation": self.name, **self.fields, **self.result,
                           "duration_seconds": duration}
                self.emitter._send(self.closer, None, payload, None,
                                   self.operation_id, self.parent_operation_id)
            else:
                self._send_failed(exc, duration)
        finally:
            if self._span is not None:
                self._span.__exit__(exc_type, exc, tb)
        # the exception, if any, propagates

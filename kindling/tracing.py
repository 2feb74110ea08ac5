"""Spans: nested, timed sections of work, announced as ``trace.*`` signals.

A span is opened by :meth:`SparkTraceProvider.span` and knows its parent
span (per thread and per asyncio task, through ``contextvars``)::

    >>> from kindling.tracing import SparkTraceProvider
    >>> tracer = SparkTraceProvider()
    >>> with tracer.span("load", "MyPipeline") as outer:          # trace.span_started
    ...     with tracer.span("parse", "MyPipeline") as inner:     # trace.span_started
    ...         pass                                              # trace.span_ended
    >>> inner.parent_span_id == outer.span_id                     # trace.span_ended
    True

With :func:`enable_tracing` (or the :func:`tracing` block) every provider
operation (``SignalEmitter.operation(...)``) runs inside a span named after the
operation, with the provider's class as the component. Tracing is off by
default. When a Spark session is already running, the span also becomes the
Spark job description, so the Spark UI shows which Kindling operation ran a
job; no session is ever started for it.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kindling import signaling
from kindling.signaling import Operation, SignalEmitter, SignalProvider, new_operation_id

__all__ = ["Span", "SparkTraceProvider", "current_span", "disable_tracing", "enable_tracing",
           "tracing", "tracing_enabled"]

_SPAN_OPERATION = "trace.span"
_JOB_DESCRIPTION = "spark.job.description"

_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "kindling_current_span", default=None)


@dataclass
class Span:
    """An open (or finished) span; ``duration_seconds`` is set when it closes."""

    span_id: str
    operation: str
    component: str
    parent_span_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    duration_seconds: float | None = None


def current_span() -> Span | None:
    """The innermost open span in this thread or task, if any."""
    return _current.get()


class SparkTraceProvider(SignalEmitter):
    """Opens spans and announces them as signals for external monitors.

    >>> with SparkTraceProvider().span("merge", "DataEntityManager", {"entity": "sales"}):
    ...     pass

    Signals Emitted:
        - ``trace.span_started``: a span opened; ``span_id``, ``component``,
          ``operation``, ``parent_span_id`` (null for a root span), ``details``
          (when given).
        - ``trace.span_ended``: the block finished; ``span_id``, ``duration_seconds``.
        - ``trace.span_failed``: the block raised; ``span_id``, ``error``,
          ``error_type``, ``duration_seconds``. The exception propagates.

    The three share one ``operation_id`` (the span's lifecycle), emitted
    through the operation helper.
    """

    EMITS: ClassVar[tuple[str, ...]] = ("trace.span_started", "trace.span_ended", "trace.span_failed")

    def __init__(self, signal_provider: SignalProvider | None = None) -> None:
        super().__init__(signal_provider)

    @contextmanager
    def span(self, operation: str, component: str,
             details: Mapping[str, Any] | None = None) -> Iterator[Span]:
        """Run the block as a span called ``operation`` of ``component``; yields the :class:`Span`."""
        for arg, value in (("operation", operation), ("component", component)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"span({arg}={value!r}): {arg} must be a non-empty str, "
                                 f"e.g. span('merge', 'DataEntityManager')")
        if details is not None and not isinstance(details, Mapping):
            raise TypeError(f"span(details={details!r}): details must be a mapping or None")
        parent = _current.get()
        span = Span(new_operation_id(), operation, component,
                    parent.span_id if parent is not None else None, dict(details or {}))
        fields: dict[str, Any] = {"span_id": span.span_id, "component": component,
                                  "operation": operation, "parent_span_id": span.parent_span_id}
        if details:
            fields["details"] = span.details
        token = _current.set(span)
        previous_job = _set_job_description(f"{component}: {operation}")
        op: Operation | None = None
        try:
            with self.operation(_SPAN_OPERATION, **fields) as op:
                yield span
        finally:
            if op is not None:
                span.duration_seconds = op.duration_seconds
            _restore_job_description(previous_job)
            _current.reset(token)


# -- spark job descriptions (only when a SparkContext already runs) -------------

_NO_SPARK = object()


def _spark_context() -> Any:
    if "pyspark" not in sys.modules:  # never import (let alone start) Spark for a span
        return None
    from pyspark import SparkContext
    return SparkContext._active_spark_context


def _set_job_description(text: str) -> Any:
    try:
        sc = _spark_context()
        if sc is None:
            return _NO_SPARK
        previous = sc.getLocalProperty(_JOB_DESCRIPTION)
        sc.setJobDescription(text)
        return previous
    except Exception:  # tracing must never break the work it describes
        return _NO_SPARK


def _restore_job_description(previous: Any) -> None:
    if previous is _NO_SPARK:
        return
    try:
        sc = _spark_context()
        if sc is not None:
            sc.setLocalProperty(_JOB_DESCRIPTION, previous)
    except Exception:
        pass


# -- spans around every provider operation -----------------------------------------

class _Tracing:
    lock = threading.Lock()
    provider: SparkTraceProvider | None = None


def _span_for(op: Operation) -> AbstractContextManager[Span] | None:
    tracer = _Tracing.provider
    if tracer is None or op.name == _SPAN_OPERATION:  # a span's own operation opens no span
        return None
    return tracer.span(op.name, type(op.emitter).__name__, {"operation_id": op.operation_id})


def enable_tracing(provider: SparkTraceProvider | None = None) -> SparkTraceProvider:
    """Wrap every provider operation in a span from ``provider`` (a new default-following one if None).

    >>> tracer = enable_tracing()          # doctest: +SKIP
    >>> disable_tracing()                  # doctest: +SKIP
    """
    if provider is not None and not isinstance(provider, SparkTraceProvider):
        raise TypeError(f"enable_tracing(provider={provider!r}) takes a SparkTraceProvider or None")
    with _Tracing.lock:
        _Tracing.provider = provider or SparkTraceProvider()
        signaling._span_hook = _span_for
        return _Tracing.provider


def disable_tracing() -> None:
    """Stop wrapping operations in spans (explicit ``span()`` blocks still work)."""
    with _Tracing.lock:
        _Tracing.provider = None
        signaling._span_hook = None


def tracing_enabled() -> bool:
    return _Tracing.provider is not None


@contextmanager
def tracing(provider: SparkTraceProvider | None = None) -> Iterator[SparkTraceProvider]:
    """Trace every provider operation inside the block, then restore the previous state."""
    previous = _Tracing.provider
    tracer = enable_tracing(provider)
    try:
        yield tracer
    finally:
        if previous is None:
            disable_tracing()
        else:
            enable_tracing(previous)

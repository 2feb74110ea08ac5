"""Valid emission sequences for testing observers: operations opened, nested and closed.

An operation is the catalog's lifecycle: ``pre_X``, then exactly one of its
outcomes (``post_X``, an alternative such as ``pipe_skipped``, or
``X_failed``), all with one ``operation_id``. Operations nest: a child opens
after its parent's ``pre_`` and closes before its parent's outcome, and
carries the parent's id as ``parent_operation_id``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from hypothesis import strategies as st

from pytest_kindling_signals.catalog import FieldSpec, OperationSpec, SignalCatalog
from pytest_kindling_signals.strategies._payloads import spec_payloads
from pytest_kindling_signals.strategies._validation import (
    InvalidArgument,
    check_int_range,
    close_matches,
    resolve_catalog,
)

__all__ = ["SignalEvent", "lifecycles"]

_EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
_KEEP_COMMON = ("operation_id", "timestamp", "parent_operation_id")


class SignalEvent(NamedTuple):
    """One emission of a generated sequence: unpack it as ``name, payload``.

    It has ``name`` and ``payload`` like a recorded signal, so
    :func:`~pytest_kindling_signals.catalog.contract.check_contract` takes a list of them.
    """

    name: str
    payload: dict[str, Any]


@dataclass
class _Node:
    op: OperationSpec
    closer: str
    children: list[_Node] = field(default_factory=list)


def lifecycles(*, operations: Sequence[str] | None = None, max_depth: int = 2, max_operations: int = 6,
               catalog: SignalCatalog | None = None) -> st.SearchStrategy[list[SignalEvent]]:
    """Lists of :class:`SignalEvent` that keep the catalog's contract, in emission order.

    ``operations``: catalog operation names to draw from (``"entity.merge"``,
    ``"datapipes.pipe"``...; default: every operation of the catalog).
    ``max_depth``: how deep operations nest (1: no nesting).
    ``max_operations``: at most this many operations per sequence.

    Every payload validates; timestamps never go backwards and each outcome's
    ``duration_seconds`` is the time since its ``pre_``; an outcome repeats
    the key fields its ``pre_`` carried (``entity_id``...)::

        @given(lifecycles(operations=["datapipes.run", "datapipes.pipe"]))
        def test_observer(events):
            for name, payload in events:
                observer(name, **payload)
    """
    fn = "lifecycles"
    cat = resolve_catalog(fn, catalog)
    check_int_range(fn, "max_depth", max_depth, 1, 5)
    check_int_range(fn, "max_operations", max_operations, 1, 50)
    known = cat.operations
    if not known:
        raise InvalidArgument(f"{fn}(): the catalog declares no operations (pre/post/failed lifecycles)")
    if operations is None:
        chosen = list(known.values())
    else:
        if isinstance(operations, str):
            raise InvalidArgument(f"{fn}(operations={operations!r}): pass a list of operation names, "
                                  f"e.g. operations=[{operations!r}]")
        chosen = []
        for name in operations:
            if name not in known:
                raise InvalidArgument(
                    f"{fn}(operations={list(operations)!r}): unknown operation {name!r}."
                    f"{close_matches(str(name), known)} The catalog's operations are "
                    f"{', '.join(known)}")
            chosen.append(known[name])
        if not chosen:
            raise InvalidArgument(f"{fn}(operations=[]): give at least one operation, or None for all")
    return _lifecycles(cat, chosen, max_depth, max_operations)


def _same_rule(a: FieldSpec, b: FieldSpec) -> bool:
    return replace(a, description="", required=True) == replace(b, description="", required=True)


def _lifecycles(cat: SignalCatalog, ops: list[OperationSpec], max_depth: int,
                max_operations: int) -> st.SearchStrategy[list[SignalEvent]]:
    # The catalog's shared optional fields (sampling...) describe how a signal
    # was thinned, not the operation: a plain lifecycle leaves them out.
    shared = set.intersection(*(set(s.fields) for s in cat.values()))
    dropped = shared - set(_KEEP_COMMON) - {"operation"}

    @st.composite
    def build(draw: st.DrawFn) -> list[SignalEvent]:
        budget = [max_operations]

        def nodes(depth: int, most: int) -> list[_Node]:
            out = []
            for _ in range(draw(st.integers(0, max(0, min(most, budget[0]))))):
                if budget[0] <= 0:  # earlier siblings' children used it up
                    break
                budget[0] -= 1
                op = draw(st.sampled_from(ops))
                node = _Node(op, draw(st.sampled_from(op.closers)))
                if depth < max_depth:
                    node.children = nodes(depth + 1, 2)
                out.append(node)
            return out

        budget[0] -= 1
        first = draw(st.sampled_from(ops))
        roots = [_Node(first, draw(st.sampled_from(first.closers)))]
        if max_depth > 1:
            roots[0].children = nodes(2, 2)
        roots += nodes(1, 2)

        # Sequential ids read well when shrunk: 00000000-0000-0000-0000-000000000001...
        high = draw(st.integers(0, 2**32 - 1)) << 96
        counter = iter(range(1, max_operations + 2))
        clock = [0]
        events: list[SignalEvent] = []

        def stamp() -> tuple[str, int]:
            clock[0] += draw(st.integers(0, 5000))  # milliseconds
            return (_EPOCH + dt.timedelta(milliseconds=clock[0])).isoformat(), clock[0]

        def payload(name: str, op: OperationSpec, op_id: str, parent: str | None) -> dict[str, Any]:
            spec = cat[name]
            p = {k: v for k, v in draw(spec_payloads(spec)).items()
                 if k not in dropped or spec.fields[k].required}
            if "operation" in spec.fields and "operation" not in spec.key_fields:
                p["operation"] = op.name  # what SignalEmitter.operation() sends
            p["operation_id"] = op_id
            if parent is not None:
                p["parent_operation_id"] = parent
            elif "parent_operation_id" in p:
                p["parent_operation_id"] = None
            return p

        def emit(node: _Node, parent: str | None) -> None:
            op_id = str(uuid.UUID(int=high | next(counter)))
            pre = payload(node.op.pre, node.op, op_id, parent)
            pre["timestamp"], opened = stamp()
            events.append(SignalEvent(node.op.pre, pre))
            for child in node.children:
                emit(child, op_id)
            close = payload(node.closer, node.op, op_id, parent)
            pre_fields, close_fields = cat[node.op.pre].fields, cat[node.closer].fields
            for k, v in pre.items():
                if k not in shared and k in close_fields and _same_rule(pre_fields[k], close_fields[k]):
                    close[k] = v
            close["timestamp"], closed = stamp()
            if "duration_seconds" in close_fields:
                close["duration_seconds"] = (closed - opened) / 1000
            events.append(SignalEvent(node.closer, close))

        for root in roots:
            emit(root, None)
        return events

    return build()

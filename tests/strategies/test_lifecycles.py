"""lifecycles(): valid, properly nested emission sequences for observers."""

from __future__ import annotations

import pytest
from hypothesis import Phase, find, given, settings

from kindling.signal_catalog import load_catalog
from pytest_kindling_signals.catalog import check_contract
from pytest_kindling_signals.strategies import SignalEvent, lifecycles

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions: the report leaves them out

CATALOG = load_catalog()
SHRINK = settings(database=None, max_examples=500, phases=[Phase.generate, Phase.shrink])


@settings(database=None)
@given(lifecycles(max_depth=3))
def test_lifecycles_keep_the_contract(events: list[SignalEvent]) -> None:
    assert check_contract(events, CATALOG) == []


@settings(database=None)
@given(lifecycles(max_depth=3))
def test_operations_nest_and_carry_their_parents_id(events: list[SignalEvent]) -> None:
    stack: list[str] = []
    for name, payload in events:
        oid = payload["operation_id"]
        if CATALOG.operation_opened_by(name):
            assert payload.get("parent_operation_id") == (stack[-1] if stack else None)
            stack.append(oid)
        else:
            assert stack and stack[-1] == oid, "a closer closes the innermost open operation"
            stack.pop()
            assert payload.get("parent_operation_id") == (stack[-1] if stack else None)
    assert stack == []


@settings(database=None)
@given(lifecycles(operations=["entity.merge", "datapipes.pipe"]))
def test_outcomes_repeat_their_pre_and_time_moves_forward(events: list[SignalEvent]) -> None:
    opened = {}
    stamps = [p["timestamp"] for _, p in events]
    assert stamps == sorted(stamps)
    for name, payload in events:
        if name in ("entity.pre_merge", "datapipes.pre_pipe"):
            opened[payload["operation_id"]] = payload
        else:
            assert name in ("entity.post_merge", "entity.merge_failed", "datapipes.post_pipe",
                            "datapipes.pipe_skipped", "datapipes.pipe_failed")
            pre = opened[payload["operation_id"]]
            for key in ("entity_id", "pipe_id", "pipe_name", "pipe_index"):
                if key in pre and key in payload:
                    assert payload[key] == pre[key]
            if "duration_seconds" in payload:
                assert payload["duration_seconds"] >= 0


def test_max_depth_one_means_no_nesting() -> None:
    @settings(database=None, max_examples=30)
    @given(lifecycles(max_depth=1))
    def check(events: list[SignalEvent]) -> None:
        assert all(p.get("parent_operation_id") is None for _, p in events)

    check()


def test_lifecycles_shrink_to_one_readable_operation() -> None:
    events = find(lifecycles(operations=["entity.merge"]), lambda e: len(e) >= 2, settings=SHRINK)
    assert [(n, p["operation_id"]) for n, p in events] == [
        ("entity.pre_merge", "00000000-0000-0000-0000-000000000001"),
        ("entity.post_merge", "00000000-0000-0000-0000-000000000001")]
    assert events[1].payload["duration_seconds"] == 0.0


def test_a_failed_outcome_is_generated() -> None:
    events = find(lifecycles(operations=["entity.merge"]),
                  lambda e: any(n == "entity.merge_failed" for n, _ in e), settings=SHRINK)
    assert [n for n, _ in events] == ["entity.pre_merge", "entity.merge_failed"]
    assert set(events[1].payload) >= {"error", "error_type", "duration_seconds", "entity_id"}

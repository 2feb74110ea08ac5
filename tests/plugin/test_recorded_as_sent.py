"""Recorded as sent: a record holds the payload as it was at send time, whatever the receivers
do to it afterwards; big or deep payloads are cut with a marker, never an exception; objects
that aren't data are kept by reference and never looked into by a message."""

from __future__ import annotations

import pytest

from demo_merger import Merger
from pytest_kindling_signals import SignalRecorder, Truncated
from pytest_kindling_signals.record import MAX_DEPTH, MAX_ITEMS, snapshot_payload

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


def rewrite_in_place(sender, **payload) -> None:
    """Like spark-kindling-ext-temporal's receiver: it rewrites ``pipe_ids[:]``."""
    payload["pipe_ids"][:] = [p.upper() for p in payload["pipe_ids"]]
    payload["options"]["mode"] = "rewritten"


def drop_one(sender, **payload) -> None:
    payload["pipe_ids"].pop()


@pytest.mark.parametrize("send", ["send", "emit"])
def test_receivers_that_mutate_the_payload_before_and_after_the_recorder_leave_the_record_alone(
        provider, send):
    pipe_ids = ["silver", "gold"]
    options = {"mode": "full", "tags": ["a"]}
    provider.connect("datapipes.pre_run", rewrite_in_place)    # connected before the recorder
    with SignalRecorder(provider) as rec:
        provider.connect("datapipes.pre_run", drop_one)        # ... and after it
        if send == "send":
            provider.signal("datapipes.pre_run").send("datapipes.pre_run", pipe_ids=pipe_ids,
                                                      options=options)
        else:
            Merger(provider).emit("datapipes.pre_run", pipe_ids=pipe_ids, options=options)

    assert pipe_ids == ["SILVER"] and options["mode"] == "rewritten"  # both receivers ran
    record = rec.records[0]
    assert record["pipe_ids"] == ["silver", "gold"]
    assert record["options"] == {"mode": "full", "tags": ["a"]}
    assert record["options"]["tags"] is not options["tags"]
    rec.assert_emitted("datapipes.pre_run", pipe_ids=["silver", "gold"])


def test_containers_keep_their_shape_and_sharing():
    from collections import OrderedDict, namedtuple

    Point = namedtuple("Point", "x y")
    shared = [1]
    cycle: list = [0]
    cycle.append(cycle)
    sent = {"a": shared, "b": shared, "od": OrderedDict(k=[1]), "p": Point([1], 2), "t": (1, "x"),
            "s": {1, 2}, "cycle": cycle}
    kept = snapshot_payload(sent)
    assert kept["a"] is kept["b"] and kept["a"] is not shared
    assert type(kept["od"]) is OrderedDict and kept["od"]["k"] is not sent["od"]["k"]
    assert kept["p"] == Point([1], 2) and kept["p"].x is not sent["p"].x
    assert kept["t"] is sent["t"]                 # nothing mutable inside: kept as it is
    assert kept["s"] == {1, 2} and kept["s"] is not sent["s"]
    assert kept["cycle"][1] is kept["cycle"]      # a cycle stays a cycle, and ends
    plain = {"n": 1, "name": "x", "ratio": 0.5, "none": None}
    assert snapshot_payload(plain) is plain       # nothing to copy: no copy made


def test_a_payload_nested_too_deep_is_cut_with_a_marker(provider):
    deep: list = [1]
    for _ in range(20):
        deep = [deep]
    with SignalRecorder(provider) as rec:
        provider.signal("myteam.tree").send("myteam.tree", tree=deep)
    level = rec.records[0]["tree"]
    for _ in range(MAX_DEPTH - 1):
        level = level[0]
    marker = level[0]
    assert isinstance(marker, Truncated)
    assert (marker.type_name, marker.size, marker.kept) == ("list", 1, None)
    assert repr(marker) == f"<truncated list of 1 item: nested deeper than {MAX_DEPTH} levels>"


def test_a_payload_past_the_item_budget_keeps_its_head_and_says_so(provider):
    rows = list(range(MAX_ITEMS + 5))
    with SignalRecorder(provider) as rec:
        provider.signal("myteam.rows").send("myteam.rows", rows=rows, after=[1])
    kept = rec.records[0]["rows"]
    assert isinstance(kept, Truncated)
    assert kept.size == MAX_ITEMS + 5 and kept.kept == list(range(MAX_ITEMS))
    assert rec.records[0]["after"] == kept_after(rec)
    with pytest.raises(AssertionError) as info:
        rec.assert_emitted("myteam.rows", rows=rows)
    assert str(info.value).splitlines()[-1] == (
        f"  rows: expected [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16..., got "
        f"<truncated list of {MAX_ITEMS + 5} items: first {MAX_ITEMS} kept ({MAX_ITEMS} i...")


def kept_after(rec: SignalRecorder) -> object:
    # the budget is spent: what follows is cut too, with a marker, not an exception
    after = rec.records[0]["after"]
    assert isinstance(after, Truncated) and after.kept == []
    return after


class Untouchable:
    """Stands for a DataFrame: any look inside it (repr, str, attributes, ==, len, iter, bool)
    would start Spark work, so here it raises."""

    def __repr__(self) -> str:
        raise AssertionError("repr() of a DataFrame-like value")

    __str__ = __repr__

    def __getattr__(self, name: str):
        raise AssertionError(f"attribute {name!r} of a DataFrame-like value")

    def __eq__(self, other: object) -> bool:
        raise AssertionError("== on a DataFrame-like value")

    __ne__ = __eq__
    __hash__ = object.__hash__

    def __len__(self) -> int:
        raise AssertionError("len() of a DataFrame-like value")

    def __iter__(self):
        raise AssertionError("iter() of a DataFrame-like value")

    def __bool__(self) -> bool:
        raise AssertionError("bool() of a DataFrame-like value")


def test_objects_that_arent_data_are_kept_by_reference_and_never_looked_into(provider):
    df = Untouchable()
    shown = "<test_recorded_as_sent.Untouchable object>"
    with SignalRecorder(provider) as rec:
        Merger(provider).emit("entity.post_merge", entity_id="orders", rows_inserted=df, frames=[df],
                              merge_keys=["id"], source_row_count=1, rows_updated=0, rows_deleted=0,
                              duration_seconds=0.1)
    record = rec.records[0]
    assert record["rows_inserted"] is df and record["frames"][0] is df
    rec.assert_emitted("entity.post_merge", rows_inserted=df)        # the very object matches
    with pytest.raises(AssertionError) as info:
        rec.assert_emitted("entity.post_merge", rows_inserted=3, frames=[df])
    assert str(info.value).splitlines()[-3:] == [
        "Closest candidate, #0 entity.post_merge:",
        f"  rows_inserted: expected 3, got {shown}",
        f"  frames: expected [{shown}], got [{shown}]",
    ]
    with pytest.raises(AssertionError) as info:
        rec.assert_contract()
    assert str(info.value).splitlines()[1:3] == [
        f"  [payload] entity.post_merge: field 'rows_inserted': expected a JSON value (str, int, float, "
        f"bool, None, list, dict), got Untouchable {shown}  (#0)",
        f"  [payload] entity.post_merge: field 'frames[0]': expected a JSON value (str, int, float, bool, "
        f"None, list, dict), got Untouchable {shown}  (#0)",
    ]
    assert f"  [payload] entity.post_merge: field 'rows_inserted': expected integer, got Untouchable {shown}  (#0)" \
        in str(info.value).splitlines()
    with pytest.raises(AssertionError) as info:
        rec.wait_for("entity.post_merge", timeout=0, rows_inserted=4)
    assert f"    > #0  entity.post_merge  rows_inserted={shown}" in str(info.value).splitlines()

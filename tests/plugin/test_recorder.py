"""SignalRecorder as a plain class (no pytest plugin involved): recording, reading, threads."""

from __future__ import annotations

import threading
import time

import pytest

from demo_merger import Merger
from kindling.signal_catalog import UnknownSignalError
from pytest_kindling_signals import SignalRecorder, UnknownSignalPatternError

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


def test_records_emit_and_direct_send_with_every_field(provider, rec):
    Merger(provider).merge("customers", [1, 2, 3])
    provider.signal("datapipes.pipe_skipped").send("datapipes.pipe_skipped", pipe_id="p1")

    assert rec.names() == ["entity.pre_merge", "entity.post_merge", "datapipes.pipe_skipped"]
    first, post, sent = rec.records
    assert [r.seq for r in rec.records] == [0, 1, 2]
    assert post.sender == "entity.post_merge" and post["rows_inserted"] == 3
    assert post.payload["operation_id"] == first.payload["operation_id"]
    assert sent.payload == {"pipe_id": "p1"} and sent.get("missing", "x") == "x"
    assert sent.thread_name == threading.current_thread().name
    assert sent.thread_id == threading.get_ident()
    assert first.time <= post.time <= sent.time <= time.time()
    assert {r.phase for r in rec.records} == {"call"}


def test_of_first_last_filter_by_name_glob_and_payload(provider, rec):
    m = Merger(provider)
    m.merge("a", [1])
    m.merge("b", [1, 2])
    with pytest.raises(ValueError):
        m.merge("c", [], fail=True)

    assert [r["entity_id"] for r in rec.of("entity.post_merge")] == ["a", "b"]
    assert [r.name for r in rec.of("entity.*_failed")] == ["entity.merge_failed"]
    assert rec.of("entity.pre_merge", entity_id="b")[0]["source_row_count"] == 2
    assert rec.first("entity.post_*")["entity_id"] == "a"
    assert rec.last("entity.post_*")["entity_id"] == "b"
    assert rec.first().name == "entity.pre_merge" and rec.last().name == "entity.merge_failed"
    assert rec.first("entity.post_merge", entity_id="zzz") is None
    assert rec.of("datapipes.*") == []


def test_clear_forgets_records_but_sequence_numbers_go_on(provider, rec):
    m = Merger(provider)
    m.merge("a", [1])
    assert len(rec) == 2
    rec.clear()
    assert rec.records == [] and rec.names() == []
    m.merge("b", [1])
    assert [r.seq for r in rec.records] == [2, 3]


def test_records_are_tagged_with_the_phase_they_happened_in(provider, rec):
    m = Merger(provider)
    rec.phase = "setup"
    m.merge("a", [1])
    rec.phase = "call"
    m.merge("b", [1])
    rec.phase = "teardown"
    provider.signal("entity.schema_changed").send("entity.schema_changed")

    assert [r.seq for r in rec.get_records("setup")] == [0, 1]
    assert [r["entity_id"] for r in rec.get_records("call")] == ["b", "b"]
    assert rec.get_records("teardown")[0].name == "entity.schema_changed"
    with pytest.raises(ValueError, match=r"phase='cal' is not a test phase; use one of 'setup', 'call', 'teardown'"):
        rec.get_records("cal")


def test_a_misspelt_name_is_an_error_naming_the_close_ones(provider, rec):
    with pytest.raises(UnknownSignalError) as info:
        rec.of("entity.post_merg")
    assert str(info.value) == (
        "Unknown signal 'entity.post_merg': it is not in the signal catalog, and no such signal was "
        "recorded. Did you mean 'entity.post_merge' or 'entity.pre_merge' or 'entity.post_write'?")
    with pytest.raises(UnknownSignalPatternError, match=r"^Unknown signal pattern 'entity\.\*_faild': it matches no signal "
                       r"in the signal catalog and no recorded signal\. Did you mean 'entity\.write_failed'"):
        rec.assert_not_emitted("entity.*_faild")
    with pytest.raises(TypeError, match="non-empty str"):
        rec.of("")


def test_a_recorded_name_outside_the_catalog_may_be_asserted(provider, rec):
    provider.signal("myteam.custom_event").send("myteam.custom_event", n=1)
    assert rec.assert_emitted("myteam.custom_event", n=1).seq == 0
    assert rec.of("myteam.*")[0]["n"] == 1


def test_emissions_from_eight_threads_are_all_recorded_in_sequence_order(provider, rec):
    per_thread = 500
    start = threading.Barrier(8)

    def work(k: int) -> None:
        m = Merger(provider)
        start.wait()
        for i in range(per_thread):
            m.emit("entity.version_updated", entity_id=f"t{k}", version=i)

    threads = [threading.Thread(target=work, args=(k,), name=f"worker-{k}") for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    records = rec.records
    assert len(records) == 8 * per_thread
    assert [r.seq for r in records] == list(range(8 * per_thread))
    for k in range(8):
        mine = [r for r in records if r.thread_name == f"worker-{k}"]
        assert [r["version"] for r in mine] == list(range(per_thread))
        assert {r["entity_id"] for r in mine} == {f"t{k}"}


def test_wait_for_wakes_when_another_thread_emits(provider, rec):
    def later() -> None:
        time.sleep(0.05)
        Merger(provider).merge("late", [1, 2])

    t = threading.Thread(target=later)
    started = time.monotonic()
    t.start()
    found = rec.wait_for("entity.post_merge", timeout=10, rows_inserted=2)
    t.join()
    assert found["entity_id"] == "late"
    assert time.monotonic() - started < 5  # woken by the emission, not by the timeout


def test_wait_for_returns_at_once_for_a_record_made_before(provider, rec):
    Merger(provider).merge("early", [1])
    assert rec.wait_for("entity.pre_merge", timeout=0).seq == 0


def test_wait_for_times_out_with_what_was_recorded(provider, rec):
    Merger(provider).merge("a", [1])
    with pytest.raises(AssertionError) as info:
        rec.wait_for("entity.post_merge", timeout=0.05, rows_inserted=5)
    assert str(info.value).splitlines() == [
        "wait_for('entity.post_merge', rows_inserted=5): nothing matched within 0.05 s.",
        "Expected next: 'entity.post_merge' with rows_inserted=5",
        "Recorded 2 signals, by thread, in order:",
        "  thread 'MainThread':",
        "      #0  entity.pre_merge",
        "    > #1  entity.post_merge  rows_inserted=1",
        "Closest candidate, #1 entity.post_merge:",
        "  rows_inserted: expected 5, got 1",
    ]
    with pytest.raises(ValueError, match="timeout"):
        rec.wait_for("entity.post_merge", timeout=-1)


def test_capture_records_only_its_block_and_the_outer_recorder_goes_on(provider, rec):
    m = Merger(provider)
    m.merge("before", [1])
    with rec.capture() as inner:
        m.merge("inside", [1])
    m.merge("after", [1])
    assert [r["entity_id"] for r in inner.of("entity.post_merge")] == ["inside"]
    assert not inner.recording
    assert [r["entity_id"] for r in rec.of("entity.post_merge")] == ["before", "inside", "after"]


def test_stop_ends_recording_and_unobserved_signals_build_no_payload(provider):
    recorder = SignalRecorder(provider).start()
    m = Merger(provider)
    assert m.is_observed("entity.pre_merge")  # the recorder counts as an observer
    recorder.stop()
    assert not m.is_observed("entity.pre_merge")
    m.merge("a", [1])
    assert recorder.records == []


def test_a_recorder_needs_a_provider_it_can_tap():
    with pytest.raises(TypeError, match="SignalRecorder needs a provider it can tap"):
        SignalRecorder(object())  # type: ignore[arg-type]


def test_the_module_docstring_example_runs():
    import doctest

    import pytest_kindling_signals.record.recorder as module

    assert doctest.testmod(module).failed == 0

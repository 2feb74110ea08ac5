"""The recorder's waits, with real threads: all of several patterns, ordered sequences (per key),
nothing within a window, payload checks while waiting, default timeouts, and each timeout's
message, exactly."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from demo_merger import Merger
from pytester_output import error_lines
from kindling.signaling import BlinkerSignalProvider
from pytest_kindling_signals import SignalRecorder, at_least, emitted, matching
from pytest_kindling_signals.frameworks import Emission

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


def in_thread(name: str, fn, *args) -> None:
    """Run ``fn`` in a thread called ``name`` and wait for it: emissions in a known order."""
    t = threading.Thread(target=fn, args=args, name=name)
    t.start()
    t.join()


def failure(fn, *args, **kwargs) -> list[str]:
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    return str(info.value).splitlines()


class Source:
    """A tap source that hands the recorder emissions made here, with the times given."""

    name = "hand-made"

    def add_tap(self, tap):
        self.tap = tap
        return lambda: None

    def send(self, name: str, at: float, thread: str = "MainThread", **payload) -> None:
        self.tap(Emission(name, name, payload, thread, 1, at))


# -- wait_for -------------------------------------------------------------------------

def test_wait_for_blocks_until_another_thread_emits(provider, rec):
    go = threading.Event()

    def later() -> None:
        go.wait()
        Merger(provider).merge("late", [1, 2])

    worker = threading.Thread(target=later, name="loader")
    worker.start()
    go.set()
    found = rec.wait_for("entity.post_merge", timeout=60, rows_inserted=2)
    worker.join()
    assert (found["entity_id"], found.thread_name) == ("late", "loader")


def test_wait_for_with_a_matcher_skips_the_events_before_any_row(provider, rec):
    """A progress event with rows in it, not the first progress event."""
    def progress() -> None:
        m = Merger(provider)
        for version in (0, 0, 2, 3):
            m.emit("entity.version_updated", entity_id="stream", version=version)

    worker = threading.Thread(target=progress, name="stream-listener")
    worker.start()
    found = rec.wait_for("entity.version_updated", version=at_least(1), timeout=60)
    worker.join()
    assert (found.seq, found["version"], found.thread_name) == (2, 2, "stream-listener")


def test_wait_for_with_a_check_on_the_whole_record(provider, rec):
    with ThreadPoolExecutor(2, thread_name_prefix="pool") as pool:
        for entity, rows in (("a", [1]), ("b", [1, 2, 3])):
            pool.submit(Merger(provider).merge, entity, rows)
        found = rec.wait_for("entity.post_merge", timeout=60,
                             check=lambda r: r["rows_inserted"] > r["rows_updated"] + 2)
    assert found["entity_id"] == "b"


def test_wait_for_times_out_with_what_arrived_by_thread_and_what_was_expected(provider, rec):
    in_thread("loader-a", Merger(provider).merge, "a", [1])
    in_thread("loader-b", Merger(provider).merge, "b", [1, 2])
    Merger(provider).emit("entity.version_updated", entity_id="b", version=1)
    assert failure(rec.wait_for, "entity.post_merge", timeout=0.05, rows_inserted=at_least(3)) == [
        "wait_for('entity.post_merge', rows_inserted=at_least(3)): nothing matched within 0.05 s.",
        "Expected next: 'entity.post_merge' with rows_inserted=at_least(3)",
        "Recorded 5 signals, by thread, in order:",
        "  thread 'loader-a':",
        "      #0  entity.pre_merge",
        "    > #1  entity.post_merge  rows_inserted=1",
        "  thread 'loader-b':",
        "      #2  entity.pre_merge",
        "    > #3  entity.post_merge  rows_inserted=2",
        "  thread 'MainThread':",
        "      #4  entity.version_updated",
        "Closest candidate, #1 entity.post_merge:",
        "  rows_inserted: expected at_least(3), got 1",
    ]


def test_a_check_that_never_holds_is_named_in_the_failure(provider, rec):
    Merger(provider).merge("a", [1])

    def has_three_rows(record) -> bool:
        return record["rows_inserted"] == 3

    assert failure(rec.wait_for, "entity.post_merge", timeout=0, check=has_three_rows) == [
        "wait_for('entity.post_merge', check=has_three_rows): nothing matched within 0 s.",
        "Expected next: 'entity.post_merge' with check=has_three_rows",
        "Recorded 2 signals, by thread, in order:",
        "  thread 'MainThread':",
        "      #0  entity.pre_merge",
        "    > #1  entity.post_merge",
        "Closest candidate, #1 entity.post_merge:",
        "  check: has_three_rows(#1) returned a false value",
    ]


def test_a_check_may_read_the_recorder_and_its_errors_propagate(provider, rec):
    Merger(provider).merge("a", [1])
    # checks run outside the recorder's lock: reading the recorder there doesn't deadlock
    assert rec.wait_for("entity.post_merge", timeout=1, check=lambda r: len(rec.records) == 2).seq == 1
    with pytest.raises(KeyError, match="no_such_field"):
        rec.wait_for("entity.post_merge", timeout=1, check=lambda r: r["no_such_field"])


# -- wait_for_all ----------------------------------------------------------------------

def test_wait_for_all_from_a_thread_pool_returns_the_records_in_pattern_order(provider, rec):
    entities = ["a", "b", "c", "d"]
    with ThreadPoolExecutor(4, thread_name_prefix="pool") as pool:
        for i, entity in enumerate(entities):
            pool.submit(Merger(provider).merge, entity, [0] * (i + 1))
        found = rec.wait_for_all([emitted("entity.post_merge", entity_id=e) for e in reversed(entities)],
                                 timeout=60)
    assert [r["entity_id"] for r in found] == ["d", "c", "b", "a"]
    assert [r["rows_inserted"] for r in found] == [4, 3, 2, 1]
    assert {r.thread_name for r in found} <= {f"pool_{i}" for i in range(4)}


def test_wait_for_all_takes_a_record_per_pattern(provider, rec):
    barrier = threading.Barrier(3)

    def merge(entity: str) -> None:
        barrier.wait()
        Merger(provider).merge(entity, [1])

    threads = [threading.Thread(target=merge, args=(e,), name=f"w-{e}") for e in "xyz"]
    for t in threads:
        t.start()
    found = rec.wait_for_all(["entity.post_merge"] * 3 + [emitted("entity.pre_merge", entity_id="y")],
                             timeout=60)
    for t in threads:
        t.join()
    assert sorted(r["entity_id"] for r in found[:3]) == ["x", "y", "z"]
    assert len({r.seq for r in found[:3]}) == 3
    assert found[3]["entity_id"] == "y"


def test_wait_for_all_reassigns_a_record_a_later_pattern_needs(provider, rec):
    """The first pattern takes the first candidate; when only it suits the second, they swap."""
    m = Merger(provider)
    m.emit("entity.version_updated", entity_id="a", version=1)
    m.emit("entity.version_updated", entity_id="b", version=2)
    first, second = rec.wait_for_all(["entity.version_updated",
                                       emitted("entity.version_updated", entity_id="a")], timeout=0)
    assert (first["entity_id"], second["entity_id"]) == ("b", "a")


def test_wait_for_all_times_out_listing_the_matched_and_the_missing(provider, rec):
    in_thread("loader", Merger(provider).merge, "a", [1])
    patterns = ["entity.pre_merge", emitted("entity.post_merge", rows_inserted=at_least(2)),
                emitted("entity.merge_failed", error=matching("timed? ?out"))]
    assert failure(rec.wait_for_all, patterns, timeout=0.05) == [
        "wait_for_all(['entity.pre_merge', emitted('entity.post_merge', rows_inserted=at_least(2)), "
        "emitted('entity.merge_failed', error=matching('timed? ?out'))]): 1 of 3 patterns matched "
        "within 0.05 s.",
        "Expected, in any order:",
        "  1. 'entity.pre_merge'                                        #0",
        "  2. 'entity.post_merge' with rows_inserted=at_least(2)        expected next: no match yet",
        "  3. 'entity.merge_failed' with error=matching('timed? ?out')  expected next: no match yet",
        "Recorded 2 signals, by thread, in order:",
        "  thread 'loader':",
        "    > #0  entity.pre_merge",
        "    > #1  entity.post_merge  rows_inserted=1",
        "Closest candidate, #1 entity.post_merge:",
        "  rows_inserted: expected at_least(2), got 1",
    ]


# -- wait_for_sequence -----------------------------------------------------------------

def interleaved(provider: BlinkerSignalProvider) -> None:
    """Two threads, each sending its pipe's "pre" then "post", interleaved: a.pre, b.pre, b.post, a.post."""
    m = Merger(provider)
    a_started, b_done = threading.Event(), threading.Event()

    def pipe_a() -> None:
        m.emit("datapipes.pipe_skipped", pipe_id="a", reason="pre")
        a_started.set()
        b_done.wait()
        m.emit("datapipes.pipe_skipped", pipe_id="a", reason="post")

    def pipe_b() -> None:
        a_started.wait()
        m.emit("datapipes.pipe_skipped", pipe_id="b", reason="pre")
        m.emit("datapipes.pipe_skipped", pipe_id="b", reason="post")
        b_done.set()

    threads = [threading.Thread(target=pipe_a, name="pipe-a"), threading.Thread(target=pipe_b, name="pipe-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


PRE = emitted("datapipes.pipe_skipped", reason="pre")
POST = emitted("datapipes.pipe_skipped", reason="post")


def test_a_sequence_per_key_passes_when_threads_interleave(provider, rec):
    worker = threading.Thread(target=interleaved, args=(provider,), name="runner")
    worker.start()
    by_pipe = rec.wait_for_sequence([PRE, POST], per="pipe_id", keys=["a", "b"], timeout=60)
    worker.join()
    assert {k: [r.seq for r in v] for k, v in by_pipe.items()} == {"a": [0, 3], "b": [1, 2]}
    assert rec.assert_sequence([PRE, POST], per="pipe_id") == by_pipe
    # Without per=, a.pre b.pre b.post a.post holds pre-post once: the first pre and a later post.
    assert [r.seq for r in rec.wait_for_sequence([PRE, POST], timeout=0)] == [0, 2]
    assert [r.thread_name for r in by_pipe["a"] + by_pipe["b"]] == ["pipe-a", "pipe-a", "pipe-b", "pipe-b"]


def test_a_sequence_keyed_by_two_fields(provider, rec):
    m = Merger(provider)
    for run, pipe, step in (("r1", "p", "pre"), ("r2", "p", "pre"), ("r2", "p", "post"), ("r1", "p", "post")):
        m.emit("datapipes.pipe_skipped", run_id=run, pipe_id=pipe, reason=step)
    found = rec.wait_for_sequence([PRE, POST], per=("run_id", "pipe_id"), keys=[("r1", "p"), ("r2", "p")],
                                  timeout=0)
    assert {k: [r.seq for r in v] for k, v in found.items()} == {("r1", "p"): [0, 3], ("r2", "p"): [1, 2]}


def test_a_plain_sequence_times_out_naming_the_step_it_waits_for(provider, rec):
    in_thread("loader", Merger(provider).merge, "a", [1])
    assert failure(rec.wait_for_sequence, ["entity.pre_merge", "entity.post_merge", "entity.version_updated"],
                   timeout=0.05) == [
        "wait_for_sequence(['entity.pre_merge', 'entity.post_merge', 'entity.version_updated']): step 3, "
        "'entity.version_updated', was not recorded after step 2 (#1) within 0.05 s.",
        "Expected, in order:",
        "  1. entity.pre_merge        #0",
        "  2. entity.post_merge       #1",
        "  3. entity.version_updated  not recorded after #1",
        "Recorded 2 signals, by thread, in order:",
        "  thread 'loader':",
        "    > #0  entity.pre_merge",
        "    > #1  entity.post_merge",
    ]


def test_a_keyed_sequence_times_out_per_key(provider, rec):
    m = Merger(provider)
    in_thread("pipe-a", lambda: (m.emit("datapipes.pipe_skipped", pipe_id="a", reason="pre"),
                                 m.emit("datapipes.pipe_skipped", pipe_id="a", reason="post")))
    in_thread("pipe-b", lambda: (m.emit("datapipes.pipe_skipped", pipe_id="b", reason="post"),
                                 m.emit("datapipes.pipe_skipped", pipe_id="b", reason="pre")))
    m.emit("datapipes.pipe_skipped", reason="pre")  # no pipe_id: no key's
    assert failure(rec.wait_for_sequence, [PRE, POST], per="pipe_id", keys=["a", "b", "c"], timeout=0.05) == [
        "wait_for_sequence([emitted('datapipes.pipe_skipped', reason='pre'), "
        "emitted('datapipes.pipe_skipped', reason='post')], per='pipe_id', keys=['a', 'b', 'c']): "
        "2 of 3 keys not complete within 0.05 s.",
        "Expected next:",
        "  pipe_id='b': step 2 of 2, 'datapipes.pipe_skipped' with reason='post', after #3 "
        "(recorded earlier, at #2)",
        "  pipe_id='c': step 1 of 2, 'datapipes.pipe_skipped' with reason='pre' (no record of this key yet)",
        "Complete: pipe_id='a' (#0, #1)",
        "Not keyed (no pipe_id in the payload): #4",
        "Recorded 5 signals, by thread, in order:",
        "  thread 'pipe-a':",
        "      #0  datapipes.pipe_skipped",
        "      #1  datapipes.pipe_skipped",
        "  thread 'pipe-b':",
        "    > #2  datapipes.pipe_skipped  pipe_id='b', reason='post'",
        "    > #3  datapipes.pipe_skipped  pipe_id='b'",
        "  thread 'MainThread':",
        "      #4  datapipes.pipe_skipped",
    ]


def test_without_keys_a_keyed_sequence_waits_for_every_key_seen(provider, rec):
    m = Merger(provider)
    m.emit("datapipes.pipe_skipped", pipe_id="a", reason="pre")
    assert failure(rec.wait_for_sequence, [PRE, POST], per="pipe_id", timeout=0) == [
        "wait_for_sequence([emitted('datapipes.pipe_skipped', reason='pre'), "
        "emitted('datapipes.pipe_skipped', reason='post')], per='pipe_id'): 1 of 1 key not complete "
        "within 0 s.",
        "Expected next:",
        "  pipe_id='a': step 2 of 2, 'datapipes.pipe_skipped' with reason='post', after #0",
        "Recorded 1 signal, by thread, in order:",
        "  thread 'MainThread':",
        "    > #0  datapipes.pipe_skipped  pipe_id='a'",
    ]
    rec.clear()
    assert failure(rec.wait_for_sequence, [PRE, POST], per="pipe_id", timeout=0) == [
        "wait_for_sequence([emitted('datapipes.pipe_skipped', reason='pre'), "
        "emitted('datapipes.pipe_skipped', reason='post')], per='pipe_id'): no key seen within 0 s.",
        "Expected next:",
        "  step 1 of 2, 'datapipes.pipe_skipped' with reason='pre', for any pipe_id (no key seen yet)",
        "Recorded: no signals at all. (Was the code under test given another signal provider than the "
        "recorder's, e.g. one built before `signal_provider` was installed?)",
    ]


def test_assert_sequence_per_key_fails_without_waiting(provider, rec):
    m = Merger(provider)
    m.emit("datapipes.pipe_skipped", pipe_id="a", reason="post")
    assert failure(rec.assert_sequence, [PRE, POST], per="pipe_id") == [
        "assert_sequence([emitted('datapipes.pipe_skipped', reason='pre'), "
        "emitted('datapipes.pipe_skipped', reason='post')], per='pipe_id'): 1 of 1 key not complete.",
        "Expected next:",
        "  pipe_id='a': step 1 of 2, 'datapipes.pipe_skipped' with reason='pre'",
        "Recorded 1 signal, in order:",
        "  > #0  datapipes.pipe_skipped  pipe_id='a', reason='post'",
        "Closest candidate, #0 datapipes.pipe_skipped:",
        "  reason: expected 'pre', got 'post'",
    ]


# -- nothing within a window -------------------------------------------------------------

def test_not_emitted_within_a_window_passes_when_nothing_comes(provider, rec):
    Merger(provider).merge("a", [1])
    rec.assert_not_emitted_within("entity.merge_failed", 0.05)
    rec.assert_not_emitted_within("entity.post_merge", 0.05, entity_id="b")


def test_not_emitted_within_fails_as_soon_as_another_thread_emits(provider, rec):
    go = threading.Event()

    def fail_later() -> None:
        go.wait()
        with pytest.raises(ValueError):
            Merger(provider).merge("orders", [], fail=True)

    worker = threading.Thread(target=fail_later, name="loader")
    worker.start()
    go.set()
    # A 60 s window: the test ends when the failure arrives, not when the window does.
    lines = failure(rec.assert_not_emitted_within, "entity.*_failed", 60, entity_id="orders")
    worker.join()
    assert lines == [
        "assert_not_emitted_within('entity.*_failed', 60, entity_id='orders'): #1 entity.merge_failed "
        "was recorded.",
        "Recorded 2 signals, by thread, in order:",
        "  thread 'loader':",
        "      #0  entity.pre_merge",
        "    > #1  entity.merge_failed  entity_id='orders'",
    ]


def test_not_emitted_after_a_record_within_seconds_reads_what_is_recorded():
    source = Source()
    rec = SignalRecorder(source).start()
    source.send("entity.pre_merge", at=100.0, entity_id="a")
    source.send("entity.merge_failed", at=100.5, thread="loader", entity_id="a")
    source.send("entity.merge_failed", at=103.0, thread="loader", entity_id="a")
    started = rec.first("entity.pre_merge")
    rec.assert_not_emitted("entity.merge_failed", after=started, within=0.4)
    rec.assert_not_emitted("entity.merge_failed", after=rec.last())
    assert failure(rec.assert_not_emitted, "entity.merge_failed", after=started, within=2.0) == [
        "assert_not_emitted('entity.merge_failed', after=#0, within=2): 1 recorded signal matched.",
        "Recorded 3 signals, in order:",
        "    #0  entity.pre_merge  [MainThread]",
        "  > #1  entity.merge_failed  entity_id='a'  [loader]",
        "    #2  entity.merge_failed  [loader]",
    ]
    with pytest.raises(TypeError, match=r"within= counts seconds from a record; pass after=<a record> too"):
        rec.assert_not_emitted("entity.merge_failed", within=2.0)
    with pytest.raises(ValueError, match=r"within= is a number of seconds >= 0, got -1"):
        rec.assert_not_emitted("entity.merge_failed", after=started, within=-1)


# -- timeouts -----------------------------------------------------------------------------

def test_the_default_timeout_is_the_recorders(provider):
    rec = SignalRecorder(provider, timeout=0.02).start()
    assert rec.default_timeout == 0.02
    assert failure(rec.wait_for_all, ["entity.post_merge"])[0] == (
        "wait_for_all(['entity.post_merge']): nothing matched within 0.02 s.")
    with rec.capture() as inner:
        assert inner.default_timeout == 0.02


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "5", True])
def test_a_bad_timeout_names_the_value(provider, rec, bad):
    with pytest.raises(ValueError, match=r"the timeout is a number of seconds >= 0, got "):
        rec.wait_for("entity.post_merge", timeout=bad)
    with pytest.raises(ValueError, match=r"^SignalRecorder\(timeout=...\): the timeout is a number of seconds"):
        SignalRecorder(provider, timeout=bad)


def test_bad_patterns_say_what_a_pattern_is(rec):
    with pytest.raises(TypeError, match=r"wait_for_all\(\) takes a list of patterns \(names, globs or "
                                        r"emitted\(\.\.\.\)\), got 'entity.post_merge'"):
        rec.wait_for_all("entity.post_merge")
    with pytest.raises(TypeError, match=r"each pattern is a signal name or glob"):
        rec.wait_for_sequence(["entity.pre_merge", 3])
    with pytest.raises(ValueError, match=r"wait_for_all\(\[\]\): give at least one pattern"):
        rec.wait_for_all([])
    with pytest.raises(TypeError, match=r"per= names the payload field\(s\) that key the sequence"):
        rec.wait_for_sequence(["entity.pre_merge"], per=3)
    with pytest.raises(TypeError, match=r"keys= lists values of the per= field; pass per= too"):
        rec.wait_for_sequence(["entity.pre_merge"], keys=["a"])
    with pytest.raises(TypeError, match=r"check is a function of the record"):
        emitted("entity.post_merge", check=3)


# -- the plugin's default timeout: ini key and option ----------------------------------------

def test_the_plugin_takes_the_default_timeout_from_the_ini_key_and_the_option(user_project):
    user_project.makeini("[pytest]\nkindling_signals_timeout = 0.02\n")
    user_project.makepyfile("""
        def test_wait(signal_recorder):
            signal_recorder.wait_for_all(["entity.post_merge", "entity.pre_merge"])
    """)
    headline = ("AssertionError: wait_for_all(['entity.post_merge', 'entity.pre_merge']): 0 of 2 patterns "
                "matched within {} s.")
    assert error_lines(user_project.runpytest(), "test_wait")[0] == headline.format("0.02")
    result = user_project.runpytest("--kindling-signals-timeout=0.03")   # the option wins
    assert error_lines(result, "test_wait")[0] == headline.format("0.03")


def test_a_bad_default_timeout_is_a_usage_error(user_project):
    user_project.makepyfile("def test_nothing(): pass")
    result = user_project.runpytest("--kindling-signals-timeout=soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --kindling-signals-timeout='soon': the timeout is a number of "
                                 "seconds >= 0, e.g. --kindling-signals-timeout=10"])
    user_project.makeini("[pytest]\nkindling_signals_timeout = -1\n")
    result = user_project.runpytest()
    result.stderr.fnmatch_lines(["ERROR: ini option kindling_signals_timeout='-1': the timeout is a number "
                                 "of seconds >= 0, e.g. kindling_signals_timeout = 10"])

"""Every recorder assertion through pytester, passing and failing; failures matched exactly."""

from __future__ import annotations

import pytest

from pytester_output import error_lines, section

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


def test_every_assertion_passes_when_the_signals_are_there(user_project):
    user_project.makepyfile("""
        import threading
        from unittest.mock import ANY
        import pytest
        from demo_merger import Merger

        def test_emitted(signal_recorder):
            Merger().merge("orders", [1])
            Merger().merge("customers", [1, 2, 3])
            record = signal_recorder.assert_emitted("entity.post_merge", rows_inserted=3)
            assert record["entity_id"] == "customers" and record.seq == 3
            signal_recorder.assert_emitted("entity.post_*", duration_seconds=ANY)
            signal_recorder.assert_emitted("entity.post_merge", duration_seconds=pytest.approx(0, abs=5))

        def test_emitted_once(signal_recorder):
            Merger().merge("orders", [1])
            Merger().merge("customers", [1, 2, 3])
            assert signal_recorder.assert_emitted_once("entity.pre_merge", entity_id="orders").seq == 0

        def test_not_emitted(signal_recorder):
            Merger().merge("orders", [1])
            signal_recorder.assert_not_emitted("entity.*_failed")
            signal_recorder.assert_not_emitted("entity.post_merge", rows_inserted=2)

        def test_count(signal_recorder):
            for n in range(3):
                Merger().merge("orders", [1] * n)
            signal_recorder.assert_count("entity.post_merge", 3)
            signal_recorder.assert_count("entity.post_merge", 1, rows_inserted=2)
            signal_recorder.assert_count("entity.*_failed", 0)

        def test_sequence(signal_recorder):
            Merger().merge("orders", [1])
            with pytest.raises(ValueError):
                Merger().merge("customers", [], fail=True)
            matched = signal_recorder.assert_sequence(["entity.pre_merge", "entity.merge_failed"])
            assert [r.seq for r in matched] == [0, 3]
            signal_recorder.assert_sequence(
                ["entity.pre_merge", "entity.post_merge", "entity.pre_merge", "entity.*_failed"],
                mode="strict")

        def test_wait_for(signal_recorder):
            worker = threading.Thread(target=Merger().merge, args=("late", [1, 2]), name="worker")
            worker.start()
            record = signal_recorder.wait_for("entity.post_merge", timeout=10, entity_id="late")
            worker.join()
            assert record.thread_name == "worker"

        def test_contract(signal_recorder):
            Merger().merge("orders", [1])
            with pytest.raises(ValueError):
                Merger().merge("customers", [], fail=True)
            signal_recorder.assert_contract()
    """)
    user_project.runpytest().assert_outcomes(passed=7)


FAILING = """
    import pytest
    from demo_merger import Merger

    def test_emitted_payload_differs(signal_recorder):
        Merger().merge("orders", [1])
        Merger().merge("customers", [1, 2])
        signal_recorder.assert_emitted("entity.post_merge", rows_inserted=3, entity_id="customers")

    def test_emitted_never_recorded(signal_recorder):
        with pytest.raises(ValueError):
            Merger().merge("customers", [], fail=True)
        signal_recorder.assert_emitted("entity.post_merge")

    def test_emitted_glob_nothing_recorded(signal_recorder):
        signal_recorder.assert_emitted("entity.*_failed")

    def test_emitted_once_twice(signal_recorder):
        Merger().merge("orders", [1])
        Merger().merge("customers", [1, 2])
        signal_recorder.assert_emitted_once("entity.post_merge")

    def test_not_emitted(signal_recorder):
        Merger().merge("orders", [1])
        with pytest.raises(ValueError):
            Merger().merge("customers", [], fail=True)
        signal_recorder.assert_not_emitted("entity.*_failed", error_type="ValueError")

    def test_count(signal_recorder):
        Merger().merge("orders", [1])
        signal_recorder.assert_count("entity.post_merge", 2)

    def test_subsequence(signal_recorder):
        Merger().merge("orders", [1])
        signal_recorder.assert_sequence(["entity.post_merge", "entity.pre_merge"])

    def test_strict(signal_recorder):
        Merger().merge("orders", [1])
        signal_recorder.assert_sequence(["entity.pre_merge"], mode="strict")

    def test_wait_for(signal_recorder):
        signal_recorder.wait_for("entity.post_merge", timeout=0.01)

    def test_contract(signal_recorder, signal_provider):
        signal_provider.signal("entity.pre_merge").send("entity.pre_merge", entity_id=7)
        signal_recorder.assert_contract()
"""


@pytest.fixture
def failures(user_project):
    user_project.makepyfile(FAILING)
    result = user_project.runpytest()
    result.assert_outcomes(failed=10)
    return result


def test_failing_assertions_say_what_was_expected_then_what_was_recorded(failures):
    assert error_lines(failures, "test_emitted_payload_differs") == [
        "AssertionError: assert_emitted('entity.post_merge', rows_inserted=3, entity_id='customers'): "
        "no recorded signal matched.",
        "Recorded 4 signals, in order:",
        "    #0  entity.pre_merge",
        "  > #1  entity.post_merge  rows_inserted=1, entity_id='orders'",
        "    #2  entity.pre_merge",
        "  > #3  entity.post_merge  rows_inserted=2, entity_id='customers'",
        "Closest candidate, #3 entity.post_merge:",
        "  rows_inserted: expected 3, got 2",
    ]
    # The traceback stops at the user's line: the plugin's frames are hidden.
    lines = section(failures, "test_emitted_payload_differs")
    assert [line for line in lines if line.startswith(">")] == [
        '>       signal_recorder.assert_emitted("entity.post_merge", rows_inserted=3, entity_id="customers")']
    assert lines[-1] == "test_failing_assertions_say_what_was_expected_then_what_was_recorded.py:7: AssertionError"
    assert error_lines(failures, "test_emitted_never_recorded") == [
        "AssertionError: assert_emitted('entity.post_merge'): 'entity.post_merge' was not recorded.",
        "Recorded 2 signals, in order:",
        "    #0  entity.pre_merge",
        "    #1  entity.merge_failed",
    ]
    assert error_lines(failures, "test_emitted_glob_nothing_recorded") == [
        "AssertionError: assert_emitted('entity.*_failed'): no recorded signal matches 'entity.*_failed'.",
        "Recorded: no signals at all. (Was the code under test given another signal provider than "
        "the recorder's, e.g. one built before `signal_provider` was installed?)",
    ]


def test_failing_count_and_presence_assertions_mark_the_matches(failures):
    assert error_lines(failures, "test_emitted_once_twice") == [
        "AssertionError: assert_emitted_once('entity.post_merge'): 2 recorded signals matched, "
        "expected exactly 1.",
        "Recorded 4 signals, in order:",
        "    #0  entity.pre_merge",
        "  > #1  entity.post_merge  entity_id='orders', merge_keys=['id'], source_row_count=1, "
        "rows_inserted=1, rows_updated=0, ... (+2 more)",
        "    #2  entity.pre_merge",
        "  > #3  entity.post_merge  entity_id='customers', merge_keys=['id'], source_row_count=2, "
        "rows_inserted=2, rows_updated=0, ... (+2 more)",
    ]
    assert error_lines(failures, "test_not_emitted") == [
        "AssertionError: assert_not_emitted('entity.*_failed', error_type='ValueError'): "
        "1 recorded signal matched.",
        "Recorded 4 signals, in order:",
        "    #0  entity.pre_merge",
        "    #1  entity.post_merge",
        "    #2  entity.pre_merge",
        "  > #3  entity.merge_failed  error_type='ValueError'",
    ]
    assert error_lines(failures, "test_count") == [
        "AssertionError: assert_count('entity.post_merge', 2): 1 recorded signal matched, expected 2.",
        "Recorded 2 signals, in order:",
        "    #0  entity.pre_merge",
        "  > #1  entity.post_merge  entity_id='orders', merge_keys=['id'], source_row_count=1, "
        "rows_inserted=1, rows_updated=0, ... (+2 more)",
    ]


def test_failing_sequences_show_where_the_order_broke(failures):
    assert error_lines(failures, "test_subsequence") == [
        "AssertionError: assert_sequence(['entity.post_merge', 'entity.pre_merge']): step 2, "
        "'entity.pre_merge', was not recorded after step 1 (#1). (recorded earlier, at #0)",
        "Expected, in order:",
        "  1. entity.post_merge  #1",
        "  2. entity.pre_merge   not recorded after #1 (recorded earlier, at #0)",
        "Recorded 2 signals, in order:",
        "    #0  entity.pre_merge",
        "  > #1  entity.post_merge",
    ]
    assert error_lines(failures, "test_strict") == [
        "AssertionError: assert_sequence(['entity.pre_merge'], mode='strict'): the recorded signals "
        "differ from the expected ones at position 1.",
        "  pos  expected          recorded",
        "  0    entity.pre_merge  #0 entity.pre_merge",
        "> 1    (nothing)         #1 entity.post_merge",
        "Recorded 2 signals, in order:",
        "    #0  entity.pre_merge",
        "    #1  entity.post_merge",
    ]


def test_failing_wait_for_and_contract(failures):
    assert error_lines(failures, "test_wait_for") == [
        "AssertionError: wait_for('entity.post_merge'): nothing matched within 0.01 s.",
        "Expected next: 'entity.post_merge'",
        "Recorded: no signals at all. (Was the code under test given another signal provider than "
        "the recorder's, e.g. one built before `signal_provider` was installed?)",
    ]
    assert error_lines(failures, "test_contract") == [
        "AssertionError: assert_contract(): 6 findings in 1 recorded signal:",
        "  [payload] entity.pre_merge: field 'entity_id': expected string, got integer 7  (#0)",
        "  [payload] entity.pre_merge: field 'operation_id': expected a value (required), got missing  (#0)",
        "  [payload] entity.pre_merge: field 'timestamp': expected a value (required), got missing  (#0)",
        "  [payload] entity.pre_merge: field 'merge_keys': expected a value (required), got missing  (#0)",
        "  [payload] entity.pre_merge: field 'source_row_count': expected a value (required), got missing  (#0)",
        "  [lifecycle] entity.pre_merge (operation None) was never closed by entity.post_merge or "
        "entity.merge_failed  (#0)",
        "Recorded 1 signal, in order:",
        "  > #0  entity.pre_merge",
    ]


UNKNOWN = ("pytest_kindling_signals.catalog.UnknownSignalError: Unknown signal 'entity.post_merg': it is not in "
           "the signal catalog, and no such signal was recorded. Did you mean 'entity.post_merge' or "
           "'entity.pre_merge' or 'entity.post_write'?")


@pytest.mark.parametrize("call, message", [
    ('assert_emitted("entity.post_merg", rows_inserted=3)', UNKNOWN),
    ('assert_emitted_once("entity.post_merg")', UNKNOWN),
    ('assert_not_emitted("entity.post_merg")', UNKNOWN),
    ('assert_count("entity.post_merg", 0)', UNKNOWN),
    ('assert_sequence(["entity.pre_merge", "entity.post_merg"])', UNKNOWN),
    ('wait_for("entity.post_merg", timeout=0)', UNKNOWN),
    ('of("entity.post_merg")', UNKNOWN),
    ('assert_not_emitted("entity.*_faild")',
     "pytest_kindling_signals.record.recorder.UnknownSignalPatternError: Unknown signal pattern 'entity.*_faild': it matches no "
     "signal in the signal catalog and no recorded signal. Did you mean 'entity.write_failed' or "
     "'entity.merge_failed' or 'entity.ensure_failed'?"),
])
def test_a_misspelt_name_or_glob_in_any_assertion_is_an_error_with_close_names(user_project, call, message):
    user_project.makepyfile(f"""
        from demo_merger import Merger

        def test_typo(signal_recorder):
            Merger().merge("orders", [1])
            signal_recorder.{call}
    """)
    result = user_project.runpytest()
    result.assert_outcomes(failed=1)
    assert error_lines(result, "test_typo") == [message]

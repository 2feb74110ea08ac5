"""``signal_recorder`` in Hypothesis ``@given`` tests: one capture per example, no health check."""

from __future__ import annotations

import pytest
from pytester_output import error_lines

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


def test_capture_records_each_example_on_its_own(user_project):
    user_project.makepyfile("""
        import pytest
        from hypothesis import given, settings, strategies as st
        from demo_merger import Merger

        EXAMPLES = []

        @pytest.mark.kindling_signals(contract=True, forbid=["entity.*_failed"])
        @settings(max_examples=20, deadline=None, database=None)
        @given(rows=st.lists(st.integers(), max_size=5))
        def test_merge(signal_recorder, rows):
            with signal_recorder.capture() as rec:
                Merger().merge("orders", rows)
            rec.assert_emitted_once("entity.post_merge", rows_inserted=len(rows))
            rec.assert_contract()
            EXAMPLES.append(len(rec))

        def test_each_example_captured_its_two_signals():
            assert len(EXAMPLES) == 20 and set(EXAMPLES) == {2}

        @settings(max_examples=2, deadline=None, database=None)
        @given(n=st.integers(0, 3))
        def test_a_function_scoped_fixture_still_trips_the_health_check(signal_provider, n):
            pass
    """)
    result = user_project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*uses a function-scoped fixture 'signal_provider'*"])
    result.stdout.no_fnmatch_line("*uses a function-scoped fixture 'signal_recorder'*")


def test_asserting_on_the_whole_test_recorder_inside_an_example_is_refused(user_project):
    user_project.makepyfile("""
        from hypothesis import given, settings, strategies as st
        from demo_merger import Merger

        @settings(max_examples=3, deadline=None, database=None)
        @given(n=st.integers(0, 3))
        def test_merge(signal_recorder, n):
            Merger().merge("orders", [1] * n)
            signal_recorder.assert_emitted_once("entity.post_merge")
    """)
    result = user_project.runpytest()
    result.assert_outcomes(failed=1)
    assert error_lines(result, "test_merge")[:1] == [
        "RuntimeError: signal_recorder.assert_emitted_once() inside a Hypothesis example sees the records "
        "of every example so far. Record each example on its own: `with signal_recorder.capture() as "
        "rec: ...`, then `rec.assert_emitted_once(...)`."]

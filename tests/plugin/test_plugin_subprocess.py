"""A user's test file run by a separate ``python -m pytest``: the installed entry point is enough."""

from __future__ import annotations

import pytest

from pytester_output import error_lines

pytestmark = [pytest.mark.kindling_signals_ignore, pytest.mark.slow]  # synthetic emissions (hand-made, often broken payloads): the report leaves them out; no JVM, but real subprocesses (pip, wheel builds, pytest runs)


def test_a_users_test_file_runs_in_a_subprocess_with_no_conftest(user_project: pytest.Pytester):
    pytester = user_project
    pytester.makepyfile(test_pipeline="""
        from demo_merger import Merger

        def test_merge_inserts_three_rows(signal_recorder):
            Merger().merge("customers", [1, 2, 3])
            signal_recorder.assert_emitted("entity.post_merge", rows_inserted=3)
            signal_recorder.assert_contract()

        def test_merge_inserts_four_rows(signal_recorder):
            Merger().merge("customers", [1, 2, 3])
            signal_recorder.assert_emitted("entity.post_merge", rows_inserted=4)
    """)
    assert not list(pytester.path.rglob("conftest.py"))

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["plugins: *kindling-signals-*"])
    assert error_lines(result, "test_merge_inserts_four_rows") == [
        "AssertionError: assert_emitted('entity.post_merge', rows_inserted=4): no recorded signal matched.",
        "Recorded 2 signals, in order:",
        "    #0  entity.pre_merge",
        "  > #1  entity.post_merge  rows_inserted=3",
        "Closest candidate, #1 entity.post_merge:",
        "  rows_inserted: expected 4, got 3",
    ]

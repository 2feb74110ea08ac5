"""The ``kindling_signals`` marker, checked at teardown, through pytester."""

from __future__ import annotations

import pytest

from pytester_output import section

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


def test_the_marker_is_registered(user_project):
    result = user_project.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.kindling_signals(expect=*, forbid=*, contract=False, "
                                 "known=*, observer_errors='fail'): *checked at teardown"])


def test_met_expectations_pass_with_or_without_the_fixtures(user_project):
    user_project.makepyfile("""
        import pytest
        from demo_merger import Merger

        @pytest.mark.kindling_signals(expect=["entity.pre_merge", "entity.post_*"],
                                      forbid=["entity.*_failed"], contract=True)
        def test_no_fixture_needed():
            Merger().merge("orders", [1])

        @pytest.mark.kindling_signals(expect=["entity.merge_failed"], contract=True)
        def test_with_the_recorder(signal_recorder):
            with pytest.raises(ValueError):
                Merger().merge("orders", [], fail=True)
            signal_recorder.assert_count("entity.*", 2)
    """)
    user_project.runpytest().assert_outcomes(passed=2)


def test_unmet_expectations_fail_at_teardown_with_one_readable_report(user_project):
    user_project.makepyfile("""
        import pytest
        from demo_merger import Merger

        @pytest.mark.kindling_signals(expect=["entity.post_merge", "datapipes.post_run"],
                                      forbid=["entity.*_failed"], contract=True)
        def test_merge(signal_provider):
            signal_provider.signal("entity.pre_merge").send(
                "entity.pre_merge", operation_id="0a1b2c3d-0000-4000-8000-000000000001",
                timestamp="2025-01-20T10:00:45.123456+00:00", entity_id="orders", merge_keys=["id"],
                source_row_count=-1)
            with pytest.raises(ValueError):
                Merger().merge("customers", [], fail=True)
    """)
    result = user_project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    assert section(result, "ERROR at teardown of test_merge") == [
        "@pytest.mark.kindling_signals: 4 expectations not met.",
        "expect 'entity.post_merge': 'entity.post_merge' was not recorded.",
        "expect 'datapipes.post_run': 'datapipes.post_run' was not recorded.",
        "forbid 'entity.*_failed': 1 recorded signal matched.",
        "contract=True: 2 findings in 3 recorded signals:",
        "  [payload] entity.pre_merge: field 'source_row_count': expected >= 0, got integer -1  (#0)",
        "  [lifecycle] entity.pre_merge (operation 0a1b2c3d-0000-4000-8000-000000000001) was never "
        "closed by entity.post_merge or entity.merge_failed  (#0)",
        "Recorded 3 signals, in order:",
        "  > #0  entity.pre_merge",
        "    #1  entity.pre_merge",
        "  > #2  entity.merge_failed  entity_id='customers', merge_keys=['id'], source_row_count=0, "
        "error='cannot merge customers', ... (+2 more)",
    ]


def test_module_and_test_markers_add_up(user_project):
    user_project.makepyfile("""
        import pytest
        from demo_merger import Merger

        pytestmark = pytest.mark.kindling_signals(forbid=["entity.*_failed"])

        @pytest.mark.kindling_signals(expect=["entity.post_merge"])
        def test_both_checked():
            with pytest.raises(ValueError):
                Merger().merge("orders", [], fail=True)
    """)
    result = user_project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    lines = section(result, "ERROR at teardown of test_both_checked")
    assert lines[:3] == [
        "@pytest.mark.kindling_signals: 2 expectations not met.",
        "expect 'entity.post_merge': 'entity.post_merge' was not recorded.",
        "forbid 'entity.*_failed': 1 recorded signal matched.",
    ]


def test_a_test_that_failed_is_not_also_reported_by_its_marker(user_project):
    user_project.makepyfile("""
        import pytest

        @pytest.mark.kindling_signals(expect=["entity.post_merge"])
        def test_fails_first():
            assert 1 == 2
    """)
    user_project.runpytest().assert_outcomes(failed=1)


def test_a_misspelt_name_in_the_marker_is_an_error(user_project):
    user_project.makepyfile("""
        import pytest

        @pytest.mark.kindling_signals(forbid=["entity.merge_faild"])
        def test_typo():
            pass
    """)
    result = user_project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    assert section(result, "ERROR at teardown of test_typo") == [
        "@pytest.mark.kindling_signals: Unknown signal 'entity.merge_faild': it is not in the signal "
        "catalog, and no such signal was recorded. Did you mean 'entity.merge_failed' or "
        "'entity.ensure_failed' or 'entity.write_failed'?"]


@pytest.mark.parametrize("marker, message", [
    ('kindling_signals("entity.post_merge")',
     "@pytest.mark.kindling_signals takes keywords only (expect=, forbid=, contract=, known=, observer_errors=), "
     "got ('entity.post_merge',)"),
    ('kindling_signals(expected=["entity.post_merge"])',
     "@pytest.mark.kindling_signals(expected=...): unknown keyword 'expected'; use expect=, forbid=, "
     "contract=, known= or observer_errors="),
    ('kindling_signals(expect=[3])',
     "@pytest.mark.kindling_signals(expect=[3]): expect is a list of signal names or globs, "
     "e.g. expect=['entity.post_merge']"),
    ('kindling_signals(contract="yes")',
     "@pytest.mark.kindling_signals(contract='yes'): use contract=True or contract=False"),
    ('kindling_signals(observer_errors="warn")',
     "@pytest.mark.kindling_signals(observer_errors='warn'): use 'fail' or 'ignore'"),
])
def test_a_malformed_marker_is_an_error_at_setup_that_says_how_to_fix_it(user_project, marker, message):
    user_project.makepyfile(f"""
        import pytest

        @pytest.mark.{marker}
        def test_marked():
            pass
    """)
    result = user_project.runpytest()
    result.assert_outcomes(errors=1)
    assert section(result, "ERROR at setup of test_marked") == [
        f"test_a_malformed_marker_is_an_error_at_setup_that_says_how_to_fix_it.py::test_marked: {message}"]

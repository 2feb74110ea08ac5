"""The plugin's fixtures, run through pytester as a user would run them (no conftest)."""

from __future__ import annotations

import pytest
from pytester_output import error_lines, section

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


def test_signal_provider_is_fresh_per_test_and_the_framework_default(user_project):
    user_project.makepyfile("""
        from kindling.signaling import BlinkerSignalProvider, get_default_provider
        seen = []

        def test_one(signal_provider):
            assert isinstance(signal_provider, BlinkerSignalProvider)
            assert get_default_provider() is signal_provider
            seen.append(signal_provider)

        def test_two(signal_provider):
            assert get_default_provider() is signal_provider
            assert signal_provider is not seen[0]

        def test_three_without_fixtures():
            assert get_default_provider() is not seen[0]
    """)
    user_project.runpytest().assert_outcomes(passed=3)


def test_signal_recorder_records_emit_and_direct_send_in_every_phase(user_project):
    user_project.makepyfile("""
        import threading
        import pytest
        from demo_merger import Merger

        @pytest.fixture
        def merged(signal_recorder):
            Merger().merge("in_setup", [1])
            yield
            Merger().merge("in_teardown", [1, 2])
            teardown = signal_recorder.get_records("teardown")
            assert [r["entity_id"] for r in teardown] == ["in_teardown", "in_teardown"]

        def test_phases(merged, signal_recorder, signal_provider):
            Merger().merge("in_call", [1, 2, 3])
            signal_provider.signal("entity.schema_changed").send("entity.schema_changed", by="hand")
            assert [r["entity_id"] for r in signal_recorder.get_records("setup")] == ["in_setup"] * 2
            call = signal_recorder.get_records("call")
            assert [r.name for r in call] == [
                "entity.pre_merge", "entity.post_merge", "entity.schema_changed"]
            assert call[-1].payload == {"by": "hand"} and call[-1].sender == "entity.schema_changed"
            assert [r.seq for r in signal_recorder.records] == list(range(5))
            assert call[0].thread_name == threading.current_thread().name

        def test_each_test_starts_empty(signal_recorder):
            assert signal_recorder.records == []
            Merger().merge("x", [])
            assert len(signal_recorder) == 2
    """)
    user_project.runpytest().assert_outcomes(passed=2)


def test_tests_without_signal_fixtures_leave_emissions_unobserved(user_project):
    user_project.makepyfile("""
        from demo_merger import Merger

        def test_nothing_listens():
            assert not Merger().is_observed("entity.pre_merge")

        def test_the_recorder_listens(signal_recorder):
            assert Merger().is_observed("entity.pre_merge")
    """)
    user_project.runpytest().assert_outcomes(passed=2)


def test_registries_are_isolated_between_tests(user_project):
    user_project.makepyfile("""
        from kindling.registries import register_registry
        STORE = register_registry("plugin-test-demo", {"declared_at_import": 1})

        def test_declares():
            STORE["declared_in_test"] = 2

        def test_does_not_see_it():
            assert STORE == {"declared_at_import": 1}
    """)
    user_project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


USER_CATALOG = """
providers:
  shipping:
    class: ShippingProvider
    tier: high
    operations:
      shipping.ship: {pre: pre_ship, post: [post_ship], failed: ship_failed}
    signals:
      pre_ship: {when: Before a parcel ships, fields: {parcel_id: string}}
      post_ship: {when: After it shipped, fields: {parcel_id: string, weight_kg: number}}
      ship_failed: {when: When shipping failed, fields: {parcel_id: string}}
"""


def test_signal_catalog_merges_the_catalogs_named_in_the_ini(user_project):
    user_project.makefile(".yaml", **{"catalogs/shipping": USER_CATALOG})
    user_project.makeini("[pytest]\nkindling_signals_catalogs =\n    catalogs/shipping.yaml\n")
    user_project.makepyfile("""
        from kindling.signaling import SignalEmitter
        from pytest_kindling_signals.plugin import catalog_for_config

        class Shipper(SignalEmitter):
            EMITS = ("shipping.pre_ship", "shipping.post_ship", "shipping.ship_failed")

        def test_catalog(signal_catalog, request):
            assert signal_catalog["shipping.post_ship"].tier == "high"
            assert "entity.post_merge" in signal_catalog
            assert catalog_for_config(request.config) is signal_catalog

        def test_assertions_know_the_user_signals(signal_recorder):
            with Shipper().operation("shipping.ship", parcel_id="p-1") as op:
                op.set(weight_kg=2.5)
            signal_recorder.assert_emitted("shipping.post_ship", weight_kg=2.5)
            signal_recorder.assert_contract()

        def test_their_schema_is_enforced(signal_recorder):
            with Shipper().operation("shipping.ship", parcel_id="p-1") as op:
                op.set(weight_kg="heavy")
            signal_recorder.assert_contract()
    """)
    result = user_project.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    assert error_lines(result, "test_their_schema_is_enforced")[:2] == [
        "AssertionError: assert_contract(): 1 finding in 2 recorded signals:",
        "  [payload] shipping.post_ship: field 'weight_kg': expected number, got string 'heavy'  (#1)",
    ]


def test_a_missing_catalog_file_names_the_ini_key(user_project):
    user_project.makeini("[pytest]\nkindling_signals_catalogs = catalogs/nope.yaml\n")
    user_project.makepyfile("def test_x(signal_catalog):\n    pass\n")
    result = user_project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*UsageError: ini option kindling_signals_catalogs: *catalogs/nope.yaml: "
                                 "no such catalog file; check the path*"])


def test_lakehouse_is_a_fresh_folder_and_spark_tests_are_marked(user_project):
    user_project.makepyfile("""
        from kindling.lakehouse import current_lakehouse

        def test_lakehouse(lakehouse, tmp_path):
            assert current_lakehouse() == lakehouse and lakehouse.is_relative_to(tmp_path)

        def test_needs_spark(spark):
            raise AssertionError("deselected: never runs, never starts a JVM")
    """)
    result = user_project.runpytest("-m", "not spark")
    result.assert_outcomes(passed=1, deselected=1)


def test_observer_errors_fail_the_test_with_the_observers_traceback(user_project):
    user_project.makepyfile("""
        import pytest
        from demo_merger import Merger

        def broken_observer(sender, **payload):
            raise KeyError("rows_total")

        def test_observer_raises(signal_provider):
            signal_provider.connect("entity.post_merge", broken_observer)
            assert Merger().merge("a", [1]) == 1  # the operation itself goes on

        @pytest.mark.kindling_signals(observer_errors="ignore")
        def test_opted_out(signal_provider):
            signal_provider.connect("entity.post_merge", broken_observer)
            Merger().merge("a", [1])

        def test_checked_and_cleared(signal_provider):
            signal_provider.connect("entity.post_merge", broken_observer)
            Merger().merge("a", [1])
            assert [type(e.exception) for e in signal_provider.errors] == [KeyError]
            signal_provider.clear_errors()
    """)
    result = user_project.runpytest()
    result.assert_outcomes(passed=3, errors=1)
    lines = section(result, "ERROR at teardown of test_observer_raises")
    assert lines[0] == (
        "1 observer error while the test ran (emission went on; opt out with "
        "@pytest.mark.kindling_signals(observer_errors='ignore'), or assert on "
        "signal_provider.errors and call signal_provider.clear_errors()):")
    assert lines[1] == ("--- observer test_observer_errors_fail_the_test_with_the_observers_traceback"
                        ".broken_observer of 'entity.post_merge' raised KeyError: 'rows_total' "
                        "(thread MainThread)")
    assert lines[2] == "Traceback (most recent call last):"
    assert '    raise KeyError("rows_total")' in lines
    assert lines[-1] == "KeyError: 'rows_total'"

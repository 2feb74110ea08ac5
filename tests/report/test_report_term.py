"""The terminal report of ``pytest --kindling-signals``, run through pytester as a user would."""

from __future__ import annotations

import pytest

import json

from report_project import BAD_FINDINGS, BUILTIN, NAME_WIDTH, TOTAL, label, row, scopes, section, summary, total_row

# These tests emit bad signals on purpose (inside pytester runs in this process):
# an outer `pytest --kindling-signals --kindling-signals-strict` must not count them.
pytestmark = pytest.mark.kindling_signals_ignore

# One row per namespace, its class beside; its tier is its signals' (each signal's own tier)
BUILTIN_ROWS = [row(label(ns), "/".join(t for t in BUILTIN.tiers if any(s.tier == t for s in BUILTIN.by_provider(ns))),
                    len(BUILTIN.by_provider(ns)), 0) for ns in BUILTIN.namespaces()]
HEADER = f"{'Provider':<{NAME_WIDTH}}  {'Tier':<8}  {'Signals':>7}  {'Emitted':>7}  {'Cover':>6}"
RULE = "-" * len(HEADER)
SHOP_ROW = row(label("shop"), "shop", 4, 3)
TABLE = [
    HEADER,
    RULE,
    *BUILTIN_ROWS,
    SHOP_ROW,
    RULE,
    *[row(t, "", len(BUILTIN.by_tier(t)), 0) for t in BUILTIN.tiers],
    row("shop", "", 4, 3),
    RULE,
    total_row(3),
]
CLEAN_FINDINGS = [
    "Undocumented signals: none",
    "Payload violations: none",
    "Lifecycle violations: none",
]


def test_no_report_without_the_option(shop_project: pytest.Pytester) -> None:
    result = shop_project.runpytest()
    result.assert_outcomes(passed=2)
    assert "catalog coverage" not in result.stdout.str()


def test_term_report_per_provider_and_tier_with_a_total(shop_project: pytest.Pytester) -> None:
    result = shop_project.runpytest("--kindling-signals")
    result.assert_outcomes(passed=2)
    assert section(result) == [
        *TABLE,
        summary(3, 2, 4),
        scopes(3),
        *CLEAN_FINDINGS,
    ]
    assert result.ret == pytest.ExitCode.OK


def test_term_missing_names_the_signals_never_emitted(shop_project: pytest.Pytester) -> None:
    result = shop_project.runpytest("--kindling-signals", "--kindling-signals-report=term-missing")
    lines = section(result)
    start = lines.index(f"Never emitted ({TOTAL - 3}):")
    assert lines[start + len(BUILTIN.providers()) + 1] == "  shop (ShopService): shop.refunded"
    assert "  session (SparkSessionProvider): session.created, session.config_changed, session.stopped" in lines


def test_findings_are_always_listed(bad_tests: pytest.Pytester) -> None:
    result = bad_tests.runpytest("--kindling-signals")
    result.assert_outcomes(passed=5)
    lines = section(result)
    assert lines[lines.index("Undocumented signals (1):"):] == [
        *BAD_FINDINGS,
    ]
    assert result.ret == pytest.ExitCode.OK  # findings alone never fail a run without a gate


def test_lifecycles_are_checked_per_test(shop_project: pytest.Pytester) -> None:
    """A pre_X in one test is not closed by a post_X in the next one."""
    shop_project.makepyfile(test_split='''
        from shop import new_shop
        SHOP = new_shop()
        def test_opens():
            SHOP.emit("shop.pre_checkout", cart_id="c9")
        def test_closes():
            SHOP.emit("shop.post_checkout", cart_id="c9", total=1.0, duration_seconds=0.1)
    ''')
    result = shop_project.runpytest("--kindling-signals", "test_split.py")
    lines = section(result)
    start = lines.index("Lifecycle violations (2):")
    assert lines[start + 1].startswith("  shop.pre_checkout (operation <id>) was never closed")
    assert lines[start + 1].endswith("(1 operation, first in test_split.py::test_opens)")
    assert lines[start + 2].endswith("(1 operation, first in test_split.py::test_closes)")


def test_emissions_outside_tests_are_attributed_to_the_session(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_import='''
        from shop import new_shop
        new_shop().refund(amount=-1)   # at import: collection time
        def test_nothing():
            pass
    ''')
    result = shop_project.runpytest("--kindling-signals", "test_import.py")
    assert ("  shop.refunded: field 'amount': expected >= 0, got integer -1 "
            "(1 emission, first in <session>)") in section(result)


def test_ini_turns_the_report_on_and_the_command_line_off(shop_project: pytest.Pytester) -> None:
    shop_project.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\nkindling_signals = true\n")
    assert section(shop_project.runpytest())[:len(TABLE)] == TABLE
    assert "catalog coverage" not in shop_project.runpytest("--no-kindling-signals").stdout.str()


def test_ignored_tests_are_left_out_and_not_observed(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_ignored='''
        import pytest
        from shop import new_shop
        @pytest.mark.kindling_signals_ignore
        def test_refund_on_purpose_wrong():
            new_shop().refund(amount="nope")
        @pytest.mark.kindling_signals_ignore
        def test_nothing_observes_an_ignored_test():
            assert not new_shop().is_observed("shop.refunded")
        def test_the_report_observes_every_other_test():
            assert new_shop().is_observed("shop.refunded")
    ''')
    result = shop_project.runpytest("--kindling-signals")
    result.assert_outcomes(passed=5)
    lines = section(result)
    assert SHOP_ROW in lines
    assert "Payload violations: none" in lines


def test_a_broken_user_catalog_is_a_usage_error(shop_project: pytest.Pytester) -> None:
    shop_project.makefile(".yaml", shop_catalog="format: kindling-signal-catalog/1\nproviders: {}\n")
    result = shop_project.runpytest("--kindling-signals")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "shop_catalog.yaml: providers: " in result.stderr.str()


def test_a_shared_fixture_set_up_by_an_ignored_test_is_still_observed(shop_project: pytest.Pytester) -> None:
    # The shared Spark session is the real case: whichever test asks first
    # starts it, and session.created belongs to the fixture, not to that test;
    # its teardown (session.stopped) runs after the last test, which is ignored here.
    shop_project.makepyfile(test_shared='''
        import pytest
        from shop import new_shop
        @pytest.fixture(scope="session")
        def refunds_at_start():
            new_shop().refund(amount=1)
            yield
            new_shop().refund(amount=2)
        @pytest.mark.kindling_signals_ignore
        def test_ignored_but_first_to_ask(refunds_at_start):
            new_shop().refund(amount="not counted")
        def test_later(refunds_at_start):
            pass
        @pytest.mark.kindling_signals_ignore
        def test_ignored_and_last(refunds_at_start):
            pass
    ''')
    result = shop_project.runpytest("--kindling-signals", "--kindling-signals-report=term",
                                    "--kindling-signals-report=json:out.json", "-p", "no:randomly")
    result.assert_outcomes(passed=5)  # with the shop's own two tests
    data = json.loads((shop_project.path / "out.json").read_text())
    refunded = data["signals"]["shop.refunded"]
    assert (refunded["count"], refunded["tests"]) == (2, ["<fixture refunds_at_start>"])
    assert "Payload violations: none" in section(result)

"""Known findings: a catalog lists the breaches a release is known to have (when seen, why); the
contract check shows them as known, never hides another finding of the same signal, and fails
like a strict xfail when a test names one that didn't happen."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytester_output import section
from kindling.signaling import BlinkerSignalProvider
from pytest_kindling_signals import KnownFinding, SignalRecorder, check_contract
from pytest_kindling_signals.catalog import (
    CATALOGS_DIR,
    QUICK_REFERENCE_PATH,
    CatalogError,
    load_catalog,
)

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out

SHIPPING = """
common_fields: {}
post_fields: {}
failed_fields: {}
providers:
  shipping:
    class: ShippingProvider
    tier: high
    operations:
      shipping.ship: {pre: pre_ship, post: [post_ship], failed: ship_failed, pair_by: [parcel_id]}
    signals:
      pre_ship: {when: Before a parcel ships, fields: {parcel_id: string}}
      post_ship: {when: After it shipped, fields: {parcel_id: string, weight_kg: number}}
      ship_failed: {when: When shipping failed, fields: {parcel_id: string}}
"""
KNOWN = """
known_findings:
  - signal: shipping.pre_ship
    rule: never_closed
    seen_in: shipping 1.2
    reason: "a cancelled parcel sends nothing after pre_ship"
"""


def catalog_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shipping.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def catalog(tmp_path: Path):
    return load_catalog(QUICK_REFERENCE_PATH, catalog_file(tmp_path, SHIPPING + KNOWN))


@pytest.fixture
def rec(provider, catalog):
    with SignalRecorder(provider, catalog) as recorder:
        yield recorder


def send(provider: BlinkerSignalProvider, name: str, **payload) -> None:
    provider.signal(name).send(name, **payload)


def failure(fn, *args, **kwargs) -> list[str]:
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    return str(info.value).splitlines()


def test_the_catalog_lists_its_known_findings(catalog):
    (known,) = catalog.known_findings
    assert (known.signal, known.rule, known.kind, known.seen_in) == (
        "shipping.pre_ship", "never_closed", "lifecycle", "shipping 1.2")
    assert known.why() == "seen in shipping 1.2: a cancelled parcel sends nothing after pre_ship"


def test_a_known_finding_does_not_fail_the_contract(provider, rec):
    send(provider, "shipping.pre_ship", parcel_id="p-1")
    rec.assert_contract()
    (finding,) = check_contract(rec.records, rec.catalog)
    assert finding.known is rec.catalog.known_findings[0] and finding.rule == "never_closed"
    assert str(finding) == ("[known: lifecycle] shipping.pre_ship (operation (parcel_id='p-1')) was never "
                            "closed by shipping.post_ship or shipping.ship_failed (record #0)")


def test_it_never_hides_another_finding_of_the_same_signal(provider, rec):
    send(provider, "shipping.pre_ship", parcel_id=7)
    send(provider, "shipping.post_ship", parcel_id="p-2", weight_kg=1.0)
    assert failure(rec.assert_contract) == [
        "assert_contract(): 2 findings in 2 recorded signals:",
        "  [payload] shipping.pre_ship: field 'parcel_id': expected string, got integer 7  (#0)",
        "  [lifecycle] shipping.post_ship closed operation (parcel_id='p-2'), which no shipping.pre_ship "
        "opened  (#1)",
        "Known findings (they don't fail the check):",
        "  [lifecycle] shipping.pre_ship (operation (parcel_id=7)) was never closed by shipping.post_ship "
        "or shipping.ship_failed  (#0)",
        "      known: seen in shipping 1.2: a cancelled parcel sends nothing after pre_ship",
        "Recorded 2 signals, in order:",
        "  > #0  shipping.pre_ship",
        "  > #1  shipping.post_ship",
    ]


def test_a_known_finding_a_test_names_must_happen_like_a_strict_xfail(provider, rec):
    send(provider, "shipping.pre_ship", parcel_id="p-1")
    rec.assert_contract(known=["shipping.pre_ship"])          # it happened: passes
    send(provider, "shipping.post_ship", parcel_id="p-1", weight_kg=1.0)
    assert failure(rec.assert_contract, known=["shipping.pre_ship"]) == [
        "assert_contract(known=['shipping.pre_ship']): 1 known finding did not happen in 2 recorded signals:",
        "  shipping.pre_ship never_closed: seen in shipping 1.2: a cancelled parcel sends nothing after pre_ship",
        "  If a release fixed it, take it out of known=[...] (and out of the catalog's known_findings).",
        "Recorded 2 signals, in order:",
        "    #0  shipping.pre_ship",
        "    #1  shipping.post_ship",
    ]


def test_a_test_adds_its_own_known_finding_with_a_reason(provider, rec):
    send(provider, "entity.pre_merge", operation_id="0a1b2c3d-0000-4000-8000-000000000001",
         timestamp="2025-01-20T10:00:45.123456+00:00", entity_id="orders", merge_keys=["id"], source_row_count=1)
    unclosed = KnownFinding("entity.pre_merge", "never_closed", reason="the merge is stopped by the test")
    rec.assert_contract(known=[unclosed])
    with pytest.raises(AssertionError, match=r"^assert_contract\(\): 1 finding in 1 recorded signal:"):
        rec.assert_contract()
    with pytest.raises(ValueError, match=r"^KnownFinding\('entity.pre_merge', 'never_closed'\): a known "
                                         r"finding needs a reason \(why it happens, so that someone can "
                                         r"tell when it is fixed\); e.g. KnownFinding\("):
        KnownFinding("entity.pre_merge", "never_closed", reason=" ")
    with pytest.raises(ValueError, match=r"^KnownFinding\('entity.pre_merge', rule='unclosed'\): use one "
                                         r"of 'undocumented', 'invalid_payload', 'never_closed'"):
        KnownFinding("entity.pre_merge", "unclosed", reason="why")


def test_a_name_the_catalog_does_not_list_is_an_error_that_says_how_to_add_one(rec):
    with pytest.raises(ValueError) as info:
        rec.assert_contract(known=["entity.pre_merge"])
    assert str(info.value) == (
        "assert_contract(known=['entity.pre_merge']): the catalog lists no known finding "
        "'entity.pre_merge' (it lists: 'shipping.pre_ship never_closed'). For one of your own, pass "
        "KnownFinding('entity.pre_merge', 'never_closed', reason='why it happens') (from "
        "pytest_kindling_signals import KnownFinding).")


def test_a_payload_known_finding_can_be_narrowed_to_one_field(provider, catalog):
    weight = KnownFinding("shipping.post_ship", "invalid_payload", reason="weights come as text",
                          field="weight_kg")
    with SignalRecorder(provider, catalog) as rec:
        send(provider, "shipping.pre_ship", parcel_id="p-1")
        send(provider, "shipping.post_ship", parcel_id="p-1", weight_kg="2 kg")
    rec.assert_contract(known=[weight])
    with SignalRecorder(provider, catalog) as rec:
        send(provider, "shipping.pre_ship", parcel_id="p-2")
        send(provider, "shipping.post_ship", parcel_id=3, weight_kg="2 kg")
    lines = failure(rec.assert_contract, known=[weight])
    assert lines[:6] == [
        "assert_contract(known=[KnownFinding('shipping.post_ship', 'invalid_payload', field='weight_kg', "
        "reason='weights come as text')]): 2 findings in 2 recorded signals:",
        "  [payload] shipping.post_ship: field 'parcel_id': expected string, got integer 3  (#1)",
        "  [lifecycle] shipping.post_ship closed operation (parcel_id=3), which no shipping.pre_ship opened  (#1)",
        "Known findings (they don't fail the check):",
        "  [payload] shipping.post_ship: field 'weight_kg': expected number, got string '2 kg'  (#1)",
        "      known: weights come as text",
    ]


@pytest.mark.parametrize("entry, problem", [
    ("{signal: shipping.pre_ship, rule: never_closed}",
     "known_findings.0: missing 'reason' (why it happens (so that a fix can be recognised)); add reason: ..."),
    ("{signal: shipping.pre_ship, rule: never_close, reason: x}",
     "known_findings.0.rule: 'never_close' is not allowed (did you mean 'never_closed'?); use one of "
     "undocumented, invalid_payload, never_closed, opened_twice, closed_twice, not_opened"),
    ("{signal: shipping.pre_shipp, rule: never_closed, reason: x}",
     "known_findings.0.signal: 'shipping.pre_shipp' is not a signal of this catalog (or the one it "
     "extends); name a declared signal"),
    ("{signal: shipping.pre_ship, rule: never_closed, field: parcel_id, reason: x}",
     "known_findings.0: KnownFinding('shipping.pre_ship', 'never_closed', field='parcel_id'): field= "
     "narrows only the 'invalid_payload' rule"),
    ("{signal: shipping.pre_ship, rule: undocumented, reason: x}",
     "known_findings.0.rule: 'shipping.pre_ship' is declared, so it can't be 'undocumented'; use the "
     "rule it breaks"),
])
def test_a_bad_known_finding_in_a_catalog_names_the_entry_and_the_fix(tmp_path, entry, problem):
    path = catalog_file(tmp_path, SHIPPING + f"known_findings:\n  - {entry}\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(QUICK_REFERENCE_PATH, path)
    assert str(info.value) == f"{path.resolve()}: {problem}"


def test_a_known_finding_listed_twice_is_refused(tmp_path):
    path = catalog_file(tmp_path, SHIPPING + KNOWN + KNOWN.split("\n", 2)[2])
    with pytest.raises(CatalogError, match=r"known_findings.1: repeats known_findings.0 "
                                           r"\(shipping.pre_ship never_closed\); keep one$"):
        load_catalog(QUICK_REFERENCE_PATH, path)


def test_spark_kindlings_catalog_lists_its_breaches_with_release_and_reason():
    catalog = load_catalog(CATALOGS_DIR / "spark_kindling_0.14.yaml")
    assert [(k.signal, k.rule, k.seen_in) for k in catalog.known_findings] == [
        ("datapipes.before_run", "never_closed", "spark-kindling 0.14.0"),
        ("entity.before_read", "never_closed", "spark-kindling 0.14.0"),
    ]
    assert all(len(k.reason) > 40 for k in catalog.known_findings)

    class Record:
        def __init__(self, name, **payload):
            self.name, self.payload = name, payload

    # A DAG run: before_run, then the orchestrator's signals, and nothing closes the run.
    dag = [Record("datapipes.before_run", pipe_ids=["a"], pipe_count=1, run_id="r1")]
    (finding,) = check_contract(dag, catalog)
    assert finding.known is catalog.known_findings[0]


# -- through the plugin: the marker and a catalog of the user's ---------------------------------

def test_the_marker_accepts_known_findings_of_the_users_catalog(user_project):
    user_project.makefile(".yaml", **{"catalogs/shipping": SHIPPING + KNOWN})
    user_project.makeini("[pytest]\nkindling_signals_catalogs =\n    catalogs/shipping.yaml\n")
    user_project.makepyfile("""
        import pytest
        from pytest_kindling_signals import KnownFinding

        def ship(provider, *names):
            for name in names:
                provider.signal(name).send(name, parcel_id="p-1", weight_kg=1.0)

        @pytest.mark.kindling_signals(contract=True)
        def test_known_from_the_catalog(signal_provider):
            ship(signal_provider, "shipping.pre_ship")

        @pytest.mark.kindling_signals(contract=True, known=["shipping.pre_ship"])
        def test_named_and_it_happened(signal_provider):
            ship(signal_provider, "shipping.pre_ship")

        @pytest.mark.kindling_signals(contract=True, known=["shipping.pre_ship"])
        def test_named_and_fixed(signal_provider):
            ship(signal_provider, "shipping.pre_ship", "shipping.post_ship")

        @pytest.mark.kindling_signals(contract=True, known=[KnownFinding(
            "shipping.post_ship", "not_opened", reason="the parcel came from another depot")])
        def test_a_known_finding_of_the_test(signal_provider):
            ship(signal_provider, "shipping.post_ship")

        @pytest.mark.kindling_signals(known=["shipping.pre_ship"])
        def test_known_without_contract(signal_provider):
            pass

        @pytest.mark.kindling_signals(contract=True, known=["shipping.post_ship"])
        def test_known_not_in_the_catalog(signal_provider):
            pass
    """)
    result = user_project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4, errors=3)
    assert section(result, "ERROR at teardown of test_named_and_fixed") == [
        "@pytest.mark.kindling_signals: 1 expectation not met.",
        "contract=True, known=['shipping.pre_ship']: 1 known finding did not happen in 2 recorded signals:",
        "  shipping.pre_ship never_closed: seen in shipping 1.2: a cancelled parcel sends nothing after "
        "pre_ship",
        "  If a release fixed it, take it out of known=[...] (and out of the catalog's known_findings).",
        "Recorded 2 signals, in order:",
        "    #0  shipping.pre_ship",
        "    #1  shipping.post_ship",
    ]
    result.stdout.fnmatch_lines([
        "*test_known_without_contract*@pytest.mark.kindling_signals(known=...): known findings belong to "
        "the contract check; add contract=True",
        "*test_known_not_in_the_catalog: @pytest.mark.kindling_signals(known=...): the catalog lists no "
        "known finding 'shipping.post_ship' (it lists: 'shipping.pre_ship never_closed')*",
    ])


def test_the_report_counts_known_findings_apart_and_names_those_not_seen(user_project):
    user_project.makefile(".yaml", **{"catalogs/shipping": SHIPPING + KNOWN + """
  - signal: shipping.post_ship
    rule: invalid_payload
    field: weight_kg
    reason: "weights came as text before 1.3"
"""})
    user_project.makeini("[pytest]\nkindling_signals_catalogs =\n    catalogs/shipping.yaml\n")
    user_project.makepyfile("""
        def test_two_parcels_left_open(signal_provider):
            for parcel in ("p-1", "p-2"):
                signal_provider.signal("shipping.pre_ship").send("shipping.pre_ship", parcel_id=parcel)
    """)
    result = user_project.runpytest("--kindling-signals", "--kindling-signals-strict",
                                    "--kindling-signals-report=term", "--kindling-signals-report=json:r.json",
                                    "--kindling-signals-report=markdown:r.md", "--kindling-signals-report=html:r.html")
    result.assert_outcomes(passed=1)
    assert result.ret == 0   # the strict gate passes: the only findings are known
    result.stdout.fnmatch_lines([
        "Lifecycle violations: none",
        "Known findings (2, they don't fail the gates):",
        "  shipping.pre_ship never_closed: 2 times; seen in shipping 1.2: a cancelled parcel sends nothing "
        "after pre_ship",
        "  shipping.post_ship invalid_payload (field 'weight_kg'): not seen in this run (fixed? then drop it "
        "from the catalog's known_findings); weights came as text before 1.3",
    ])
    import json

    known = json.loads((user_project.path / "r.json").read_text())["findings"]["known"]
    assert [(k["signal"], k["rule"], k["count"], k["first_test"]) for k in known] == [
        ("shipping.pre_ship", "never_closed", 2, "test_the_report_counts_known_findings_apart_and_names_those_not_seen.py::test_two_parcels_left_open"),
        ("shipping.post_ship", "invalid_payload", 0, None),
    ]
    markdown = (user_project.path / "r.md").read_text()
    assert ("**Known findings (2, they don't fail the gates)**\n\n- shipping.pre_ship never_closed: 2 times; "
            "seen in shipping 1.2: a cancelled parcel sends nothing after pre_ship\n") in markdown
    assert "- shipping.post_ship invalid_payload (field 'weight_kg'): not seen in this run (fixed?" in markdown
    html = (user_project.path / "r.html").read_text()
    assert "<summary>Known findings (2, they don&#x27;t fail the gates)</summary>" in html
    assert "shipping.pre_ship never_closed: 2 times" in html

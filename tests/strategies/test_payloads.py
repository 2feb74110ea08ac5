"""payloads() and invalid_payloads() against the catalog, for every one of its signals."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from kindling.signal_catalog import SignalCatalog, Violation, load_catalog
from pytest_kindling_signals.strategies import RULES, InvalidPayload, invalid_payloads, payloads

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out

CATALOG = load_catalog()
# Each signal is its own test: a quarter of the profile's examples keeps 88 x 2 tests quick
# (5 each under kindling-fast, 50 under kindling-ci).
PER_SIGNAL = settings(max_examples=max(5, settings.default.max_examples // 4), database=None)

# How the catalog's validator words each rule: the violation must say the rule it was told.
# find() without the explain phase: we want the shrunk example, not an explanation of it.
SHRINK = settings(database=None, max_examples=500, phases=[Phase.generate, Phase.shrink])

SAYS = {
    "missing_required": lambda v: v.actual == "missing",
    "wrong_type": lambda v: "is not of type" in v.message,
    "timestamp_without_offset": lambda v: v.expected == "an ISO-8601 date-time with a UTC offset",
    "not_a_uuid": lambda v: v.expected == "a uuid",
    "below_minimum": lambda v: v.expected.startswith(">="),
    "above_maximum": lambda v: v.expected.startswith("<="),
    "not_in_enum": lambda v: v.expected.startswith("one of"),
    "not_json": lambda v: v.message == "payload is not JSON-serialisable",
}


def test_every_rule_has_a_check() -> None:
    assert set(SAYS) == set(RULES)


@pytest.mark.parametrize("name", list(CATALOG))
def test_payloads_validate(name: str) -> None:
    @PER_SIGNAL
    @given(payloads(name))
    def check(payload: dict) -> None:
        assert CATALOG.validate(name, payload) == []
        json.dumps(payload)  # the audit observer's test: JSON as it is

    check()


@pytest.mark.parametrize("name", list(CATALOG))
def test_invalid_payloads_break_exactly_the_rule_they_name(name: str) -> None:
    @PER_SIGNAL
    @given(invalid_payloads(name))
    def check(bad: InvalidPayload) -> None:
        violations = CATALOG.validate(name, bad.payload)
        assert len(violations) == 1, (bad, violations)
        violation: Violation = violations[0]
        assert violation.field == bad.field or violation.field.startswith(bad.field + ".")
        assert SAYS[bad.rule](violation), (bad.rule, violation)

    check()


@pytest.mark.parametrize("rule", sorted(RULES))
def test_invalid_payloads_reach_every_rule_the_catalog_allows(rule: str) -> None:
    # one rule at a time: sampling all eight from 100 mixed examples is a matter of luck
    @settings(max_examples=5, database=None)
    @given(invalid_payloads("datapipes.post_pipe", rules=[rule]))  # an enum, bounded numbers
    def check(bad: InvalidPayload) -> None:
        assert bad.rule == rule
        assert len(CATALOG.validate("datapipes.post_pipe", bad.payload)) == 1

    check()


def test_rules_restricts_what_is_broken() -> None:
    @settings(max_examples=20, database=None)
    @given(invalid_payloads("entity.post_merge", rules=["below_minimum"]))
    def check(bad: InvalidPayload) -> None:
        assert bad.rule == "below_minimum"
        assert bad.payload[bad.field] < CATALOG["entity.post_merge"].fields[bad.field].minimum

    check()


def test_a_negative_duration_is_one_of_the_breaks() -> None:
    bad = find(invalid_payloads("entity.post_merge", rules=["below_minimum"]),
               lambda b: b.field == "duration_seconds", settings=SHRINK)
    assert bad.payload["duration_seconds"] == -1
    assert bad.description == "duration_seconds holds -1, below the field's minimum"


def test_payloads_shrink_to_the_required_fields_and_simplest_values() -> None:
    example = find(payloads("entity.post_merge"), lambda p: p["rows_inserted"] > 5, settings=SHRINK)
    assert set(example) == set(CATALOG["entity.post_merge"].required_fields)
    assert example["rows_inserted"] == 6
    assert example["rows_updated"] == example["rows_deleted"] == 0
    assert example["timestamp"] == "2000-01-01T00:00:00+00:00"


def test_optional_fields_are_sometimes_present() -> None:
    example = find(payloads("datapipes.post_pipe"), lambda p: "write_mode" in p, settings=SHRINK)
    assert example["write_mode"] == "merge"  # the enum's first value


def test_invalid_payloads_shrink_to_a_readable_break() -> None:
    bad = find(invalid_payloads("entity.pre_merge", rules=["not_a_uuid", "wrong_type"]),
               lambda b: b.rule == "not_a_uuid", settings=SHRINK)
    assert (bad.field, bad.payload["operation_id"]) == ("operation_id", "")
    assert bad.description == "operation_id holds '', not a uuid"


def test_user_catalogs_get_strategies_too(tmp_path) -> None:
    path = tmp_path / "orders.yaml"
    path.write_text("""
providers:
  orders:
    class: OrderProvider
    tier: high
    signals:
      order_shipped:
        when: An order left the warehouse
        fields:
          order_id: {type: integer, minimum: 1}
          carrier: {type: string, enum: [dhl, ups]}
          weights: {type: array, items: number}
          extra: {type: any, required: false}
""")
    catalog: SignalCatalog = load_catalog(path)

    @settings(max_examples=30, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(payloads("orders.order_shipped", catalog=catalog), invalid_payloads("orders.order_shipped",
                                                                                  catalog=catalog))
    def check(good: dict, bad: InvalidPayload) -> None:
        assert catalog.validate("orders.order_shipped", good) == []
        assert good["order_id"] >= 1 and good["carrier"] in ("dhl", "ups")
        assert [v.field.split(".")[0] for v in catalog.validate(bad.signal, bad.payload)] == [bad.field]

    check()

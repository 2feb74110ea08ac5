"""The collector checks emissions a batch and a column at a time: exactly what one by one gives.

Fast tests, no pytester: the column shape keys against :meth:`Verdicts.key`, a
batch's findings against validating each payload in turn, the set-based
lifecycle shortcut against the full check.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_kindling_signals.catalog import SignalCatalog, check_lifecycles, check_payloads, load_catalog
from pytest_kindling_signals.frameworks import Emission
from pytest_kindling_signals.report.results import SessionData
from pytest_kindling_signals.report.validation import (
    BATCH,
    BatchCheck,
    ColumnShapes,
    Lifecycle,
    ValidationRecord,
    Verdicts,
    lifecycles_clean,
    payload_finding,
)

CATALOG = """\
format: kindling-signal-catalog/1
tiers: [shop]
providers:
  shop:
    class: ShopService
    tier: shop
    operations:
      shop.pack: {pre: pre_pack, post: [post_pack], failed: pack_failed}
    signals:
      pre_pack:
        when: Before packing
        fields:
          id: {type: string, format: uuid}
          at: {type: string, format: date-time}
      post_pack:
        when: After packing
        fields:
          id: {type: string, format: uuid}
          at: {type: string, format: date-time}
          parent: {type: string, format: uuid, nullable: true}
          boxes: {type: integer, minimum: 0, maximum: 10}
          weight: {type: number, minimum: 0}
          mode: {type: string, enum: [air, sea], nullable: true}
          labels: {type: array, items: string}
          extra: {type: object, required: false}
          fragile: {type: boolean, required: false}
      pack_failed:
        when: When packing fails
        fields:
          id: {type: string, format: uuid}
          error: string
"""
IDS = ["0f8fad5b-d9cb-469f-a165-70867728950e", "7c9e6679-7425-40de-944b-e07fc1f90ae7",
       "not-a-uuid", "9b2d6c1e-4f7a-4c1b-8a8e-2f0c9d3e1b5a"]
TIMES = ["2025-01-20T10:00:45.123456+00:00", "2025-01-20T10:00:46Z", "yesterday"]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> SignalCatalog:
    path = Path(tmp_path_factory.mktemp("catalog")) / "shop.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    return load_catalog(path)


values = st.one_of(
    st.sampled_from(IDS + TIMES + ["air", "sea", "rail", ""]), st.none(), st.booleans(),
    st.integers(-3, 12), st.integers(2**63, 2**64),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 2.0, 0.5, -1.5]),
    st.lists(st.sampled_from(["a", "b"]), max_size=2), st.lists(st.integers(0, 2), max_size=2),
    st.lists(st.one_of(st.text(max_size=1), st.integers()), max_size=3),
    st.dictionaries(st.sampled_from(["k", "v"]), st.integers(0, 1), max_size=2),
    st.tuples(st.integers(0, 1)), st.just(Path("/x")),
)
FIELDS = ["id", "at", "parent", "boxes", "weight", "mode", "labels", "extra", "fragile", "unknown"]


@st.composite
def tables(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Payloads with the same keys in the same order, each field's values from a few kinds."""
    fields = draw(st.lists(st.sampled_from(FIELDS), unique=True, min_size=1, max_size=6))
    kinds = {f: draw(st.lists(values, min_size=1, max_size=3)) for f in fields}
    rows = draw(st.integers(1, 12))
    return [{f: draw(st.sampled_from(kinds[f])) for f in fields} for _ in range(rows)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables())
def test_a_columns_keys_are_the_keys_of_its_payloads_one_by_one(catalog: SignalCatalog,
                                                                table: list[dict[str, Any]]) -> None:
    verdicts = Verdicts(catalog)
    one_by_one = [verdicts.key("shop.post_pack", p) for p in table]
    const, keys = ColumnShapes(catalog).keys("shop.post_pack", table)
    assert (keys if not const else [keys] * len(table)) == one_by_one


def reference(batch: list[Emission], catalog: SignalCatalog, test: str, index: int) -> SessionData:
    """What checking each payload in turn gives."""
    data = SessionData()
    for e in batch:
        data.counts[e.name] = data.counts.get(e.name, 0) + 1
        data.emitters.setdefault(e.name, set()).add(test)
        if e.name in catalog:
            for f in check_payloads([ValidationRecord(e.name, e.payload)], catalog):
                assert f.violation is not None
                data.add_finding(payload_finding(f.violation, test, index))
    return data


def emission(name: str, payload: dict[str, Any]) -> Emission:
    return Emission(name, name, payload, "MainThread", 1, 0.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["shop.pre_pack", "shop.post_pack", "shop.undocumented"]),
                               tables()), min_size=1, max_size=6))
def test_a_batchs_findings_are_the_findings_of_its_payloads_one_by_one(
        catalog: SignalCatalog, rows: list[tuple[str, list[dict[str, Any]]]]) -> None:
    batch = [emission(name, p) for name, table in rows for p in table]
    data = SessionData()
    check = BatchCheck(catalog, {}, 10)
    half = len(batch) // 2  # two batches: the second reuses the first's verdicts
    check.check(batch[:half], "t.py::test", 3, data, [])
    check.check(batch[half:], "t.py::test", 3, data, [])
    expected = reference(batch, catalog, "t.py::test", 3)
    assert data.counts == expected.counts and data.emitters == expected.emitters
    assert ({k: f.to_data() for k, f in data.findings.items()}
            == {k: f.to_data() for k, f in expected.findings.items()})


def test_the_first_payload_of_a_finding_keeps_its_values_and_every_payload_is_counted(
        catalog: SignalCatalog) -> None:
    good = {"id": IDS[0], "at": TIMES[0], "parent": None, "boxes": 1, "weight": 0.5, "mode": "air",
            "labels": ["a"]}
    batch = [emission("shop.post_pack", {**good, "boxes": str(i)}) for i in range(2 * BATCH + 5)]
    batch.insert(7, emission("shop.post_pack", {**good, "boxes": None}))  # same finding, other shape
    data = SessionData()
    keys = BatchCheck(catalog, {}, 10).check(batch, "t.py::test", 0, data, [], keys_for=9)
    (finding,) = data.findings.values()
    assert (finding.field, finding.count, finding.actual) == ("boxes", 2 * BATCH + 6, "string '0'")
    assert keys == [(finding.key,)] * 9  # the timeline's first emissions carry it too


def test_a_nan_among_finite_floats_is_its_own_shape(catalog: SignalCatalog) -> None:
    good = {"id": IDS[0], "at": TIMES[0], "parent": None, "boxes": 1, "mode": None, "labels": []}
    table = [{**good, "weight": w} for w in (1.5, math.nan, 2.5, math.inf, -0.5)]
    batch = [emission("shop.post_pack", p) for p in table]
    data = SessionData()
    BatchCheck(catalog, {}, 10).check(batch, "t", 0, data, [])
    assert sorted((f.expected, f.actual, f.count) for f in data.findings.values()) == [
        (">= 0", "number -0.5", 1),
        ("a JSON value (str, int, float, bool, None, list, dict)", "float nan", 2)]  # nan, then inf
    assert data.findings == reference(batch, catalog, "t", 0).findings


ops = st.lists(st.tuples(st.sampled_from(["shop.pre_pack", "shop.post_pack", "shop.pack_failed"]),
                         st.sampled_from(IDS[:3])), max_size=12)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=ops)
def test_the_lifecycle_shortcut_says_clean_only_when_the_full_check_finds_nothing(
        catalog: SignalCatalog, records: list[tuple[str, str]]) -> None:
    life = Lifecycle({"shop.pre_pack": ("id",), "shop.post_pack": ("id",), "shop.pack_failed": ("id",)})
    for name, oid in records:
        life.append((name, (oid,)))
    full = check_lifecycles([ValidationRecord(n, {"operation_id": k[0]}) for n, k in life], catalog)
    if lifecycles_clean(life, catalog):
        assert full == []
    assert lifecycles_clean(list(life), catalog) == lifecycles_clean(life, catalog)


def test_well_formed_lifecycles_take_the_shortcut(catalog: SignalCatalog) -> None:
    life = Lifecycle({"shop.pre_pack": ("id",), "shop.post_pack": ("id",), "shop.pack_failed": ("id",)})
    for oid, closer in zip(IDS, ["shop.post_pack", "shop.pack_failed"] * 2):
        life.extend([("shop.pre_pack", (oid,)), (closer, (oid,))])
    assert lifecycles_clean(life, catalog)
    assert not lifecycles_clean([*life, ("shop.post_pack", (IDS[0],))], catalog)  # closed twice


def test_a_lifecycle_reads_like_the_list_of_its_records() -> None:
    life = Lifecycle({"a.pre_x": ("operation_id",), "a.post_x": ("run_id", "pipe_id")})
    records = [("a.pre_x", ("1",)), ("a.post_x", ("r", "p")), ("", ())]
    life.extend(records)
    assert list(life) == records and len(life) == 3
    assert [life[i] for i in range(3)] == records and life[1:] == records[1:] and life[-1] == ("", ())


def test_a_patterns_verdict_is_remembered_per_value_and_a_new_bad_value_is_still_found(
        catalog: SignalCatalog) -> None:
    good = {"id": IDS[0], "at": TIMES[0], "parent": None, "boxes": 1, "weight": 0.5, "mode": "air",
            "labels": ["a"]}
    check, data = BatchCheck(catalog, {}, 10), SessionData()
    first = [emission("shop.post_pack", {**good, "id": oid}) for oid in (IDS[0], IDS[1], IDS[3])]
    check.check(first, "t.py::test", 0, data, [])  # these ids are now known to match
    assert data.findings == {}
    again = [emission("shop.post_pack", {**good, "id": oid}) for oid in (IDS[1], IDS[2], IDS[0], IDS[2])]
    check.check(again, "t.py::test", 0, data, [])  # known ids and one new id, which doesn't match
    (finding,) = data.findings.values()
    assert (finding.field, finding.count, finding.actual) == ("id", 2, "string 'not-a-uuid'")
    assert data.findings == reference(first + again, catalog, "t.py::test", 0).findings

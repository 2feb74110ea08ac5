"""Strategy arguments are checked when the strategy is made, with errors naming value and fix."""

from __future__ import annotations

import re

import pytest
from hypothesis.errors import InvalidArgument

from pytest_kindling_signals import strategies as S

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


def fails(call, message: str) -> None:
    __tracebackhide__ = True
    with pytest.raises(InvalidArgument) as info:
        call()
    assert str(info.value) == message


def test_the_public_surface_is_listed() -> None:
    public = {n for n in vars(S) if n[0] not in "_@" and n != "annotations"}
    assert set(S.__all__) == public


def test_an_unknown_signal_suggests_close_names() -> None:
    fails(lambda: S.payloads("entity.post_merg"),
          "payloads(name='entity.post_merg'): unknown signal; it is not in the signal catalog. "
          "Did you mean 'entity.post_merge' or 'entity.pre_merge' or 'entity.post_write'? List the names with signal_names() "
          "or list(signal_catalog); pass catalog= for signals of your own catalog.")
    with pytest.raises(InvalidArgument, match=r"invalid_payloads\(name=3\): name must be a signal name"):
        S.invalid_payloads(3)  # type: ignore[arg-type]


def test_arguments_after_the_first_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        S.payloads("entity.post_merge", None)  # type: ignore[misc]
    with pytest.raises(TypeError):
        S.signal_names("entity")  # type: ignore[misc]


def test_an_unknown_provider_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidArgument) as info:
        S.signal_names(provider="DataEntityManagr")
    text = str(info.value)
    assert text.startswith("signal_names(provider='DataEntityManagr'): unknown provider. "
                           "Did you mean 'DataEntityManager' or 'DataAppManager'? Use a class name or namespace: "
                           "DataPipesExecuter (datapipes), DataEntityManager (entity), ")
    assert "SparkTraceProvider (trace)" in text


def test_an_unknown_tier_lists_the_valid_ones() -> None:
    fails(lambda: S.signal_names(tier="critcal"),
          "signal_names(tier='critcal'): unknown tier. Did you mean 'critical'? "
          "The catalog's tiers are 'critical', 'high', 'moderate'")


def test_a_provider_and_tier_with_no_signal_in_common() -> None:
    fails(lambda: S.signal_names(provider="entity", tier="moderate"),
          "signal_names(provider='entity', tier='moderate'): no catalog signal is both; "
          "provider 'entity' has tier(s) critical")


def test_a_catalog_must_be_a_catalog() -> None:
    with pytest.raises(InvalidArgument, match=r"payloads\(catalog='x.yaml'\): catalog must be a "
                                              r"SignalCatalog, e\.g\. catalog=load_catalog"):
        S.payloads("entity.post_merge", catalog="x.yaml")  # type: ignore[arg-type]


def test_rules_must_be_known_and_apply() -> None:
    fails(lambda: S.invalid_payloads("entity.post_merge", rules=["below_minimun"]),
          "invalid_payloads(rules=['below_minimun']): 'below_minimun' is not one of 'missing_required', "
          "'wrong_type', 'timestamp_without_offset', 'below_minimum', 'above_maximum', 'not_in_enum', "
          "'not_a_uuid', 'not_json'. Did you mean 'below_minimum'?")
    with pytest.raises(InvalidArgument, match=re.escape(
            "invalid_payloads('entity.post_merge', rules=['not_in_enum']): none of these rules applies")):
        S.invalid_payloads("entity.post_merge", rules=["not_in_enum"])


def test_lifecycle_arguments() -> None:
    with pytest.raises(InvalidArgument, match=re.escape(
            "lifecycles(operations=['entity.merg']): unknown operation 'entity.merg'. "
            "Did you mean 'entity.merge'")):
        S.lifecycles(operations=["entity.merg"])
    fails(lambda: S.lifecycles(operations="entity.merge"),
          "lifecycles(operations='entity.merge'): pass a list of operation names, "
          "e.g. operations=['entity.merge']")
    fails(lambda: S.lifecycles(max_depth=0),
          "lifecycles(max_depth=0): max_depth must be between 1 and 5; pass e.g. max_depth=1")


def test_input_strategy_arguments() -> None:
    fails(lambda: S.entity_schemas(types=["INT", "VARCHAR"]),
          "entity_schemas(types=['INT', 'VARCHAR']): 'VARCHAR' is not one of 'INT', 'BIGINT', "
          "'STRING', 'DOUBLE', 'BOOLEAN', 'DATE'.")
    fails(lambda: S.entity_schemas(types="INT"),
          "entity_schemas(types='INT'): types must be a list drawn from 'INT', 'BIGINT', 'STRING', "
          "'DOUBLE', 'BOOLEAN', 'DATE', e.g. types=['INT']")
    with pytest.raises(InvalidArgument, match=r"rows\(schema='id INT'\): schema must be an EntitySchema"):
        S.rows("id INT")  # type: ignore[arg-type]
    fails(lambda: S.dataframes(None, S.EntitySchema((("id", "INT"),))),  # type: ignore[arg-type]
          "dataframes(spark=None): pass a SparkSession, e.g. the `spark` fixture or "
          "kindling.spark_session.get_or_create_spark_session()")
    fails(lambda: S.pipe_graphs(max_pipes=50),
          "pipe_graphs(max_pipes=50): max_pipes must be between 1 and 10; pass e.g. max_pipes=10")
    fails(lambda: S.file_batches(filetypes=["xml"]),
          "file_batches(filetypes=['xml']): 'xml' is not one of 'csv', 'json', 'parquet'.")

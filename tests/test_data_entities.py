"""Fast tests (no JVM): entity declarations, their errors, and the entity manager's checks before Spark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import kindling
from kindling.data_entities import (
    DataEntities,
    EntityDeclarationError,
    EntityDefinition,
    UnknownEntityError,
    get_entity_definition,
    get_entity_ids,
)
from kindling.entity_manager import DataEntityManager, EntityTableNotFoundError
from kindling.signal_catalog import SignalCatalog

ORDERS_DDL = "order_id INT, customer STRING, amount DECIMAL(10,2), order_date DATE"


def declare_orders(**overrides: Any) -> EntityDefinition:
    kwargs: dict[str, Any] = dict(
        entityid="bronze.orders", name="bronze_orders", partition_columns=["order_date"],
        merge_columns=["order_id"], tags={"provider_type": "delta", "layer": "bronze"},
        schema=ORDERS_DDL)
    kwargs.update(overrides)
    return DataEntities.entity(**kwargs)


# -- declaring and looking up -------------------------------------------------------------

def test_entity_returns_a_frozen_definition_with_the_declared_fields() -> None:
    d = declare_orders()
    assert d == get_entity_definition("bronze.orders") == DataEntities.get_entity_definition("bronze.orders")
    assert (d.entityid, d.name) == ("bronze.orders", "bronze_orders")
    assert d.partition_columns == ("order_date",)
    assert d.merge_columns == ("order_id",)
    assert d.tags == {"provider_type": "delta", "layer": "bronze"}
    assert d.schema == ORDERS_DDL
    assert d.column_names == ("order_id", "customer", "amount", "order_date")
    assert (d.provider_type, d.schema_drift) == ("delta", "evolve")
    with pytest.raises(AttributeError):
        d.name = "other"  # type: ignore[misc]


def test_the_definition_keeps_its_own_copy_of_tags_and_columns() -> None:
    tags = {"layer": "bronze"}
    merge = ["order_id"]
    d = declare_orders(tags=tags, merge_columns=merge)
    tags["layer"] = "gold"
    merge.append("customer")
    assert d.tags == {"layer": "bronze"} and d.merge_columns == ("order_id",)


def test_defaults_need_only_an_id_and_a_name() -> None:
    d = DataEntities.entity(entityid="bronze.raw", name="bronze_raw")
    assert (d.partition_columns, d.merge_columns, d.tags, d.schema, d.column_names) == ((), (), {}, None, None)


def test_declaring_an_id_again_replaces_it_and_keeps_its_place() -> None:
    declare_orders()
    DataEntities.entity(entityid="silver.orders", name="silver_orders")
    replaced = declare_orders(name="orders_v2", merge_columns=["order_id", "customer"])
    assert get_entity_ids() == DataEntities.get_entity_ids() == ["bronze.orders", "silver.orders"]
    assert get_entity_definition("bronze.orders") is replaced
    assert replaced.merge_columns == ("order_id", "customer")


def test_reset_clears_the_registry() -> None:
    declare_orders()
    kindling.reset()
    assert get_entity_ids() == []


def test_a_structtype_schema_is_checked_by_its_field_names() -> None:
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType

    schema = StructType([StructField("id", IntegerType()), StructField("name", StringType())])
    d = DataEntities.entity(entityid="silver.people", name="silver_people", merge_columns=["id"], schema=schema)
    assert d.schema is schema and d.column_names == ("id", "name")
    with pytest.raises(EntityDeclarationError, match="merge_columns column 'ID' is not in the schema"):
        DataEntities.entity(entityid="silver.people", name="p", merge_columns=["ID"], schema=schema)


@pytest.mark.parametrize(("ddl", "names"), [
    ("id INT, name STRING", ("id", "name")),
    ("id: int, name: string", ("id", "name")),
    ("struct<id:int,tags:array<string>>", ("id", "tags")),
    ("`order id` INT, m MAP<STRING, STRUCT<a: INT, b: DECIMAL(10, 2)>>, note STRING COMMENT 'a, b'",
     ("order id", "m", "note")),
    ("`we``ird` INT NOT NULL", ("we`ird",)),
])
def test_ddl_column_names_are_read_without_spark(ddl: str, names: tuple[str, ...]) -> None:
    assert DataEntities.entity(entityid="e", name="e", schema=ddl).column_names == names


# -- declaration errors -----------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "message"), [
    ({"entityid": ""}, "entityid='' is not a valid entity id"),
    ({"entityid": "../escape"}, "entityid='../escape' is not a valid entity id"),
    ({"entityid": "a/b"}, "use letters, digits"),
    ({"entityid": None}, "entityid=None"),
    ({"name": ""}, "entity 'bronze.orders': name='' must be a non-empty string"),
    ({"merge_columns": "order_id"}, r"merge_columns='order_id' is a single string; .*merge_columns=\['order_id'\]"),
    ({"merge_columns": ["order_idd"]}, r"merge_columns column 'order_idd' is not in the schema \(did you mean 'order_id'\?\)"),
    ({"partition_columns": ["day"]}, "partition_columns column 'day' is not in the schema; the schema's columns are"),
    ({"merge_columns": ["order_id", "order_id"]}, "lists 'order_id' more than once"),
    ({"merge_columns": [""]}, "merge_columns entry '' must be a non-empty column name"),
    ({"merge_columns": 5}, "merge_columns=5 must be a list of column names"),
    ({"tags": ["delta"]}, r"tags=\['delta'\] must be a dict"),
    ({"tags": {1: "x"}}, "tag key 1 must be a string"),
    ({"tags": {"schema_drift": "allow"}}, "tag schema_drift='allow' is not a policy; use 'evolve' or 'error'"),
    ({"tags": {"provider_type": "parquet"}}, "provider_type='parquet' is not supported"),
    ({"schema": 42}, "schema=42 must be a pyspark StructType or a DDL string"),
    ({"schema": "  "}, "schema='  ' is empty"),
    ({"schema": "order_id, amount INT"}, "has a column 'order_id' without a name and a type"),
    ({"schema": "order_id INT, ORDER_ID STRING, order_date DATE", "partition_columns": []},
     "declares 'ORDER_ID', 'order_id' more than once"),
    ({"schema": "order_date DATE", "merge_columns": []}, "partition_columns=\\['order_date'\\] cover every column"),
])
def test_bad_declarations_name_the_value_and_the_fix(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(EntityDeclarationError, match=message):
        declare_orders(**overrides)
    assert "bronze.orders" not in get_entity_ids()


def test_declaration_errors_are_value_errors() -> None:
    assert issubclass(EntityDeclarationError, ValueError)


def test_unknown_entity_suggests_close_ids_and_how_to_declare() -> None:
    declare_orders()
    DataEntities.entity(entityid="silver.orders", name="silver_orders")
    with pytest.raises(UnknownEntityError) as info:
        get_entity_definition("bronze.order")
    err = info.value
    assert isinstance(err, LookupError)
    assert err.entity_id == "bronze.order"
    assert err.suggestions[0] == "bronze.orders"
    assert str(err).startswith("Unknown entity id 'bronze.order' (did you mean 'bronze.orders'")
    assert "DataEntities.entity(entityid='bronze.order', name=..." in str(err)
    assert "Declared entities: 'bronze.orders', 'silver.orders'." in str(err)


def test_unknown_entity_with_an_empty_registry_says_so() -> None:
    kindling.reset()
    with pytest.raises(UnknownEntityError, match="No entities are declared"):
        DataEntities.get_entity_definition("anything")
    with pytest.raises(UnknownEntityError):
        get_entity_definition(["not", "hashable"])  # type: ignore[arg-type]


# -- no JVM at import or for the checks that need none --------------------------------------

def test_importing_and_declaring_starts_no_jvm_and_imports_no_pyspark(tmp_path: Path) -> None:
    code = f"""
import sys
from kindling.data_entities import DataEntities
from kindling.entity_manager import DataEntityManager
DataEntities.entity(entityid="bronze.orders", name="bronze_orders", merge_columns=["order_id"],
                    schema="order_id INT, amount DOUBLE")
manager = DataEntityManager(lakehouse={str(tmp_path)!r})
assert manager.get_entity_version("bronze.orders") is None
assert "pyspark" not in sys.modules, sorted(m for m in sys.modules if "pyspark" in m)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_table_path_follows_the_current_lakehouse_unless_pinned(lakehouse: Path, tmp_path: Path) -> None:
    declare_orders()
    assert DataEntityManager().table_path("bronze.orders") == lakehouse / "tables" / "bronze.orders"
    pinned = DataEntityManager(lakehouse=tmp_path / "elsewhere")
    assert pinned.table_path("bronze.orders") == tmp_path / "elsewhere" / "tables" / "bronze.orders"
    with pytest.raises(UnknownEntityError, match="did you mean 'bronze.orders'"):
        pinned.table_path("bronze.order")


def test_bad_arguments_raise_before_any_signal_or_spark(lakehouse: Path, signal_recorder: Any) -> None:
    DataEntities.entity(entityid="bronze.events", name="bronze_events")
    manager = DataEntityManager()
    not_a_dataframe = object()  # never touched: the checks come first
    with pytest.raises(ValueError, match=r"declares no merge_columns.*append_to_entity\(df, 'bronze.events'\)"):
        manager.merge_to_entity(not_a_dataframe, "bronze.events")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"mode='upsert'\) is not a mode; use one of 'overwrite', 'append'"):
        manager.write_to_entity(not_a_dataframe, "bronze.events", mode="upsert")  # type: ignore[arg-type]
    with pytest.raises(UnknownEntityError):
        manager.append_to_entity(not_a_dataframe, "bronze.event")  # type: ignore[arg-type]
    with pytest.raises(EntityTableNotFoundError, match="has no Delta table yet.*ensure_entity_table"):
        manager.read_entity("bronze.events")
    assert signal_recorder.records == []


def test_ensure_without_a_schema_needs_no_spark(lakehouse: Path, signal_recorder: Any,
                                               signal_catalog: SignalCatalog) -> None:
    DataEntities.entity(entityid="bronze.raw", name="bronze_raw")
    assert DataEntityManager().ensure_entity_table("bronze.raw") is False
    assert signal_recorder.names() == ["entity.pre_ensure_table", "entity.post_ensure_table"]
    assert signal_recorder.last()["created"] is False
    signal_recorder.assert_contract()


# -- reading Delta's log ------------------------------------------------------------------

def write_commit(table: Path, version: int, operation: str, metrics: dict[str, str],
                 user_metadata: str | None = None) -> None:
    info: dict[str, Any] = {"operation": operation, "operationMetrics": metrics}
    if user_metadata is not None:
        info["userMetadata"] = user_metadata
    log = table / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    (log / f"{version:020d}.json").write_text(
        json.dumps({"protocol": {}}) + "\n" + json.dumps({"commitInfo": info}) + "\n")


def test_versions_and_commits_come_from_the_delta_log(lakehouse: Path) -> None:
    declare_orders()
    manager = DataEntityManager()
    table = manager.table_path("bronze.orders")
    write_commit(table, 0, "CREATE TABLE", {})
    write_commit(table, 1, "WRITE", {"numOutputRows": "5"}, "kindling:ours")
    # A concurrent writer committed after us; our commit is still found by its tag.
    write_commit(table, 2, "WRITE", {"numOutputRows": "9"}, "someone else")
    (table / "_delta_log" / ".00000000000000000003.json.tmp").write_text("partial")
    (table / "_delta_log" / "00000000000000000002.crc").write_text("{}")

    assert manager.get_entity_version("bronze.orders") == 2
    ours = manager._find_commit(table, 0, ("WRITE",), "kindling:ours")
    assert ours is not None and (ours.version, ours.metric("numOutputRows")) == (1, 5)
    newest_write = manager._find_commit(table, 0, ("WRITE",))
    assert newest_write is not None and newest_write.version == 2
    assert manager._find_commit(table, 1, ("WRITE",), "kindling:ours") is None  # only after v1
    assert manager._find_commit(table, 0, ("MERGE",)) is None


def test_the_docs_example_payloads_are_catalog_valid(signal_catalog: SignalCatalog) -> None:
    import re

    page = (Path(__file__).resolve().parents[1] / "docs" / "providers" / "entity_manager.md").read_text()
    examples = re.findall(r"`(entity\.[a-z_]+)`[^\n]*:\n\n```json\n(.*?)\n```", page, re.S)
    assert sorted(name for name, _ in examples) == sorted(DataEntityManager.EMITS)
    for name, payload in examples:
        assert signal_catalog.validate(name, json.loads(payload)) == [], name

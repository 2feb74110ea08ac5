"""Data entities: the declared Delta tables pipes read and write.

Kindling users declare an entity once (a notebook cell, a module) and refer to
it by id everywhere else::

    >>> from kindling.data_entities import DataEntities
    >>> orders = DataEntities.entity(
    ...     entityid="bronze.orders", name="bronze_orders",
    ...     partition_columns=["order_date"], merge_columns=["order_id"],
    ...     tags={"provider_type": "delta", "layer": "bronze"},
    ...     schema="order_id INT, customer STRING, amount DOUBLE, order_date DATE",
    ... )
    >>> DataEntities.get_entity_definition("bronze.orders").merge_columns
    ('order_id',)

Declaring an id again replaces the earlier declaration (notebook cells get
re-run). ``kindling.reset()`` clears the registry.

The ``schema`` is a pyspark ``StructType`` or a DDL string; a DDL string is
kept as written and turned into a ``StructType`` only when a Spark session
needs it (:meth:`EntityDefinition.spark_schema`), so declaring entities starts
no JVM. Column names are read from the DDL without Spark, which is enough to
check the partition and merge columns at declaration time.

Tags Kindling reads:

* ``provider_type``: where the entity lives; ``"delta"`` (the default) is the
  one this project implements.
* ``layer``: free text (``"bronze"``, ``"silver"``...), for your own use.
* ``schema_drift``: ``"evolve"`` (the default) lets a merge or append that
  brings new columns add them to the table (``entity.schema_changed``);
  ``"error"`` makes such an operation fail instead, leaving the table as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from pytest_kindling_signals.names import UnknownNameError, close_matches, declared_names, did_you_mean
from kindling.registries import register_registry

if TYPE_CHECKING:  # pyspark is needed only once a schema is handed to Spark
    from pyspark.sql.types import StructType

__all__ = [
    "DataEntities",
    "EntityDeclarationError",
    "EntityDefinition",
    "SCHEMA_DRIFT_POLICIES",
    "UnknownEntityError",
    "get_entity_definition",
    "get_entity_ids",
]

#: Values of the ``schema_drift`` tag: the first is the default.
SCHEMA_DRIFT_POLICIES = ("evolve", "error")

#: Provider types the entity manager can store an entity in.
PROVIDER_TYPES = ("delta",)

SchemaLike = Union["StructType", str]

_entities: dict[str, EntityDefinition] = register_registry("entities", {})

# An entity id becomes a folder name under the lakehouse, so it must not be
# able to climb out of it or hide (no separators, no leading dot).
_ENTITY_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


class EntityDeclarationError(ValueError):
    """An entity declaration that cannot work: names the entity, the value and the fix."""


class UnknownEntityError(UnknownNameError):
    """An entity id that was never declared; the message suggests close matches.

    ``entity_id`` is the id asked for, ``suggestions`` its close matches.
    """

    def __init__(self, entity_id: Any, known: Iterable[str]) -> None:
        known = sorted(known)
        self.entity_id = entity_id
        super().__init__(
            "entity id", entity_id, known,
            f"declare it with DataEntities.entity(entityid={entity_id!r}, name=..., merge_columns=[...], "
            f"schema=...) before using it.", declared=declared_names(known, "entities"))


@dataclass(frozen=True)
class EntityDefinition:
    """A declared entity, as :func:`get_entity_definition` returns it.

    ``schema`` is what was declared: a ``StructType``, a DDL string, or
    ``None`` (the table then takes the schema of its first write).

    >>> d = EntityDefinition("silver.orders", "silver_orders", schema="id INT, name STRING")
    >>> d.column_names
    ('id', 'name')
    """

    entityid: str
    name: str
    partition_columns: tuple[str, ...] = ()
    merge_columns: tuple[str, ...] = ()
    tags: dict[str, Any] = field(default_factory=dict, hash=False)
    schema: SchemaLike | None = field(default=None, hash=False)

    @property
    def column_names(self) -> tuple[str, ...] | None:
        """The declared schema's top-level column names (no Spark needed), or ``None`` without a schema."""
        return _column_names(self.entityid, self.schema)

    @property
    def provider_type(self) -> str:
        return str(self.tags.get("provider_type", PROVIDER_TYPES[0]))

    @property
    def schema_drift(self) -> str:
        """``"evolve"`` or ``"error"``: what a write that brings new columns does (tag ``schema_drift``)."""
        return str(self.tags.get("schema_drift", SCHEMA_DRIFT_POLICIES[0]))

    def spark_schema(self) -> StructType | None:
        """The declared schema as a ``StructType``; parsing a DDL string needs a running Spark session."""
        if self.schema is None or not isinstance(self.schema, str):
            return self.schema
        from pyspark.sql.types import StructType

        from kindling.spark_session import parse_ddl_schema  # in the JVM, or by a Connect server

        try:
            parsed = parse_ddl_schema(self.schema)
        except Exception as exc:
            reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
            raise EntityDeclarationError(
                f"entity {self.entityid!r}: schema={self.schema!r} is not a valid DDL schema "
                f"({type(exc).__name__}: {reason}); "
                f"write it like 'id INT, name STRING' or pass a StructType") from exc
        if not isinstance(parsed, StructType):
            raise EntityDeclarationError(
                f"entity {self.entityid!r}: schema={self.schema!r} is a single {parsed.simpleString()} type, "
                f"not a list of columns; write it like 'id INT, name STRING'")
        return parsed


# -- DDL column names without Spark ---------------------------------------------------

def _split_top_level(ddl: str) -> list[str]:
    """Split a DDL column list on the commas that are not inside <>, (), quotes or backticks."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(ddl):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "`'\"":
            quote = ch
        elif ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(ddl[start:i])
            start = i + 1
    parts.append(ddl[start:])
    return [p.strip() for p in parts]


def _ddl_column_names(entityid: str, ddl: str) -> tuple[str, ...]:
    text = ddl.strip()
    if text[:7].lower() == "struct<" and text.endswith(">"):
        text = text[7:-1]
    names = []
    for part in _split_top_level(text):
        m = re.match(r"`((?:[^`]|``)+)`|([^\s:`]+)", part)
        rest = part[m.end():].strip() if m else ""
        if not m or not rest.lstrip(":").strip():
            raise EntityDeclarationError(
                f"entity {entityid!r}: schema={ddl!r} has a column {part!r} without a name and a type; "
                f"write the schema like 'id INT, name STRING' or pass a StructType")
        names.append(m.group(1).replace("``", "`") if m.group(1) else m.group(2))
    return tuple(names)


def _column_names(entityid: str, schema: Any) -> tuple[str, ...] | None:
    if schema is None:
        return None
    if isinstance(schema, str):
        return _ddl_column_names(entityid, schema)
    return tuple(schema.fieldNames())


# -- declaring ---------------------------------------------------------------------------

def _columns(entityid: str, what: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise EntityDeclarationError(
            f"entity {entityid!r}: {what}={value!r} is a single string; "
            f"pass a list of column names, e.g. {what}=[{value!r}]")
    try:
        cols = tuple(value or ())
    except TypeError:
        raise EntityDeclarationError(
            f"entity {entityid!r}: {what}={value!r} must be a list of column names") from None
    for c in cols:
        if not isinstance(c, str) or not c.strip():
            raise EntityDeclarationError(
                f"entity {entityid!r}: {what} entry {c!r} must be a non-empty column name")
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise EntityDeclarationError(
            f"entity {entityid!r}: {what}={list(cols)!r} lists {', '.join(map(repr, dupes))} "
            f"more than once; list each column once")
    return cols


def _check_in_schema(entityid: str, what: str, cols: Sequence[str], names: Sequence[str]) -> None:
    for c in cols:
        if c not in names:
            close = close_matches(c, names, n=1) or [n for n in names if n.lower() == c.lower()][:1]
            hint = did_you_mean(close)
            raise EntityDeclarationError(
                f"entity {entityid!r}: {what} column {c!r} is not in the schema{hint}; "
                f"the schema's columns are {', '.join(map(repr, names))}. "
                f"Add the column to the schema or fix {what}")


def _check_tags(entityid: str, tags: Any) -> dict[str, Any]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise EntityDeclarationError(
            f"entity {entityid!r}: tags={tags!r} must be a dict like "
            f"{{'provider_type': 'delta', 'layer': 'bronze'}}, or None")
    for key in tags:
        if not isinstance(key, str):
            raise EntityDeclarationError(f"entity {entityid!r}: tag key {key!r} must be a string")
    drift = tags.get("schema_drift", SCHEMA_DRIFT_POLICIES[0])
    if drift not in SCHEMA_DRIFT_POLICIES:
        raise EntityDeclarationError(
            f"entity {entityid!r}: tag schema_drift={drift!r} is not a policy; use "
            f"{' or '.join(map(repr, SCHEMA_DRIFT_POLICIES))} ('error' makes writes that add columns fail)")
    provider = tags.get("provider_type", PROVIDER_TYPES[0])
    if provider not in PROVIDER_TYPES:
        raise EntityDeclarationError(
            f"entity {entityid!r}: tag provider_type={provider!r} is not supported; "
            f"entities are stored as {' or '.join(map(repr, PROVIDER_TYPES))} tables")
    return dict(tags)


def _check_schema(entityid: str, schema: Any) -> tuple[str, ...] | None:
    if schema is None:
        return None
    if isinstance(schema, str):
        if not schema.strip():
            raise EntityDeclarationError(
                f"entity {entityid!r}: schema={schema!r} is empty; pass a DDL string like "
                f"'id INT, name STRING', a StructType, or None")
    elif not callable(getattr(schema, "fieldNames", None)):
        raise EntityDeclarationError(
            f"entity {entityid!r}: schema={schema!r} must be a pyspark StructType or a DDL string "
            f"like 'id INT, name STRING'")
    names = _column_names(entityid, schema)
    assert names is not None
    if not names:
        raise EntityDeclarationError(f"entity {entityid!r}: the schema has no columns")
    lowered = [n.lower() for n in names]
    dupes = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if dupes:
        raise EntityDeclarationError(
            f"entity {entityid!r}: the schema declares {', '.join(map(repr, dupes))} more than once "
            f"(Delta column names are case-insensitive); name each column once")
    return names


def declare_entity(entityid: str, name: str, partition_columns: Sequence[str] = (),
                   merge_columns: Sequence[str] = (), tags: Mapping[str, Any] | None = None,
                   schema: SchemaLike | None = None) -> EntityDefinition:
    """Validate and register an entity (see :meth:`DataEntities.entity`)."""
    if not isinstance(entityid, str) or not _ENTITY_ID.fullmatch(entityid):
        raise EntityDeclarationError(
            f"DataEntities.entity: entityid={entityid!r} is not a valid entity id; use letters, "
            f"digits, '_', '.' and '-', not starting with '.' or '-', e.g. entityid='bronze.orders'")
    if not isinstance(name, str) or not name.strip():
        raise EntityDeclarationError(
            f"entity {entityid!r}: name={name!r} must be a non-empty string, "
            f"e.g. name={entityid.replace('.', '_')!r}")
    partitions = _columns(entityid, "partition_columns", partition_columns)
    merges = _columns(entityid, "merge_columns", merge_columns)
    checked_tags = _check_tags(entityid, tags)
    names = _check_schema(entityid, schema)
    if names is not None:
        _check_in_schema(entityid, "merge_columns", merges, names)
        _check_in_schema(entityid, "partition_columns", partitions, names)
        if partitions and set(partitions) >= set(names):
            raise EntityDeclarationError(
                f"entity {entityid!r}: partition_columns={list(partitions)!r} cover every column; "
                f"Delta needs at least one column that is not a partition column")
    definition = EntityDefinition(entityid=entityid, name=name, partition_columns=partitions,
                                  merge_columns=merges, tags=checked_tags, schema=schema)
    _entities[entityid] = definition  # declaring again replaces: notebook cells get re-run
    return definition


def get_entity_ids() -> list[str]:
    """The ids of every declared entity, in declaration order."""
    return list(_entities)


def get_entity_definition(entity_id: str) -> EntityDefinition:
    """The declaration of ``entity_id``; :class:`UnknownEntityError` (with close matches) if none."""
    try:
        return _entities[entity_id]
    except (KeyError, TypeError):
        raise UnknownEntityError(entity_id, _entities) from None


class DataEntities:
    """The entity registry, under the names Kindling users write.

    >>> DataEntities.entity(entityid="silver.customers", name="silver_customers",
    ...                     merge_columns=["customer_id"],
    ...                     schema="customer_id INT, name STRING")  # doctest: +ELLIPSIS
    EntityDefinition(entityid='silver.customers', ...)
    >>> "silver.customers" in DataEntities.get_entity_ids()
    True
    """

    @staticmethod
    def entity(entityid: str, name: str, partition_columns: Sequence[str] = (),
               merge_columns: Sequence[str] = (), tags: Mapping[str, Any] | None = None,
               schema: SchemaLike | None = None) -> EntityDefinition:
        """Declare entity ``entityid`` and return its definition; an earlier declaration is replaced.

        ``merge_columns`` are the keys :meth:`DataEntityManager.merge_to_entity
        <kindling.entity_manager.DataEntityManager.merge_to_entity>` matches
        rows on; ``partition_columns`` partition the Delta table; with a
        ``schema``, both must name columns of it. Raises
        :class:`EntityDeclarationError` naming the bad value and the fix.
        """
        return declare_entity(entityid, name, partition_columns, merge_columns, tags, schema)

    get_entity_ids = staticmethod(get_entity_ids)
    get_entity_definition = staticmethod(get_entity_definition)

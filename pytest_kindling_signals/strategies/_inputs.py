"""Entity schemas, rows that fit them, and DataFrames of those rows on a given session.

Sizes stay small on purpose: every Spark action costs about a second on a
laptop, so a property test on Spark runs a handful of small examples.
No strategy here starts Spark; :func:`dataframes` uses the session you pass.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from pytest_kindling_signals.strategies._validation import (
    InvalidArgument,
    check_bool,
    require_framework,
    check_choices,
    check_int_range,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from pytest_kindling_signals.frameworks import Framework
    from pyspark.sql.types import StructType


__all__ = ["COLUMN_TYPES", "EntitySchema", "dataframes", "entity_schemas", "rows"]

#: Spark SQL types a generated column can have (DDL spelling).
COLUMN_TYPES = ("INT", "BIGINT", "STRING", "DOUBLE", "BOOLEAN", "DATE")
#: Types a key (merge) column can have.
KEY_TYPES = ("INT", "STRING")
KEY = "id"

# Letters, digits and a few safe marks: values survive CSV and JSON files unquoted.
_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,5}")


@dataclass(frozen=True)
class EntitySchema:
    """A generated entity schema: ``columns`` as (name, DDL type); the first, ``id``, is the key.

    >>> s = EntitySchema((("id", "INT"), ("amount", "DOUBLE")))
    >>> s.ddl, s.key
    ('id INT, amount DOUBLE', 'id')
    """

    columns: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return self.columns[0][0]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.columns)

    @property
    def ddl(self) -> str:
        return ", ".join(f"{n} {t}" for n, t in self.columns)

    def type_of(self, column: str) -> str:
        return dict(self.columns)[column]

    def struct_type(self) -> StructType:
        """The schema as a pyspark ``StructType`` (needs pyspark, not a running session)."""
        from pyspark.sql.types import (
            BooleanType,
            DateType,
            DoubleType,
            IntegerType,
            LongType,
            StringType,
            StructField,
            StructType,
        )

        spark_types = {"INT": IntegerType, "BIGINT": LongType, "STRING": StringType,
                       "DOUBLE": DoubleType, "BOOLEAN": BooleanType, "DATE": DateType}
        return StructType([StructField(n, spark_types[t](), nullable=(n != self.key))
                           for n, t in self.columns])

    def declare(self, entityid: str, *, merge: bool = True, framework: Framework | None = None,
                **tags: str) -> Any:
        """Declare entity ``entityid`` with this schema (merge column ``id`` if ``merge``), through
        the installed framework's registry (``framework=`` picks another); returns its definition."""
        return require_framework(framework, "EntitySchema.declare").declare_entity(
            entityid, schema=self.struct_type(), merge_columns=[self.key] if merge else [], tags=tags or None)


def entity_schemas(*, min_columns: int = 1, max_columns: int = 4, types: Sequence[str] = COLUMN_TYPES,
                   key_types: Sequence[str] = KEY_TYPES) -> st.SearchStrategy[EntitySchema]:
    """Schemas of ``min_columns``..``max_columns`` columns: the key ``id`` first, then the others.

    Column names are short lowercase identifiers, distinct ignoring case (as
    Delta compares them); shrinks to ``id INT``.
    """
    fn = "entity_schemas"
    check_int_range(fn, "min_columns", min_columns, 1, 10)
    check_int_range(fn, "max_columns", max_columns, min_columns, 10)
    chosen = check_choices(fn, "types", types, COLUMN_TYPES)
    keys = check_choices(fn, "key_types", key_types, KEY_TYPES)
    names = st.from_regex(_NAME, fullmatch=True).filter(lambda n: n != KEY)
    others = st.lists(st.tuples(names, st.sampled_from(chosen)), min_size=min_columns - 1,
                      max_size=max_columns - 1, unique_by=lambda c: c[0])
    return st.builds(lambda k, rest: EntitySchema(((KEY, k), *rest)), st.sampled_from(keys), others)


def _values(ddl_type: str, *, nullable: bool) -> st.SearchStrategy[Any]:
    values: st.SearchStrategy[Any] = {
        "INT": st.integers(-(2**31), 2**31 - 1),
        "BIGINT": st.integers(-(2**63), 2**63 - 1),
        # Non-empty: CSV reads an empty field back as null.
        "STRING": st.text(_SAFE, min_size=1, max_size=8),
        "DOUBLE": st.floats(allow_nan=False, allow_infinity=False),
        "BOOLEAN": st.booleans(),
        "DATE": st.dates(dt.date(1970, 1, 1), dt.date(2099, 12, 31)),
    }[ddl_type]
    return values | st.none() if nullable else values


def key_values(schema: EntitySchema, *, key_space: int | None = None) -> st.SearchStrategy[Any]:
    """Key values; ``key_space`` limits them to that many distinct values (so batches overlap)."""
    if key_space is None:
        return _values(schema.type_of(schema.key), nullable=False)
    if schema.type_of(schema.key) == "INT":
        return st.integers(0, key_space - 1)
    return st.sampled_from([f"k{i}" for i in range(key_space)])


def rows(schema: EntitySchema, *, min_size: int = 0, max_size: int = 5, unique_keys: bool = True,
         key_space: int | None = None) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    """Lists of rows (tuples in column order) that fit ``schema``; keys are never null.

    ``unique_keys`` (default) makes every row's key different, as a merge
    source needs; ``key_space`` draws keys from that many values only, so two
    batches share keys (updates) as well as not (inserts).
    """
    fn = "rows"
    if not isinstance(schema, EntitySchema):
        raise InvalidArgument(f"{fn}(schema={schema!r}): schema must be an EntitySchema, e.g. drawn "
                              f"from entity_schemas() or EntitySchema((('id', 'INT'), ('name', 'STRING')))")
    check_int_range(fn, "min_size", min_size, 0, 1000)
    check_int_range(fn, "max_size", max_size, min_size, 1000)
    check_bool(fn, "unique_keys", unique_keys)
    if key_space is not None:
        check_int_range(fn, "key_space", key_space, max(1, min_size if unique_keys else 1), 10**6)
    row = st.tuples(key_values(schema, key_space=key_space),
                    *[_values(t, nullable=True) for _, t in schema.columns[1:]])
    return st.lists(row, min_size=min_size, max_size=max_size,
                    unique_by=(lambda r: r[0]) if unique_keys else None)


def dataframes(spark: SparkSession, schema: EntitySchema, *, min_size: int = 0, max_size: int = 5,
               unique_keys: bool = True) -> st.SearchStrategy[DataFrame]:
    """DataFrames on ``spark`` whose rows fit ``schema`` (see :func:`rows`); building one runs no job."""
    if not callable(getattr(spark, "createDataFrame", None)):
        raise InvalidArgument(f"dataframes(spark={spark!r}): pass a SparkSession, e.g. the `spark` "
                              f"fixture or kindling.spark_session.get_or_create_spark_session()")
    struct = schema.struct_type() if isinstance(schema, EntitySchema) else None
    return rows(schema, min_size=min_size, max_size=max_size, unique_keys=unique_keys).map(
        lambda rs: spark.createDataFrame(rs, struct))

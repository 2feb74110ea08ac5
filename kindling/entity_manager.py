"""The entity manager: declared entities as Delta tables in the lakehouse.

Every write goes through one Delta commit, and every number the signals
report comes from that commit's own ``operationMetrics`` in the table
history, never from counting rows by hand::

    >>> from kindling.data_entities import DataEntities
    >>> from kindling.entity_manager import DataEntityManager
    >>> DataEntities.entity(entityid="silver.customers", name="silver_customers",
    ...                     merge_columns=["id"], schema="id INT, name STRING")  # doctest: +SKIP
    >>> manager = DataEntityManager()
    >>> manager.merge_to_entity(df, "silver.customers")                          # doctest: +SKIP
    MergeResult(rows_inserted=3, rows_updated=2, rows_deleted=0, version=1)

Tables live at ``<lakehouse>/tables/<entity_id>``; the lakehouse may be a local
folder or a URI Spark reaches (``abfss:``, ``s3a:``, ``dbfs:``, ``file:``).
Behaviour worth knowing
(``docs/providers/entity_manager.md`` has the long form):

* Bad arguments (an undeclared id, a merge on an entity without
  ``merge_columns``, an unknown write mode) raise before anything starts and
  emit nothing. Faults while the operation runs (bad data, a type Delta can't
  cast, forbidden schema drift, a failing DataFrame) emit ``*_failed`` and
  leave the table at the version it had: Delta commits atomically.
* A table that does not exist yet is created by the first operation on it:
  with a declared schema, by :meth:`DataEntityManager.ensure_entity_table`
  (a nested ``ensure_table`` operation committing an empty table, version 0),
  then the operation runs against it; without one, the operation's own rows
  are the first commit (a merge then reports them all as inserted).
* Schema evolution is on by default: merges run with Delta's
  ``schema.autoMerge`` on for that statement only, appends use ``mergeSchema``,
  overwrites ``overwriteSchema``. The entity tag ``schema_drift: "error"`` turns a
  write that brings columns the table doesn't have into a
  :class:`SchemaDriftError` instead.
* One code path for classic sessions and Spark Connect: tables are created
  with SQL ``CREATE TABLE``, merged with SQL ``MERGE INTO`` (Delta's Python
  ``DeltaTable`` needs a SparkContext, which Connect has not). Commit metrics
  come from the table history: read straight from ``_delta_log`` when the
  table is a local folder of a classic session (no Spark job), else from
  ``DESCRIBE HISTORY``.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kindling.data_entities import EntityDefinition, get_entity_definition
from kindling.lakehouse import Location, current_lakehouse, lakehouse_join, local_path, parse_location, spark_path
from kindling.signaling import SignalEmitter, SignalProvider, lazy
from kindling.spark_errors import root_cause_parts
from kindling.spark_session import is_connect_session

if TYPE_CHECKING:  # pyspark is imported when an operation runs, never at import
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructField, StructType

__all__ = [
    "DataEntityManager",
    "DeltaOperationError",
    "EntityTableNotFoundError",
    "EntityWriteError",
    "MergeResult",
    "SchemaDriftError",
    "WRITE_MODES",
]

#: Modes :meth:`DataEntityManager.write_to_entity` accepts.
WRITE_MODES = ("overwrite", "append")

_COMMIT_FILE = re.compile(r"(\d{20})\.json")
_AUTO_MERGE = "spark.databricks.delta.schema.autoMerge.enabled"
# Merges with schema evolution switch autoMerge on for their own statement;
# the lock keeps two of ours from restoring each other's setting.
_AUTO_MERGE_LOCK = threading.Lock()


class EntityWriteError(ValueError):
    """Data that cannot be written to an entity as given: names the entity, the problem and the fix."""


class SchemaDriftError(EntityWriteError):
    """A write would add columns to an entity whose tag ``schema_drift`` is ``"error"``."""


class EntityTableNotFoundError(LookupError):
    """The entity is declared but has no Delta table yet."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0])


class DeltaOperationError(RuntimeError):
    """Delta or Spark refused a write (a cast it can't make, a failing row...): nothing was committed.

    The message leads with the JVM's root cause; ``java_class`` is its class
    name and ``__cause__`` the original ``Py4JJavaError``.
    """

    def __init__(self, message: str, java_class: str | None = None) -> None:
        super().__init__(message)
        self.java_class = java_class


@dataclass(frozen=True)
class MergeResult:
    """What a merge committed, from Delta's own metrics for the commit; ``version`` is the table's version after."""

    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    version: int


@dataclass(frozen=True)
class _TableState:
    version: int
    schema: StructType


@dataclass(frozen=True)
class _Commit:
    version: int
    operation: str
    metrics: dict[str, str]

    def metric(self, name: str) -> int:
        return int(self.metrics.get(name) or 0)


def _spark_session() -> SparkSession:
    from kindling.spark_session import get_or_create_spark_session

    return get_or_create_spark_session()


def _row_count(df: DataFrame) -> int:
    # A plain int for the payload: Spark Connect's count() is a numpy int64.
    return int(df.count())


def _engine_is_remote() -> bool:
    """Whether the shared session is (or will be) a Spark Connect client, without starting it."""
    from kindling.spark_session import get_spark_session_provider

    provider = get_spark_session_provider()
    session = provider.session
    if session is not None:
        return is_connect_session(session)
    return provider.config.resolved_remote() is not None


def _latest_version(path: Path) -> int | None:
    """The table's newest committed version from its ``_delta_log``, or ``None`` when it is no Delta table."""
    try:
        names = os.listdir(path / "_delta_log")
    except (FileNotFoundError, NotADirectoryError):
        return None
    versions = [int(m.group(1)) for m in map(_COMMIT_FILE.fullmatch, names) if m]
    return max(versions) if versions else None


def _commit_info(path: Path, version: int) -> dict[str, Any] | None:
    """The ``commitInfo`` action of one commit (what ``DESCRIBE HISTORY`` shows for it)."""
    try:
        with open(path / "_delta_log" / f"{version:020d}.json", encoding="utf-8") as commit:
            for line in commit:
                action = json.loads(line)
                if "commitInfo" in action:
                    return dict(action["commitInfo"])
    except FileNotFoundError:
        return None
    return {}


class _History(Protocol):
    """A Delta table's commit history: its newest version and each commit's ``commitInfo``."""

    def latest_version(self) -> int | None: ...

    def commits(self, after: int | None) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """(version, commitInfo) newest first, down to (not including) ``after``; ``None``: cleaned up."""
        ...


class _LogHistory:
    """The history read from the files of a local ``_delta_log`` (no Spark job)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def latest_version(self) -> int | None:
        return _latest_version(self.path)

    def commits(self, after: int | None) -> Iterator[tuple[int, dict[str, Any] | None]]:
        latest = _latest_version(self.path)
        if latest is None:
            return
        for version in range(latest, -1 if after is None else after, -1):
            yield version, _commit_info(self.path, version)


class _SqlHistory:
    """The history from ``DESCRIBE HISTORY``: any lakehouse Spark reaches, classic or Spark Connect."""

    def __init__(self, spark: SparkSession, location: str) -> None:
        self.spark = spark
        self.location = location

    def _describe(self, after: int | None, limit: int | None = None) -> list[Any]:
        sql = f"DESCRIBE HISTORY delta.{_quote(self.location)}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            df = self.spark.sql(sql)
            if after is not None:
                df = df.where(f"version > {int(after)}")
            return list(df.select("version", "operation", "operationMetrics", "userMetadata")
                        .orderBy("version", ascending=False).collect())
        except Exception as exc:
            if _is_missing_table(exc):
                return []
            raise

    def latest_version(self) -> int | None:
        found = self._describe(None, limit=1)
        return int(found[0]["version"]) if found else None

    def commits(self, after: int | None) -> Iterator[tuple[int, dict[str, Any] | None]]:
        for row in self._describe(after):
            yield int(row["version"]), {"operation": row["operation"],
                                        "operationMetrics": dict(row["operationMetrics"] or {}),
                                        "userMetadata": row["userMetadata"]}


def _is_missing_table(exc: BaseException) -> bool:
    """Whether Spark/Delta refused because the location holds no Delta table (yet)."""
    text = str(exc)
    return any(marker in text for marker in (
        "DELTA_MISSING_DELTA_TABLE", "is not a Delta table", "PATH_NOT_FOUND",
        "DELTA_PATH_DOES_NOT_EXIST", "doesn't exist"))


def _is_raw_failure(exc: BaseException) -> bool:
    """A failure pyspark passes through untranslated: Py4J's, or Spark Connect's equivalent."""
    name = type(exc).__name__
    if name == "Py4JJavaError":
        return True
    if type(exc).__module__ != "pyspark.errors.exceptions.connect":
        return False
    # Connect names a few JVM classes as pyspark's own; analysis errors stay as they are, like
    # on a classic session, and what fails while a job runs is reported like Py4J's errors.
    return name not in ("AnalysisException", "ParseException", "IllegalArgumentException")


@contextmanager
def _delta_call(what: str) -> Iterator[None]:
    """Turn a raw JVM failure of one Delta call into a :class:`DeltaOperationError` naming its root cause.

    Only around calls that commit atomically, so "nothing was committed" is true.
    Errors pyspark already translates (``AnalysisException``...) pass unchanged.
    """
    try:
        yield
    except Exception as exc:
        if not _is_raw_failure(exc):
            raise
        java_class, message = root_cause_parts(exc)
        raise DeltaOperationError(
            f"{what} failed, nothing was committed: {java_class.rsplit('.', 1)[-1]}: {message}",
            java_class) from exc


@contextmanager
def _auto_merge(spark: SparkSession, enabled: bool) -> Iterator[None]:
    """Delta's schema autoMerge on for the statement inside (SQL has no per-merge switch in Spark 3.5)."""
    if not enabled:
        yield
        return
    with _AUTO_MERGE_LOCK:
        before = spark.conf.get(_AUTO_MERGE, None)
        spark.conf.set(_AUTO_MERGE, "true")
        try:
            yield
        finally:
            if before is None:
                spark.conf.unset(_AUTO_MERGE)
            else:
                spark.conf.set(_AUTO_MERGE, before)


def declared_schema(definition: EntityDefinition, spark: SparkSession) -> StructType | None:
    """The entity's declared schema as a ``StructType``, parsed by ``spark`` when it is a DDL string.

    ``EntityDefinition.spark_schema()`` parses through the JVM of a classic
    session; a Spark Connect client has none, so there the server parses it.
    """
    if not (isinstance(definition.schema, str) and is_connect_session(spark)):
        return definition.spark_schema()
    from kindling.data_entities import EntityDeclarationError

    try:
        return spark.createDataFrame([], definition.schema).schema
    except Exception as exc:
        reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        raise EntityDeclarationError(
            f"entity {definition.entityid!r}: schema={definition.schema!r} is not a valid DDL schema "
            f"({type(exc).__name__}: {reason}); write it like 'id INT, name STRING' or pass a "
            f"StructType") from exc


def _type_ddl(data_type: DataType) -> str:
    """A Spark SQL type as DDL, struct field names quoted (``simpleString`` leaves them bare)."""
    from pyspark.sql.types import ArrayType, MapType, StructType

    if isinstance(data_type, StructType):
        return "STRUCT<" + ", ".join(f"{_quote(f.name)}: {_type_ddl(f.dataType)}"
                                     + ("" if f.nullable else " NOT NULL")
                                     for f in data_type.fields) + ">"
    if isinstance(data_type, ArrayType):
        return f"ARRAY<{_type_ddl(data_type.elementType)}>"
    if isinstance(data_type, MapType):
        return f"MAP<{_type_ddl(data_type.keyType)}, {_type_ddl(data_type.valueType)}>"
    return data_type.simpleString()


def _column_ddl(field: StructField) -> str:
    ddl = f"{_quote(field.name)} {_type_ddl(field.dataType)}"
    if not field.nullable:
        ddl += " NOT NULL"
    comment = (field.metadata or {}).get("comment")
    if comment:
        ddl += " COMMENT '" + str(comment).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return ddl


def _quote(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def _schema_diff(before: StructType, after: StructType) -> tuple[list[str], list[str], list[str]]:
    """Added, removed and retyped top-level columns (names compared case-insensitively, as Delta does)."""
    old = {f.name.lower(): f for f in before.fields}
    new = {f.name.lower(): f for f in after.fields}
    added = [f.name for k, f in new.items() if k not in old]
    removed = [f.name for k, f in old.items() if k not in new]
    modified = [f.name for k, f in new.items() if k in old and old[k].dataType != f.dataType]
    return added, removed, modified


class DataEntityManager(SignalEmitter):
    """Creates, merges into, appends to, overwrites and reads entities' Delta tables.

    ``lakehouse`` pins the folder (or URI) tables live under; by default it is
    :func:`kindling.lakehouse.current_lakehouse` at the time of each call.

    Signals Emitted:
        entity.pre_ensure_table (before checking / creating the table):
            - entity_id (str): Entity whose table is ensured
            - entity_name (str): Its declared name

        entity.post_ensure_table (after the table exists, or was left to the first write):
            - entity_id (str), entity_name (str)
            - table_exists (bool): Whether the table existed before the call
            - created (bool): Whether this call created it (only with a declared schema)
            - duration_seconds (float)

        entity.ensure_failed (creating the table failed):
            - entity_id (str), entity_name (str), error (str), error_type (str), duration_seconds (float)

        entity.pre_merge (before a merge):
            - entity_id (str): Target entity
            - merge_keys (list[str]): The entity's merge columns
            - source_row_count (int): Rows in the source DataFrame (counted only if observed)

        entity.post_merge (after the merge committed):
            - rows_inserted, rows_updated, rows_deleted (int): Delta's numTargetRowsInserted /
              numTargetRowsUpdated / numTargetRowsDeleted for the commit
            - entity_id (str), merge_keys (list[str]), source_row_count (int), version (int)
            - duration_seconds (float)

        entity.merge_failed (the merge failed; the table is as it was):
            - entity_id (str), merge_keys, source_row_count, error (str), error_type (str), duration_seconds

        entity.pre_append (before an append):
            - entity_id (str), row_count (int): Rows in the DataFrame (counted only if observed)

        entity.post_append (after the append committed):
            - entity_id (str), rows_appended (int): Delta's numOutputRows for the commit
            - row_count (int), version (int), duration_seconds (float)

        entity.append_failed (the append failed; the table is as it was):
            - entity_id (str), row_count, error (str), error_type (str), duration_seconds

        entity.pre_write (before write_to_entity):
            - entity_id (str), mode (str): "overwrite" or "append"

        entity.post_write (after the write committed):
            - entity_id (str), rows_written (int): Delta's numOutputRows for the commit
            - mode (str), version (int), duration_seconds (float)

        entity.write_failed (the write failed; the table is as it was):
            - entity_id (str), mode (str), error (str), error_type (str), duration_seconds

        entity.schema_changed (an operation changed the table's columns):
            - entity_id (str)
            - added_columns, removed_columns, modified_columns (list[str]): modified = type changed

        entity.version_updated (an operation committed a Delta version):
            - entity_id (str)
            - old_version (int | None): None when the operation created the table
            - new_version (int)
            - reason (str): "create", "merge", "append" or "write"

        schema_changed and version_updated are sent inside the operation that
        committed, so they carry its operation_id.

    Usage:
        >>> manager = DataEntityManager(signal_provider)                 # doctest: +SKIP
        >>> signal_provider.connect("entity.post_merge", on_merge)       # doctest: +SKIP
        >>> manager.merge_to_entity(df, "silver.customers").rows_updated # doctest: +SKIP
        2
    """

    EMITS = (
        "entity.pre_ensure_table", "entity.post_ensure_table", "entity.ensure_failed",
        "entity.pre_merge", "entity.post_merge", "entity.merge_failed",
        "entity.pre_append", "entity.post_append", "entity.append_failed",
        "entity.pre_write", "entity.post_write", "entity.write_failed",
        "entity.schema_changed", "entity.version_updated",
    )

    def __init__(self, signal_provider: SignalProvider | None = None,
                 lakehouse: str | os.PathLike[str] | None = None) -> None:
        super().__init__(signal_provider)
        self._lakehouse = parse_location(lakehouse) if lakehouse is not None else None

    # -- where and what -------------------------------------------------------------

    def table_path(self, entity_id: str) -> Location:
        """``<lakehouse>/tables/<entity_id>``, the lakehouse resolved now (raises for undeclared ids).

        A :class:`~pathlib.Path` in a local lakehouse, a URI ``str`` in a remote one.
        """
        return self._location(get_entity_definition(entity_id))

    def _location(self, definition: EntityDefinition) -> Location:
        root = self._lakehouse if self._lakehouse is not None else current_lakehouse()
        return lakehouse_join(root, "tables", definition.entityid)

    def get_entity_version(self, entity_id: str) -> int | None:
        """The table's current Delta version, or ``None`` when it has no table yet."""
        return self._history(self.table_path(entity_id)).latest_version()

    def read_entity(self, entity_id: str) -> DataFrame:
        """The entity's current rows; :class:`EntityTableNotFoundError` when it has no table yet."""
        path = self.table_path(entity_id)
        if not self._is_table(path):
            raise EntityTableNotFoundError(
                f"entity {entity_id!r} has no Delta table yet (looked in {path}); write to it "
                f"first, or call ensure_entity_table({entity_id!r}) with a schema declared")
        return _spark_session().read.format("delta").load(spark_path(path))

    # -- ensure ------------------------------------------------------------------------

    def ensure_entity_table(self, entity_id: str) -> bool:
        """Make sure the entity's table exists; returns whether it already existed.

        With a declared schema a missing table is created empty, with that
        schema and the declared partitioning (version 0). Without a schema
        nothing is created: the first write makes the table from its rows.

        >>> DataEntityManager().ensure_entity_table("silver.customers")  # doctest: +SKIP
        False
        """
        definition = get_entity_definition(entity_id)
        return self._ensure(definition, self._location(definition))

    def _ensure(self, definition: EntityDefinition, path: Location) -> bool:
        with self.operation("entity.ensure_table", entity_id=definition.entityid,
                            entity_name=definition.name) as op:
            existed = self._is_table(path)
            created = False
            if not existed and definition.schema is not None:
                created = self._create_table(_spark_session(), path, definition)
            op.set(table_exists=existed, created=created)
        return existed

    def _create_table(self, spark: SparkSession, path: Location, definition: EntityDefinition) -> bool:
        schema = declared_schema(definition, spark)
        assert schema is not None  # only entities with a declared schema are created empty
        foreign = FileExistsError(
            f"cannot create the table of entity {definition.entityid!r}: {path} holds files "
            f"but is not a Delta table; move them away or point the lakehouse elsewhere")
        folder = local_path(path)
        if folder is not None and folder.exists() and any(folder.iterdir()):
            raise foreign  # Delta would refuse too, with a less helpful message
        sql = (f"CREATE TABLE IF NOT EXISTS delta.{_quote(spark_path(path))} "
               f"({', '.join(_column_ddl(f) for f in schema.fields)}) USING DELTA")
        if definition.partition_columns:
            sql += f" PARTITIONED BY ({', '.join(map(_quote, definition.partition_columns))})"
        try:
            with _delta_call(f"creating the table of entity {definition.entityid!r}"):
                spark.sql(sql)
        except Exception as exc:
            if "DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION" in str(exc):
                raise foreign from exc  # foreign files where we can't list them ourselves
            raise
        # Another writer may have created it between our check and our commit.
        commit = self._find_commit(path, None, ("CREATE TABLE",))
        if commit is None:
            return False
        self.emit("entity.version_updated", entity_id=definition.entityid,
                  old_version=None, new_version=commit.version, reason="create")
        return True

    def _table_before(self, spark: SparkSession, path: Location,
                      definition: EntityDefinition) -> _TableState | None:
        """The table's state before a write, creating it first when a schema is declared."""
        state = self._state(spark, path)
        if state is None and definition.schema is not None:
            self._ensure(definition, path)  # a nested ensure_table operation: its own signals
            state = self._state(spark, path)
        return state

    # -- merge -------------------------------------------------------------------------

    def merge_to_entity(self, df: DataFrame, entity_id: str) -> MergeResult:
        """Upsert ``df`` into the entity on its merge columns (matched: update, else insert).

        Keys match null-safely (``<=>``), so a re-run of the same rows updates
        instead of duplicating. Counts come from Delta's metrics for the
        commit; the table's version after is ``result.version``.

        >>> DataEntityManager().merge_to_entity(df, "silver.customers")  # doctest: +SKIP
        MergeResult(rows_inserted=3, rows_updated=2, rows_deleted=0, version=2)
        """
        definition = get_entity_definition(entity_id)
        keys = list(definition.merge_columns)
        if not keys:
            raise ValueError(
                f"entity {entity_id!r} declares no merge_columns, so a merge has no key to match "
                f"rows on: declare them with DataEntities.entity(entityid={entity_id!r}, ..., "
                f"merge_columns=['<key column>']) or use append_to_entity(df, {entity_id!r})")
        path = self._location(definition)
        with self.operation("entity.merge", entity_id=entity_id, merge_keys=keys,
                            source_row_count=lazy(lambda: _row_count(df))) as op:
            self._require_columns(df, keys, entity_id)
            spark = df.sparkSession
            before = self._table_before(spark, path, definition)
            if before is None:
                # No table and no schema: these rows are the table's first commit.
                commit = self._write(df, path, definition, "error", None, op.operation_id)
                assert commit is not None  # a first write always commits
                result = MergeResult(commit.metric("numOutputRows"), 0, 0, commit.version)
                self._announce(spark, path, entity_id, None, commit, "merge")
            else:
                self._check_drift(definition, before.schema, df)
                self._merge(spark, df, path, keys, definition)
                found = self._find_commit(path, before.version, ("MERGE",))
                if found is None:  # Delta committed nothing: nothing changed
                    result = MergeResult(0, 0, 0, before.version)
                else:
                    result = MergeResult(found.metric("numTargetRowsInserted"),
                                         found.metric("numTargetRowsUpdated"),
                                         found.metric("numTargetRowsDeleted"), found.version)
                    self._announce(spark, path, entity_id, before, found, "merge")
            op.set(rows_inserted=result.rows_inserted, rows_updated=result.rows_updated,
                   rows_deleted=result.rows_deleted, version=result.version)
        return result

    @staticmethod
    def _merge(spark: SparkSession, df: DataFrame, path: Location, keys: Sequence[str],
               definition: EntityDefinition) -> None:
        # SQL, not DeltaTable.merge(): one statement that runs on classic sessions and over
        # Spark Connect alike. The source is a temporary view of this session only.
        view = f"kindling_merge_source_{uuid.uuid4().hex}"
        condition = " AND ".join(f"t.{_quote(k)} <=> s.{_quote(k)}" for k in keys)
        df.createOrReplaceTempView(view)
        try:
            with _auto_merge(spark, definition.schema_drift == "evolve"), \
                    _delta_call(f"merge into entity {definition.entityid!r}"):
                spark.sql(f"MERGE INTO delta.{_quote(spark_path(path))} AS t USING {view} AS s "
                          f"ON {condition} WHEN MATCHED THEN UPDATE SET * "
                          f"WHEN NOT MATCHED THEN INSERT *")
        finally:
            spark.catalog.dropTempView(view)

    # -- append and write ---------------------------------------------------------------

    def append_to_entity(self, df: DataFrame, entity_id: str) -> int:
        """Append ``df``'s rows; returns how many Delta says the commit wrote (``numOutputRows``).

        >>> DataEntityManager().append_to_entity(df, "bronze.events")  # doctest: +SKIP
        3
        """
        definition = get_entity_definition(entity_id)
        path = self._location(definition)
        with self.operation("entity.append", entity_id=entity_id, row_count=lazy(lambda: _row_count(df))) as op:
            rows, version = self._write_op(df, definition, path, "append", "append", op.operation_id)
            op.set(rows_appended=rows, version=version)
        return rows

    def write_to_entity(self, df: DataFrame, entity_id: str, mode: str = "overwrite") -> int:
        """Write ``df`` with ``mode`` (``"overwrite"`` replaces rows and schema, ``"append"`` adds);
        returns the rows Delta says the commit wrote.

        >>> DataEntityManager().write_to_entity(df, "gold.daily_totals")  # doctest: +SKIP
        7
        """
        if mode not in WRITE_MODES:
            raise ValueError(f"write_to_entity(mode={mode!r}) is not a mode; use one of "
                             f"{', '.join(map(repr, WRITE_MODES))}")
        definition = get_entity_definition(entity_id)
        path = self._location(definition)
        with self.operation("entity.write", entity_id=entity_id, mode=mode) as op:
            rows, version = self._write_op(df, definition, path, mode, "write", op.operation_id)
            op.set(rows_written=rows, version=version)
        return rows

    def _write_op(self, df: DataFrame, definition: EntityDefinition, path: Location,
                  mode: str, reason: str, tag: str) -> tuple[int, int]:
        spark = df.sparkSession
        before = self._table_before(spark, path, definition)
        if before is not None:
            self._check_drift(definition, before.schema, df)
        commit = self._write(df, path, definition, mode, before, tag)
        if commit is None:  # an append of no rows: Delta committed nothing, nothing changed
            assert before is not None
            return 0, before.version
        self._announce(spark, path, definition.entityid, before, commit, reason)
        return commit.metric("numOutputRows"), commit.version

    def _write(self, df: DataFrame, path: Location, definition: EntityDefinition, mode: str,
               before: _TableState | None, tag: str) -> _Commit | None:
        writer = df.write.format("delta").mode(mode)
        # The operation id in the commit's userMetadata finds our commit in the
        # history even when other writers commit at the same time.
        writer = writer.option("userMetadata", f"kindling:{tag}")
        evolve = definition.schema_drift == "evolve"
        if before is None or mode == "overwrite":
            if definition.partition_columns:
                writer = writer.partitionBy(*definition.partition_columns)
        if before is not None and evolve:
            writer = writer.option("overwriteSchema" if mode == "overwrite" else "mergeSchema", "true")
        what = {"overwrite": "overwrite of", "append": "append to"}.get(mode, "first write to")
        with _delta_call(f"{what} entity {definition.entityid!r}"):
            writer.save(spark_path(path))
        commit = self._find_commit(path, before.version if before else None, ("WRITE",),
                                   f"kindling:{tag}")
        if commit is None:
            if mode == "append" and before is not None:
                state = self._state(df.sparkSession, path)
                if state is not None and state.version == before.version:
                    return None  # Delta makes no commit for an append of no rows to an existing table
            raise RuntimeError(f"the write to {path} succeeded but its commit is not in the "
                               f"table history; was the table removed meanwhile?")
        return commit

    # -- checks -----------------------------------------------------------------------

    @staticmethod
    def _require_columns(df: DataFrame, keys: Sequence[str], entity_id: str) -> None:
        have = {c.lower() for c in df.columns}
        missing = [k for k in keys if k.lower() not in have]
        if missing:
            raise EntityWriteError(
                f"cannot merge into entity {entity_id!r}: the DataFrame lacks its merge column(s) "
                f"{', '.join(map(repr, missing))} (it has {', '.join(map(repr, df.columns))}); "
                f"select or rename them before merging")

    @staticmethod
    def _check_drift(definition: EntityDefinition, table_schema: StructType, df: DataFrame) -> None:
        if definition.schema_drift != "error":
            return
        known = {f.name.lower() for f in table_schema.fields}
        new = [c for c in df.columns if c.lower() not in known]
        if new:
            raise SchemaDriftError(
                f"entity {definition.entityid!r} forbids schema drift (tag schema_drift='error') but "
                f"the DataFrame brings new column(s) {', '.join(map(repr, new))}; drop them, or "
                f"declare the entity with schema_drift='evolve' to add them to the table")

    # -- Delta state and history ----------------------------------------------------------
    # The history DESCRIBE HISTORY shows is the commitInfo of each commit file in
    # _delta_log; reading those files directly gives the same metrics without a
    # Spark job per operation (a history() query costs ~1 s on a busy machine).
    # That needs the table's folder on this machine and a session whose driver
    # runs here: otherwise (a remote lakehouse, Spark Connect) DESCRIBE HISTORY.

    #: Read local tables' history from their _delta_log files (False: always DESCRIBE HISTORY).
    read_log_files: bool = True

    def _history(self, path: Location) -> _History:
        folder = local_path(path)
        if folder is not None and self.read_log_files and not _engine_is_remote():
            return _LogHistory(folder)
        return _SqlHistory(_spark_session(), spark_path(path))

    def _is_table(self, path: Location) -> bool:
        return self._history(path).latest_version() is not None

    def _state(self, spark: SparkSession, path: Location) -> _TableState | None:
        version = self._history(path).latest_version()
        if version is None:
            return None
        return _TableState(version, spark.read.format("delta").load(spark_path(path)).schema)

    def _find_commit(self, path: Location, after: int | None, operations: Sequence[str],
                     user_metadata: str | None = None) -> _Commit | None:
        """The newest commit after version ``after`` with one of ``operations`` (and our tag, if given).

        Other writers may commit around ours, so the newest version is not
        assumed to be ours: it must be the right kind of commit (and carry our
        tag when we could set one).
        """
        for version, info in self._history(path).commits(after):
            if info is None:
                break  # cleaned-up history: nothing older is ours
            if info.get("operation") in operations and (
                    user_metadata is None or info.get("userMetadata") == user_metadata):
                return _Commit(version, str(info["operation"]),
                               {str(k): str(v) for k, v in (info.get("operationMetrics") or {}).items()})
        return None

    def _announce(self, spark: SparkSession, path: Location, entity_id: str,
                  before: _TableState | None, commit: _Commit, reason: str) -> None:
        """Emit schema_changed (if the columns changed) and version_updated for ``commit``."""
        if before is not None and self.is_observed("entity.schema_changed"):
            # The data is committed: a failure to read the new schema must not
            # report the operation as failed (emission never breaks it).
            try:
                after_schema = spark.read.format("delta").option("versionAsOf", commit.version) \
                    .load(spark_path(path)).schema
            except Exception as exc:
                self._provider_failed("entity.schema_changed", self.signal_provider, exc)
            else:
                added, removed, modified = _schema_diff(before.schema, after_schema)
                if added or removed or modified:
                    self.emit("entity.schema_changed", entity_id=entity_id, added_columns=added,
                              removed_columns=removed, modified_columns=modified)
        self.emit("entity.version_updated", entity_id=entity_id,
                  old_version=before.version if before is not None else None,
                  new_version=commit.version, reason="create" if before is None else reason)

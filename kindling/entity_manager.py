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

Tables live at ``<lakehouse>/tables/<entity_id>``. Behaviour worth knowing
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
* Schema evolution is on by default: merges use ``withSchemaEvolution()``
  (per merge, no session setting changes), appends ``mergeSchema``, overwrites
  ``overwriteSchema``. The entity tag ``schema_drift: "error"`` turns a
  write that brings columns the table doesn't have into a
  :class:`SchemaDriftError` instead.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kindling.data_entities import EntityDefinition, get_entity_definition
from kindling.lakehouse import current_lakehouse
from kindling.signaling import SignalEmitter, SignalProvider, lazy

if TYPE_CHECKING:  # pyspark is imported when an operation runs, never at import
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

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


def _root_cause(exc: BaseException) -> tuple[str, str]:
    """The innermost JVM exception's class and first message line (Spark wraps causes in job failures)."""
    try:
        cause = exc.java_exception  # type: ignore[attr-defined]
        for _ in range(50):
            inner = cause.getCause()
            if inner is None:
                break
            cause = inner
        return str(cause.getClass().getName()), str(cause.getMessage() or "").split("\n", 1)[0]
    except Exception:  # the gateway is gone: read the text instead
        found = re.findall(r"Caused by: ([\w.$]+): ([^\n]*)", str(exc))
        return found[-1] if found else (type(exc).__name__, str(exc).split("\n", 1)[0])


@contextmanager
def _delta_call(what: str) -> Iterator[None]:
    """Turn a raw JVM failure of one Delta call into a :class:`DeltaOperationError` naming its root cause.

    Only around calls that commit atomically, so "nothing was committed" is true.
    Errors pyspark already translates (``AnalysisException``...) pass unchanged.
    """
    try:
        yield
    except Exception as exc:
        if type(exc).__name__ != "Py4JJavaError":
            raise
        java_class, message = _root_cause(exc)
        raise DeltaOperationError(
            f"{what} failed, nothing was committed: {java_class.rsplit('.', 1)[-1]}: {message}",
            java_class) from exc


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

    ``lakehouse`` pins the folder tables live under; by default it is
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
        self._lakehouse = Path(lakehouse) if lakehouse is not None else None

    # -- where and what -------------------------------------------------------------

    def table_path(self, entity_id: str) -> Path:
        """``<lakehouse>/tables/<entity_id>``, the lakehouse resolved now (raises for undeclared ids)."""
        get_entity_definition(entity_id)
        root = self._lakehouse if self._lakehouse is not None else current_lakehouse()
        return root / "tables" / entity_id

    def get_entity_version(self, entity_id: str) -> int | None:
        """The table's current Delta version, or ``None`` when it has no table yet."""
        return _latest_version(self.table_path(entity_id))

    def read_entity(self, entity_id: str) -> DataFrame:
        """The entity's current rows; :class:`EntityTableNotFoundError` when it has no table yet."""
        path = self.table_path(entity_id)
        if not self._is_table(path):
            raise EntityTableNotFoundError(
                f"entity {entity_id!r} has no Delta table yet (looked in {path}); write to it "
                f"first, or call ensure_entity_table({entity_id!r}) with a schema declared")
        return _spark_session().read.format("delta").load(str(path))

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
        path = self.table_path(entity_id)
        with self.operation("entity.ensure_table", entity_id=entity_id,
                            entity_name=definition.name) as op:
            existed = self._is_table(path)
            created = False
            if not existed and definition.schema is not None:
                created = self._create_table(_spark_session(), path, definition)
            op.set(table_exists=existed, created=created)
        return existed

    def _create_table(self, spark: SparkSession, path: Path, definition: EntityDefinition) -> bool:
        from delta.tables import DeltaTable

        schema = definition.spark_schema()
        assert schema is not None  # only entities with a declared schema are created empty
        if path.exists() and any(path.iterdir()):
            # Delta would refuse too, with a less helpful message; never write over foreign files.
            raise FileExistsError(
                f"cannot create the table of entity {definition.entityid!r}: {path} holds files "
                f"but is not a Delta table; move them away or point the lakehouse elsewhere")
        builder = DeltaTable.createIfNotExists(spark).location(str(path)).addColumns(schema)
        if definition.partition_columns:
            builder = builder.partitionedBy(*definition.partition_columns)
        with _delta_call(f"creating the table of entity {definition.entityid!r}"):
            builder.execute()
        # Another writer may have created it between our check and our commit.
        commit = self._find_commit(path, None, ("CREATE TABLE",))
        if commit is None:
            return False
        self.emit("entity.version_updated", entity_id=definition.entityid,
                  old_version=None, new_version=commit.version, reason="create")
        return True

    def _table_before(self, spark: SparkSession, path: Path, entity_id: str,
                      definition: EntityDefinition) -> _TableState | None:
        """The table's state before a write, creating it first when a schema is declared."""
        state = self._state(spark, path)
        if state is None and definition.schema is not None:
            self.ensure_entity_table(entity_id)  # a nested operation: its own signals
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
        path = self.table_path(entity_id)
        with self.operation("entity.merge", entity_id=entity_id, merge_keys=keys,
                            source_row_count=lazy(df.count)) as op:
            self._require_columns(df, keys, entity_id)
            spark = df.sparkSession
            before = self._table_before(spark, path, entity_id, definition)
            if before is None:
                # No table and no schema: these rows are the table's first commit.
                commit = self._write(df, path, definition, "errorifexists", None, op.operation_id)
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
    def _merge(spark: SparkSession, df: DataFrame, path: Path, keys: Sequence[str],
               definition: EntityDefinition) -> None:
        from delta.tables import DeltaTable

        condition = " AND ".join(f"t.{_quote(k)} <=> s.{_quote(k)}" for k in keys)
        builder = (DeltaTable.forPath(spark, str(path)).alias("t")
                   .merge(df.alias("s"), condition)
                   .whenMatchedUpdateAll()
                   .whenNotMatchedInsertAll())
        if definition.schema_drift == "evolve":
            # Per-merge evolution; the session-wide autoMerge setting would leak to other writers.
            builder = builder.withSchemaEvolution()
        with _delta_call(f"merge into entity {definition.entityid!r}"):
            builder.execute()

    # -- append and write ---------------------------------------------------------------

    def append_to_entity(self, df: DataFrame, entity_id: str) -> int:
        """Append ``df``'s rows; returns how many Delta says the commit wrote (``numOutputRows``).

        >>> DataEntityManager().append_to_entity(df, "bronze.events")  # doctest: +SKIP
        3
        """
        definition = get_entity_definition(entity_id)
        path = self.table_path(entity_id)
        with self.operation("entity.append", entity_id=entity_id, row_count=lazy(df.count)) as op:
            rows, version = self._write_op(df, entity_id, definition, path, "append", "append",
                                           op.operation_id)
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
        path = self.table_path(entity_id)
        with self.operation("entity.write", entity_id=entity_id, mode=mode) as op:
            rows, version = self._write_op(df, entity_id, definition, path, mode, "write",
                                           op.operation_id)
            op.set(rows_written=rows, version=version)
        return rows

    def _write_op(self, df: DataFrame, entity_id: str, definition: EntityDefinition, path: Path,
                  mode: str, reason: str, tag: str) -> tuple[int, int]:
        spark = df.sparkSession
        before = self._table_before(spark, path, entity_id, definition)
        if before is not None:
            self._check_drift(definition, before.schema, df)
        commit = self._write(df, path, definition, mode, before, tag)
        if commit is None:  # an append of no rows: Delta committed nothing, nothing changed
            assert before is not None
            return 0, before.version
        self._announce(spark, path, entity_id, before, commit, reason)
        return commit.metric("numOutputRows"), commit.version

    def _write(self, df: DataFrame, path: Path, definition: EntityDefinition, mode: str,
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
            writer.save(str(path))
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

    @staticmethod
    def _is_table(path: Path) -> bool:
        return _latest_version(path) is not None

    @staticmethod
    def _state(spark: SparkSession, path: Path) -> _TableState | None:
        version = _latest_version(path)
        if version is None:
            return None
        return _TableState(version, spark.read.format("delta").load(str(path)).schema)

    @staticmethod
    def _find_commit(path: Path, after: int | None, operations: Sequence[str],
                     user_metadata: str | None = None) -> _Commit | None:
        """The newest commit after version ``after`` with one of ``operations`` (and our tag, if given).

        Other writers may commit around ours, so the newest version is not
        assumed to be ours: it must be the right kind of commit (and carry our
        tag when we could set one).
        """
        latest = _latest_version(path)
        if latest is None:
            return None
        for version in range(latest, -1 if after is None else after, -1):
            info = _commit_info(path, version)
            if info is None:
                break  # cleaned-up history: nothing older is ours
            if info.get("operation") in operations and (
                    user_metadata is None or info.get("userMetadata") == user_metadata):
                return _Commit(version, str(info["operation"]),
                               {str(k): str(v) for k, v in (info.get("operationMetrics") or {}).items()})
        return None

    def _announce(self, spark: SparkSession, path: Path, entity_id: str,
                  before: _TableState | None, commit: _Commit, reason: str) -> None:
        """Emit schema_changed (if the columns changed) and version_updated for ``commit``."""
        if before is not None and self.is_observed("entity.schema_changed"):
            # The data is committed: a failure to read the new schema must not
            # report the operation as failed (emission never breaks it).
            try:
                after_schema = spark.read.format("delta").option("versionAsOf", commit.version) \
                    .load(str(path)).schema
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

"""Watermarks: how far each reader has processed each source entity, kept in a Delta table.

A watermark is one row per source entity and reader in the watermark entity
(``system.watermarks`` by default), written through the
:class:`~kindling.entity_manager.DataEntityManager` as a merge on
``(entity_id, reader_id)``::

    >>> from kindling.watermarks import WatermarkManager
    >>> wm = WatermarkManager()
    >>> changes = wm.read_changes("bronze.orders", reader_id="silver_orders")  # doctest: +SKIP
    >>> wm.save_watermark("bronze.orders", "2025-01-20T10:00:00+00:00",
    ...                   reader_id="silver_orders")                             # doctest: +SKIP

Behaviour worth knowing (``docs/providers/watermarks.md`` has the long form):

* A watermark value is a number (``int``/``float``) or a timestamp (a
  ``datetime`` or an ISO-8601 string; naive ones are taken as UTC). The table
  stores it as a string: numbers as written (``"42"``, ``"1.5"``),
  timestamps normalised to ISO-8601 in UTC (``"2025-01-20T10:00:00+00:00"``).
  Signals carry numbers as numbers and timestamps as that ISO string.
* Watermarks only move forward: saving one behind the saved value fails
  (``watermark.save_failed``) and keeps the saved one; go back with
  :meth:`WatermarkManager.reset_watermark`.
* Each watermark records ``source_version``, the source table's Delta version
  it covers. :meth:`~WatermarkManager.get_watermark` compares it with the
  source table's current version and emits ``watermark.version_changed`` when
  they differ (new commits to process); :meth:`~WatermarkManager.read_changes`
  returns exactly the rows added or changed between the two versions.
* A watermark table that can't be read (a damaged Delta table) fails the get
  with ``watermark.get_failed`` (a signal beyond the quick reference) and the
  save with ``watermark.save_failed``; both raise :class:`WatermarkTableError`
  with the JVM's root cause, and change nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Union

from kindling.data_entities import (
    DataEntities,
    EntityDefinition,
    UnknownEntityError,
    get_entity_definition,
    get_entity_ids,
)
from kindling.signaling import SignalEmitter, SignalProvider, describe_error
from kindling.spark_errors import clip, is_spark_error

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from kindling.entity_manager import DataEntityManager

__all__ = [
    "DEFAULT_READER",
    "WATERMARK_ENTITY_ID",
    "WATERMARK_SCHEMA",
    "Watermark",
    "WatermarkError",
    "WatermarkManager",
    "WatermarkRegressionError",
    "WatermarkTableError",
    "layer_watermark_entity_id",
]

#: The watermark entity a :class:`WatermarkManager` uses unless told otherwise.
WATERMARK_ENTITY_ID = "system.watermarks"
#: The reader a watermark belongs to when no ``reader_id`` is given.
DEFAULT_READER = "default"
#: Columns of every watermark entity; saves merge on (entity_id, reader_id).
WATERMARK_SCHEMA = ("entity_id STRING, reader_id STRING, watermark_value STRING, "
                    "source_version BIGINT, updated_at TIMESTAMP, reason STRING")
_MERGE_COLUMNS = ("entity_id", "reader_id")
_SAVE_REASON = "save"
_MAX_CAUSE_CHARS = 240

WatermarkValue = Union[int, float, str, datetime, date]


class WatermarkError(ValueError):
    """A watermark that cannot be got or saved as asked: names the entity, the values and the fix."""


class WatermarkRegressionError(WatermarkError):
    """A save would move a watermark backwards; the saved watermark is kept."""


class WatermarkTableError(WatermarkError):
    """The watermark table can't be read (a damaged Delta table): the message gives the JVM's
    root cause; nothing was changed. ``__cause__`` is the original Spark error."""


def layer_watermark_entity_id(layer: str) -> str:
    """The watermark entity of a layer: ``"silver"`` -> ``"silver.watermarks"``."""
    if not isinstance(layer, str) or not layer.strip():
        raise ValueError(f"layer={layer!r} must be a non-empty string such as 'silver'")
    return f"{layer}.watermarks"


@dataclass(frozen=True)
class Watermark:
    """A saved watermark, as :meth:`WatermarkManager.get_watermark` returns it.

    ``value`` is an ``int``/``float`` for numeric watermarks and an ISO-8601
    UTC string for timestamps (:meth:`as_datetime` parses it);
    ``source_version`` is the source table's Delta version the watermark covers.
    """

    entity_id: str
    reader_id: str
    value: int | float | str
    source_version: int
    updated_at: datetime
    reason: str

    @property
    def is_timestamp(self) -> bool:
        return isinstance(self.value, str)

    def as_datetime(self) -> datetime:
        """The value as an aware UTC ``datetime``; :class:`TypeError` for a numeric watermark."""
        if not isinstance(self.value, str):
            raise TypeError(f"watermark of {self.entity_id!r} is the number {self.value!r}, not a timestamp")
        return datetime.fromisoformat(self.value)

    @property
    def age_hours(self) -> float:
        """Hours since the watermark was saved (never negative)."""
        return max(0.0, (time.time() - self.updated_at.timestamp()) / 3600.0)


# -- values ------------------------------------------------------------------------------

def _normalize(entity_id: str, value: Any) -> tuple[str, int | float | str]:
    """(the stored string, the payload value) of a watermark value, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, datetime, date)):
        raise TypeError(
            f"watermark for entity {entity_id!r}: {value!r} ({type(value).__name__}) is not a "
            f"watermark value; pass a number (int or float), a datetime, or an ISO-8601 "
            f"timestamp string like '2025-01-20T10:00:00+00:00'")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise WatermarkError(f"watermark for entity {entity_id!r}: {value!r} is not a finite number")
        return (str(value) if isinstance(value, int) else repr(value)), value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise WatermarkError(
                f"watermark for entity {entity_id!r}: {value!r} is not an ISO-8601 timestamp; "
                f"write it like '2025-01-20T10:00:00+00:00', or pass numbers as int/float") from None
    if not isinstance(value, datetime):  # a date: its midnight
        value = datetime(value.year, value.month, value.day)
    moment = (value.replace(tzinfo=timezone.utc) if value.tzinfo is None
              else value.astimezone(timezone.utc))
    text = moment.isoformat()
    return text, text


def _parse(stored: str) -> int | float | str:
    """A stored watermark string back to its payload value."""
    for number in (int, float):
        try:
            return number(stored)
        except ValueError:
            pass
    return stored


def _delta(entity_id: str, old: int | float | str, new: int | float | str) -> float | int:
    """new - old: seconds between timestamps, the difference of numbers; mixed kinds are an error."""
    if isinstance(old, str) != isinstance(new, str):
        kind = "a timestamp" if isinstance(old, str) else "a number"
        raise WatermarkError(
            f"watermark for entity {entity_id!r} is {kind} ({old!r}); {new!r} is not, so the two "
            f"cannot be compared. Save {kind}, or reset_watermark({entity_id!r}, reason=...) first "
            f"to change the kind")
    if isinstance(old, str) and isinstance(new, str):
        return (datetime.fromisoformat(new) - datetime.fromisoformat(old)).total_seconds()
    assert not isinstance(old, str) and not isinstance(new, str)
    return new - old


@dataclass(frozen=True)
class _Row:
    value: int | float | str | None
    source_version: int | None
    updated_epoch: float
    reason: str | None


class WatermarkManager(SignalEmitter):
    """Gets, saves and resets watermarks, and reads a source entity's rows since its watermark.

    ``entity_manager`` is the :class:`~kindling.entity_manager.DataEntityManager`
    the watermark table (and the source tables) are read and written through;
    by default one sharing this manager's provider. ``watermark_entity_id``
    names the watermark entity; it is declared (schema :data:`WATERMARK_SCHEMA`,
    merge columns ``entity_id, reader_id``) on first use unless you declared it.

    Signals Emitted:
        watermark.pre_get (before get_watermark() reads the watermark table):
            - entity_id (str): Source entity
            - reader_id (str): Reader whose watermark is read

        watermark.watermark_found (a watermark is saved; closes the get):
            - watermark_value (str | number): ISO-8601 UTC string or number
            - version (int): The source table's Delta version saved with it (source_version)
            - age_hours (float): Hours since it was saved
            - entity_id (str), reader_id (str), duration_seconds (float)

        watermark.watermark_missing (none saved, or reset since; closes the get):
            - entity_id (str), reader_id (str), duration_seconds (float)

        watermark.get_failed (the get failed, e.g. the watermark table is damaged;
        closes the get; an extension beyond the quick reference):
            - entity_id (str), reader_id (str), error (str): the root cause,
              error_type (str), duration_seconds (float)

        watermark.version_changed (inside a get: the source table's current
        Delta version differs from the watermark's source_version):
            - old_version (int): The watermark's source_version
            - new_version (int): The source table's version now
            - entity_id (str), reader_id (str)

        watermark.pre_save (before save_watermark()):
            - entity_id (str), new_watermark (str | number), reader_id (str)

        watermark.post_save (after the merge committed):
            - old_watermark (str | number | None): None on the first save
            - new_watermark (str | number)
            - watermark_delta (float | None): Seconds for timestamps, the difference for
              numbers, None on the first save
            - source_version (int), table_version (int): The watermark table's version after
            - entity_id (str), reader_id (str), duration_seconds (float)

        watermark.save_failed (nothing was saved; the old watermark stands):
            - entity_id (str), new_watermark, reader_id (str), error (str), error_type (str),
              duration_seconds (float)

        watermark.watermark_advanced (inside a save that moves a timestamp watermark forward):
            - advancement_seconds (float): new - old, in seconds
            - entity_id (str), reader_id (str), old_watermark (str), new_watermark (str)

        watermark.watermark_reset (after reset_watermark() committed):
            - old_watermark (str | number | None): The watermark reset, None if there was none
            - reason (str): Why, as given
            - entity_id (str), reader_id (str)

    Usage:
        >>> wm = WatermarkManager(signal_provider)                                 # doctest: +SKIP
        >>> signal_provider.connect("watermark.watermark_advanced", on_advance)    # doctest: +SKIP
        >>> new_rows = wm.read_changes("bronze.orders", reader_id="silver")       # doctest: +SKIP
        >>> wm.save_watermark("bronze.orders", 42, reader_id="silver")             # doctest: +SKIP
    """

    EMITS = (
        "watermark.pre_get", "watermark.watermark_found", "watermark.watermark_missing",
        "watermark.get_failed", "watermark.pre_save", "watermark.post_save", "watermark.save_failed",
        "watermark.watermark_advanced", "watermark.watermark_reset", "watermark.version_changed",
    )

    def __init__(self, signal_provider: SignalProvider | None = None,
                 entity_manager: DataEntityManager | None = None,
                 watermark_entity_id: str = WATERMARK_ENTITY_ID) -> None:
        super().__init__(signal_provider)
        if not isinstance(watermark_entity_id, str) or not watermark_entity_id.strip():
            raise ValueError(f"watermark_entity_id={watermark_entity_id!r} must be an entity id "
                             f"such as {WATERMARK_ENTITY_ID!r}")
        self.watermark_entity_id = watermark_entity_id
        self._entity_manager = entity_manager
        # Source versions read_changes() read, used by the next save without source_version.
        self._read_versions: dict[tuple[str, str], int] = {}

    @property
    def entity_manager(self) -> DataEntityManager:
        """The entity manager tables are read and written through (made on first use)."""
        if self._entity_manager is None:
            from kindling.entity_manager import DataEntityManager

            self._entity_manager = DataEntityManager(signal_provider=self._signal_provider)
        return self._entity_manager

    def for_layer(self, layer: str) -> WatermarkManager:
        """A manager over the layer's own watermark entity (``<layer>.watermarks``), same provider."""
        return WatermarkManager(self._signal_provider, self._entity_manager,
                                layer_watermark_entity_id(layer))

    def ensure_watermark_table(self) -> bool:
        """Declare the watermark entity if needed and make sure its table exists; returns whether it existed."""
        self._declare()
        return self.entity_manager.ensure_entity_table(self.watermark_entity_id)

    # -- get -----------------------------------------------------------------------------

    def get_watermark(self, entity_id: str, reader_id: str = DEFAULT_READER) -> Watermark | None:
        """The saved watermark of ``entity_id`` for ``reader_id``, or ``None`` on a first run (or after a reset).

        >>> WatermarkManager().get_watermark("bronze.orders").value  # doctest: +SKIP
        '2025-01-20T10:00:00+00:00'
        """
        return self._get(entity_id, reader_id)[0]

    def _get(self, entity_id: str, reader_id: str,
             with_version: bool = False) -> tuple[Watermark | None, int | None]:
        """(the watermark, the source table's current version if it is a declared entity).

        The version is looked up for a found watermark (version_changed needs
        it) and, when ``with_version``, for a missing one too.
        """
        self._check_ids(entity_id, reader_id)
        self._declare()
        with self.operation("watermark.get", entity_id=entity_id, reader_id=reader_id) as op:
            row = self._read_row(entity_id, reader_id)
            if row is None or row.value is None or row.source_version is None:
                op.close_as("watermark.watermark_missing")
                return None, (self._current_version(entity_id) if with_version else None)
            current = self._current_version(entity_id)
            if current is not None and current != row.source_version:
                self.emit("watermark.version_changed", entity_id=entity_id, reader_id=reader_id,
                          old_version=row.source_version, new_version=current)
            mark = Watermark(entity_id, reader_id, row.value, row.source_version,
                             datetime.fromtimestamp(row.updated_epoch, timezone.utc), row.reason or "")
            op.close_as("watermark.watermark_found", watermark_value=mark.value,
                        version=mark.source_version, age_hours=mark.age_hours)
        return mark, current

    # -- save ----------------------------------------------------------------------------

    def save_watermark(self, entity_id: str, new_watermark: WatermarkValue,
                       reader_id: str = DEFAULT_READER, source_version: int | None = None) -> Watermark:
        """Save ``new_watermark`` for ``entity_id`` / ``reader_id``; returns what was saved.

        ``source_version`` is the source table's Delta version the watermark
        covers; by default the version the last :meth:`read_changes` of this
        entity and reader read, else the source entity's current version. A
        value behind the saved one raises :class:`WatermarkRegressionError`
        and keeps the saved watermark.

        >>> WatermarkManager().save_watermark("bronze.orders", "2025-01-20T12:00:00Z")  # doctest: +SKIP
        Watermark(entity_id='bronze.orders', ..., value='2025-01-20T12:00:00+00:00', ...)
        """
        self._check_ids(entity_id, reader_id)
        stored, value = _normalize(entity_id, new_watermark)
        if source_version is not None and (isinstance(source_version, bool)
                                           or not isinstance(source_version, int) or source_version < 0):
            raise ValueError(f"save_watermark(source_version={source_version!r}) must be a Delta table "
                             f"version: an int >= 0, or None")
        pinned = self._read_versions.get((entity_id, reader_id))
        if source_version is None and pinned is None and entity_id not in get_entity_ids():
            raise WatermarkError(
                f"cannot save a watermark for {entity_id!r} without a source_version: it is not a "
                f"declared entity, so its Delta version is unknown. Pass source_version=<the source's "
                f"version>, or declare it with DataEntities.entity(entityid={entity_id!r}, ...)")
        definition = self._declare()
        with self.operation("watermark.save", entity_id=entity_id, new_watermark=value,
                            reader_id=reader_id) as op:
            old = self._read_row(entity_id, reader_id)
            old_value = old.value if old is not None else None
            delta = _delta(entity_id, old_value, value) if old_value is not None else None
            if delta is not None and delta < 0:
                raise WatermarkRegressionError(
                    f"cannot save watermark {value!r} for entity {entity_id!r} (reader {reader_id!r}): "
                    f"it is behind the saved watermark {old_value!r}. Watermarks only move forward; "
                    f"to go back, call reset_watermark({entity_id!r}, reason=..., "
                    f"reader_id={reader_id!r}) first")
            if source_version is None:
                source_version = pinned if pinned is not None else self._require_version(entity_id)
            now = datetime.now(timezone.utc)
            table_version = self._write_row(definition, entity_id, reader_id, stored, source_version, now,
                                            _SAVE_REASON)
            if delta is not None and delta > 0 and isinstance(value, str):
                self.emit("watermark.watermark_advanced", entity_id=entity_id, reader_id=reader_id,
                          old_watermark=old_value, new_watermark=value, advancement_seconds=delta)
            op.set(old_watermark=old_value, watermark_delta=delta, source_version=source_version,
                   table_version=table_version)
        self._read_versions.pop((entity_id, reader_id), None)  # the read is accounted for
        return Watermark(entity_id, reader_id, value, source_version, now, _SAVE_REASON)

    # -- reset ---------------------------------------------------------------------------

    def reset_watermark(self, entity_id: str, reason: str,
                        reader_id: str = DEFAULT_READER) -> Watermark | None:
        """Forget the watermark (the next get is a first run); returns the one reset, if any.

        The row stays in the table with no value and ``reason`` as its reason,
        so the reset is on record.

        >>> WatermarkManager().reset_watermark("bronze.orders", reason="reprocess January")  # doctest: +SKIP
        """
        self._check_ids(entity_id, reader_id)
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"reset_watermark(reason={reason!r}) needs a non-empty reason, "
                             f"e.g. reason='reprocess after the schema fix'")
        definition = self._declare()
        old = self._read_row(entity_id, reader_id)
        self._write_row(definition, entity_id, reader_id, None, None, datetime.now(timezone.utc), reason)
        self._read_versions.pop((entity_id, reader_id), None)
        old_value = old.value if old is not None else None
        self.emit("watermark.watermark_reset", entity_id=entity_id, reader_id=reader_id,
                  old_watermark=old_value, reason=reason)
        if old is None or old_value is None or old.source_version is None:
            return None
        return Watermark(entity_id, reader_id, old_value, old.source_version,
                         datetime.fromtimestamp(old.updated_epoch, timezone.utc), old.reason or "")

    # -- incremental reads ------------------------------------------------------------------

    def read_changes(self, entity_id: str, reader_id: str = DEFAULT_READER) -> DataFrame:
        """The source entity's rows added or changed since the watermark's ``source_version``.

        On a first run (no watermark) that is every row. The rows are those of
        the current version that the watermarked version did not have (a
        ``versionAsOf`` diff, so updated rows come back in their new form and
        deleted rows do not come back). The version read is remembered: the
        next :meth:`save_watermark` for this entity and reader records it.

        >>> new_rows = WatermarkManager().read_changes("bronze.orders", "silver")  # doctest: +SKIP
        """
        get_entity_definition(entity_id)  # an undeclared source: UnknownEntityError with close matches
        mark, current = self._get(entity_id, reader_id, with_version=True)
        em = self.entity_manager
        if current is None:
            em.read_entity(entity_id)  # raises EntityTableNotFoundError, naming the fix
        assert current is not None
        spark = _spark_session()
        path = str(em.table_path(entity_id))
        now = spark.read.format("delta").option("versionAsOf", current).load(path)
        self._read_versions[(entity_id, reader_id)] = current
        if mark is None:
            return now
        if mark.source_version == current:
            return now.limit(0)
        before = spark.read.format("delta").option("versionAsOf", mark.source_version).load(path)
        return now.exceptAll(_aligned(before, now))

    # -- the watermark table ------------------------------------------------------------------

    def _declare(self) -> EntityDefinition:
        """The watermark entity's definition, declared now unless it is (a registry reset may have cleared it)."""
        wid = self.watermark_entity_id
        try:
            definition = get_entity_definition(wid)
        except UnknownEntityError:
            return DataEntities.entity(entityid=wid, name=wid.replace(".", "_").replace("-", "_"),
                                       merge_columns=list(_MERGE_COLUMNS), schema=WATERMARK_SCHEMA,
                                       tags={"kindling": "watermarks"})
        if tuple(definition.merge_columns) != _MERGE_COLUMNS:
            raise WatermarkError(
                f"entity {wid!r} is declared with merge_columns={list(definition.merge_columns)!r}, "
                f"but as the watermark entity it must merge on {list(_MERGE_COLUMNS)!r}; declare it "
                f"with merge_columns={list(_MERGE_COLUMNS)!r} and schema {WATERMARK_SCHEMA!r}, or "
                f"pass another watermark_entity_id")
        return definition

    def _read_row(self, entity_id: str, reader_id: str) -> _Row | None:
        from pyspark.sql import functions as F

        from kindling.entity_manager import EntityTableNotFoundError

        try:
            df = self.entity_manager.read_entity(self.watermark_entity_id)
            found = (df.where((F.col("entity_id") == entity_id) & (F.col("reader_id") == reader_id))
                     # epoch seconds: independent of the Python process's local time zone
                     .select("watermark_value", "source_version",
                             F.col("updated_at").cast("double").alias("updated_epoch"), "reason")
                     .limit(1).collect())
        except EntityTableNotFoundError:
            return None  # no watermark was ever saved here
        except Exception as exc:
            if not is_spark_error(exc):
                raise
            # The JVM's root cause, not its stack; short, so the fix fits in a signal's error field too.
            root = clip(describe_error(exc), _MAX_CAUSE_CHARS)
            raise WatermarkTableError(
                f"cannot read the watermark table {self.watermark_entity_id!r}: {root}. Nothing was "
                f"changed; repair the Delta table at {self.entity_manager.table_path(self.watermark_entity_id)} "
                f"(e.g. RESTORE it to an earlier version) and run again") from exc
        if not found:
            return None
        r = found[0]
        return _Row(_parse(r.watermark_value) if r.watermark_value is not None else None,
                    int(r.source_version) if r.source_version is not None else None,
                    float(r.updated_epoch), r.reason)

    def _write_row(self, definition: EntityDefinition, entity_id: str, reader_id: str, stored: str | None,
                   source_version: int | None, now: datetime, reason: str) -> int:
        df = _spark_session().createDataFrame(
            [(entity_id, reader_id, stored, source_version, now, reason)],
            definition.spark_schema() or WATERMARK_SCHEMA)
        return self.entity_manager.merge_to_entity(df, definition.entityid).version

    def _current_version(self, entity_id: str) -> int | None:
        """The source table's version now, when the source is a declared entity with a table."""
        if entity_id not in get_entity_ids():
            return None
        return self.entity_manager.get_entity_version(entity_id)

    def _require_version(self, entity_id: str) -> int:
        version = self._current_version(entity_id)
        if version is None:
            raise WatermarkError(
                f"cannot save a watermark for entity {entity_id!r} without a source_version: it has "
                f"no Delta table yet. Write to it first, or pass source_version=<version>")
        return version

    @staticmethod
    def _check_ids(entity_id: Any, reader_id: Any) -> None:
        for what, value in (("entity_id", entity_id), ("reader_id", reader_id)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{what}={value!r} must be a non-empty string")


def _aligned(before: DataFrame, now: DataFrame) -> DataFrame:
    """``before`` with ``now``'s columns and types (columns added since are null), for a diff."""
    from pyspark.sql import functions as F

    have: Mapping[str, Any] = {f.name.lower(): f.name for f in before.schema.fields}
    return before.select(*[
        (F.col(have[f.name.lower()]) if f.name.lower() in have else F.lit(None))
        .cast(f.dataType).alias(f.name) for f in now.schema.fields])


def _spark_session() -> Any:
    from kindling.spark_session import get_or_create_spark_session

    return get_or_create_spark_session()

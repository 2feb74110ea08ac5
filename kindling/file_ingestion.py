"""File ingestion: land CSV, JSON and Parquet files in a folder into Delta entities.

Declare which files go where with the call Kindling users already write;
patterns are regexes matched against the whole file name. A named group
either fills a ``{placeholder}`` of the destination entity id or, if the id
does not use it, becomes a column of the file's rows::

    >>> from kindling.file_ingestion import FileIngestionEntries, FileIngestionProcessor
    >>> FileIngestionEntries.entry(
    ...     entry_id="daily_sales", name="Daily sales drops",
    ...     patterns=[r"(?P<table>sales)_(?P<day>\\d{8})\\.csv"],
    ...     dest_entity_id="bronze.{table}", filetype="csv",
    ... )                                                           # doctest: +SKIP
    >>> FileIngestionProcessor().process_path(
    ...     "/landing", move_to="/landing/processed")              # doctest: +SKIP
    IngestionResult(batch_id='...', file_count=2, success_files=2, failed_files=0, total_rows=40)

How a run behaves (the long form is ``docs/providers/file_ingestion.md``):

* Each file is read and fully parsed with Spark (``FAILFAST``) inside its own
  ``file_ingestion.file`` operation, so a corrupt or unreadable file fails
  alone (``file_failed``), stays where it is, and the other files go on.
  What ``FAILFAST`` lets through is checked too: a CSV quote that is never
  closed, a JSON line holding more than one value or text after it.
* The files read are grouped into one batch per (entry, destination entity)
  and written through the entity manager: a merge when the entity has merge
  columns, else an append. Delta commits a batch atomically.
* Only after a batch is committed are its files moved to ``move_to``
  (``file_moved``); with ``move_to=None`` they are recorded instead in a JSON
  ledger in the lakehouse (path, size, SHA-256) and skipped by later runs, so
  nothing is ingested twice.
* A failure of a batch as a whole (its write fails, the folder is missing)
  ends the run with ``process_failed`` and re-raises: the failed batch's table
  keeps its version and its files stay where they were. Batches committed
  before it keep their rows and their files are moved (or recorded).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import string
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pytest_kindling_signals.names import UnknownNameError, declared_names
from kindling.platform import absolute_path
from kindling.registries import register_registry
from kindling.signaling import SignalEmitter, SignalProvider, describe_error, utc_timestamp
from kindling.spark_errors import is_spark_error, summarize_error

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from kindling.data_entities import EntityDefinition
    from kindling.entity_manager import DataEntityManager
    from kindling.platform import PlatformService

__all__ = [
    "FILETYPES",
    "BatchResult",
    "EntryDeclarationError",
    "FileIngestionEntries",
    "FileIngestionEntry",
    "FileIngestionError",
    "FileIngestionProcessor",
    "FileReadError",
    "IngestionLedger",
    "IngestionResult",
    "UnknownEntryError",
    "get_entry_definition",
    "get_entry_ids",
]

logger = logging.getLogger("kindling.file_ingestion")

#: The file types Spark reads for an entry.
FILETYPES = ("csv", "json", "parquet")

_entries: dict[str, FileIngestionEntry] = register_registry("file_ingestion_entries", {})

# Files Spark and tools leave next to data (``_SUCCESS``, ``.part-0.crc``) are not data.
_HIDDEN_PREFIXES = (".", "_")


# -- errors ------------------------------------------------------------------------

class FileIngestionError(Exception):
    """A file or batch that cannot be ingested; the message names it and the fix."""


class EntryDeclarationError(FileIngestionError, ValueError):
    """A file-ingestion entry declaration that cannot work: names the entry, the value and the fix."""


class FileReadError(FileIngestionError):
    """A file Spark could not read or parse (corrupt, malformed, not of the declared type)."""

    def __init__(self, path: str, filetype: str, cause: BaseException) -> None:
        self.path = path
        self.filetype = filetype
        super().__init__(f"cannot read {filetype} file {path!r}: {summarize_error(cause)}")


class UnknownEntryError(FileIngestionError, UnknownNameError):
    """An entry id that was never declared; the message suggests close matches."""

    def __init__(self, entry_id: str, known: Iterable[str]) -> None:
        known = sorted(known)
        self.entry_id = entry_id
        UnknownNameError.__init__(self, "file ingestion entry", entry_id, known,
                                  "declare it with FileIngestionEntries.entry(entry_id=...).",
                                  declared=declared_names(known, "entries"))


# -- declarations ----------------------------------------------------------------

@dataclass(frozen=True)
class FileIngestionEntry:
    """A declared entry, as :func:`get_entry_definition` returns it.

    >>> e = FileIngestionEntries.entry("sales", "Sales", [r"(?P<table>sales)_\\d{8}\\.csv"],
    ...                                "bronze.{table}", "csv")
    >>> e.match("sales_20250101.csv"), e.destination_for({"table": "sales"})
    ({'table': 'sales'}, 'bronze.sales')
    """

    entry_id: str
    name: str
    patterns: tuple[str, ...]
    dest_entity_id: str
    filetype: str
    tags: dict[str, Any] = field(default_factory=dict, hash=False)
    infer_schema: bool = True
    read_options: dict[str, str] = field(default_factory=dict, hash=False)
    compiled: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The ``{names}`` in ``dest_entity_id``, each a named group of every pattern."""
        return _placeholders(self.dest_entity_id)

    def match(self, filename: str) -> dict[str, str | None] | None:
        """The named groups of the first pattern the whole ``filename`` matches, else ``None``."""
        for rx in self.compiled:
            m = rx.fullmatch(filename)
            if m is not None:
                return m.groupdict()
        return None

    def destination_for(self, groups: Mapping[str, str | None]) -> str:
        """``dest_entity_id`` with its placeholders filled from ``groups``."""
        missing = [p for p in self.placeholders if groups.get(p) in (None, "")]
        if missing:
            raise FileIngestionError(
                f"entry {self.entry_id!r}: destination {self.dest_entity_id!r} needs group(s) "
                f"{', '.join(missing)}, which did not match anything in this file name; "
                f"make those groups non-optional in the entry's patterns")
        return self.dest_entity_id.format_map({p: groups[p] for p in self.placeholders})


def _placeholders(dest: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(dest) if name is not None))


def _declare(entry_id: Any, name: Any, patterns: Any, dest_entity_id: Any, filetype: Any,
             tags: Mapping[str, Any] | None, infer_schema: bool,
             read_options: Mapping[str, Any] | None) -> FileIngestionEntry:
    if not isinstance(entry_id, str) or not entry_id.strip():
        raise EntryDeclarationError(
            f"FileIngestionEntries.entry: entry_id={entry_id!r} must be a non-empty string, "
            f"e.g. entry_id='daily_sales'")
    where = f"file ingestion entry {entry_id!r}"
    if not isinstance(name, str) or not name.strip():
        raise EntryDeclarationError(f"{where}: name={name!r} must be a non-empty string")
    if isinstance(patterns, str):
        raise EntryDeclarationError(
            f"{where}: patterns={patterns!r} is a single string; pass a list of regexes, "
            f"e.g. patterns=[{patterns!r}]")
    try:
        pattern_list = tuple(patterns)
    except TypeError:
        raise EntryDeclarationError(f"{where}: patterns={patterns!r} must be a list of regexes") from None
    if not pattern_list:
        raise EntryDeclarationError(f"{where}: patterns is empty; give at least one regex, "
                                    r"e.g. patterns=[r'sales_\d{8}\.csv']")
    compiled = []
    for p in pattern_list:
        if not isinstance(p, str) or not p:
            raise EntryDeclarationError(f"{where}: pattern {p!r} must be a non-empty regex string")
        try:
            compiled.append(re.compile(p))
        except re.error as exc:
            raise EntryDeclarationError(
                f"{where}: pattern {p!r} is not a valid regex ({exc}); fix it "
                f"(named groups are written (?P<name>...))") from None
    if not isinstance(dest_entity_id, str) or not dest_entity_id.strip():
        raise EntryDeclarationError(f"{where}: dest_entity_id={dest_entity_id!r} must be a non-empty "
                                    f"entity id, e.g. 'bronze.sales' or 'bronze.{{table}}'")
    try:
        holders = _placeholders(dest_entity_id)
    except ValueError as exc:
        raise EntryDeclarationError(f"{where}: dest_entity_id={dest_entity_id!r} is not a valid "
                                    f"template ({exc}); write placeholders as {{group_name}}") from None
    for h in holders:
        if not h.isidentifier():
            raise EntryDeclarationError(
                f"{where}: placeholder {{{h}}} in dest_entity_id={dest_entity_id!r} must be a plain "
                f"group name like {{table}}")
        for p, rx in zip(pattern_list, compiled):
            if h not in rx.groupindex:
                raise EntryDeclarationError(
                    f"{where}: dest_entity_id={dest_entity_id!r} uses {{{h}}}, but pattern {p!r} has "
                    f"no named group {h!r}; add (?P<{h}>...) to every pattern of the entry")
    kind = filetype.lower().lstrip(".") if isinstance(filetype, str) else filetype
    if kind not in FILETYPES:
        raise EntryDeclarationError(
            f"{where}: filetype={filetype!r} is not supported; use one of "
            f"{', '.join(map(repr, FILETYPES))}")
    if tags is not None and not isinstance(tags, Mapping):
        raise EntryDeclarationError(f"{where}: tags={tags!r} must be a dict or None")
    if read_options is not None and not isinstance(read_options, Mapping):
        raise EntryDeclarationError(f"{where}: read_options={read_options!r} must be a dict of "
                                    f"Spark reader options or None")
    return FileIngestionEntry(
        entry_id=entry_id, name=name, patterns=pattern_list, dest_entity_id=dest_entity_id,
        filetype=kind, tags=dict(tags or {}), infer_schema=bool(infer_schema),
        read_options={str(k): str(v) for k, v in (read_options or {}).items()},
        compiled=tuple(compiled))


def get_entry_ids() -> list[str]:
    """Every declared entry id, in declaration order."""
    return list(_entries)


def get_entry_definition(entry_id: str) -> FileIngestionEntry:
    """The declared entry; an unknown id raises :class:`UnknownEntryError` with close matches."""
    try:
        return _entries[entry_id]
    except KeyError:
        raise UnknownEntryError(entry_id, _entries) from None


class FileIngestionEntries:
    """Declare which files are ingested into which entity.

    >>> FileIngestionEntries.entry(
    ...     entry_id="events", name="Event drops", patterns=[r"events_(?P<day>\\d{8})\\.json"],
    ...     dest_entity_id="bronze.events", filetype="json", tags={"layer": "bronze"},
    ... ).filetype
    'json'

    Declaring an id again replaces the earlier entry (notebook cells get re-run).
    """

    @staticmethod
    def entry(entry_id: str, name: str, patterns: Sequence[str], dest_entity_id: str,
              filetype: str, tags: Mapping[str, Any] | None = None, *,
              infer_schema: bool = True,
              read_options: Mapping[str, Any] | None = None) -> FileIngestionEntry:
        """Declare (or replace) an entry and return it.

        ``patterns`` are regexes a file's whole name must match (the first
        that matches wins). Named groups used as ``{placeholders}`` in
        ``dest_entity_id`` choose the destination; the other named groups
        become columns of the rows (strings, or the type the destination
        entity's schema declares for them). ``filetype`` is one
        of :data:`FILETYPES`. ``infer_schema`` applies to CSV read without an
        entity schema; ``read_options`` are extra Spark reader options
        (e.g. ``{"multiLine": "true"}`` for JSON arrays).
        """
        e = _declare(entry_id, name, patterns, dest_entity_id, filetype, tags,
                     infer_schema, read_options)
        _entries[e.entry_id] = e
        return e

    get_entry_ids = staticmethod(get_entry_ids)
    get_entry_definition = staticmethod(get_entry_definition)


# -- the ledger ----------------------------------------------------------------------

class IngestionLedger:
    """The files already ingested and left in place: a JSON file in the lakehouse.

    A file counts as ingested when its absolute path, its size and the SHA-256
    of its content all match a record, so a file replaced by new content under
    the same name is ingested again. Read and written through the platform
    service (``platform.file_read`` / ``platform.file_written``); writes are
    atomic. Default location: ``<lakehouse>/_kindling/file_ingestion/ledger.json``.

    >>> ledger = IngestionLedger(platform, "/lake/_kindling/file_ingestion/ledger.json")  # doctest: +SKIP
    >>> ledger.is_ingested("/landing/a.csv", size=120)                                       # doctest: +SKIP
    False
    """

    FORMAT: ClassVar[str] = "kindling-file-ingestion-ledger/1"

    def __init__(self, platform: PlatformService, path: str) -> None:
        self.platform = platform
        self.path = path
        self._files: dict[str, dict[str, Any]] | None = None

    def files(self) -> dict[str, dict[str, Any]]:
        """Absolute path -> record (size, sha256, batch_id, entry_id, dest_entity_id, version, ingested_at)."""
        if self._files is None:
            self._files = self._load()
        return self._files

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.platform.exists(self.path):
            return {}
        raw = self.platform.read(self.path)
        try:
            doc = json.loads(raw)
            files = doc["files"]
            if doc.get("format") != self.FORMAT or not isinstance(files, dict):
                raise ValueError(f"format {doc.get('format')!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise FileIngestionError(
                f"the file ingestion ledger {self.path!r} is unreadable ({exc}); restore it, or "
                f"delete it to treat every file left in the landing folders as new") from None
        return files

    def is_ingested(self, path: str, size: int) -> bool:
        rec = self.files().get(path)
        if rec is None or rec.get("size") != size:
            return False
        return bool(rec.get("sha256") == sha256_of(self.platform, path))

    def record(self, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """Add or replace records (absolute path -> fields) and save the ledger atomically."""
        files = dict(self._load())  # re-read: another run may have written since
        files.update({p: dict(rec) for p, rec in entries.items()})
        doc = {"format": self.FORMAT, "files": files}
        self.platform.write(self.path, json.dumps(doc, indent=1, sort_keys=True))
        self._files = files


def sha256_of(platform: PlatformService, path: str) -> str:
    return hashlib.sha256(platform.read(path)).hexdigest()


# -- results -----------------------------------------------------------------------

@dataclass(frozen=True)
class BatchResult:
    """One (entry, destination) batch that was committed."""

    entry_id: str
    dest_entity_id: str
    files: tuple[str, ...]
    rows_written: int
    mode: str  # "merge" or "append"
    version: int | None


@dataclass
class IngestionResult:
    """What :meth:`FileIngestionProcessor.process_path` did; paths are absolute."""

    batch_id: str
    path: str
    pattern: str | None
    file_count: int = 0
    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)      # path -> error
    skipped: list[str] = field(default_factory=list)          # already ingested (ledger)
    unmatched: list[str] = field(default_factory=list)        # no entry matches the name
    moved: dict[str, str] = field(default_factory=dict)       # source -> destination
    unmoved: dict[str, str] = field(default_factory=dict)     # committed, but the move failed
    batches: list[BatchResult] = field(default_factory=list)
    total_rows: int = 0

    @property
    def success_files(self) -> int:
        return len(self.succeeded)

    @property
    def failed_files(self) -> int:
        return len(self.failed)

    def __repr__(self) -> str:
        return (f"IngestionResult(batch_id={self.batch_id!r}, file_count={self.file_count}, "
                f"success_files={self.success_files}, failed_files={self.failed_files}, "
                f"total_rows={self.total_rows})")


@dataclass
class _Candidate:
    path: str
    name: str
    entry: FileIngestionEntry | None
    groups: dict[str, str | None]
    problem: str | None = None  # why it cannot be ingested, found while planning


@dataclass
class _ReadFile:
    path: str
    entry: FileIngestionEntry
    dest_entity_id: str
    df: DataFrame
    rows: int
    size: int
    sha256: str | None


# -- the processor -----------------------------------------------------------------

class FileIngestionProcessor(SignalEmitter):
    """Ingests the files of a folder into their entities, moving them only once committed.

    >>> result = FileIngestionProcessor().process_path("/landing", move_to="/archive")  # doctest: +SKIP
    >>> result.success_files, result.failed, result.total_rows                          # doctest: +SKIP
    (2, {'/landing/orders_20250102.csv': "cannot read csv file ...: Malformed records ..."}, 5)

    Listing, sizes, moves and the ledger go through the platform service, so
    ``platform.*`` signals report every file touched; writes go through the
    entity manager (``entity.*`` signals nest inside ``pre_process``).

    Signals Emitted:
        - ``file_ingestion.pre_process``: before a folder is processed
            - path (str): The folder, absolute
            - pattern (str | None): The regex file names were restricted to
            - file_count (int): Files to process (matched, not already ingested)
            - batch_id (str): Unique id of this run
        - ``file_ingestion.post_process``: after the folder is processed
            - success_files (int): Files whose rows were committed
            - failed_files (int): Files that failed alone
            - total_rows (int): Rows ingested (sum of ``post_file.rows_processed``)
            - duration_seconds (float)
        - ``file_ingestion.process_failed``: a batch as a whole failed (write, missing folder)
            - failed_file (str | None): The first file of the failed batch, or None
            - processed_files (int): Files committed before the failure
            - error, error_type, duration_seconds
        - ``file_ingestion.pre_file``: before a file is read
            - filename (str): The file name; ``file_path`` holds the absolute path
            - entry_id (str | None): The matching entry (None when ambiguous)
            - file_size_bytes (int)
        - ``file_ingestion.post_file``: the file was read and parsed completely
            - filename (str), rows_processed (int), duration_seconds (float)
        - ``file_ingestion.file_failed``: the file could not be read; it stays in place
            - filename (str), error, error_type, duration_seconds
        - ``file_ingestion.batch_built``: one (entry, destination) batch assembled
            - entry_id (str), file_count (int), dest_entity_id (str)
        - ``file_ingestion.batch_written``: the batch was committed
            - entry_id (str), rows_written (int), dest_entity_id (str), mode, version
        - ``file_ingestion.file_moved``: a committed file was moved to ``move_to``
            - source_path (str), dest_path (str)
    """

    EMITS: ClassVar[tuple[str, ...]] = (
        "file_ingestion.pre_process", "file_ingestion.post_process",
        "file_ingestion.process_failed", "file_ingestion.pre_file",
        "file_ingestion.post_file", "file_ingestion.file_failed",
        "file_ingestion.file_moved", "file_ingestion.batch_built",
        "file_ingestion.batch_written")

    def __init__(self, signal_provider: SignalProvider | None = None,
                 entity_manager: DataEntityManager | None = None,
                 platform: PlatformService | None = None, *,
                 ledger_path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(signal_provider)
        if entity_manager is None:
            from kindling.entity_manager import DataEntityManager

            entity_manager = DataEntityManager(signal_provider=signal_provider)
        if platform is None:
            from kindling.platform import PlatformService, get_platform_service

            platform = PlatformService(signal_provider) if signal_provider is not None else get_platform_service()
        self.entity_manager = entity_manager
        self.platform = platform
        self._ledger_path = os.fspath(ledger_path) if ledger_path is not None else None

    def ledger(self) -> IngestionLedger:
        """The ledger in force (the lakehouse's, unless ``ledger_path`` was given)."""
        path = self._ledger_path
        if path is None:
            from kindling.lakehouse import require_local

            path = os.path.join(require_local("file ingestion's ledger"), "_kindling", "file_ingestion",
                                "ledger.json")
        return IngestionLedger(self.platform, os.path.abspath(path))

    # -- the run
    def process_path(self, path: str | os.PathLike[str], pattern: str | None = None,
                     move_to: str | os.PathLike[str] | None = None) -> IngestionResult:
        """Ingest the files directly in ``path`` (not sub-folders) and return what happened.

        ``pattern`` (a regex the whole file name must match) restricts the run
        to some files; files no entry matches are left alone. ``move_to``: the
        folder committed files are moved to; ``None`` leaves them in place and
        records them in the ledger instead. Raises (after ``process_failed``)
        when a batch as a whole fails; a file that fails alone does not raise.
        """
        folder = absolute_path(path, "path")
        name_filter = _compile_filter(pattern)
        target = absolute_path(move_to, "move_to") if move_to is not None else None
        if target is not None and target == folder:
            raise FileIngestionError(
                f"move_to={target!r} is the folder being processed; move files to another folder "
                f"(e.g. {os.path.join(folder, 'processed')!r}) or pass move_to=None")
        result = IngestionResult(batch_id=str(uuid.uuid4()), path=folder, pattern=pattern)
        ledger = self.ledger()

        # Planning precedes pre_process: its file_count is the number of files to process.
        listing_error: BaseException | None = None
        candidates: list[_Candidate] = []
        try:
            candidates = self._plan(folder, name_filter, ledger, result)
        except OSError as exc:  # a missing folder fails the run as a whole, below
            listing_error = exc
        result.file_count = len(candidates)

        with self.operation("file_ingestion.process", path=folder, pattern=pattern,
                            file_count=len(candidates), batch_id=result.batch_id) as op:
            failed_file: str | None = None  # the first file of the batch being written
            try:
                if listing_error is not None:
                    raise listing_error
                read_files = [r for c in candidates
                              if (r := self._read_one(c, result, with_hash=target is None)) is not None]
                for (entry_id, dest), files in _group(read_files).items():
                    failed_file = files[0].path
                    batch = self._write_batch(entry_id, dest, files)
                    failed_file = None
                    result.batches.append(batch)
                    result.succeeded.extend(f.path for f in files)
                    result.total_rows += sum(f.rows for f in files)
                    # Only now are the rows committed: move the files, or record them.
                    self._settle(files, batch, target, ledger, result)
            except BaseException:
                op.set(failed_file=failed_file, processed_files=len(result.succeeded))
                raise
            op.set(success_files=result.success_files, failed_files=result.failed_files,
                   total_rows=result.total_rows)
        return result

    # -- planning
    def _plan(self, folder: str, name_filter: re.Pattern[str] | None, ledger: IngestionLedger,
              result: IngestionResult) -> list[_Candidate]:
        entries = list(_entries.values())
        candidates = []
        for p in self.platform.list(folder):
            name = os.path.basename(p)
            if name.startswith(_HIDDEN_PREFIXES):
                continue
            if name_filter is not None and name_filter.fullmatch(name) is None:
                continue
            matches = [(e, g) for e in entries if (g := e.match(name)) is not None]
            if not matches:
                result.unmatched.append(p)
                logger.info("no file ingestion entry matches %s; left alone", p)
                continue
            try:
                if ledger.is_ingested(p, self.platform.size(p)):
                    result.skipped.append(p)
                    continue
            except OSError:
                pass  # vanished or unreadable since listing: its file operation reports it
            if len(matches) > 1:
                ids = ", ".join(repr(e.entry_id) for e, _ in matches)
                candidates.append(_Candidate(p, name, None, {}, problem=(
                    f"file {name!r} matches entries {ids}; make their patterns exclusive so "
                    f"each file has one entry")))
            else:
                candidates.append(_Candidate(p, name, matches[0][0], matches[0][1]))
        return candidates

    # -- one file: read and parse it completely, inside its own operation
    def _read_one(self, c: _Candidate, result: IngestionResult, *, with_hash: bool) -> _ReadFile | None:
        from kindling.data_entities import DataEntities

        try:
            size, size_error = self.platform.size(c.path), None
        except OSError as exc:
            size, size_error = 0, exc
        started = time.perf_counter()
        try:
            with self.operation("file_ingestion.file", filename=c.name,
                                entry_id=c.entry.entry_id if c.entry else None,
                                file_size_bytes=size, file_path=c.path) as op:
                if size_error is not None:
                    raise size_error
                if c.entry is None:
                    raise FileIngestionError(c.problem or f"no entry for {c.name!r}")
                dest = c.entry.destination_for(c.groups)
                definition = DataEntities.get_entity_definition(dest)  # unknown -> UnknownEntityError
                digest = sha256_of(self.platform, c.path) if with_hash else None
                df, rows = self._read_dataframe(c, definition)
                op.set(rows_processed=rows, dest_entity_id=dest)
        except Exception as exc:
            # The file fails alone (file_failed was emitted); it stays where it is.
            result.failed[c.path] = describe_error(exc)
            logger.warning("file %s failed after %.2fs and stays in place: %s",
                           c.path, time.perf_counter() - started, describe_error(exc))
            return None
        return _ReadFile(c.path, c.entry, dest, df, rows, size, digest)

    def _read_dataframe(self, c: _Candidate, definition: EntityDefinition) -> tuple[DataFrame, int]:
        from pyspark.sql import functions as F

        entry = c.entry
        assert entry is not None
        spark = _spark()
        schema = definition.spark_schema()
        # Groups that name the destination are already in it; the others become columns.
        columns = {g: v for g, v in c.groups.items() if g not in entry.placeholders}
        try:
            malformed = _malformed_record(spark, entry, c.path)
            if malformed is not None:
                raise FileReadError(c.path, entry.filetype, ValueError(malformed))
            df = _reader(spark, entry, c.path, schema, set(columns))
            # Spark is lazy and prunes columns: parse every column of every row
            # now (FAILFAST), so a malformed file fails here, alone.
            probe = [F.count(F.lit(1))]
            if df.columns:
                probe.append(F.bit_xor(F.xxhash64(*[_hashable(df, col) for col in df.columns])))
            rows = int(df.agg(*probe).first()[0])  # type: ignore[index]
        except Exception as exc:
            if is_spark_error(exc):
                raise FileReadError(c.path, entry.filetype, exc) from exc
            raise
        for group, value in columns.items():
            column = F.lit(value)
            if schema is not None and group in schema.fieldNames():
                column = column.cast(schema[group].dataType)
            df = df.withColumn(group, column)
        return df, rows

    # -- one batch: union, write through the entity manager
    def _write_batch(self, entry_id: str, dest: str, files: list[_ReadFile]) -> BatchResult:
        from kindling.data_entities import DataEntities

        df = files[0].df
        for f in files[1:]:
            df = df.unionByName(f.df, allowMissingColumns=True)
        self.emit("file_ingestion.batch_built", entry_id=entry_id, file_count=len(files),
                  dest_entity_id=dest)
        definition = DataEntities.get_entity_definition(dest)
        merge_columns = list(definition.merge_columns)
        rows = sum(f.rows for f in files)
        mode = "merge" if merge_columns else "append"
        version: int | None = None
        if rows:  # a batch of empty files commits nothing
            try:
                if merge_columns:
                    merged = self.entity_manager.merge_to_entity(df, dest)
                    rows_written = merged.rows_inserted + merged.rows_updated
                    version = merged.version
                else:
                    rows_written = int(self.entity_manager.append_to_entity(df, dest))
            except Exception as exc:
                note = (f"while writing the batch of entry {entry_id!r} ({len(files)} file(s)) "
                        f"to entity {dest!r}; no file of this batch was moved")
                # A note keeps the exception's type (observers read error_type); Python 3.11+.
                add_note = getattr(exc, "add_note", None)
                if add_note is not None:
                    add_note(note)
                logger.error("%s: %s", note, describe_error(exc))
                raise
            if not merge_columns:
                # Outside the try: the rows are committed, so failing to read the
                # version must not report the batch as failed (its files would be
                # ingested again). The version is for observers only.
                try:
                    version = self.entity_manager.get_entity_version(dest)
                except Exception as exc:
                    logger.warning("batch of entry %r committed to %r; its version is unknown: %s",
                                   entry_id, dest, describe_error(exc))
        else:
            rows_written = 0
        self.emit("file_ingestion.batch_written", entry_id=entry_id, rows_written=rows_written,
                  dest_entity_id=dest, file_count=len(files), mode=mode, version=version)
        return BatchResult(entry_id, dest, tuple(f.path for f in files), rows_written, mode, version)

    # -- after the commit: move the files, or record them in the ledger
    def _settle(self, files: list[_ReadFile], batch: BatchResult, target: str | None,
                ledger: IngestionLedger, result: IngestionResult) -> None:
        record = {"batch_id": result.batch_id, "entry_id": batch.entry_id,
                  "dest_entity_id": batch.dest_entity_id, "version": batch.version,
                  "ingested_at": utc_timestamp()}
        to_record: dict[str, dict[str, Any]] = {}
        if target is None:
            to_record = {f.path: {**record, "size": f.size, "sha256": f.sha256} for f in files}
        else:
            for f in files:
                dest_path = _free_path(self.platform, target, os.path.basename(f.path), result.batch_id)
                try:
                    moved = self.platform.move(f.path, dest_path)
                except OSError as exc:
                    # Its rows are committed: record it so a re-run does not ingest it again.
                    result.unmoved[f.path] = describe_error(exc)
                    logger.error("ingested %s but could not move it to %s (%s); it is recorded in "
                                 "the ledger %s so it is not ingested again", f.path, dest_path,
                                 describe_error(exc), ledger.path)
                    to_record[f.path] = {**record, "size": f.size,
                                         "sha256": f.sha256 or sha256_of(self.platform, f.path)}
                    continue
                result.moved[f.path] = moved
                self.emit("file_ingestion.file_moved", source_path=f.path, dest_path=moved)
        if to_record:
            ledger.record(to_record)


# -- helpers -------------------------------------------------------------------------

def _compile_filter(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    if not isinstance(pattern, str) or not pattern:
        raise FileIngestionError(f"pattern={pattern!r} must be a regex string or None")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise FileIngestionError(
            f"pattern={pattern!r} is not a valid regex ({exc}); it must match whole file names, "
            r"e.g. pattern=r'sales_\d{8}\.csv' or r'.*\.json'") from None


def _group(files: list[_ReadFile]) -> dict[tuple[str, str], list[_ReadFile]]:
    groups: dict[tuple[str, str], list[_ReadFile]] = {}
    for f in files:
        groups.setdefault((f.entry.entry_id, f.dest_entity_id), []).append(f)
    return groups


def _free_path(platform: PlatformService, folder: str, name: str, batch_id: str) -> str:
    """``folder/name``, or a name tagged with the batch id if that file exists (a move replaces)."""
    candidate = os.path.join(folder, name)
    if not platform.exists(candidate):
        return candidate
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f"{stem}.{batch_id[:8]}{ext}")


def _spark() -> SparkSession:
    from kindling.spark_session import get_or_create_spark_session

    return get_or_create_spark_session()


def _reader(spark: SparkSession, entry: FileIngestionEntry, path: str,
            schema: StructType | None, group_names: set[str]) -> DataFrame:
    reader = spark.read.options(**entry.read_options)
    if entry.filetype == "parquet":
        return reader.parquet(path)
    reader = reader.option("mode", "FAILFAST")
    file_schema = None
    if schema is not None:
        from pyspark.sql.types import StructType

        file_schema = StructType([f for f in schema.fields if f.name not in group_names])
    if entry.filetype == "json":
        return (reader.schema(file_schema) if file_schema is not None else reader).json(path)
    reader = reader.option("header", "true")
    if file_schema is None:
        return reader.option("inferSchema", str(entry.infer_schema).lower()).csv(path)
    # CSV is positional: read the header, then type each column as the entity
    # declares it (undeclared ones as strings); Spark checks the header.
    from pyspark.sql.types import StringType, StructField, StructType

    header = spark.read.options(**entry.read_options).option("header", "true").csv(path).columns
    declared = {f.name: f for f in file_schema.fields}
    typed = StructType([declared.get(n) or StructField(n, StringType(), True) for n in header])
    return reader.schema(typed).option("enforceSchema", "false").csv(path)


def _malformed_record(spark: SparkSession, entry: FileIngestionEntry, path: str) -> str | None:
    """What is wrong with a CSV or JSON file that Spark would read without an error, or None.

    ``FAILFAST`` misses two things, checked here in one Spark job over the
    file's text (the records as Spark splits them: lines, or the whole file
    with ``multiLine``):

    * CSV: a quoted field never closed. Spark ends it at the end of the line
      and reads ``2,"abc`` as ``(2, "abc")``, the quote lost.
    * JSON: a line that is not one JSON value, e.g. ``{"id": 1}{"id": 2}`` or
      ``{"id": 1} junk``. Spark keeps the first value and drops the rest.
    """
    from pyspark.sql import functions as F

    options = {k.lower(): v for k, v in entry.read_options.items()}
    if entry.filetype == "parquet" or options.get("encoding", options.get("charset", "utf-8")).lower() \
            .replace("-", "") != "utf8":  # Spark's text reader reads UTF-8 only
        return None
    reader = spark.read.option("wholetext", options.get("multiline", "false").lower() == "true")
    if "linesep" in options:
        reader = reader.option("lineSep", options["linesep"])
    text = reader.text(path)
    value = F.col("value")
    if entry.filetype == "csv":
        quote = options.get("quote", '"')
        if len(quote) != 1:  # "" turns quoting off: nothing can be left open
            return None
        sep, escape = _java_literal(options.get("sep", options.get("delimiter", ","))), options.get("escape", "\\")
        q = _java_literal(quote)
        field_start = f"(?m)(^|{sep})"
        if escape:  # an escaped character (an escaped quote) is no quote
            value = F.regexp_replace(value, _java_literal(escape) + "(?s:.)", "")
        value = F.regexp_replace(value, q + q, "")  # a doubled quote is one quote inside a field
        value = F.regexp_replace(value, f"{field_start}{q}[^{q}]*{q}", "$1")  # closed quoted fields
        bad = value.rlike(field_start + q)
        if "comment" in options:
            bad = bad & ~F.col("value").startswith(options["comment"])
        problem = ("a quoted field is never closed in the record {}; Spark would read on as if it "
                   f"were. Close the quote, or escape a quote inside the field as {escape}{quote}")
    else:
        # Wrapped as [<line>,"<sentinel>"]: one JSON value, and nothing after it, parses to
        # exactly two strings, the second the sentinel (which a line can't guess).
        sentinel = uuid.uuid4().hex
        # Spark Connect refuses an empty options map: no options is None
        options = {k: v for k, v in entry.read_options.items() if k.lower() not in ("mode", "multiline")}
        wrapped = F.from_json(F.concat(F.lit("["), value, F.lit(f',"{sentinel}"]')), "array<string>",
                              options or None)
        bad = F.col("value").rlike(r"\S") & (
            wrapped.isNull() | (F.size(wrapped) != 2) | (F.element_at(wrapped, -1) != F.lit(sentinel)))
        problem = ("the record {} is not one JSON value (a second value, or text after it); Spark would "
                   "keep the first and drop the rest. Write one JSON object per line")
    found = text.where(bad).limit(1).collect()
    if not found:
        return None
    record = str(found[0][0])
    return problem.format(repr(record) if len(record) <= 80 else repr(record[:77]) + "...")


def _java_literal(text: str) -> str:
    """``text`` as a Java regex matching it literally."""
    return "\\Q" + text.replace("\\E", "\\E\\\\E\\Q") + "\\E"


def _hashable(df: DataFrame, name: str) -> Any:
    from pyspark.sql import functions as F

    col = F.col(f"`{name}`")
    # Spark refuses to hash maps; their JSON text parses them just as completely.
    return F.to_json(col) if "map<" in df.schema[name].dataType.simpleString() else col

"""File batches: CSV, JSON or Parquet files for a landing folder, some of them malformed.

A :class:`FileBatch` is plain data until :meth:`FileBatch.write` puts its
files in a folder (Parquet files are written by the Spark session you pass,
one small job each). Keys are unique across the batch, so the rows of the
well-formed files can be merged in one batch.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from pytest_kindling_signals.strategies._inputs import EntitySchema, entity_schemas, rows
from pytest_kindling_signals.strategies._validation import (
    InvalidArgument,
    check_bool,
    check_choices,
    check_int_range,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["FILETYPES", "FileBatch", "FileSpec", "file_batches"]

FILETYPES = ("csv", "json", "parquet")

#: How each file type is broken: a value the column's type can't hold, a cut-off record, or bytes
#: that are not a Parquet file at all. Spark reading with FAILFAST refuses each.
MALFORMED = {"csv": "a key that is not a number", "json": "a truncated record",
             "parquet": "not a Parquet file"}


@dataclass(frozen=True)
class FileSpec:
    """One file: its name, rows, and ``malformed`` (``None``, or how it is broken)."""

    name: str
    rows: tuple[tuple[Any, ...], ...]
    malformed: str | None = None


@dataclass(frozen=True)
class FileBatch:
    """Files of one ``filetype`` with rows fitting ``schema`` (declare the entity with it)."""

    schema: EntitySchema
    filetype: str
    files: tuple[FileSpec, ...]

    @property
    def good(self) -> list[FileSpec]:
        return [f for f in self.files if f.malformed is None]

    @property
    def bad(self) -> list[FileSpec]:
        return [f for f in self.files if f.malformed is not None]

    @property
    def good_rows(self) -> list[tuple[Any, ...]]:
        return [r for f in self.good for r in f.rows]

    @property
    def pattern(self) -> str:
        """A regex matching the batch's file names (for ``FileIngestionEntries.entry``)."""
        return rf"f\d+\.{self.filetype}"

    def write(self, folder: str | os.PathLike[str], spark: SparkSession | None = None) -> list[Path]:
        """Write every file into ``folder``; returns their paths. Parquet needs ``spark``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for f in self.files:
            path = folder / f.name
            if self.filetype == "parquet" and f.malformed is None:
                if spark is None:
                    raise InvalidArgument(f"FileBatch.write(folder, spark=None): {f.name} is a Parquet "
                                          f"file; pass the Spark session that writes it")
                _write_parquet(spark, self.schema, f.rows, path)
            else:
                path.write_bytes(_render(self.schema, self.filetype, f))
            paths.append(path)
        return paths


def _text(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _render(schema: EntitySchema, filetype: str, f: FileSpec) -> bytes:
    if filetype == "parquet":
        return b"PAR1 this is not a parquet file"
    records = [dict(zip(schema.names, map(_text, r))) for r in f.rows]
    if filetype == "json":
        lines = [json.dumps(r) for r in records]
        if f.malformed:
            lines.append(json.dumps(records[0] if records else {schema.key: 1})[:-3])
        return ("\n".join(lines) + "\n").encode()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(schema.names)
    for r in records:
        writer.writerow(["" if v is None else str(v).lower() if isinstance(v, bool) else v
                         for v in r.values()])
    if f.malformed:
        writer.writerow(["not-a-number"] + [""] * (len(schema.names) - 1))
    return out.getvalue().encode()


def _write_parquet(spark: SparkSession, schema: EntitySchema, file_rows: Any, path: Path) -> None:
    scratch = tempfile.mkdtemp(prefix="kindling-parquet-")
    try:
        out = os.path.join(scratch, "out")
        spark.createDataFrame(list(file_rows), schema.struct_type()).coalesce(1).write.parquet(out)
        part = next(p for p in os.listdir(out) if p.endswith(".parquet"))
        shutil.move(os.path.join(out, part), path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def file_batches(*, filetypes: Any = FILETYPES, max_files: int = 3, max_rows: int = 3,
                 malformed: bool = True, schema: EntitySchema | None = None) -> st.SearchStrategy[FileBatch]:
    """Batches of 1..``max_files`` files of one drawn file type; with ``malformed``, some are broken.

    Rows fit ``schema`` (default: a drawn one with an INT key, since a
    malformed CSV breaks the key's type); keys are unique across the batch.
    Shrinks to one well-formed CSV file with no rows.
    """
    fn = "file_batches"
    kinds = check_choices(fn, "filetypes", filetypes, FILETYPES)
    check_int_range(fn, "max_files", max_files, 1, 10)
    check_int_range(fn, "max_rows", max_rows, 0, 20)
    check_bool(fn, "malformed", malformed)
    if schema is not None and (not isinstance(schema, EntitySchema) or schema.type_of(schema.key) != "INT"):
        raise InvalidArgument(f"{fn}(schema={schema!r}): pass an EntitySchema whose key is INT "
                              f"(a malformed CSV puts text in the key), or None to draw one")
    schemas = st.just(schema) if schema is not None else entity_schemas(max_columns=3, key_types=["INT"])

    @st.composite
    def build(draw: st.DrawFn) -> FileBatch:
        s = draw(schemas)
        kind = draw(st.sampled_from(kinds))
        count = draw(st.integers(1, max_files))
        all_rows = draw(rows(s, max_size=max_rows * count))
        files = []
        for i in range(count):
            broken = malformed and draw(st.booleans())
            part = tuple(all_rows[i::count])
            files.append(FileSpec(f"f{i}.{kind}", part, MALFORMED[kind] if broken else None))
        return FileBatch(s, kind, tuple(files))

    return build()

"""File-ingestion declarations, the ledger, and the runs that need no Spark: fast, no JVM."""

from __future__ import annotations

import json
import os
import re

import pytest

import kindling
from kindling.data_entities import DataEntities
from kindling.file_ingestion import (
    FILETYPES,
    EntryDeclarationError,
    FileIngestionEntries,
    FileIngestionEntry,
    FileIngestionError,
    FileIngestionProcessor,
    IngestionLedger,
    UnknownEntryError,
    get_entry_definition,
    get_entry_ids,
)
from kindling.platform import PlatformService


def _sales_entry(entry_id: str = "daily_sales") -> FileIngestionEntry:
    return FileIngestionEntries.entry(
        entry_id, "Daily sales", [r"(?P<table>sales|refunds)_(?P<day>\d{8})\.csv"],
        "bronze.{table}", "csv", tags={"layer": "bronze"})


# -- declarations ------------------------------------------------------------------

def test_entry_registers_and_exposes_its_fields():
    e = _sales_entry()
    assert get_entry_ids() == ["daily_sales"]
    assert FileIngestionEntries.get_entry_definition("daily_sales") is e
    assert (e.name, e.filetype, e.tags, e.placeholders) == (
        "Daily sales", "csv", {"layer": "bronze"}, ("table",))
    assert e.patterns == (r"(?P<table>sales|refunds)_(?P<day>\d{8})\.csv",)


def test_named_groups_match_the_whole_name_and_fill_the_destination():
    e = _sales_entry()
    groups = e.match("refunds_20250102.csv")
    assert groups == {"table": "refunds", "day": "20250102"}
    assert e.destination_for(groups) == "bronze.refunds"
    assert e.match("refunds_20250102.csv.bak") is None  # the whole name must match
    assert e.match("xrefunds_20250102.csv") is None


def test_the_first_matching_pattern_wins():
    e = FileIngestionEntries.entry("ev", "Events", [r"ev_(?P<day>\d+)\.json", r"(?P<day>.+)\.json"],
                                   "bronze.events", "JSON")
    assert e.filetype == "json"
    assert e.match("ev_7.json") == {"day": "7"}
    assert e.match("other.json") == {"day": "other"}


def test_declaring_again_replaces_and_reset_clears():
    _sales_entry()
    FileIngestionEntries.entry("daily_sales", "Renamed", [r"x\.csv"], "bronze.x", "csv")
    assert get_entry_definition("daily_sales").name == "Renamed"
    assert get_entry_ids() == ["daily_sales"]
    kindling.reset()
    assert get_entry_ids() == []


def test_a_bad_regex_names_the_entry_and_the_pattern():
    with pytest.raises(EntryDeclarationError) as info:
        FileIngestionEntries.entry("orders", "Orders", [r"ok\.csv", r"orders_(\d+\.csv"],
                                   "bronze.orders", "csv")
    msg = str(info.value)
    assert "'orders'" in msg and r"'orders_(\\d+\\.csv'" in msg and "not a valid regex" in msg
    assert get_entry_ids() == []


def test_an_unsupported_filetype_lists_the_supported_ones():
    with pytest.raises(EntryDeclarationError, match=r"filetype='xlsx' is not supported; use one of "
                                                    r"'csv', 'json', 'parquet'"):
        FileIngestionEntries.entry("sheets", "Sheets", [r".*\.xlsx"], "bronze.sheets", "xlsx")
    assert FILETYPES == ("csv", "json", "parquet")


def test_a_placeholder_must_be_a_group_of_every_pattern():
    bad = r"(?P<t>\w+)\.csv"
    with pytest.raises(EntryDeclarationError, match=rf"uses \{{table\}}, but pattern {re.escape(repr(bad))} "
                                                    r"has no named group 'table'; add \(\?P<table>"):
        FileIngestionEntries.entry("t", "T", [r"(?P<table>\w+)\.json", bad], "bronze.{table}", "csv")


def test_patterns_must_be_a_list_not_one_string():
    with pytest.raises(EntryDeclarationError, match=r"patterns='a\.csv' is a single string; pass a list"):
        FileIngestionEntries.entry("a", "A", "a.csv", "bronze.a", "csv")
    with pytest.raises(EntryDeclarationError, match="patterns is empty"):
        FileIngestionEntries.entry("a", "A", [], "bronze.a", "csv")


def test_an_optional_group_that_did_not_match_cannot_name_the_destination():
    e = FileIngestionEntries.entry("o", "O", [r"(?:(?P<table>\w+)-)?data\.csv"], "bronze.{table}", "csv")
    with pytest.raises(FileIngestionError, match=r"needs group\(s\) table, which did not match"):
        e.destination_for(e.match("data.csv") or {})


def test_an_unknown_entry_suggests_close_matches():
    _sales_entry()
    with pytest.raises(UnknownEntryError, match=r"'daily_sale' \(did you mean 'daily_sales'\?\)"):
        get_entry_definition("daily_sale")


# -- the ledger --------------------------------------------------------------------

def test_the_ledger_knows_a_file_by_path_size_and_content(tmp_path, signal_recorder):
    fs = PlatformService()
    data = tmp_path / "landing" / "a.csv"
    fs.write(data, "id\n1\n")
    ledger = IngestionLedger(fs, str(tmp_path / "ledger.json"))
    assert not ledger.is_ingested(str(data), 5)
    ledger.record({str(data): {"size": 5, "sha256": fs_sha(fs, data), "batch_id": "b"}})
    assert IngestionLedger(fs, str(tmp_path / "ledger.json")).is_ingested(str(data), 5)
    fs.write(data, "id\n2\n")  # same name, same size, new content: a new file
    assert not IngestionLedger(fs, str(tmp_path / "ledger.json")).is_ingested(str(data), 5)
    # read and written through the platform service, so platform.* reports it
    assert "platform.file_written" in signal_recorder.names()
    assert "platform.file_read" in signal_recorder.names()


def fs_sha(fs: PlatformService, path: os.PathLike[str]) -> str:
    from kindling.file_ingestion import sha256_of

    return sha256_of(fs, str(path))


def test_an_unreadable_ledger_is_a_clear_error(tmp_path):
    (tmp_path / "ledger.json").write_text("{not json")
    with pytest.raises(FileIngestionError, match=r"ledger .*ledger\.json' is unreadable .* delete it"):
        IngestionLedger(PlatformService(), str(tmp_path / "ledger.json")).files()


# -- runs that never reach Spark ----------------------------------------------------------

@pytest.fixture
def processor(lakehouse):
    return FileIngestionProcessor()


@pytest.fixture
def landing(tmp_path):
    path = tmp_path / "landing"
    path.mkdir()
    return path


def test_bad_arguments_raise_before_any_signal(processor, tmp_path, signal_recorder):
    with pytest.raises(FileIngestionError, match=r"pattern='\(bad' is not a valid regex"):
        processor.process_path(tmp_path, pattern="(bad")
    with pytest.raises(FileIngestionError, match="move_to=.* is the folder being processed"):
        processor.process_path(tmp_path, move_to=tmp_path)
    assert signal_recorder.of("file_ingestion.*") == []


def test_a_missing_folder_fails_the_process(processor, tmp_path, signal_recorder, signal_catalog):
    with pytest.raises(FileNotFoundError, match="No such folder"):
        processor.process_path(tmp_path / "nowhere")
    assert signal_recorder.names() == ["file_ingestion.pre_process", "file_ingestion.process_failed"]
    failed = signal_recorder.last().payload
    assert (failed["error_type"], failed["failed_file"], failed["processed_files"]) == (
        "FileNotFoundError", None, 0)
    signal_recorder.assert_contract()


def test_files_without_an_entry_are_left_alone(processor, tmp_path, signal_recorder, signal_catalog):
    _sales_entry()
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "_SUCCESS").write_text("")
    result = processor.process_path(tmp_path)
    assert (result.file_count, result.unmatched, result.total_rows) == (0, [str(tmp_path / "notes.txt")], 0)
    pre, post = signal_recorder.of("file_ingestion.*")
    assert (pre.payload["file_count"], pre.payload["path"], pre.payload["pattern"]) == (0, str(tmp_path), None)
    assert (post.payload["success_files"], post.payload["failed_files"], post.payload["total_rows"]) == (0, 0, 0)
    assert (tmp_path / "notes.txt").exists()
    signal_recorder.assert_contract()


def test_a_file_matching_two_entries_or_no_entity_fails_alone(processor, landing, signal_recorder,
                                                              signal_catalog):
    FileIngestionEntries.entry("a", "A", [r"x_\d\.csv"], "bronze.a", "csv")
    FileIngestionEntries.entry("b", "B", [r"x_1\.csv"], "bronze.b", "csv")
    FileIngestionEntries.entry("c", "C", [r"y\.csv"], "bronze.undeclared", "csv")
    DataEntities.entity(entityid="bronze.a", name="a")
    for name in ("x_1.csv", "y.csv"):
        (landing / name).write_text("id\n1\n")
    result = processor.process_path(landing)
    assert result.success_files == 0 and set(result.failed) == {str(landing / "x_1.csv"), str(landing / "y.csv")}
    assert "matches entries 'a', 'b'; make their patterns exclusive" in result.failed[str(landing / "x_1.csv")]
    assert "Unknown entity id 'bronze.undeclared'" in result.failed[str(landing / "y.csv")]
    pre_files = [r.payload for r in signal_recorder.of("file_ingestion.pre_file")]
    assert [(p["filename"], p["entry_id"], p["file_size_bytes"]) for p in pre_files] == [
        ("x_1.csv", None, 5), ("y.csv", "c", 5)]
    assert [r.payload["error_type"] for r in signal_recorder.of("file_ingestion.file_failed")] == [
        "FileIngestionError", "UnknownEntityError"]
    post = signal_recorder.last("file_ingestion.post_process").payload
    assert (post["success_files"], post["failed_files"], post["total_rows"]) == (0, 2, 0)
    assert sorted(os.listdir(landing)) == ["x_1.csv", "y.csv"]  # nothing moved, nothing recorded
    signal_recorder.assert_contract()
    ledger = processor.ledger()
    assert not os.path.exists(ledger.path) or json.loads(open(ledger.path).read())["files"] == {}

"""PlatformService: every platform signal from a real file operation on disk.

Fast: no JVM. Files live in pytest's ``tmp_path``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kindling.platform import PlatformService, get_platform_service
from kindling.signaling import BlinkerSignalProvider
from pytest_kindling_signals.catalog import check_contract

pytestmark = pytest.mark.contract


@pytest.fixture
def fs(signal_provider: BlinkerSignalProvider) -> PlatformService:
    return PlatformService(signal_provider)


def _no_findings(recorder, catalog) -> None:  # type: ignore[no-untyped-def]
    findings = check_contract(recorder.records, catalog)
    assert not findings, "\n".join(map(str, findings))


# -- each signal, from a real operation ------------------------------------------

def test_all_four_signals_fire_with_valid_payloads(fs, signal_recorder, signal_catalog, tmp_path):
    src = fs.write(tmp_path / "landing" / "sales.csv", "id,amount\n1,10\n")
    fs.read(src)
    copied = fs.copy(src, tmp_path / "copies" / "sales.csv")
    moved = fs.move(copied, tmp_path / "processed" / "sales.csv")
    fs.delete(moved)
    (tmp_path / "etl.ipynb").write_text('{"cells": []}')
    fs.read_notebook(tmp_path / "etl.ipynb")

    assert set(signal_recorder.names()) == set(PlatformService.EMITS)
    assert all(r["platform"] == "standalone" for r in signal_recorder.records)
    _no_findings(signal_recorder, signal_catalog)


def test_write_creates_parents_and_reports_the_absolute_path(fs, signal_recorder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    returned = fs.write(Path("a") / "b" / "out.txt", b"\x00\x01")

    expected = str(tmp_path / "a" / "b" / "out.txt")
    assert returned == expected
    assert (tmp_path / "a" / "b" / "out.txt").read_bytes() == b"\x00\x01"
    assert [(r.name, r["file_path"]) for r in signal_recorder.records] == [
        ("platform.file_written", expected)]


def test_file_read_reports_the_bytes_read(fs, signal_recorder, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(4097))

    data = fs.read(path)

    (record,) = signal_recorder.of("platform.file_read")
    assert record["file_size_bytes"] == len(data) == 4097
    assert record["file_path"] == str(path)


def test_read_text_decodes_with_the_given_encoding(fs, signal_recorder, tmp_path):
    (tmp_path / "l1.txt").write_bytes("café".encode("latin-1"))

    assert fs.read_text(tmp_path / "l1.txt", encoding="latin-1") == "café"
    assert signal_recorder.last("platform.file_read")["file_size_bytes"] == 4


def test_write_replaces_atomically_and_leaves_no_temp_files(fs, tmp_path):
    target = tmp_path / "config.json"
    target.write_text("old")
    fs.write(target, "new")

    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
    # the temp file's 0600 must not leak: same mode open() gives a new file
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_copy_reads_the_source_and_writes_the_target(fs, signal_recorder, signal_catalog, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("hello")

    dst = fs.copy(src, tmp_path / "out" / "in.txt")

    assert Path(dst).read_text() == "hello" and src.exists()
    assert [(r.name, r["file_path"]) for r in signal_recorder.records] == [
        ("platform.file_read", str(src)), ("platform.file_written", dst)]
    assert signal_recorder.first("platform.file_read")["file_size_bytes"] == 5
    _no_findings(signal_recorder, signal_catalog)


def test_move_renames_and_emits_written_then_deleted(fs, signal_recorder, tmp_path):
    src = tmp_path / "landing" / "f.csv"
    src.parent.mkdir()
    src.write_text("x")
    inode = src.stat().st_ino

    dst = fs.move(src, tmp_path / "processed" / "2025" / "f.csv")

    assert not src.exists()
    assert Path(dst).read_text() == "x"
    assert Path(dst).stat().st_ino == inode  # a rename, not a copy
    assert [(r.name, r["file_path"]) for r in signal_recorder.records] == [
        ("platform.file_written", dst), ("platform.file_deleted", str(src))]


def test_move_replaces_an_existing_target(fs, tmp_path):
    (tmp_path / "a").write_text("new")
    (tmp_path / "b").write_text("old")

    fs.move(tmp_path / "a", tmp_path / "b")

    assert (tmp_path / "b").read_text() == "new" and not (tmp_path / "a").exists()


def test_move_carries_a_whole_folder(fs, signal_recorder, tmp_path):
    (tmp_path / "app" / "lib").mkdir(parents=True)
    (tmp_path / "app" / "lib" / "m.py").write_text("x = 1")

    fs.move(tmp_path / "app", tmp_path / "deployed" / "app")

    assert (tmp_path / "deployed" / "app" / "lib" / "m.py").read_text() == "x = 1"
    assert signal_recorder.names() == ["platform.file_written", "platform.file_deleted"]


def test_delete_removes_a_file(fs, signal_recorder, tmp_path):
    path = tmp_path / "gone.txt"
    path.write_text("x")

    fs.delete(path)

    assert not path.exists()
    assert signal_recorder.last("platform.file_deleted")["file_path"] == str(path)


def test_delete_needs_recursive_for_a_folder(fs, signal_recorder, tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f.txt").write_text("x")

    with pytest.raises(IsADirectoryError, match="recursive=True"):
        fs.delete(tmp_path / "d")
    assert (tmp_path / "d" / "e" / "f.txt").exists()
    assert signal_recorder.records == []

    fs.delete(tmp_path / "d", recursive=True)
    assert not (tmp_path / "d").exists()
    assert signal_recorder.names() == ["platform.file_deleted"]


def test_read_notebook_names_the_notebook_without_extension(fs, signal_recorder, signal_catalog, tmp_path):
    nb = tmp_path / "notebooks" / "bronze_load.py"
    nb.parent.mkdir()
    nb.write_text("# Databricks notebook source\nprint('hi')\n")

    source = fs.read_notebook(nb)

    assert source.startswith("# Databricks notebook source")
    assert signal_recorder.names() == ["platform.notebook_read"]  # not file_read as well
    assert signal_recorder.first("platform.notebook_read")["notebook_name"] == "bronze_load"
    _no_findings(signal_recorder, signal_catalog)


# -- queries: no signals -----------------------------------------------------------

def test_list_is_sorted_filtered_and_hides_temp_files(fs, signal_recorder, tmp_path):
    for name in ("b.csv", "a.csv", "notes.txt", "sub/c.csv", ".kindling-tmp-x.tmp"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")

    assert fs.list(tmp_path) == [str(tmp_path / n) for n in ("a.csv", "b.csv", "notes.txt")]
    assert fs.list(tmp_path, "*.csv") == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert fs.list(tmp_path, "*.csv", recursive=True) == [
        str(tmp_path / n) for n in ("a.csv", "b.csv", "sub/c.csv")]
    assert fs.exists(tmp_path / "a.csv") and not fs.exists(tmp_path / "zz")
    assert fs.size(tmp_path / "a.csv") == 1
    assert fs.makedirs(tmp_path / "new" / "deep") == str(tmp_path / "new" / "deep")
    assert (tmp_path / "new" / "deep").is_dir()
    assert signal_recorder.records == []


def test_list_of_a_file_or_missing_folder_says_so(fs, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        fs.list(tmp_path / "f")
    with pytest.raises(FileNotFoundError, match="No such folder") as info:
        fs.list(tmp_path / "missing")
    assert info.value.filename == str(tmp_path / "missing")


# -- failures: the error names the path, no signal, nothing changed -------------

def test_reading_a_missing_file_names_it_and_emits_nothing(fs, signal_recorder, tmp_path):
    missing = tmp_path / "nope.csv"
    for call in (fs.read, fs.read_text, fs.size, fs.delete, fs.read_notebook):
        with pytest.raises(FileNotFoundError) as info:
            call(missing)
        assert str(missing) in str(info.value)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        fs.copy(missing, tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        fs.move(missing, tmp_path / "x")
    assert signal_recorder.records == []
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_old_file_and_emits_nothing(fs, signal_recorder, tmp_path):
    # A real fault: the target is a folder, so the final os.replace fails.
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "keep.txt").write_text("kept")

    with pytest.raises(OSError):
        fs.write(tmp_path / "target", "data")

    assert (tmp_path / "target" / "keep.txt").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]  # temp file cleaned up
    assert signal_recorder.records == []


def test_a_failed_copy_leaves_the_target_untouched(fs, signal_recorder, tmp_path):
    # A real fault: the target's parent is a file, so no folder can be made there.
    (tmp_path / "src.txt").write_text("new")
    (tmp_path / "blocker").write_text("i am a file")

    with pytest.raises(OSError):
        fs.copy(tmp_path / "src.txt", tmp_path / "blocker" / "dst.txt")

    assert (tmp_path / "blocker").read_text() == "i am a file"
    assert signal_recorder.records == []


def test_bad_arguments_say_what_to_pass(fs, tmp_path):
    with pytest.raises(TypeError, match="bytes or str, got int"):
        fs.write(tmp_path / "x", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is not a path"):
        fs.read(42)  # type: ignore[arg-type]
    with pytest.raises(IsADirectoryError, match="is a folder"):
        fs.read(tmp_path)
    with pytest.raises(ValueError, match="platform=''"):
        PlatformService(platform="")
    assert not (tmp_path / "x").exists()


# -- the process default ---------------------------------------------------------------

def test_default_service_follows_the_default_provider(signal_recorder, tmp_path):
    fs = get_platform_service()
    assert fs is get_platform_service()

    fs.write(tmp_path / "a.txt", "x")

    assert signal_recorder.names() == ["platform.file_written"]


def test_platform_name_is_the_one_given(signal_provider, signal_recorder, tmp_path):
    PlatformService(signal_provider, platform="fabric").write(tmp_path / "a", "x")
    assert signal_recorder.first("platform.file_written")["platform"] == "fabric"

"""NotebookLoader: every notebooks signal from real notebook files, runs and wheel builds.

Notebooks are written in the three formats Kindling reads (Fabric source,
Databricks source, .ipynb). One test builds a wheel with the real pip,
installs it with the real pip and imports it in a fresh interpreter. No JVM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from docs_examples import run_blocks

from kindling.notebooks import NotebookBuildError, NotebookFormatError, NotebookLoader, parse_notebook
from kindling.pip_manager import PipManager
from kindling.signaling import BlinkerSignalProvider

pytestmark = pytest.mark.contract

DATABRICKS = textwrap.dedent("""\
    # Databricks notebook source
    # MAGIC %md
    # MAGIC # Cleaning helpers

    # COMMAND ----------

    # MAGIC %pip install nothing-to-see

    # COMMAND ----------

    # DBTITLE 1,Helpers
    def double(x):
        return 2 * x

    # COMMAND ----------

    # MAGIC %sql
    # MAGIC SELECT 1

    # COMMAND ----------

    TWICE = double(21)
    """)

FABRIC = textwrap.dedent("""\
    # Fabric notebook source

    # METADATA ********************

    # META {
    # META   "kernel_info": {"name": "synapse_pyspark"},
    # META   "dependencies": {}
    # META }

    # MARKDOWN ********************

    # # Enrich

    # PARAMETERS CELL ********************

    region = "emea"

    # METADATA ********************

    # META {
    # META   "language": "python",
    # META   "language_group": "synapse_pyspark"
    # META }

    # CELL ********************

    def label(name):
        return f"{region}:{name}"

    # METADATA ********************

    # META {
    # META   "language": "python",
    # META   "language_group": "synapse_pyspark"
    # META }

    # CELL ********************

    # MAGIC %%sql
    # MAGIC SELECT * FROM sales

    # METADATA ********************

    # META {
    # META   "language": "sparksql",
    # META   "language_group": "synapse_pyspark"
    # META }
    """)


def _ipynb(*cells: tuple[str, str]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True),
         **({"outputs": [], "execution_count": None} if kind == "code" else {})} for kind, src in cells]})


REPORT = _ipynb(("markdown", "# Report"),
                ("code", "%load_ext autoreload\n!ls\ntotal = sum([1, 2, 3])"),
                ("code", "%%bash\necho hi"),
                ("code", "def summary():\n    return f'total={total}'"))


@pytest.fixture
def notebooks_root(tmp_path: Path) -> Path:
    root = tmp_path / "notebooks"
    sales = root / "sales"
    (sales / "Enrich.Notebook").mkdir(parents=True)
    (sales / "clean.py").write_text(DATABRICKS)
    (sales / "Enrich.Notebook" / "notebook-content.py").write_text(FABRIC)
    (sales / "report.ipynb").write_text(REPORT)
    (sales / "helpers.py").write_text("X = 1\n")  # a plain module: not a notebook
    (root / "other").mkdir()
    (root / "other" / "one.ipynb").write_text(_ipynb(("code", "ONE = 1")))
    (root / "empty").mkdir()
    (root / "empty" / "readme.txt").write_text("no notebooks here")
    return root


@pytest.fixture
def loader(signal_provider: BlinkerSignalProvider) -> NotebookLoader:
    return NotebookLoader(signal_provider)


def _ours(recorder) -> list[str]:  # type: ignore[no-untyped-def]
    return [n for n in recorder.names() if n.startswith("notebooks.")]


# -- discovery --------------------------------------------------------------------

def test_discover_packages_finds_folders_of_notebooks(loader, notebooks_root, signal_recorder):
    packages = loader.discover_packages(notebooks_root)

    assert [p.name for p in packages] == ["other", "sales"]
    sales = packages[1]
    assert [os.path.relpath(n, sales.path) for n in sales.notebooks] == [
        os.path.join("Enrich.Notebook", "notebook-content.py"), "clean.py", "report.ipynb"]
    event = signal_recorder.first("notebooks.packages_discovered")
    assert (event["packages"], event["package_count"], event["root"]) == (["other", "sales"], 2, str(notebooks_root))
    signal_recorder.assert_contract()


def test_discovering_a_missing_folder_names_it(loader, tmp_path):
    with pytest.raises(NotADirectoryError, match="nowhere.*one sub-folder per package"):
        loader.discover_packages(tmp_path / "nowhere")


# -- parsing ----------------------------------------------------------------------

def test_each_format_parses_into_code_cells_without_magics(notebooks_root):
    sales = notebooks_root / "sales"
    clean = parse_notebook(DATABRICKS, path=str(sales / "clean.py"))
    assert (clean.name, clean.format) == ("clean", "databricks")
    assert [c.kind for c in clean.cells] == ["markdown", "magic", "code", "magic", "code"]
    assert [c.source for c in clean.code_cells] == ["def double(x):\n    return 2 * x", "TWICE = double(21)"]

    enrich = parse_notebook(FABRIC, path=str(sales / "Enrich.Notebook" / "notebook-content.py"))
    assert (enrich.name, enrich.format) == ("Enrich", "fabric")
    assert [c.kind for c in enrich.cells] == ["markdown", "code", "code", "magic"]
    assert enrich.cells[0].source == "# Enrich"

    report = parse_notebook(REPORT, path="report.ipynb")
    assert [c.kind for c in report.cells] == ["markdown", "code", "magic", "code"]
    assert report.code_cells[0].source == "total = sum([1, 2, 3])"

    with pytest.raises(NotebookFormatError, match="not a notebook; a .py notebook starts with"):
        parse_notebook("x = 1\n", path="plain.py")


# -- load and execute ----------------------------------------------------------------

def test_execute_runs_code_cells_in_a_fresh_module(loader, notebooks_root, signal_recorder):
    sales = notebooks_root / "sales"
    clean = loader.execute_notebook(sales / "clean.py")
    # a parameter overrides the parameters cell's default, as a pipeline run's would
    enrich = loader.execute_notebook(sales / "Enrich.Notebook" / "notebook-content.py", parameters={"region": "apac"})
    report = loader.execute_notebook(sales / "report.ipynb", parameters={"total": -1})

    assert clean.TWICE == 42 and enrich.label("x") == "apac:x"
    assert report.summary() == "total=6"  # no parameters cell: set before the first cell, which overrides it
    assert _ours(signal_recorder) == ["notebooks.notebook_loaded", "notebooks.notebook_executed"] * 3
    loaded = signal_recorder.of("notebooks.notebook_loaded")
    assert [(r["notebook_name"], r["cell_count"]) for r in loaded] == [("clean", 2), ("Enrich", 2), ("report", 2)]
    assert signal_recorder.of("platform.notebook_read")  # read through the platform service
    signal_recorder.assert_contract()


def test_a_raising_cell_fails_the_notebook_with_its_error(loader, tmp_path, signal_recorder):
    nb = tmp_path / "broken.ipynb"
    nb.write_text(_ipynb(("code", "rows = 10"), ("code", "ratio = rows / 0"), ("code", "never = True")))

    with pytest.raises(ZeroDivisionError):
        loader.execute_notebook(nb)

    assert _ours(signal_recorder) == ["notebooks.notebook_loaded", "notebooks.notebook_failed"]
    failed = signal_recorder.first("notebooks.notebook_failed")
    assert (failed["notebook_name"], failed["error_type"], failed["failed_cell"]) == ("broken", "ZeroDivisionError", 2)
    assert failed["error"] == "division by zero"
    signal_recorder.assert_contract()


def test_an_unreadable_notebook_fails_naming_the_file(loader, tmp_path, signal_recorder):
    nb = tmp_path / "corrupt.ipynb"
    nb.write_text('{"cells": [')

    with pytest.raises(NotebookFormatError, match=r"corrupt\.ipynb: not valid notebook JSON"):
        loader.execute_notebook(nb)

    assert _ours(signal_recorder) == ["notebooks.notebook_loaded", "notebooks.notebook_failed"]
    assert signal_recorder.first("notebooks.notebook_failed")["error_type"] == "NotebookFormatError"
    signal_recorder.assert_contract()


# -- build ------------------------------------------------------------------------------

@pytest.mark.slow
def test_build_package_makes_an_installable_wheel(loader, notebooks_root, signal_recorder, tmp_path):
    out = tmp_path / "dist"
    wheel = loader.build_package(notebooks_root / "sales", out)

    assert wheel == str(out / "sales-0.1.0-py3-none-any.whl")
    assert _ours(signal_recorder) == ["notebooks.pre_build", "notebooks.post_build"]
    pre, post = signal_recorder.first("notebooks.pre_build"), signal_recorder.first("notebooks.post_build")
    assert (pre["package_name"], pre["notebook_count"]) == ("sales", 3)
    assert (post["wheel_file"], post["wheel_size_bytes"]) == (wheel, os.path.getsize(wheel))
    assert post["modules"] == ["clean", "enrich", "report"]
    assert signal_recorder.first("pip.pre_wheel")["parent_operation_id"] == pre["operation_id"]
    signal_recorder.assert_contract()

    # install it with the real pip and import it in a fresh interpreter
    target = tmp_path / "libs"
    PipManager(BlinkerSignalProvider()).install_packages([wheel], target=target, no_index=True)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from sales.enrich import label; from sales.report import summary; from sales.clean import double; "
            "print(label('a'), summary(), double(21))")
    done = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["emea:a", "total=6", "42"]


def test_a_cell_that_does_not_compile_fails_the_build_and_writes_nothing(
        loader, notebooks_root, signal_recorder, tmp_path):
    (notebooks_root / "sales" / "report.ipynb").write_text(_ipynb(("code", "x = 1"), ("code", "def broken(:\n    pass")))
    out = tmp_path / "dist"
    out.mkdir()
    (out / "older.whl").write_bytes(b"kept")

    with pytest.raises(NotebookBuildError, match=r"notebook 'report' \(.*report\.ipynb\), cell 2, line 1"):
        loader.build_package(notebooks_root / "sales", out)

    assert os.listdir(out) == ["older.whl"]
    assert _ours(signal_recorder) == ["notebooks.pre_build", "notebooks.build_failed"]
    failed = signal_recorder.first("notebooks.build_failed")
    assert (failed["package_name"], failed["error_type"]) == ("sales", "NotebookBuildError")
    signal_recorder.assert_contract()


def test_a_folder_without_notebooks_fails_the_build(loader, notebooks_root, signal_recorder, tmp_path):
    with pytest.raises(NotebookBuildError, match="holds no notebooks"):
        loader.build_package(notebooks_root / "empty", tmp_path / "dist")
    assert _ours(signal_recorder) == ["notebooks.pre_build", "notebooks.build_failed"]
    assert signal_recorder.first("notebooks.pre_build")["notebook_count"] == 0
    assert not (tmp_path / "dist").exists()
    signal_recorder.assert_contract()


@pytest.mark.slow
def test_the_docs_page_examples_run():
    assert run_blocks("providers/notebooks.md") == 2

"""Notebook packages: find them, load and run their notebooks, build them into wheels.

A notebook package is a folder of notebooks. Three notebook formats are read:

- **Fabric source** (``.py``, as Fabric's git integration stores it, often as
  ``<Name>.Notebook/notebook-content.py``): a ``# Fabric notebook source``
  header, cells opened by ``# CELL ********************`` (or ``# PARAMETERS
  CELL``, ``# MARKDOWN``), and ``# METADATA`` blocks of ``# META`` lines that
  give each cell's language.
- **Databricks source** (``.py``): a ``# Databricks notebook source`` header,
  cells separated by ``# COMMAND ----------``, magics as ``# MAGIC`` lines.
- **Jupyter** (``.ipynb`` JSON).

Only Python code runs: markdown cells, SQL / Scala / shell cells and line
magics (``%pip``, ``%run``, ``!ls``) are dropped; a ``%%pyspark`` or
``%python`` cell's body is kept as Python::

    >>> loader = NotebookLoader()                                    # doctest: +SKIP
    >>> [p.name for p in loader.discover_packages("notebooks")]      # doctest: +SKIP
    ['sales_pipes']
    >>> module = loader.execute_notebook("notebooks/sales_pipes/clean.py")  # doctest: +SKIP
    >>> loader.build_package("notebooks/sales_pipes", "dist")        # doctest: +SKIP
    '/abs/dist/sales_pipes-0.1.0-py3-none-any.whl'
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import textwrap
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from kindling.pip_manager import PipManager
from kindling.platform import PlatformService, get_platform_service
from kindling.signaling import SignalEmitter, SignalProvider

__all__ = ["Cell", "Notebook", "NotebookBuildError", "NotebookFormatError", "NotebookLoader",
           "NotebookPackage", "parse_notebook"]

PathLike = str | os.PathLike[str]

FABRIC_HEADER = "# Fabric notebook source"
DATABRICKS_HEADER = "# Databricks notebook source"
_FABRIC_MARKER = re.compile(r"^# (CELL|PARAMETERS CELL|MARKDOWN|METADATA) \*{5,}\s*$")
_DATABRICKS_SEPARATOR = re.compile(r"^# COMMAND -{5,}\s*$")
_PYTHON_CELL_MAGICS = ("%%pyspark", "%%python", "%python")
_FABRIC_NOTEBOOK_DIR = ".Notebook"
_FABRIC_CONTENT = "notebook-content.py"


class NotebookFormatError(ValueError):
    """A file is not a notebook in a format Kindling reads, or is malformed."""


class NotebookBuildError(RuntimeError):
    """A notebook package cannot be built into a wheel."""


@dataclass(frozen=True)
class Cell:
    """One cell: ``kind`` is ``code``, ``markdown`` or ``magic`` (not run); ``index`` counts from 1."""

    index: int
    kind: str
    source: str
    parameters: bool = False
    """A parameters cell (Fabric ``PARAMETERS CELL``, a Jupyter cell tagged ``parameters``)."""


@dataclass(frozen=True)
class Notebook:
    """A parsed notebook."""

    name: str
    path: str
    format: str
    """``fabric``, ``databricks`` or ``ipynb``."""
    cells: tuple[Cell, ...]

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "code" and c.source.strip()]

    def python_source(self) -> str:
        """The code cells as one Python module, each under a ``# cell N`` comment."""
        return "\n\n".join(f"# cell {c.index}\n{c.source.rstrip()}" for c in self.code_cells) + "\n"


@dataclass(frozen=True)
class NotebookPackage:
    """A folder of notebooks."""

    name: str
    path: str
    notebooks: tuple[str, ...]
    """The notebook files, sorted."""


class NotebookLoader(SignalEmitter):
    """Discovers notebook packages, runs notebooks, builds packages into wheels.

    Notebooks are read through :meth:`PlatformService.read_notebook`
    (``platform.notebook_read``). :meth:`execute_notebook` runs the code
    cells in order in a fresh module's namespace; its lifecycle is
    ``notebook_loaded`` (the source was read and parsed, ``cell_count``) then
    ``notebook_executed`` or ``notebook_failed`` (with ``failed_cell`` when a
    cell raised; a source that can't be read or parsed fails too).

    >>> NotebookLoader().execute_notebook("nb/setup.ipynb").CONFIG   # doctest: +SKIP

    Signals Emitted:
        - ``notebooks.packages_discovered``: ``packages``, ``package_count``, ``root``
        - ``notebooks.notebook_loaded``: ``notebook_name``, ``notebook_path``, ``cell_count``
        - ``notebooks.notebook_executed``: ``notebook_name``, ``duration_seconds``
        - ``notebooks.notebook_failed``: ``notebook_name``, ``error``, ``error_type``, ``failed_cell``, ``duration_seconds``
        - ``notebooks.pre_build``: ``package_name``, ``notebook_count``
        - ``notebooks.post_build``: ``wheel_file``, ``wheel_size_bytes``, ``duration_seconds``
        - ``notebooks.build_failed``: ``package_name``, ``error``, ``error_type``, ``duration_seconds``
    """

    EMITS: ClassVar[tuple[str, ...]] = (
        "notebooks.packages_discovered", "notebooks.pre_build", "notebooks.post_build",
        "notebooks.build_failed", "notebooks.notebook_loaded", "notebooks.notebook_executed",
        "notebooks.notebook_failed")

    def __init__(self, signal_provider: SignalProvider | None = None, *,
                 platform: PlatformService | None = None, pip_manager: PipManager | None = None) -> None:
        super().__init__(signal_provider)
        # The provider's own platform service, so platform.* goes where the caller listens.
        self.platform = platform or (
            PlatformService(signal_provider) if signal_provider is not None else get_platform_service())
        self.pip = pip_manager or PipManager(signal_provider)

    # -- discovery
    def discover_packages(self, root: PathLike) -> list[NotebookPackage]:
        """Every folder directly under ``root`` that holds notebooks (at any depth), sorted by name.

        >>> [p.name for p in NotebookLoader().discover_packages("notebooks")]  # doctest: +SKIP
        ['bronze', 'silver']
        """
        base = os.path.abspath(os.fspath(root))
        if not os.path.isdir(base):
            raise NotADirectoryError(f"root={base!r} is not a folder; pass the folder that holds "
                                     f"your notebook packages (one sub-folder per package)")
        packages = []
        for entry in sorted(os.listdir(base)):
            path = os.path.join(base, entry)
            if entry.startswith(".") or not os.path.isdir(path) or entry.endswith(_FABRIC_NOTEBOOK_DIR):
                continue
            found = self.find_notebooks(path)
            if found:
                packages.append(NotebookPackage(entry, path, tuple(found)))
        self.emit("notebooks.packages_discovered", packages=[p.name for p in packages],
                  package_count=len(packages), root=base)
        return packages

    def find_notebooks(self, folder: PathLike) -> list[str]:
        """The notebook files under ``folder`` (any depth), sorted."""
        return [f for f in self.platform.list(folder, recursive=True) if _is_notebook_file(f)]

    # -- loading and running
    def load_notebook(self, path: PathLike) -> Notebook:
        """Read (``platform.notebook_read``) and parse a notebook; no ``notebooks.*`` signal.

        >>> [c.kind for c in NotebookLoader().load_notebook("nb/clean.py").cells]  # doctest: +SKIP
        ['markdown', 'code', 'magic']
        """
        p = os.path.abspath(os.fspath(path))
        return parse_notebook(self.platform.read_notebook(p), path=p)

    def execute_notebook(self, path: PathLike, *, parameters: Mapping[str, Any] | None = None) -> types.ModuleType:
        """Run the notebook's code cells in order in a fresh module; returns the module.

        ``parameters`` become globals right after the notebook's parameters
        cell (Fabric's ``PARAMETERS CELL``, a Jupyter cell tagged
        ``parameters``), overriding its defaults as a pipeline run would, or
        before the first cell if it has none. An exception in a cell
        propagates unchanged after ``notebook_failed``.

        >>> NotebookLoader().execute_notebook("nb/clean.py", parameters={"day": "2025-01-20"})  # doctest: +SKIP
        <module 'clean' from '/abs/nb/clean.py'>
        """
        p = os.path.abspath(os.fspath(path))
        name = notebook_name(p)
        # Load first, so notebook_loaded reports the cells; a load error is raised inside the
        # operation below, where it becomes notebook_failed.
        notebook: Notebook | None = None
        problem: Exception | None = None
        try:
            notebook = self.load_notebook(p)
        except Exception as exc:
            problem = exc
        cell_count = len(notebook.code_cells) if notebook is not None else 0
        with self.operation("notebooks.notebook", notebook_name=name, notebook_path=p,
                            cell_count=cell_count) as op:
            if problem is not None:
                raise problem
            assert notebook is not None
            module = types.ModuleType(_module_name(name))
            module.__file__ = p
            cells = notebook.code_cells
            has_parameters_cell = any(c.parameters for c in cells)
            if not has_parameters_cell:
                module.__dict__.update(parameters or {})
            for cell in cells:
                try:
                    exec(compile(cell.source, f"{p} [cell {cell.index}]", "exec"), module.__dict__)  # noqa: S102
                except BaseException:
                    op.set(failed_cell=cell.index)
                    raise
                if cell.parameters:
                    module.__dict__.update(parameters or {})
        return module

    # -- building
    def build_package(self, package_dir: PathLike, out_dir: PathLike, *, version: str = "0.1.0",
                      package_name: str | None = None) -> str:
        """Build the notebooks of ``package_dir`` into an installable wheel in ``out_dir``.

        Each notebook becomes a module of a package named after the folder
        (``package_name`` overrides): its code cells in order, magics and
        markdown dropped. The wheel is built with
        :meth:`PipManager.build_wheel` (offline, no build isolation). A
        notebook whose code does not compile fails the build, naming the
        notebook and cell; ``out_dir`` is then left as it was.

        >>> NotebookLoader().build_package("notebooks/sales", "dist")  # doctest: +SKIP
        '/abs/dist/sales-0.1.0-py3-none-any.whl'
        """
        src = os.path.abspath(os.fspath(package_dir))
        name = _module_name(package_name or os.path.basename(src))
        found, problem = [], None
        try:
            found = self.find_notebooks(src)
        except OSError as exc:
            problem = exc
        with self.operation("notebooks.build", package_name=name, notebook_count=len(found)) as op:
            if problem is not None:
                raise problem
            if not found:
                raise NotebookBuildError(f"{src!r} holds no notebooks (.ipynb, or .py with a "
                                         f"'{FABRIC_HEADER}' or '{DATABRICKS_HEADER}' header)")
            modules = self._modules(found)
            with tempfile.TemporaryDirectory(prefix="kindling-nbbuild-") as tmp:
                project = Path(tmp, name)
                _write_project(project, name, version, modules)
                wheel = self.pip.build_wheel(project, out_dir)
            op.set(wheel_file=wheel, wheel_size_bytes=os.path.getsize(wheel), modules=sorted(modules))
        return wheel

    def _modules(self, notebooks: list[str]) -> dict[str, str]:
        modules: dict[str, str] = {}
        origin: dict[str, str] = {}
        for path in notebooks:
            nb = self.load_notebook(path)
            mod = _module_name(nb.name)
            if mod in modules:
                raise NotebookBuildError(f"notebooks {origin[mod]!r} and {path!r} both become module "
                                         f"{mod!r}; rename one of them")
            for cell in nb.code_cells:
                try:
                    compile(cell.source, f"{path} [cell {cell.index}]", "exec")
                except SyntaxError as exc:
                    raise NotebookBuildError(f"notebook {nb.name!r} ({path}), cell {cell.index}, line "
                                             f"{exc.lineno}: {exc.msg}; fix the cell and build again") from None
            modules[mod], origin[mod] = nb.python_source(), path
        return modules


# -- parsing ---------------------------------------------------------------------

def notebook_name(path: PathLike) -> str:
    """``clean`` for ``clean.py`` / ``clean.ipynb`` and for Fabric's ``clean.Notebook/notebook-content.py``."""
    p = Path(os.fspath(path))
    if p.name == _FABRIC_CONTENT and p.parent.name.endswith(_FABRIC_NOTEBOOK_DIR):
        return p.parent.name[: -len(_FABRIC_NOTEBOOK_DIR)]
    return p.stem


def _is_notebook_file(path: str) -> bool:
    if path.endswith(".ipynb"):
        return True
    if not path.endswith(".py"):
        return False
    # A peek at the header to tell notebooks from plain modules; the load itself
    # goes through PlatformService.read_notebook.
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.readline().strip()
    except OSError:
        return False
    return head in (FABRIC_HEADER, DATABRICKS_HEADER)


def parse_notebook(source: str, *, path: str) -> Notebook:
    """Parse a notebook's source; the format comes from the header or the ``.ipynb`` suffix.

    >>> nb = parse_notebook("# Databricks notebook source\\nx = 1\\n# COMMAND ----------\\n"
    ...                     "# MAGIC %md\\n# MAGIC # Title\\n", path="demo.py")
    >>> [(c.kind, c.source) for c in nb.cells]
    [('code', 'x = 1'), ('markdown', '# Title')]
    """
    name = notebook_name(path)
    if path.endswith(".ipynb"):
        return Notebook(name, path, "ipynb", _parse_ipynb(source, path))
    first = source.lstrip("\ufeff").split("\n", 1)[0].strip()
    if first == FABRIC_HEADER:
        return Notebook(name, path, "fabric", _parse_fabric(source))
    if first == DATABRICKS_HEADER:
        return Notebook(name, path, "databricks", _parse_databricks(source))
    raise NotebookFormatError(f"{path}: not a notebook; a .py notebook starts with {FABRIC_HEADER!r} "
                              f"or {DATABRICKS_HEADER!r} (first line is {first[:60]!r})")


def _magic_cell(lines: list[str]) -> Cell | None:
    """A cell written as ``# MAGIC`` lines: Python magics become code, others stay magic."""
    body = [ln[len("# MAGIC"):].removeprefix(" ") for ln in lines if ln.strip()]
    if not body or not all(ln.startswith("# MAGIC") for ln in lines if ln.strip()):
        return None
    head = body[0].strip()
    if head in _PYTHON_CELL_MAGICS:
        return Cell(0, "code", "\n".join(body[1:]))
    return Cell(0, "markdown" if head.startswith("%md") else "magic",
                "\n".join(body[1:] if head.startswith("%md") else body))


def _code(lines: list[str]) -> str:
    # Stray magic lines in a Python cell (a '# MAGIC %pip install x') are not Python.
    kept = [ln for ln in lines if not ln.startswith(("# MAGIC", "# DBTITLE"))]
    return "\n".join(kept).strip("\n")


def _parse_databricks(source: str) -> tuple[Cell, ...]:
    chunks: list[list[str]] = [[]]
    for line in source.splitlines()[1:]:
        if _DATABRICKS_SEPARATOR.match(line):
            chunks.append([])
        else:
            chunks[-1].append(line)
    cells: list[Cell] = []
    for lines in chunks:
        if not any(ln.strip() for ln in lines):
            continue
        magic = _magic_cell([ln for ln in lines if not ln.startswith("# DBTITLE")])
        cell = magic or Cell(0, "code", _code(lines))
        cells.append(Cell(len(cells) + 1, cell.kind, cell.source))
    return tuple(cells)


def _parse_fabric(source: str) -> tuple[Cell, ...]:
    blocks: list[tuple[str, list[str]]] = []
    for line in source.splitlines()[1:]:
        m = _FABRIC_MARKER.match(line)
        if m:
            blocks.append((m.group(1), []))
        elif blocks:
            blocks[-1][1].append(line)
    # A METADATA block describes the cell above it (the first one, the notebook).
    content: list[tuple[str, list[str], list[str]]] = []
    for marker, lines in blocks:
        if marker == "METADATA":
            if content:
                content[-1][2].extend(lines)
        else:
            content.append((marker, lines, []))
    cells: list[Cell] = []
    for marker, lines, meta in content:
        language = _fabric_language(meta)
        if marker == "MARKDOWN":
            text = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines)
            cell = Cell(0, "markdown", text.strip("\n"))
        elif language not in (None, "python"):
            cell = Cell(0, "magic", "\n".join(lines).strip("\n"))
        else:
            cell = _magic_cell(lines) or Cell(0, "code", _code(lines))
        cells.append(Cell(len(cells) + 1, cell.kind, cell.source, marker == "PARAMETERS CELL"))
    return tuple(cells)


def _fabric_language(meta: list[str]) -> str | None:
    text = "\n".join(ln[len("# META"):] for ln in meta)
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return None
    lang = data.get("language") if isinstance(data, dict) else None
    return str(lang) if lang else None


def _parse_ipynb(source: str, path: str) -> tuple[Cell, ...]:
    try:
        data = json.loads(source)
    except ValueError as exc:
        raise NotebookFormatError(f"{path}: not valid notebook JSON ({exc}); re-save it from Jupyter") from None
    raw_cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(raw_cells, list):
        raise NotebookFormatError(f"{path}: an .ipynb needs a top-level 'cells' list (nbformat 4)")
    cells = []
    for i, raw in enumerate(raw_cells, 1):
        src = raw.get("source", "") if isinstance(raw, dict) else ""
        text = "".join(src) if isinstance(src, list) else str(src)
        kind = raw.get("cell_type") if isinstance(raw, dict) else None
        tags = (raw.get("metadata") or {}).get("tags") or [] if isinstance(raw, dict) else []
        if kind == "markdown":
            cells.append(Cell(i, "markdown", text))
        elif kind == "code":
            head = text.lstrip().split("\n", 1)[0].strip()
            if head.startswith("%%"):
                body = text.lstrip().split("\n", 1)[1] if "\n" in text.lstrip() else ""
                cells.append(Cell(i, "code", body) if head in _PYTHON_CELL_MAGICS else Cell(i, "magic", text))
            else:
                # Line magics and shell escapes are IPython, not Python.
                code = "\n".join(ln for ln in text.split("\n") if not ln.lstrip().startswith(("%", "!")))
                cells.append(Cell(i, "code", code, "parameters" in tags))
    return tuple(cells)


# -- building --------------------------------------------------------------------

def _module_name(name: str) -> str:
    mod = re.sub(r"\W+", "_", name).strip("_").lower() or "notebook"
    return f"_{mod}" if mod[0].isdigit() else mod


def _write_project(project: Path, name: str, version: str, modules: dict[str, str]) -> None:
    # A scratch project in a temp folder, removed after the build: plain writes, not platform ones.
    pkg = project / name
    pkg.mkdir(parents=True)
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "{version}"
        description = "Notebook package {name}, built by Kindling's NotebookLoader"

        [tool.setuptools]
        packages = ["{name}"]
        """), encoding="utf-8")
    listing = ", ".join(sorted(modules))
    (pkg / "__init__.py").write_text(f'"""Notebooks of {name}: {listing}."""\n', encoding="utf-8")
    for mod, source in modules.items():
        (pkg / f"{mod}.py").write_text(source, encoding="utf-8")

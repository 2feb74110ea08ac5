"""The data a ``pytest --kindling-signals`` run saves: what was emitted, and against which catalog.

Like coverage.py's ``.coverage``, each run saves its data (default
``.kindling-signals``, one JSON file; xdist workers' data already merged in).
A data file holds everything a report needs, the catalog files' text
included, so it can be re-rendered, combined with other runs' data and
compared with a base on any machine, without the tests or the framework::

    >>> run = RunData.load(".kindling-signals")                          # doctest: +SKIP
    >>> both = combine([RunData.load("fast.data"), RunData.load("spark.data")])  # doctest: +SKIP
    >>> both.save("all.data")                                            # doctest: +SKIP
    >>> both.report().totals.emitted                                     # doctest: +SKIP
    88

No pytest in here: the ``kindling-signals`` command line and the plugin both use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_kindling_signals.catalog import CatalogError, SignalCatalog, load_catalog
from pytest_kindling_signals.report.results import DATA_VERSION, SessionData
from pytest_kindling_signals.report.coverage import CoverageReport

__all__ = [
    "DATA_FORMAT",
    "DATA_FORMAT_VERSION",
    "DATA_SCHEMA_PATH",
    "DEFAULT_DATA_PATH",
    "REPORT_SCHEMA_PATH",
    "CatalogFile",
    "DataError",
    "Gates",
    "LoadedCatalogs",
    "RunData",
    "catalog_ref",
    "combine",
    "describe_gates",
    "load_many",
]

DATA_FORMAT = "kindling-signals-data"
DATA_FORMAT_VERSION = 1
#: Where a run saves its data unless ``--kindling-signals-data`` / the ini key says otherwise
#: (relative to the rootdir).
DEFAULT_DATA_PATH = ".kindling-signals"
SCHEMAS_DIR = Path(__file__).with_name("schemas")
REPORT_SCHEMA_PATH = SCHEMAS_DIR / "report-1.schema.json"
DATA_SCHEMA_PATH = SCHEMAS_DIR / "data-1.schema.json"
#: A catalog file's part in a run: the framework's own, the user's (``kindling_signals_catalogs``),
#: or the conformance view's inputs (the quick reference and the alias map).
ROLES = ("framework", "user", "quick-reference", "aliases")


class DataError(ValueError):
    """A data file that can't be read, or data that can't be combined; names the file and the fix."""


# -- catalog files, by a name that is the same on every machine ---------------------

def _package_root(path: Path) -> Path | None:
    """The importable top-level package folder ``path`` lies in, if any."""
    folder = next((p for p in path.parents if (p / "__init__.py").is_file()), None)
    if folder is None:
        return None
    while (folder.parent / "__init__.py").is_file():
        folder = folder.parent
    try:
        spec = importlib.util.find_spec(folder.name)
    except (ImportError, ValueError):
        return None
    locations = [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
    return folder if folder.resolve() in locations else None


def catalog_ref(path: str | os.PathLike[str], rootdir: str | os.PathLike[str] | None = None) -> str:
    """How reports name a catalog file: ``package:path`` inside an importable package
    (``pytest_kindling_signals:catalog/shipped/quick_reference.yaml``), else relative to ``rootdir`` (``catalogs/shop.yaml``).

    >>> from pytest_kindling_signals.catalog import QUICK_REFERENCE_PATH
    >>> catalog_ref(QUICK_REFERENCE_PATH)
    'pytest_kindling_signals:catalog/shipped/quick_reference.yaml'
    """
    p = Path(os.path.abspath(path))  # not resolved: a symlinked file keeps its own name
    package = _package_root(p)
    if package is not None:
        return f"{package.name}:{p.relative_to(package).as_posix()}"
    if rootdir is not None:
        try:
            return Path(os.path.relpath(p, os.path.abspath(rootdir))).as_posix()
        except ValueError:  # another drive
            pass
    return p.as_posix()


@dataclass(frozen=True)
class CatalogFile:
    """One catalog (or alias map) file a run used: its name in reports, its part, its text."""

    ref: str
    role: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @classmethod
    def read(cls, path: str | os.PathLike[str], role: str,
             rootdir: str | os.PathLike[str] | None = None) -> CatalogFile:
        return cls(catalog_ref(path, rootdir), role, Path(path).read_text(encoding="utf-8"))

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "role": self.role, "sha256": self.sha256, "text": self.text}


@dataclass(frozen=True)
class Gates:
    """The gates a run was configured with; ``kindling-signals report`` applies them by default."""

    fail_under: str = ""
    strict: bool = False
    gate_partial: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"fail_under": self.fail_under, "strict": self.strict, "gate_partial": self.gate_partial}


@dataclass(frozen=True)
class LoadedCatalogs:
    """A run's catalogs rebuilt from its data: what :class:`CoverageReport` takes."""

    catalog: SignalCatalog
    refs: list[str]
    user_sources: list[str]
    conformance: tuple[SignalCatalog, Any] | None


@contextlib.contextmanager
def _files(files: Sequence[CatalogFile]) -> Iterator[list[Path]]:
    """The files written to a temporary folder, under their own names (suffix kept)."""
    with tempfile.TemporaryDirectory(prefix="kindling-signals-") as tmp:
        paths = []
        for i, f in enumerate(files):
            name = f.ref.replace(":", "/").rsplit("/", 1)[-1] or "catalog.yaml"
            path = Path(tmp) / f"{i}" / name
            path.parent.mkdir()
            path.write_text(f.text, encoding="utf-8")
            paths.append(path.resolve())
        yield paths


@lru_cache(maxsize=16)
def _load(files: tuple[CatalogFile, ...], conformance: tuple[CatalogFile, ...]) -> LoadedCatalogs:
    with _files(files + conformance) as paths:
        where = {str(p): f.ref for p, f in zip(paths, files + conformance)}
        try:
            catalog = load_catalog(*paths[:len(files)])
            view = None
            if conformance:
                from pytest_kindling_signals.catalog import load_aliases

                quick_ref = load_catalog(paths[len(files)])
                view = (quick_ref, load_aliases(paths[len(files) + 1], quick_ref=quick_ref))
        except CatalogError as exc:
            message = str(exc)
            for tmp, ref in where.items():
                message = message.replace(tmp, ref)
            raise DataError(f"a saved catalog can't be loaded: {message}") from None
    user = [str(p) for p, f in zip(paths, files) if f.role == "user"]
    return LoadedCatalogs(catalog, [f.ref for f in files], user, view)


@dataclass
class RunData:
    """One run's (or, combined, several runs') data, with the catalogs it was measured against."""

    data: SessionData
    catalogs: list[CatalogFile]
    conformance: list[CatalogFile] = field(default_factory=list)
    framework: str | None = None
    gates: Gates | None = None
    plugin_version: str = "unknown"
    source: str = "<data>"

    # -- the catalogs
    def load_catalogs(self) -> LoadedCatalogs:
        """The catalog (and the conformance view's inputs) rebuilt from the saved text."""
        if not self.catalogs:
            raise DataError(f"{self.source}: holds no catalog; it was not written by pytest --kindling-signals")
        try:
            return _load(tuple(self.catalogs), tuple(self.conformance))
        except DataError as exc:
            raise DataError(f"{self.source}: {exc}") from None

    def report(self, *, catalogs: LoadedCatalogs | None = None) -> CoverageReport:
        """The coverage report of this data, exactly as the run printed it."""
        loaded = catalogs or self.load_catalogs()
        return CoverageReport(loaded.catalog, self.data, catalog_refs=loaded.refs,
                              user_sources=loaded.user_sources, conformance=loaded.conformance,
                              plugin_version=self.plugin_version)

    # -- JSON
    def to_json(self) -> dict[str, Any]:
        return {
            "format": DATA_FORMAT,
            "format_version": DATA_FORMAT_VERSION,
            "plugin_version": self.plugin_version,
            "framework": self.framework,
            "gates": self.gates.to_json() if self.gates is not None else None,
            "catalogs": [c.to_json() for c in self.catalogs],
            "conformance": [c.to_json() for c in self.conformance],
            "data": self.data.to_data(),
        }

    @classmethod
    def from_json(cls, obj: Any, source: str = "<data>") -> RunData:
        """Parse a data file's content; :class:`DataError` names the file, what is wrong and the fix."""
        if not isinstance(obj, dict) or obj.get("format") != DATA_FORMAT:
            raise DataError(f"{source}: not a kindling-signals data file (no \"format\": "
                            f"\"{DATA_FORMAT}\"); give the file a pytest --kindling-signals run saved "
                            "(--kindling-signals-data, default .kindling-signals)")
        version = obj.get("format_version")
        if version != DATA_FORMAT_VERSION:
            raise DataError(f"{source}: data format version {version!r}; this plugin reads version "
                            f"{DATA_FORMAT_VERSION}: re-run the tests, or use the plugin version that "
                            "wrote it")
        inner = obj.get("data")
        if isinstance(inner, dict) and inner.get("version") != DATA_VERSION:
            raise DataError(f"{source}: data version {inner.get('version')!r} is not {DATA_VERSION}; "
                            "re-run the tests with this plugin version")
        _check_schema(obj, source)
        for c in obj["catalogs"] + obj["conformance"]:
            if CatalogFile(c["ref"], c["role"], c["text"]).sha256 != c["sha256"]:
                raise DataError(f"{source}: the saved catalog {c['ref']} doesn't match its sha256; "
                                "was the file edited by hand? Re-run the tests to make it again")
        try:
            data = SessionData.from_data(obj["data"])
        except ValueError as exc:
            raise DataError(f"{source}: {exc}") from None
        gates = obj["gates"]
        return cls(
            data=data,
            catalogs=[CatalogFile(c["ref"], c["role"], c["text"]) for c in obj["catalogs"]],
            conformance=[CatalogFile(c["ref"], c["role"], c["text"]) for c in obj["conformance"]],
            framework=obj["framework"],
            gates=Gates(gates["fail_under"], gates["strict"], gates["gate_partial"]) if gates else None,
            plugin_version=obj["plugin_version"],
            source=source,
        )

    # -- files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the data file (whole or not at all: a temporary file renamed into place)."""
        target = Path(path)
        text = json.dumps(self.to_json(), separators=(",", ":"), sort_keys=False) + "\n"
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(tmp, 0o666 & ~_umask())  # as a plain open() would make it, not mkstemp's 0600
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RunData:
        source = os.fspath(path)
        p = Path(source)
        if p.is_dir():
            raise DataError(f"{source}: is a folder; give a data file (e.g. {source}/{DEFAULT_DATA_PATH})")
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"{source}: no such data file; run pytest --kindling-signals first "
                            "(it saves .kindling-signals, or --kindling-signals-data=PATH)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{source}: cannot be read: {exc}") from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{source}: not a kindling-signals data file (not JSON: {exc})") from None
        return cls.from_json(obj, source)


@lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@lru_cache(maxsize=1)
def _data_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(DATA_SCHEMA_PATH.read_text(encoding="utf-8")))


def _check_schema(obj: Any, source: str) -> None:
    error = next(iter(sorted(_data_validator().iter_errors(obj), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise DataError(f"{source}: malformed kindling-signals data at {where}: {error.message}; "
                        "was the file edited by hand? Re-run the tests to make it again")


# -- combining --------------------------------------------------------------------

def _same_files(runs: Sequence[RunData], attr: str) -> list[CatalogFile]:
    first = runs[0]
    key = [(c.role, c.sha256) for c in getattr(first, attr)]
    for run in runs[1:]:
        other = [(c.role, c.sha256) for c in getattr(run, attr)]
        if other != key:
            mine = {c.ref for c in getattr(first, attr)}
            theirs = {c.ref for c in getattr(run, attr)}
            changed = sorted(mine ^ theirs) or sorted(
                c.ref for c, d in zip(getattr(first, attr), getattr(run, attr)) if c.sha256 != d.sha256)
            raise DataError(
                f"{first.source} and {run.source} were measured against different catalogs "
                f"({', '.join(changed) or 'their order differs'}); combine the data of runs of one "
                "commit, or compare them with kindling-signals compare")
    # the same content may be named differently on two machines: the smallest name, in any order
    return [replace(c, ref=min(getattr(r, attr)[i].ref for r in runs)) for i, c in enumerate(getattr(first, attr))]


def combine(runs: Sequence[RunData], *, warnings: list[str] | None = None) -> RunData:
    """One :class:`RunData` from several runs of one suite (the same result in any order).

    Counts add up, tests, findings and deselections are merged; a test
    that one run deselected and another ran is no longer missing, so two
    runs that split a suite (``-m "not spark"``, ``-m spark``) combine into
    what one full run gives. The runs must share their catalogs (a
    :class:`DataError` otherwise). The gates are kept when every run had the
    same; otherwise they are dropped and ``warnings`` says so.
    """
    if not runs:
        raise DataError("nothing to combine: give at least one data file")
    frameworks = sorted({str(r.framework) for r in runs})
    if len(frameworks) > 1:
        raise DataError(f"the data files were made with different frameworks ({', '.join(frameworks)}); "
                        "combine runs of one framework")
    catalogs = _same_files(runs, "catalogs")
    conformance = _same_files(runs, "conformance")
    data = SessionData()
    for run in runs:
        data.merge(run.data, runs=True)
    gate_sets = {r.gates for r in runs}
    gates = runs[0].gates if len(gate_sets) == 1 else None
    if len(gate_sets) > 1 and warnings is not None:
        warnings.append("the runs had different gates (" + "; ".join(
            f"{r.source}: {describe_gates(r.gates)}" for r in runs) + "); the combined data keeps none: "
            "give --fail-under / --strict to kindling-signals report")
    return RunData(data, catalogs, conformance, runs[0].framework, gates,
                   max(r.plugin_version for r in runs), "<combined>")


def describe_gates(gates: Gates | None) -> str:
    """``fail under 100, strict``; ``none``."""
    if gates is None:
        return "none"
    parts = [f"fail under {gates.fail_under}"] if gates.fail_under else []
    parts += ["strict"] if gates.strict else []
    parts += ["gate partial"] if gates.gate_partial else []
    return ", ".join(parts) or "none"


def load_many(paths: Sequence[str | os.PathLike[str]]) -> list[RunData]:
    """Data files, and every data file (``.kindling-signals*``) under each folder given."""
    found: list[RunData] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files = sorted(f for f in p.rglob(f"{DEFAULT_DATA_PATH}*") if f.is_file() and not f.name.endswith(".tmp"))
            if not files:
                raise DataError(f"{path}: a folder with no data file ({DEFAULT_DATA_PATH}*) in it")
            found += [RunData.load(f) for f in files]
        else:
            found.append(RunData.load(p))
    return found


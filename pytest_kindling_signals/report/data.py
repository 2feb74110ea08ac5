"""The data a ``pytest --kindling-signals`` run saves: what was emitted, and against which catalog.

Like coverage.py's ``.coverage``, each run saves its data (default
``.kindling-signals``, one JSON file; xdist workers' data already merged in).
A data file holds everything a report needs: the text of the user's catalog
files, and the catalogs shipped with the plugin by name, plugin version and
sha256 (their text is in the installed plugin), so it can be re-rendered,
combined with other runs' data and compared with a base on any machine with
the plugin, without the tests or the framework::

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
import re
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_kindling_signals.catalog import CatalogError, SignalCatalog, load_catalog
from pytest_kindling_signals.files import MAX_DATA_BYTES, FileRefused, WriterLock, read_text, write_atomic
from pytest_kindling_signals.report.results import DATA_VERSION, SESSION, SessionData
from pytest_kindling_signals.report.coverage import CoverageReport

__all__ = [
    "DATA_FORMAT",
    "DATA_FORMAT_VERSION",
    "DATA_SCHEMA_PATH",
    "DEFAULT_DATA_PATH",
    "REPORT_SCHEMA_PATH",
    "CatalogFile",
    "DataError",
    "DataLock",
    "Gates",
    "LoadedCatalogs",
    "RunData",
    "catalog_ref",
    "combine",
    "describe_gates",
    "load_many",
]

DATA_FORMAT = "kindling-signals-data"
DATA_FORMAT_VERSION = 2
#: Where a run saves its data unless ``--kindling-signals-data`` / the ini key says otherwise
#: (relative to the rootdir).
DEFAULT_DATA_PATH = ".kindling-signals"
SCHEMAS_DIR = Path(__file__).with_name("schemas")
REPORT_SCHEMA_PATH = SCHEMAS_DIR / "report-2.schema.json"
DATA_SCHEMA_PATH = SCHEMAS_DIR / "data-2.schema.json"
#: Catalogs in this package are saved by reference (name, version, hash), not by their text.
SHIPPED_PACKAGE = "pytest_kindling_signals"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]
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


def shipped_by() -> str:
    """``pytest-kindling-signals 0.2.0``: what ships the catalogs saved by reference."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"pytest-kindling-signals {version('pytest-kindling-signals')}"
    except PackageNotFoundError:
        return "pytest-kindling-signals (version unknown)"


@dataclass(frozen=True)
class CatalogFile:
    """One catalog (or alias map) file a run used: its name in reports, its part, its text.

    ``shipped`` names what ships a catalog of the plugin's own (the quick
    reference's, spark-kindling's): the data file then keeps its name,
    ``shipped`` and sha256, and the text comes from the installed plugin.
    """

    ref: str
    role: str
    text: str
    shipped: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()

    @classmethod
    def read(cls, path: str | os.PathLike[str], role: str,
             rootdir: str | os.PathLike[str] | None = None) -> CatalogFile:
        ref = catalog_ref(path, rootdir)
        shipped = shipped_by() if ref.startswith(f"{SHIPPED_PACKAGE}:") else None
        return cls(ref, role, Path(path).read_text(encoding="utf-8"), shipped)

    def to_json(self) -> dict[str, Any]:
        if self.shipped is not None:
            return {"ref": self.ref, "role": self.role, "sha256": self.sha256, "shipped": self.shipped}
        return {"ref": self.ref, "role": self.role, "sha256": self.sha256, "text": self.text}

    @classmethod
    def from_json(cls, c: dict[str, Any], source: str) -> CatalogFile:
        """A saved file; a shipped one's text read from the installed plugin. :class:`DataError` when
        the text doesn't match the saved sha256."""
        if "text" in c:
            found = cls(c["ref"], c["role"], c["text"])
            if found.sha256 != c["sha256"] or _SURROGATE.search(found.text):
                raise DataError(f"{source}: the saved catalog {c['ref']} doesn't match its sha256; "
                                "was the file edited by hand? Re-run the tests to make it again")
            return found
        ref, shipped = c["ref"], c["shipped"]
        package, _, rel = ref.partition(":")
        path = _PACKAGE_DIR / rel
        here = shipped_by()
        fix = (f"install {shipped.replace(' ', '==')} to re-render it, or re-run the tests with "
               f"{here}")
        if package != SHIPPED_PACKAGE or ".." in Path(rel).parts or not path.is_file():
            raise DataError(f"{source}: names the catalog {ref}, shipped with {shipped}, which {here} "
                            f"doesn't ship; {fix}")
        found = cls(ref, c["role"], path.read_text(encoding="utf-8"), shipped)
        if found.sha256 != c["sha256"]:
            raise DataError(f"{source}: was measured against {ref} as {shipped} shipped it (sha256 "
                            f"{c['sha256'][:12]}...); {here} ships another version of it; {fix}")
        return found


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
            # the loader reads JSON or YAML by the suffix; the name itself is the ref's (in messages)
            name = "catalog.json" if f.ref.lower().endswith(".json") else "catalog.yaml"
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
    #: The identities of the runs this data holds: a new id per pytest run, every input's for
    #: combined data. ``combine`` counts a run once, however many files hold it.
    runs: tuple[str, ...] = field(default_factory=lambda: (uuid.uuid4().hex,))

    # -- the catalogs
    def load_catalogs(self) -> LoadedCatalogs:
        """The catalog (and the conformance view's inputs) rebuilt from the saved text."""
        if not self.catalogs:
            raise DataError(f"{self.source}: holds no catalog; it was not written by pytest --kindling-signals")
        try:
            return _load(tuple(self.catalogs), tuple(self.conformance))
        except DataError as exc:
            raise DataError(f"{self.source}: {exc}") from None

    def report(self, *, catalogs: LoadedCatalogs | None = None, conformance: bool = False) -> CoverageReport:
        """The coverage report of this data, as the run printed it; ``conformance`` adds the
        quick-reference conformance view (a framework that names signals its own way)."""
        loaded = catalogs or self.load_catalogs()
        return CoverageReport(loaded.catalog, self.data, catalog_refs=loaded.refs,
                              user_sources=loaded.user_sources,
                              conformance=loaded.conformance if conformance else None,
                              plugin_version=self.plugin_version)

    # -- JSON
    def to_json(self) -> dict[str, Any]:
        return {
            "format": DATA_FORMAT,
            "format_version": DATA_FORMAT_VERSION,
            "plugin_version": self.plugin_version,
            "runs": sorted(self.runs),
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
        catalogs = [CatalogFile.from_json(c, source) for c in obj["catalogs"]]
        conformance = [CatalogFile.from_json(c, source) for c in obj["conformance"]]
        try:
            data = SessionData.from_data(obj["data"])
        except (ValueError, RecursionError) as exc:
            raise DataError(f"{source}: {_short(str(exc), 300)}") from None
        _check_consistency(data, source)
        gates = obj["gates"]
        runs = obj.get("runs")
        if runs is None:  # written before run ids: the content names the run (copies are one run)
            text = json.dumps(obj["data"], sort_keys=True, ensure_ascii=True)
            runs = ["sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()]
        return cls(
            data=data,
            catalogs=catalogs,
            conformance=conformance,
            framework=obj["framework"],
            gates=Gates(gates["fail_under"], gates["strict"], gates["gate_partial"]) if gates else None,
            plugin_version=obj["plugin_version"],
            source=source,
            runs=tuple(sorted(set(runs))),
        )

    # -- files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the data file (whole or not at all: a temporary file renamed into place; its
        folders made; a symbolic link kept, its target written); returns the file written."""
        text = json.dumps(self.to_json(), separators=(",", ":"), sort_keys=False, allow_nan=False) + "\n"
        return write_atomic(path, text)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RunData:
        """Read a data file; :class:`DataError` names the file, what is wrong and the fix.

        Bounded: a regular file only (a FIFO or a device is refused, not read),
        at most :data:`~pytest_kindling_signals.files.MAX_DATA_BYTES`, JSON nested at most as
        deep as Python's parser allows, integers of at most 18 digits, no ``NaN``.
        """
        source = os.fspath(path)
        if Path(source).is_dir():
            raise DataError(f"{source}: is a folder; give a data file (e.g. {source}/{DEFAULT_DATA_PATH})")
        try:
            text = read_text(source, limit=MAX_DATA_BYTES, what="kindling-signals data")
        except FileNotFoundError:
            raise DataError(f"{source}: no such data file; run pytest --kindling-signals first "
                            "(it saves .kindling-signals, or --kindling-signals-data=PATH)") from None
        except FileRefused as exc:
            raise DataError(str(exc)) from None
        except OSError as exc:
            raise DataError(f"{source}: cannot be read: {exc.strerror or exc}") from None
        return cls.from_json(parse_json(text, source), source)


class DataLock(WriterLock):
    """Held by a run (or ``combine``) while it makes a data file: a second writer of the same file
    fails at once with a :class:`DataError`, instead of one run's data silently replacing the other's.

    >>> with DataLock(".kindling-signals"):   # doctest: +SKIP
    ...     run.save(".kindling-signals")
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path, what="data file",
                         fix="wait for it to finish, or give each run its own --kindling-signals-data PATH")

    def acquire(self) -> DataLock:
        try:
            super().acquire()
        except FileRefused as exc:
            raise DataError(str(exc)) from None
        except OSError as exc:
            raise DataError(f"{self.target}: cannot take the data file's lock {self.path} "
                            f"({exc.strerror or exc}); check that the temporary folder is writable") from None
        return self


#: Integers in a data file: counts and indices (a 5,000-digit number is not a count).
MAX_INT_DIGITS = 18
_SURROGATE = re.compile("[\ud800-\udfff]")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"the number {text[:20]}... has {len(text)} digits; a count or index has at most "
                         f"{MAX_INT_DIGITS}")
    return int(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str, source: str) -> Any:
    """A data file's JSON, bounded (nesting, number length, no NaN); :class:`DataError` otherwise."""
    try:
        return json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise DataError(f"{source}: not a kindling-signals data file (not JSON: {exc})") from None
    except RecursionError:
        raise DataError(f"{source}: not a kindling-signals data file (JSON nested too deeply); give the "
                        "file a pytest --kindling-signals run saved") from None
    except ValueError as exc:
        raise DataError(f"{source}: not a kindling-signals data file ({exc})") from None


def _is_label(test: str) -> bool:
    """``<session>`` or ``<fixture name>``: where emissions outside a test are credited."""
    return test == SESSION or (test.startswith("<fixture ") and test.endswith(">"))


def _check_consistency(data: SessionData, source: str) -> None:
    """What the schema can't say: every emission and finding is credited to a test the run ran."""
    ran = data.tests
    collected = set(data.collected)
    edited = "was the file edited by hand? Re-run the tests to make it again"
    for test in ran:
        if collected and test not in collected:
            raise DataError(f"{source}: test {_short(test)!r} ran but was not collected; {edited}")
    for name in sorted(data.emitters):
        stray = sorted(t for t in data.emitters[name] if t not in ran and not _is_label(t))
        if stray:
            raise DataError(f"{source}: {_short(name)!r} is credited to {_short(stray[0])!r}, a test this "
                            f"run did not run; {edited}")
        if data.counts.get(name, 0) < len(data.emitters[name]):
            raise DataError(f"{source}: {_short(name)!r} was emitted {data.counts.get(name, 0)} times by "
                            f"{len(data.emitters[name])} tests; {edited}")
    for f in data.findings.values():
        if f.first_test not in ran and not _is_label(f.first_test):
            raise DataError(f"{source}: a finding of {_short(f.signal)!r} is credited to "
                            f"{_short(f.first_test)!r}, a test this run did not run; {edited}")


@lru_cache(maxsize=1)
def _data_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(DATA_SCHEMA_PATH.read_text(encoding="utf-8")))


def _check_schema(obj: Any, source: str) -> None:
    try:
        error = next(iter(sorted(_data_validator().iter_errors(obj), key=lambda e: list(e.absolute_path))), None)
    except RecursionError:
        raise DataError(f"{source}: malformed kindling-signals data: nested too deeply; was the file edited "
                        "by hand? Re-run the tests to make it again") from None
    if error is not None:
        where = _short("/".join(str(p) for p in error.absolute_path) or "(top level)", 120)
        raise DataError(f"{source}: malformed kindling-signals data at {where}: {_short(error.message, 200)}; "
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


def version_key(version: str) -> tuple[Any, ...]:
    """A plugin version for comparison: ``0.10.0`` after ``0.9.1``; an unreadable one first.

    >>> max(["0.9.1", "0.10.0", "unknown"], key=version_key)
    '0.10.0'
    """
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, version)


def _unique_runs(runs: Sequence[RunData], warnings: list[str] | None) -> list[RunData]:
    """Each run once: a file given twice, or a copy of one, is counted once (and said so); a file
    whose runs another input holds in part (combined from it) is an error."""
    kept: dict[tuple[str, ...], RunData] = {}
    owner: dict[str, RunData] = {}
    for run in runs:
        same = kept.get(run.runs)
        if same is not None:
            if warnings is not None:
                warnings.append(f"{run.source} is given twice: counted once" if run.source == same.source else
                                f"{run.source} holds the same run as {same.source} (a copy?): counted once")
            continue
        overlap = next((owner[r] for r in run.runs if r in owner), None)
        if overlap is not None:
            raise DataError(f"{overlap.source} and {run.source} hold some of the same runs (one was combined "
                            "from the other?): combine each run's data once, leaving out the combined file "
                            "or the files it was made from")
        kept[run.runs] = run
        owner.update((r, run) for r in run.runs)
    # one order whatever the order given: the result is the same byte for byte
    return sorted(kept.values(), key=lambda r: r.runs)


def combine(runs: Sequence[RunData], *, warnings: list[str] | None = None) -> RunData:
    """One :class:`RunData` from several runs of one suite (the same result in any order).

    Counts add up, tests, findings and deselections are merged; a test
    that one run deselected and another ran is no longer missing, so two
    runs that split a suite (``-m "not spark"``, ``-m spark``) combine into
    what one full run gives. Whether the result is whole or partial comes
    from what the inputs collected and ran: partial runs stay partial. Each
    run counts once (its run id): the same data given twice is counted once
    and ``warnings`` says so. The runs must share their catalogs (a
    :class:`DataError` otherwise). The gates are kept when every run had the
    same; otherwise they are dropped and ``warnings`` says so.
    """
    if not runs:
        raise DataError("nothing to combine: give at least one data file")
    given = runs
    runs = _unique_runs(runs, warnings)
    frameworks = sorted({str(r.framework) for r in runs})
    if len(frameworks) > 1:
        raise DataError(f"the data files were made with different frameworks ({', '.join(frameworks)}); "
                        "combine runs of one framework")
    as_given = [r for r in given if any(r is kept for kept in runs)]  # messages name files as given
    catalogs = _same_files(as_given, "catalogs")
    conformance = _same_files(as_given, "conformance")
    data = SessionData.from_data(runs[0].data.to_data())  # a copy of the first, never an empty "whole run"
    for run in runs[1:]:
        data.merge(run.data, runs=True)
    gate_sets = {r.gates for r in runs}
    gates = runs[0].gates if len(gate_sets) == 1 else None
    if len(gate_sets) > 1 and warnings is not None:
        warnings.append("the runs had different gates (" + "; ".join(
            f"{r.source}: {describe_gates(r.gates)}" for r in sorted(runs, key=lambda r: r.source))
            + "); the combined data keeps none: give --fail-under / --strict to kindling-signals report")
    return RunData(data, catalogs, conformance, runs[0].framework, gates,
                   max((r.plugin_version for r in runs), key=version_key), "<combined>",
                   tuple(sorted({i for r in runs for i in r.runs})))


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
            files = sorted(f for f in p.rglob(f"{DEFAULT_DATA_PATH}*")
                           if f.is_file() and not f.name.endswith(".tmp"))
            if not files:
                raise DataError(f"{path}: a folder with no data file ({DEFAULT_DATA_PATH}*) in it")
            found += [RunData.load(f) for f in files]
        else:
            found.append(RunData.load(p))
    return found


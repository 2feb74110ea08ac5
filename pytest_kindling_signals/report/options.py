"""The ``--kindling-signals*`` options and ini keys, read and checked when pytest configures.

No pytest in here: the hooks hand over raw values (each with the name the
user gave it, ``--kindling-signals-report`` or ``ini key kindling_signals_report``)
and :func:`parse_settings` checks every one of them, whether or not the
report is on, with a :class:`ValueError` that names the option, the value
and the fix. :func:`check_outputs` then checks the files the report will
write (when it is on, before any test runs): no two outputs on one path, no
folder where a file goes, a folder that can be written::

    >>> s = parse_settings(enabled=Raw(True, "--kindling-signals"),
    ...                    reports=Raw(["term", "json:out/r.json"], "--kindling-signals-report", True),
    ...                    fail_under=Raw("critical:100", "--kindling-signals-fail-under"),
    ...                    data=Raw(None, "--kindling-signals-data"),
    ...                    invocation_dir=Path("/p"), ini_dir=Path("/p"), rootdir=Path("/p"))
    >>> [(t.kind, str(t.path)) for t in s.targets], str(s.data_path)
    ([('term', 'None'), ('json', 'out/r.json')], '/p/.kindling-signals')

:func:`run_scope` says, from the command line, why a run does not collect
the whole suite (file or folder arguments, node ids, ``--ignore``, ``--lf``).
"""

from __future__ import annotations

import glob
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_kindling_signals.files import clashes
from pytest_kindling_signals.report.gates import FailUnder, parse_fail_under
from pytest_kindling_signals.report.data import DEFAULT_DATA_PATH
from pytest_kindling_signals.report.timeline import DEFAULT_TIMELINE_LIMIT

__all__ = ["FILE_KINDS", "TERM_KINDS", "Output", "Raw", "ReportSettings", "ReportTarget", "check_outputs", "parse_bool", "parse_timeline_limit",
           "parse_report_targets", "parse_settings", "run_scope"]

TERM_KINDS = ("term", "term-missing")
FILE_KINDS = ("json", "markdown", "html")
_FORMS = "term, term-missing, json:PATH, markdown:PATH or html:PATH"


@dataclass(frozen=True)
class ReportTarget:
    """One requested output: a terminal report, or a file of some kind at ``path``."""

    kind: str
    path: str | None = None


def parse_report_targets(values: Sequence[str],
                         option: str = "--kindling-signals-report") -> list[ReportTarget]:
    """Parse each ``--kindling-signals-report`` value; :class:`ValueError` names the bad one."""
    targets: list[ReportTarget] = []
    for raw in values:
        value = str(raw).strip()
        kind, sep, path = value.partition(":")
        if kind in TERM_KINDS and not sep:
            target = ReportTarget(kind)
        elif kind in FILE_KINDS:
            if not path.strip():
                raise ValueError(f"{option}={value!r}: {kind} needs a file path, as in {kind}:PATH; "
                                 f"accepted forms: {_FORMS}")
            target = ReportTarget(kind, path.strip())
        else:
            raise ValueError(f"{option}={value!r} is not a report type; accepted forms: {_FORMS}")
        if target not in targets:
            targets.append(target)
    if sum(t.kind in TERM_KINDS for t in targets) > 1:
        raise ValueError(f"{option}: give term or term-missing, not both")
    return targets


_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")


@dataclass(frozen=True)
class Raw:
    """A value as the user gave it, the name they gave it under, and whether it came from the
    command line (relative paths then start from the current folder, else from the ini file's)."""

    value: Any
    label: str
    from_cli: bool = False


@dataclass(frozen=True)
class Output:
    """A file the report will write: its kind (``json``, ``data``...), where, and how the user named it."""

    kind: str
    path: Path
    label: str


@dataclass(frozen=True)
class ReportSettings:
    enabled: bool
    targets: list[ReportTarget]
    fail_under_text: str
    fail_under_label: str
    fail_under: tuple[FailUnder, ...]
    strict: bool
    gate_partial: bool
    data_path: Path
    outputs: list[Output] = field(default_factory=list)
    #: The coverage gates were typed on the command line: they apply to this run, partial or not.
    fail_under_from_cli: bool = False
    #: Emissions each test keeps for its timeline (0: none).
    timeline_limit: int = DEFAULT_TIMELINE_LIMIT
    #: Show the quick-reference conformance view (a framework that names signals its own way).
    conformance: bool = False


def parse_bool(raw: Raw) -> bool:
    """An ini boolean (pytest's spellings: true/false, yes/no, on/off, 1/0) or a command-line flag."""
    value = raw.value
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{raw.label}={value!r} is not true or false; use true or false "
                     "(also yes/no, on/off, 1/0)")


def _clean_path(text: str, label: str, value: str | None = None) -> str:
    """``text`` stripped, or a :class:`ValueError` that shows ``label=value`` (the value as given)."""
    shown = repr(text if value is None else value)
    if not text.strip():
        raise ValueError(f"{label}={shown}: needs a file path")
    if "\x00" in text:
        raise ValueError(f"{label}={shown}: a path can't hold a NUL character; give a file path")
    try:
        os.fsencode(text)
    except UnicodeError:
        raise ValueError(f"{label}={shown}: not a file name this system can store "
                         f"({sys.getfilesystemencoding()}); give a file path") from None
    return text.strip()


def parse_timeline_limit(raw: Raw | None) -> int:
    """``--kindling-signals-timeline``: how many emissions a test keeps for its timeline."""
    if raw is None or raw.value is None or raw.value == "":
        return DEFAULT_TIMELINE_LIMIT
    value = raw.value
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not text.isascii() or len(text) > 9:
        raise ValueError(f"{raw.label}={value!r} is not a number of emissions; give a whole number "
                         f"such as {DEFAULT_TIMELINE_LIMIT} (the default), or 0 for no timelines")
    return int(text)


def parse_settings(*, enabled: Raw, reports: Raw, fail_under: Raw, data: Raw,
                   strict: Raw | None = None, gate_partial: Raw | None = None,
                   invocation_dir: Path, ini_dir: Path, rootdir: Path,
                   tiers: Sequence[str] | None = None, timeline: Raw | None = None,
                   conformance: Raw | None = None) -> ReportSettings:
    """Every report setting, checked; :class:`ValueError` names the first bad one.

    ``tiers`` checks the gates' tier names too (when a catalog is at hand).
    """
    on = parse_bool(enabled)
    strict_on = parse_bool(strict) if strict is not None else False
    partial_on = parse_bool(gate_partial) if gate_partial is not None else False
    timeline_limit = parse_timeline_limit(timeline)
    conformance_on = parse_bool(conformance) if conformance is not None else False

    values = reports.value
    if values is None or values == "":
        values = []
    if isinstance(values, str):
        values = [line for line in values.splitlines() if line.strip()]
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{reports.label}={values!r}: give report types as strings, one a line")
    for v in values:
        if "\x00" in v:
            raise ValueError(f"{reports.label}={v!r}: a report value can't hold a NUL character; "
                             "give a report type, as in json:PATH")
    targets = parse_report_targets(values or ["term"], option=reports.label)
    base = invocation_dir if reports.from_cli else ini_dir
    outputs = [Output(t.kind, _absolute(base, _clean_path(t.path, reports.label, f"{t.kind}:{t.path}")),
                      f"{reports.label}={t.kind + ':' + t.path!r}")
               for t in targets if t.path is not None]

    text = "" if fail_under.value is None else fail_under.value
    if not isinstance(text, (str, int, float)) or isinstance(text, bool):
        raise ValueError(f"{fail_under.label}={text!r}: give the gates as a string, e.g. \"critical:100\"")
    text = str(text)
    if "\x00" in text:
        raise ValueError(f"{fail_under.label}={text!r}: a gate can't hold a NUL character; give the gates, "
                         "e.g. critical:100")
    gates = parse_fail_under(text, tiers, fail_under.label) if text.strip() else ()

    if data.value is None:
        data_path = rootdir / DEFAULT_DATA_PATH
    else:
        if not isinstance(data.value, str):
            raise ValueError(f"{data.label}={data.value!r}: give a file path")
        data_path = _absolute(invocation_dir if data.from_cli else ini_dir, _clean_path(data.value, data.label))
    outputs.append(Output("data", data_path, f"{data.label}={str(data.value if data.value is not None else DEFAULT_DATA_PATH)!r}"))
    _check_distinct(outputs)
    for out in outputs:
        if _is_dir(out.path):
            raise ValueError(f"{out.label}: {out.path} is a folder; give a file path")
    return ReportSettings(on, targets, text, fail_under.label, gates, strict_on, partial_on, data_path, outputs,
                          fail_under_from_cli=bool(gates) and fail_under.from_cli,
                          timeline_limit=timeline_limit, conformance=conformance_on)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long, say: check_outputs says so in full
        return False


def _absolute(base: Path, text: str) -> Path:
    return Path(os.path.abspath(Path(base) / os.path.expanduser(text)))


def _check_distinct(outputs: Sequence[Output]) -> None:
    seen: dict[Path, Output] = {}
    for out in outputs:
        try:
            key = out.path.resolve()
        except (OSError, RuntimeError, ValueError):
            key = out.path
        first = seen.get(key)
        if first is not None and first != out:
            raise ValueError(f"{first.label} and {out.label} write to one file ({out.path}); "
                             "give each its own path")
        seen[key] = out


def check_outputs(outputs: Sequence[Output], inputs: Sequence[tuple[str, Path | str]] = ()) -> None:
    """Check, before any test runs, that each output file can be written; :class:`ValueError` if not.

    No output may be one of ``inputs`` (the catalog files, by resolved path).
    The nearest existing folder above each path must be writable (a file is
    created there and removed at once); folders below it are created when
    the report is written.
    """
    problem = clashes(inputs, [(out.label, out.path) for out in outputs])
    if problem is not None:
        raise ValueError(problem)
    for out in outputs:
        path = out.path
        try:
            if path.is_dir():
                raise ValueError(f"{out.label}: {path} is a folder; give a file path")
            if path.exists():
                if not os.access(path, os.W_OK):
                    raise ValueError(f"{out.label}: {path} is not writable; give a path you can write to")
                continue
            ancestor = path.parent
            while not ancestor.exists() and ancestor != ancestor.parent:
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                raise ValueError(f"{out.label}: {ancestor} is a file, so {path} can't be made; "
                                 "give a path in a folder")
            _check_names(out, path, ancestor)
            fd, probe = tempfile.mkstemp(dir=ancestor, prefix=".kindling-signals-probe-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise ValueError(f"{out.label}: {path} can't be written ({exc.strerror or exc}); "
                             "give a path in a folder you can write to") from None


def _check_names(out: Output, path: Path, ancestor: Path) -> None:
    """Names the file system would refuse later (too long), refused now."""
    name_max = os.pathconf(ancestor, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    path_max = os.pathconf(ancestor, "PC_PATH_MAX") if hasattr(os, "pathconf") else 4096
    for part in path.relative_to(ancestor).parts:
        if len(os.fsencode(part)) > name_max:
            raise ValueError(f"{out.label}: the name {part[:40]!r}... is longer than the {name_max} bytes "
                             "a file name may have here; give a shorter path")
    if len(os.fsencode(str(path))) >= path_max:
        raise ValueError(f"{out.label}: the path is longer than the {path_max} bytes a path may have "
                         "here; give a shorter path")


# -- which part of the suite a run collects -------------------------------------------

def _from_addopts(addopts: Sequence[str], flag: str) -> set[str]:
    """Values of ``flag`` in the ini file's addopts (the project's own definition of its suite)."""
    values: set[str] = set()
    tokens = list(addopts)
    for i, token in enumerate(tokens):
        if token == flag and i + 1 < len(tokens):
            values.add(tokens[i + 1])
        elif token.startswith(flag + "="):
            values.add(token.split("=", 1)[1])
    return values


def run_scope(*, args: Sequence[str], args_given: bool, testpaths: Sequence[str], rootdir: Path,
              invocation_dir: Path, ignore: Sequence[str] = (), ignore_glob: Sequence[str] = (),
              addopts: Sequence[str] | str = (), pyargs: bool = False,
              last_failed: bool = False, python_files: Sequence[str] = ("test_*.py", "*_test.py"),
              norecursedirs: Sequence[str] = ()) -> list[str]:
    """Why the run doesn't collect the whole suite (empty when it does).

    The suite is ``testpaths`` (globbed from the rootdir), else the rootdir.
    Without ``testpaths``, folder arguments that hold every test file of the
    rootdir (``pytest tests``: ``python_files`` outside ``norecursedirs`` and
    virtualenvs) are the whole suite too. Arguments that leave part of it out
    (``tests/test_merge.py``, a node id),
    ``--ignore`` / ``--ignore-glob`` given on the command line (the ini
    file's ``addopts`` define the suite), and ``--lf`` with failures on
    record narrow the run.
    """
    if isinstance(addopts, str):
        addopts = shlex.split(addopts)
    reasons: list[str] = []
    if args_given:
        if any("::" in a for a in args):
            reasons.append("node ids given")
        paths = [a.split("::", 1)[0] for a in args]
        if pyargs:
            reasons.append("module arguments (--pyargs) given")
        else:
            roots = [Path(p).resolve() for t in testpaths for p in sorted(glob.glob(str(rootdir / t), recursive=True))]
            roots = roots or [rootdir.resolve()]
            given = [(invocation_dir / p).resolve() for p in paths]
            uncovered = [r for r in roots if not any(r == g or g in r.parents for g in given)]
            if uncovered and not testpaths and _holds_every_test_file(given, rootdir.resolve(), python_files,
                                                                     norecursedirs):
                uncovered = []
            if uncovered and not any("::" in a for a in args):
                shown = [_rel(g, rootdir) for g in given]
                reasons.append(f"file or folder arguments ({', '.join(shown)})")
    for flag, values in (("--ignore", ignore), ("--ignore-glob", ignore_glob)):
        mine = [v for v in (values or ()) if v not in _from_addopts(addopts, flag)]
        if mine:
            reasons.append(f"{flag} {', '.join(mine)}")
    if last_failed:
        reasons.append("--lf")
    return reasons


#: Entries a folder walk looks at before it gives up (then the folder argument stays partial).
MAX_SCOPE_WALK = 200_000
_DEFAULT_NORECURSE = ("*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}")


def _holds_every_test_file(given: Sequence[Path], rootdir: Path, python_files: Sequence[str],
                           norecursedirs: Sequence[str]) -> bool:
    """Whether every test file pytest would collect under ``rootdir`` lies in one of ``given``.

    A walk of the rootdir as pytest's collection does it (``norecursedirs``,
    virtualenvs skipped; symbolic links to folders not followed); a very big
    tree (past :data:`MAX_SCOPE_WALK` entries) is not decided: ``False``.
    """
    import fnmatch

    folders = [g for g in given if g.is_dir()]
    if not folders:
        return False
    skip = list(norecursedirs) or list(_DEFAULT_NORECURSE)
    seen = 0
    stack = [rootdir]
    while stack:
        folder = stack.pop()
        if any(folder == g or g in folder.parents for g in folders):
            continue  # inside an argument: whatever it holds is collected
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        seen += len(entries)
        if seen > MAX_SCOPE_WALK:
            return False
        if any(e.name == "pyvenv.cfg" for e in entries):
            continue  # a virtualenv: pytest doesn't collect in it
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if not any(fnmatch.fnmatch(e.name, pat) for pat in skip):
                        stack.append(Path(e.path))
                elif any(fnmatch.fnmatch(e.name, pat) for pat in python_files):
                    return False  # a test file no argument holds
            except OSError:
                continue
    return True


def _rel(path: Path, rootdir: Path) -> str:
    try:
        return path.relative_to(rootdir.resolve()).as_posix() or "."
    except ValueError:
        return path.as_posix()

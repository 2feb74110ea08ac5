"""Find the signals a framework emits by reading its source (``ast``; nothing is imported).

The scanner walks a package's ``.py`` files and collects every class's
``EMITS`` list, every ``self.emit("name", k=...)`` /
``self.emit_chained("name", key, accept, k=...)`` call, and every
``.send(sender, k=...)`` on a signal obtained from
``create_signal("name")`` / ``get_signal("name")`` / ``signal("name")``. From
those it drafts a signal catalog in this plugin's format, to be reviewed by
hand (tiers, ``when`` texts, field types)::

    >>> result = scan("/path/to/site-packages/kindling")          # doctest: +SKIP
    >>> sorted(result.signals)[:2]                                   # doctest: +SKIP
    ['app.after_deploy', 'app.before_deploy']
    >>> draft = draft_catalog(result, framework="spark-kindling 0.14.0")  # doctest: +SKIP
    >>> print(render_yaml(draft))                                    # doctest: +SKIP

Kinds follow the names: ``before_*``/``pre_*`` is ``pre``, ``after_*``/``post_*``
is ``post``, ``*_failed``/``failed`` is ``failed``, anything else ``event``;
``ns.before_X`` + ``ns.after_X`` (+ ``ns.X_failed``) make the operation ``ns.X``.
A field is required only when every call of its signal passes it; its type
is ``any`` unless every call passes a literal that shows the type.

The contract engine's: imports no pytest and no framework.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from pytest_kindling_signals.catalog.model import signal_kind
from pytest_kindling_signals.files import FileRefused, read_bytes

__all__ = [
    "EmitSite",
    "FieldInfo",
    "ScanError",
    "ScanResult",
    "ScannedSignal",
    "infer_kind",
    "operation_stem",
    "scan",
]

#: Methods that emit a named signal: ``self.emit(name, **payload)`` and
#: ``self.emit_chained(name, chain_key, accept, **payload)``.
_EMIT_METHODS = ("emit", "emit_chained")
#: Calls that return a signal object by name (its ``.send`` emits it).
_GETTERS = ("create_signal", "get_signal", "signal")
_SKIP_DIRS = {"__pycache__", ".git", ".hg", ".tox", ".venv", "venv", "node_modules"}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$")


class ScanError(ValueError):
    """A target that cannot be scanned: the message names it and says what to pass instead."""


# -- results ------------------------------------------------------------------------------

@dataclass(frozen=True)
class EmitSite:
    """One literal emission in the source: ``path:line``, where, how, and its keyword names."""

    signal: str
    path: str
    line: int
    cls: str | None
    function: str | None
    via: str  # "emit" | "emit_chained" | "send"
    keywords: tuple[str, ...]
    #: The call also passes a ``**mapping`` whose keys the scanner cannot all see.
    open: bool = False
    #: Keys of a ``**dict`` built in the same function that it holds on some paths only.
    maybe: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """``Class.method`` (or ``function`` / ``<module>``) of the call."""
        owner = ".".join(p for p in (self.cls, self.function) if p)
        return owner or "<module>"


@dataclass(frozen=True)
class FieldInfo:
    """A payload field as the calls show it."""

    name: str
    required: bool
    type: str = "any"
    nullable: bool = False
    #: How many of the signal's calls pass it.
    seen_in: int = 0


@dataclass(frozen=True)
class ScannedSignal:
    """A signal found in the source, declared (``EMITS``), emitted, or both."""

    name: str
    kind: str
    #: The class the catalog attributes it to: the one whose ``EMITS`` lists it
    #: (preferring one that also emits it), else the class whose method emits it.
    provider: str
    declared_by: tuple[str, ...]
    sites: tuple[EmitSite, ...]

    @property
    def namespace(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def short_name(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def declared(self) -> bool:
        return bool(self.declared_by)

    @property
    def emitted(self) -> bool:
        return bool(self.sites)

    @property
    def open(self) -> bool:
        """Some call passes a ``**mapping``: the payload may hold more than the fields listed."""
        return any(s.open for s in self.sites)

    @property
    def emitted_by(self) -> tuple[str, ...]:
        """``Class.method`` of every call, in source order, without repeats."""
        return tuple(dict.fromkeys(s.where for s in self.sites))


@dataclass
class ScanResult:
    """What :func:`scan` found: signals, the classes' ``EMITS``, fields per signal, warnings."""

    target: str
    roots: tuple[Path, ...]
    package: str
    signals: dict[str, ScannedSignal]
    #: Class name -> the names its ``EMITS`` lists, in the source's order.
    emitters: dict[str, tuple[str, ...]]
    #: Signal name -> field name -> what the calls show.
    fields: dict[str, dict[str, FieldInfo]]
    warnings: list[str] = field(default_factory=list)
    #: Signal name -> ``path:line`` of each ``.connect`` on it (receivers, not emitters).
    subscriptions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    files: int = 0
    distribution: str | None = None
    version: str | None = None

    @property
    def framework(self) -> str:
        """``"<distribution> <version>"`` when the install tells them, else the package name."""
        if self.distribution and self.version:
            return f"{self.distribution} {self.version}"
        return self.package


# -- finding the files ----------------------------------------------------------------------

def _resolve(target: str | os.PathLike[str]) -> tuple[tuple[Path, ...], str]:
    """The folders (or one file) to scan and the package's name; never imports anything."""
    text = os.fspath(target)
    path = Path(text)
    if path.exists():
        if path.is_dir():
            return (path.resolve(),), path.resolve().name
        if path.suffix == ".py":
            return (path.resolve(),), path.stem
        raise ScanError(f"{text}: not a directory or a .py file; pass a package's folder, "
                        "a .py file, or an importable package name")
    looks_like_path = (os.sep in text or (os.altsep and os.altsep in text)
                       or text.endswith(".py") or text.startswith("."))
    if looks_like_path or not all(p.isidentifier() for p in text.split(".")):
        raise ScanError(f"{text}: no such file or directory; check the path, or pass an "
                        "importable package name (e.g. 'kindling')")
    parts = text.split(".")
    spec = importlib.machinery.PathFinder.find_spec(parts[0])
    if spec is None and len(parts) == 1:
        # Finders other than sys.path's (e.g. editable installs); for a top-level
        # name, find_spec imports nothing.
        try:
            spec = importlib.util.find_spec(parts[0])
        except (ImportError, ValueError):
            spec = None
    for i in range(1, len(parts)):
        if spec is None or not spec.submodule_search_locations:
            spec = None
            break
        spec = importlib.machinery.PathFinder.find_spec(
            ".".join(parts[: i + 1]), list(spec.submodule_search_locations))
    if spec is None:
        raise ScanError(f"{text}: no package of that name on this Python's path; install it "
                        "into this environment, or pass its source folder "
                        "(e.g. .../site-packages/kindling)")
    if spec.submodule_search_locations:
        roots = tuple(Path(p).resolve() for p in spec.submodule_search_locations)
        return roots, parts[-1]
    if spec.origin and spec.origin.endswith(".py"):
        return (Path(spec.origin).resolve(),), parts[-1]
    raise ScanError(f"{text}: found, but it is not Python source ({spec.origin}); "
                    "pass the folder of its .py files")


#: The largest source file read (the biggest modules of real frameworks are a few hundred kB).
MAX_SOURCE_BYTES = 8 * 1024 * 1024


def _python_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath) / name


def _distribution_of(root: Path, package: str) -> tuple[str | None, str | None]:
    """The installed distribution (name, version) whose RECORD lists ``root``, if any."""
    if root.is_file():
        return None, None
    for info in sorted(root.parent.glob("*.dist-info")):
        record = info / "RECORD"
        try:
            listed = any(line.startswith(f"{package}/") for line in
                         record.read_text(encoding="utf-8").splitlines())
            if not listed:
                continue
            meta = HeaderParser().parsestr((info / "METADATA").read_text(encoding="utf-8"))
        except OSError:
            continue
        return meta.get("Name"), meta.get("Version")
    return None, None


# -- reading one file ------------------------------------------------------------------------

def _str_const(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _literal_type(node: ast.AST) -> tuple[str | None, bool]:
    """(JSON type a literal expression shows, or None when unknown; whether it may be None)."""
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None:
            return None, True
        if isinstance(value, bool):
            return "boolean", False
        if isinstance(value, int):
            return "integer", False
        if isinstance(value, float):
            return "number", False
        if isinstance(value, str):
            return "string", False
        return None, False
    if isinstance(node, ast.JoinedStr):
        return "string", False
    if isinstance(node, (ast.List, ast.ListComp, ast.Tuple)):
        return "array", False
    if isinstance(node, (ast.Dict, ast.DictComp)):
        return "object", False
    if isinstance(node, ast.Compare):
        return "boolean", False
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        builtin = {"str": "string", "repr": "string", "len": "integer", "int": "integer",
                   "float": "number", "bool": "boolean", "list": "array", "sorted": "array",
                   "dict": "object"}.get(node.func.id)
        if builtin:
            return builtin, False
    if (isinstance(node, ast.Attribute) and node.attr == "__name__"
            and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "type"):
        return "string", False  # type(exc).__name__
    if isinstance(node, ast.IfExp):
        a, a_null = _literal_type(node.body)
        b, b_null = _literal_type(node.orelse)
        if a_null and b is not None:
            return b, True
        if b_null and a is not None:
            return a, True
        return (a if a == b else None), a_null or b_null
    return None, False


def _field_of(parent: ast.AST, child: ast.AST) -> str:
    for name, value in ast.iter_fields(parent):
        if value is child or (isinstance(value, list) and any(v is child for v in value)):
            return name
    return ""


@dataclass
class _Call:
    signal: str
    node: ast.Call
    via: str
    cls: str | None
    function: str | None
    #: Keyword name -> value expression, passed by every execution of the call.
    keywords: dict[str, ast.expr] = field(default_factory=dict)
    #: Keys a ``**dict`` gets only on some paths to the call.
    maybe: dict[str, ast.expr] = field(default_factory=dict)
    open: bool = False


class _FileScanner(ast.NodeVisitor):
    """One file: EMITS lists, emission calls, and ``.connect`` subscriptions."""

    def __init__(self, display: str, tree: ast.AST | None = None) -> None:
        self.display = display
        self._parents: dict[ast.AST, ast.AST] = {}
        if tree is not None:
            for parent in ast.walk(tree):
                for child in ast.iter_child_nodes(parent):
                    self._parents[child] = parent
        self._function_nodes: list[ast.AST] = []
        self.emits: list[tuple[str, int, tuple[str, ...]]] = []  # (class, line, names)
        self.calls: list[_Call] = []
        self.subscriptions: list[tuple[str, str]] = []  # (signal, path:line)
        self.warnings: list[str] = []
        self._classes: list[str] = []
        self._functions: list[str] = []
        self._locals: list[dict[str, str | None]] = [{}]
        self._attrs: dict[str, dict[str, str | None]] = {}  # class -> self.attr -> signal

    # -- where we are
    @property
    def _cls(self) -> str | None:
        return self._classes[-1] if self._classes else None

    @property
    def _func(self) -> str | None:
        return self._functions[-1] if self._functions else None

    def _at(self, node: ast.AST) -> str:
        return f"{self.display}:{getattr(node, 'lineno', 0)}"

    # -- signal objects by name
    def _getter_name(self, node: ast.AST | None) -> tuple[bool, str | None]:
        """(is this a signal getter call, the literal name it gets or None when dynamic)."""
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            found = [self._getter_name(v) for v in node.values]
            if found and all(is_getter for is_getter, _ in found):
                names = {n for _, n in found}
                return True, names.pop() if len(names) == 1 else None
            return False, None
        if not isinstance(node, ast.Call):
            return False, None
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name not in _GETTERS:
            return False, None
        arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
        if arg is None:
            return False, None
        literal = _str_const(arg)
        if name == "signal" and (literal is None or "." not in literal):
            return False, None  # another signal() (e.g. signal.signal(SIGINT, ...)): not a named one
        return True, literal

    def _bound_signal(self, node: ast.AST) -> tuple[bool, str | None]:
        """The signal an expression holds: a local, ``self.attr``, or a getter call."""
        if isinstance(node, ast.Name):
            for scope in reversed(self._locals):
                if node.id in scope:
                    return True, scope[node.id]
            return False, None
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "self" and self._cls is not None):
            attrs = self._attrs.get(self._cls, {})
            if node.attr in attrs:
                return True, attrs[node.attr]
            return False, None
        return self._getter_name(node)

    # -- visitors
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for stmt in node.body:
            value: ast.expr | None = None
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "EMITS"
                                                    for t in stmt.targets):
                value = stmt.value
            elif (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                  and stmt.target.id == "EMITS"):
                value = stmt.value
            if value is None:
                continue
            names = self._emits_literal(value)
            if names is None:
                self.warnings.append(f"{self._at(stmt)}: {node.name}.EMITS is not a literal list "
                                     "of strings; its signals are not read from it")
            else:
                self.emits.append((node.name, stmt.lineno, names))
        # self.attr = create_signal("x") anywhere in the class binds for every method
        attrs: dict[str, str | None] = {}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign):
                is_getter, name = self._getter_name(sub.value)
                if not is_getter:
                    continue
                for target in sub.targets:
                    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                            and target.value.id == "self"):
                        attrs[target.attr] = name
        self._attrs[node.name] = attrs
        self._classes.append(node.name)
        saved_functions, self._functions = self._functions, []
        self.generic_visit(node)
        self._functions = saved_functions
        self._classes.pop()

    def _emits_literal(self, value: ast.AST) -> tuple[str, ...] | None:
        if isinstance(value, (ast.List, ast.Tuple)):
            names = [_str_const(e) for e in value.elts]
            if all(n is not None for n in names):
                return tuple(n for n in names if n is not None)
            return None
        if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
            left, right = self._emits_literal(value.left), self._emits_literal(value.right)
            if left is not None and right is not None:
                return left + right
        return None

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._functions.append(node.name)
        self._function_nodes.append(node)
        self._locals.append({})
        self.generic_visit(node)
        self._locals.pop()
        self._function_nodes.pop()
        self._functions.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        is_getter, name = self._getter_name(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if is_getter:
                    self._locals[-1][target.id] = name
                else:
                    self._locals[-1].pop(target.id, None)
            else:
                self.visit(target)

    # -- payload keywords, including a ``**local_dict`` built in the same function
    def _call(self, signal: str, node: ast.Call, via: str) -> _Call:
        call = _Call(signal, node, via, self._cls, self._func)
        for kw in node.keywords:
            if kw.arg is not None:
                call.keywords[kw.arg] = kw.value
                continue
            definite, maybe, open_ = self._splat(kw.value, node)
            for key, value in definite.items():
                call.keywords.setdefault(key, value)
            for key, value in maybe.items():
                if key not in call.keywords:
                    call.maybe.setdefault(key, value)
            call.open = call.open or open_
        return call

    def _splat(self, value: ast.expr, call: ast.Call) -> tuple[dict[str, ast.expr], dict[str, ast.expr], bool]:
        """Keys of ``**value``: (on every path, on some paths, may hold unseen keys)."""
        if isinstance(value, ast.Dict):
            return self._dict_keys(value)
        func = self._function_nodes[-1] if self._function_nodes else None
        if not isinstance(value, ast.Name) or func is None:
            return {}, {}, True
        name = value.id
        base: ast.Dict | None = None
        base_line = -1
        subscripts: list[tuple[ast.Assign, str | None]] = []
        open_ = False
        for node in ast.walk(func):
            line = getattr(node, "lineno", 0)
            if line >= call.lineno:
                continue
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id == name and line > base_line:
                        base_line = line
                        base = node.value if isinstance(node.value, ast.Dict) else None
                    elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                          and target.value.id == name):
                        subscripts.append((node, _str_const(target.slice)))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and isinstance(node.func.value, ast.Name) and node.func.value.id == name
                  and self._relation(node, call) != "exclusive"):
                open_ = True  # name.update(...) and the like
        if base is None:
            return {}, {}, True
        definite, maybe, base_open = self._dict_keys(base)
        open_ = open_ or base_open
        for assign, key in sorted(subscripts, key=lambda a: a[0].lineno):
            if assign.lineno < base_line:
                continue
            relation = self._relation(assign, call)
            if relation == "exclusive":
                continue
            if key is None:
                open_ = True
            elif relation == "chain":
                definite[key] = assign.value
                maybe.pop(key, None)
            elif key not in definite:
                maybe[key] = assign.value
        return definite, maybe, open_

    @staticmethod
    def _dict_keys(node: ast.Dict) -> tuple[dict[str, ast.expr], dict[str, ast.expr], bool]:
        definite: dict[str, ast.expr] = {}
        open_ = False
        for key, value in zip(node.keys, node.values):
            literal = _str_const(key)
            if literal is None:
                open_ = True  # {**other} or a computed key
            else:
                definite[literal] = value
        return definite, {}, open_

    def _relation(self, stmt: ast.AST, call: ast.AST) -> str:
        """How ``stmt`` (before ``call``) relates to it: ``chain`` (always runs first),
        ``exclusive`` (another branch of an ``if``) or ``conditional``."""
        chain: list[ast.AST] = [call]
        while chain[-1] in self._parents:
            chain.append(self._parents[chain[-1]])
        on_chain = {id(n) for n in chain}
        prev, node = stmt, self._parents.get(stmt)
        while node is not None and id(node) not in on_chain:
            prev, node = node, self._parents.get(node)
        if node is None:
            return "conditional"
        call_child = next((c for c in chain if self._parents.get(c) is node), call)
        field_a, field_c = _field_of(node, prev), _field_of(node, call_child)
        if field_a == field_c:
            return "chain" if prev is stmt else "conditional"
        if isinstance(node, ast.If):
            return "exclusive"
        return "conditional"

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in _EMIT_METHODS and node.args:
                name = _str_const(node.args[0])
                if name is None:
                    self.warnings.append(
                        f"{self._at(node)}: {func.attr}() with a computed signal name "
                        f"({ast.unparse(node.args[0])}); not catalogued")
                else:
                    self.calls.append(self._call(name, node, func.attr))
            elif func.attr in ("send", "connect"):
                is_signal, name = self._bound_signal(func.value)
                if is_signal and name is None:
                    if func.attr == "send":
                        self.warnings.append(
                            f"{self._at(node)}: .send() on a signal whose name is computed; "
                            "not catalogued")
                elif is_signal and name is not None:
                    if func.attr == "send":
                        self.calls.append(self._call(name, node, "send"))
                    else:
                        self.subscriptions.append((name, self._at(node)))
        self.generic_visit(node)


# -- scanning ----------------------------------------------------------------------------------

def infer_kind(name: str) -> str:
    """The kind a spark-kindling style name implies.

    >>> infer_kind("entity.after_merge"), infer_kind("persist.persist_failed")
    ('post', 'failed')
    """
    short = name.rsplit(".", 1)[-1]
    if short.startswith("before_"):
        return "pre"
    if short.startswith("after_"):
        return "post"
    return signal_kind(name)


def operation_stem(name: str) -> tuple[str, str] | None:
    """(the operation's short name, the role) of ``before_X``/``after_X``/``X_failed`` names."""
    short = name.split(".", 1)[1]
    for prefix, role in (("before_", "pre"), ("pre_", "pre"), ("after_", "post"), ("post_", "post")):
        if short.startswith(prefix):
            return short[len(prefix):], role
    if short.endswith("_failed"):
        return short[: -len("_failed")], "failed"
    return None


def scan(target: str | os.PathLike[str]) -> ScanResult:
    """Scan a package (by importable name, found without importing it) or a folder/file.

    Raises :class:`ScanError` for a name that is not installed or a path that
    does not exist. A file that does not parse is skipped with a warning.

    >>> scan("no_such_package_here")
    Traceback (most recent call last):
    ...
    pytest_kindling_signals.catalog.scan.ScanError: no_such_package_here: no package of that name on this Python's path; install it into this environment, or pass its source folder (e.g. .../site-packages/kindling)
    """
    roots, package = _resolve(target)
    warnings: list[str] = []
    declared: dict[str, list[tuple[str, tuple[str, int, int]]]] = {}  # name -> [(class, order)]
    emitters: dict[str, tuple[str, ...]] = {}
    calls: list[tuple[_Call, str]] = []
    subscriptions: dict[str, list[str]] = {}
    files = 0
    for root in roots:
        base = root.parent
        for path in _python_files(root):
            files += 1
            display = path.relative_to(base).as_posix()
            try:  # bytes: Python's own reading honours a coding declaration and a BOM
                source = read_bytes(path, limit=MAX_SOURCE_BYTES, what="Python source")
            except (OSError, FileRefused) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).split(": ", 1)[-1]
                warnings.append(f"{display}: skipped, cannot be read ({why}); its signals are missing "
                                "from the scan")
                continue
            try:
                tree = ast.parse(source, filename=str(path))
                scanner = _FileScanner(display, tree)
                scanner.visit(tree)
            except SyntaxError as exc:
                warnings.append(f"{display}:{exc.lineno or 0}: skipped, not valid Python "
                                f"({exc.msg}); its signals are missing from the scan")
                continue
            except (ValueError, UnicodeError) as exc:  # a NUL byte, an undecodable text
                warnings.append(f"{display}: skipped, not Python source ({exc}); its signals are missing "
                                "from the scan")
                continue
            except (RecursionError, MemoryError):
                warnings.append(f"{display}: skipped, nested too deeply to read; its signals are missing "
                                "from the scan")
                continue
            warnings.extend(scanner.warnings)
            for cls, line, names in scanner.emits:
                if cls in emitters and emitters[cls] != names:
                    warnings.append(f"{display}:{line}: a second class {cls} with another EMITS; "
                                    "the scan merges both lists")
                    names = tuple(dict.fromkeys(emitters[cls] + names))
                emitters[cls] = names
                for i, name in enumerate(names):
                    declared.setdefault(name, []).append((cls, (display, line, i)))
            for call in scanner.calls:
                calls.append((call, display))
            for name, at in scanner.subscriptions:
                subscriptions.setdefault(name, []).append(at)
    if files == 0:
        raise ScanError(f"{os.fspath(target)}: has no .py files to scan; pass the folder that "
                        "holds the package's source")

    sites: dict[str, list[EmitSite]] = {}
    keyword_values: dict[str, list[dict[str, ast.expr]]] = {}
    maybe_values: dict[str, list[dict[str, ast.expr]]] = {}
    for call, display in calls:
        site = EmitSite(call.signal, display, call.node.lineno, call.cls, call.function,
                        call.via, tuple(call.keywords), call.open, tuple(call.maybe))
        sites.setdefault(call.signal, []).append(site)
        keyword_values.setdefault(call.signal, []).append(call.keywords)
        maybe_values.setdefault(call.signal, []).append(call.maybe)

    signals: dict[str, ScannedSignal] = {}
    fields: dict[str, dict[str, FieldInfo]] = {}
    all_names = set(declared) | set(sites)
    for name in sorted(all_names):
        if not _NAME_RE.match(name):
            first_site = sites[name][0] if sites.get(name) else None
            at = (f"{first_site.path}:{first_site.line}" if first_site is not None
                  else f"{declared[name][0][0]}.EMITS")
            warnings.append(f"{at}: signal name {name!r} has no 'namespace.' prefix; not catalogued")
            continue
        own_sites = tuple(sites.get(name, ()))
        declaring = tuple(dict.fromkeys(c for c, _ in declared.get(name, ())))
        emitting_classes = [s.cls for s in own_sites if s.cls]
        provider = next((c for c in declaring if c in emitting_classes), None)
        if provider is None:
            provider = declaring[0] if declaring else (
                emitting_classes[0] if emitting_classes else (
                    Path(own_sites[0].path).stem if own_sites else "unknown"))
        signals[name] = ScannedSignal(name, infer_kind(name), provider, declaring, own_sites)
        fields[name] = _fields(keyword_values.get(name, []), maybe_values.get(name, []))
        if not own_sites:
            warnings.append(f"{name}: listed in {', '.join(d + '.EMITS' for d in declaring)} "
                            "but no call in the scanned source sends it")
        elif not declaring:
            first = own_sites[0]
            warnings.append(f"{first.path}:{first.line}: {name} is sent by {first.where} but "
                            "listed in no class's EMITS")
    for name, ats in sorted(subscriptions.items()):
        if name not in signals:
            warnings.append(f"{ats[0]}: connects to {name}, which nothing in the scanned source sends")

    # keep the order of the source: declarations first, then first emission
    def order(name: str) -> tuple[Any, ...]:
        decl = min((o for _, o in declared.get(name, ())), default=None)
        first = min(((s.path, s.line) for s in signals[name].sites), default=("", 0))
        return (decl is None, decl or ("", 0, 0), first, name)

    ordered = {n: signals[n] for n in sorted(signals, key=order)}
    distribution, version = _distribution_of(roots[0], package)
    return ScanResult(
        target=os.fspath(target), roots=roots, package=package, signals=ordered,
        emitters=dict(sorted(emitters.items())), fields={n: fields[n] for n in ordered},
        warnings=warnings, subscriptions={k: tuple(v) for k, v in sorted(subscriptions.items())},
        files=files, distribution=distribution, version=version,
    )


def _fields(calls: list[dict[str, ast.expr]],
            maybes: list[dict[str, ast.expr]] | None = None) -> dict[str, FieldInfo]:
    maybes = maybes or [{} for _ in calls]
    names = list(dict.fromkeys([n for kws in calls for n in kws] + [n for m in maybes for n in m]))
    result: dict[str, FieldInfo] = {}
    for name in names:
        definite = [kws[name] for kws in calls if name in kws]
        values = definite + [m[name] for m in maybes if name in m]
        types: set[str | None] = set()
        nullable = False
        for value in values:
            t, null = _literal_type(value)
            nullable = nullable or null
            if t is not None or not null:
                types.add(t)
        known = {t for t in types if t is not None}
        type_ = known.pop() if len(known) == 1 and None not in types else "any"
        result[name] = FieldInfo(name, required=len(definite) == len(calls) and bool(calls),
                                 type=type_, nullable=nullable and type_ != "any",
                                 seen_in=len(values))
    return result

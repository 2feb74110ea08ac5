"""Data apps: package a folder into a ``.kda``, deploy it, install it, run it.

A data app is a folder with an ``app.yaml``::

    name: sales_report            # required; letters, digits, '.', '_', '-'
    version: 1.2.0                # required unless package_app(version=...) gives it
    entry_point: main.py          # required; a Python file in the folder
    dependencies: [tinylib>=0.1]  # optional; pip requirements, installed by install_app()
    description: Daily sales      # optional

and the code it needs. :meth:`DataAppManager.package_app` zips it into a
``.kda`` (a zip with a ``manifest.json`` listing every file's sha256),
:meth:`~DataAppManager.deploy_app` unpacks it into
``<deploy_root>/<environment>/<name>``, replacing the previous deployment
atomically, and :meth:`~DataAppManager.run_app` runs its entry point::

    >>> apps = DataAppManager(deploy_root="/tmp/apps")                  # doctest: +SKIP
    >>> kda = apps.package_app("src/sales_report", "dist")              # doctest: +SKIP
    >>> apps.deploy_app(kda, "dev")                                     # doctest: +SKIP
    '/tmp/apps/dev/sales_report'
    >>> apps.run_app("sales_report", target_environment="dev")          # doctest: +SKIP

All file access goes through :mod:`kindling.platform`, so ``platform.*``
signals show every file an app operation reads or writes.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import re
import runpy
import shutil
import stat
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any, ClassVar, TypeVar

import yaml

from pytest_kindling_signals.names import close_matches
from kindling.lakehouse import require_local
from kindling.pip_manager import PipManager
from kindling.platform import PlatformService, absolute_path, get_platform_service
from kindling.signaling import SignalEmitter, SignalProvider

__all__ = [
    "APP_DEFINITION_FILE",
    "MANIFEST_FILE",
    "MAX_COMPRESSION_RATIO",
    "MAX_MEMBERS",
    "MAX_UNPACKED_BYTES",
    "TARGET_PLATFORMS",
    "AppDefinitionError",
    "AppManifest",
    "AppNotFoundError",
    "AppPackageError",
    "AppRunError",
    "AppRunResult",
    "DataAppManager",
]

logger = logging.getLogger("kindling.data_apps")

PathLike = str | os.PathLike[str]
T = TypeVar("T")

APP_DEFINITION_FILE = "app.yaml"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "kindling-app/1"
TARGET_PLATFORMS = ("standalone", "fabric", "synapse", "databricks")
LIBS_DIR = ".libs"
_INSTALLED_MARKER = ".kindling-installed.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SKIPPED_DIRS = {"__pycache__", ".git", ".venv", LIBS_DIR}

#: What a ``.kda`` may unpack to, far above any real app (zip bombs are refused,
#: before they write past a limit). A DataAppManager takes its own limits as
#: keyword arguments (and attributes) of the same names in lower case.
MAX_UNPACKED_BYTES = 1 << 30  # 1 GiB: every file of the package together
MAX_MEMBERS = 10_000  # entries in the zip, folders included
MAX_COMPRESSION_RATIO = 200  # a file's size / its compressed size, once it is past 1 MiB
_RATIO_FREE_BYTES = 1 << 20  # a small file may compress better than that (one of spaces)
_MANIFEST_MAX_BYTES = 16 << 20
_PEEK_MAX_BYTES = 1 << 20
_CHUNK = 1 << 20
_REBUILD = "rebuild it with DataAppManager.package_app()"


class AppDefinitionError(ValueError):
    """The app folder's ``app.yaml`` is missing, unreadable, or lacks a required key."""


class AppPackageError(ValueError):
    """A ``.kda`` is not a valid, untampered app package."""


class AppNotFoundError(LookupError):
    """No app of that name is deployed in that environment."""


class AppRunError(RuntimeError):
    """An app's entry point exited with a non-zero status."""


@dataclass(frozen=True)
class AppManifest:
    """What a ``.kda``'s ``manifest.json`` says."""

    name: str
    version: str
    entry_point: str
    target_platform: str
    dependencies: list[str] = field(default_factory=list)
    description: str = ""
    files: dict[str, str] = field(default_factory=dict)
    """Every packaged file's path (``/``-separated) and sha256."""

    def to_json(self) -> str:
        return json.dumps({"format": MANIFEST_FORMAT, "name": self.name, "version": self.version,
                           "entry_point": self.entry_point, "dependencies": self.dependencies,
                           "target_platform": self.target_platform, "description": self.description,
                           "files": self.files}, indent=2, sort_keys=True)


@dataclass(frozen=True)
class AppRunResult:
    """How a run went; ``stdout``/``stderr`` are captured only for ``isolated=True`` runs."""

    app_name: str
    version: str
    returncode: int
    stdout: str | None = None
    stderr: str | None = None


class DataAppManager(SignalEmitter):
    """Packages, deploys, installs, runs and removes data apps.

    ``deploy_root`` defaults to ``<current lakehouse>/apps`` (read at each
    call). ``run_app`` runs the entry point in this process with
    :func:`runpy.run_path` (so the app shares the Spark session and its
    signals nest under ``app.run``), or in a subprocess with
    ``isolated=True``.

    ``max_unpacked_bytes``, ``max_members`` and ``max_compression_ratio``
    bound what a deployed ``.kda`` may unpack to (defaults
    :data:`MAX_UNPACKED_BYTES` = 1 GiB, :data:`MAX_MEMBERS` = 10,000,
    :data:`MAX_COMPRESSION_RATIO` = 200 per file past 1 MiB): members are
    streamed to disk and the bytes actually decompressed are counted, so a
    zip bomb is refused with :class:`AppPackageError` before it writes past
    a limit, and the previous deployment stays as it was.

    >>> apps = DataAppManager()                                           # doctest: +SKIP
    >>> apps.install_app(apps.package_app("src/report"), "prod")          # doctest: +SKIP
    >>> DataAppManager(max_unpacked_bytes=5 << 30).deploy_app("big.kda", "prod")  # doctest: +SKIP

    Signals Emitted:
        - ``app.pre_package``: ``app_name``, ``version``, ``target_platform``
        - ``app.post_package``: ``kda_file``, ``kda_size_bytes``, ``file_count``, ``duration_seconds``
        - ``app.package_failed``: ``app_name``, ``error``, ``error_type``, ``duration_seconds``
        - ``app.pre_deploy``: ``app_name``, ``kda_file``, ``target_environment``
        - ``app.post_deploy``: ``deploy_path``, ``file_count``, ``version``, ``duration_seconds``
        - ``app.deploy_failed``: ``app_name``, ``error``, ``error_type``, ``duration_seconds``
        - ``app.pre_run``: ``app_name`` (+ ``target_environment``, ``isolated``)
        - ``app.post_run``: ``app_name``, ``duration_seconds``
        - ``app.run_failed``: ``app_name``, ``error``, ``error_type``, ``duration_seconds``
        - ``app.installed``: ``app_name``, ``version``, ``deploy_path``, ``dependencies``
        - ``app.uninstalled``: ``app_name``, ``target_environment``
    """

    EMITS: ClassVar[tuple[str, ...]] = (
        "app.pre_package", "app.post_package", "app.package_failed",
        "app.pre_deploy", "app.post_deploy", "app.deploy_failed",
        "app.pre_run", "app.post_run", "app.run_failed",
        "app.installed", "app.uninstalled")

    def __init__(self, signal_provider: SignalProvider | None = None, *,
                 deploy_root: PathLike | None = None, platform: PlatformService | None = None,
                 pip_manager: PipManager | None = None, max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
                 max_members: int = MAX_MEMBERS, max_compression_ratio: float = MAX_COMPRESSION_RATIO) -> None:
        super().__init__(signal_provider)
        self.max_unpacked_bytes = max_unpacked_bytes
        self.max_members = max_members
        self.max_compression_ratio = max_compression_ratio
        self._limits()  # bad limits fail here, not at the first deploy
        self._deploy_root = absolute_path(deploy_root, "deploy_root") if deploy_root is not None else None
        # The provider's own platform service, so platform.* goes where the caller listens.
        self.platform = platform or (
            PlatformService(signal_provider) if signal_provider is not None else get_platform_service())
        self.pip = pip_manager or PipManager(signal_provider)

    @property
    def deploy_root(self) -> str:
        return self._deploy_root or os.path.join(require_local("app deployment"), "apps")

    def _limits(self) -> _Limits:
        for attr in ("max_unpacked_bytes", "max_members", "max_compression_ratio"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
                    or (attr != "max_compression_ratio" and not isinstance(value, int)):
                kind = "number" if attr == "max_compression_ratio" else "int"
                raise ValueError(f"{attr}={value!r} must be a positive {kind}")
        return _Limits(self.max_unpacked_bytes, self.max_members, float(self.max_compression_ratio))

    # -- package
    def package_app(self, app_dir: PathLike, output_dir: PathLike | None = None, *,
                    version: str | None = None, target_platform: str = "standalone") -> str:
        """Zip ``app_dir`` into ``<output_dir>/<name>-<version>.kda``; returns its path.

        ``output_dir`` defaults to the folder that holds ``app_dir``;
        ``version`` overrides ``app.yaml``'s. Caches (``__pycache__``,
        ``*.pyc``) and ``.kda`` files are left out.

        >>> DataAppManager().package_app("src/report", "dist", version="1.0.1")  # doctest: +SKIP
        '/abs/dist/report-1.0.1.kda'
        """
        src = os.path.abspath(os.fspath(app_dir))
        fs = self.platform
        definition, problem = _try(lambda: _read_definition(fs, src, version, target_platform))
        name = definition.name if definition else os.path.basename(src)
        shown_version = definition.version if definition else (version or "unknown")
        with self.operation("app.package", app_name=name, version=shown_version,
                            target_platform=target_platform) as op:
            if problem is not None:
                raise problem
            assert definition is not None
            files: dict[str, str] = {}
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for path, rel in _app_files(src):
                    data = fs.read(path)
                    files[rel] = hashlib.sha256(data).hexdigest()
                    zf.writestr(rel, data)
                if definition.entry_point not in files:
                    raise AppDefinitionError(
                        f"{os.path.join(src, APP_DEFINITION_FILE)}: entry_point "
                        f"{definition.entry_point!r} is not a file in {src!r}; set entry_point to the "
                        f"app's main Python file, relative to the app folder")
                manifest = replace(definition, files=files)
                zf.writestr(MANIFEST_FILE, manifest.to_json())
            out = os.path.abspath(os.fspath(output_dir)) if output_dir is not None else os.path.dirname(src)
            data = buf.getvalue()
            kda = fs.write(os.path.join(out, f"{name}-{manifest.version}.kda"), data)  # atomic
            op.set(kda_file=kda, kda_size_bytes=len(data), file_count=len(files))
        return kda

    # -- deploy
    def deploy_app(self, kda_file: PathLike, target_environment: str) -> str:
        """Unpack ``kda_file`` into ``<deploy_root>/<target_environment>/<name>``; returns that path.

        Every file's sha256 is checked against the manifest and no entry may
        point outside the deployment folder. The files land in a staging
        folder first and replace the previous deployment in one rename, so
        a corrupt or tampered package leaves the previous deployment as it
        was and no half-deployed folder behind.

        >>> DataAppManager().deploy_app("dist/report-1.0.1.kda", "prod")  # doctest: +SKIP
        '/lake/apps/prod/report'
        """
        return self._deploy(kda_file, target_environment, None)

    def _deploy(self, kda_file: PathLike, target_environment: str,
                prepare: Callable[[str, AppManifest], None] | None) -> str:
        """:meth:`deploy_app`, with ``prepare(staging, manifest)`` run before the swap (for install)."""
        kda = os.path.abspath(os.fspath(kda_file))
        env = _check_name(target_environment, "target_environment")
        fs = self.platform
        limits = self._limits()
        data, problem = _try(lambda: fs.read(kda))
        peeked = _peek_name(data) if data is not None else None
        with self.operation("app.deploy", app_name=peeked or _stem(kda), kda_file=kda,
                            target_environment=env) as op:
            if problem is not None:
                raise problem
            assert data is not None
            with _open_package(kda, data, limits) as package:
                manifest = package.manifest
                env_dir = os.path.join(self.deploy_root, env)
                final = os.path.join(env_dir, manifest.name)
                staging = os.path.join(env_dir, f".{manifest.name}.deploying-{uuid.uuid4().hex[:8]}")
                try:
                    package.unpack(fs, staging)
                    if prepare is not None:
                        prepare(staging, manifest)
                    _swap_in(fs, staging, final)
                finally:
                    if os.path.exists(staging):
                        shutil.rmtree(staging, ignore_errors=True)
            op.set(deploy_path=final, file_count=len(package.members), version=manifest.version)
        return final

    # -- install / uninstall
    def install_app(self, kda_file: PathLike, target_environment: str = "local", *,
                    index_url: str | None = None, find_links: PathLike | Sequence[PathLike] | None = None,
                    no_index: bool = False) -> str:
        """Deploy ``kda_file`` and install its dependencies into its ``.libs`` folder; returns the deploy path.

        Dependencies are installed with :class:`~kindling.pip_manager.PipManager`
        into the staging folder, before it replaces the previous deployment:
        their ``pip.*`` signals nest inside ``app.deploy``, and a failed
        install is a failed deploy that leaves the previous deployment as it
        was. ``app.installed`` is emitted once both steps succeeded.

        >>> DataAppManager().install_app("dist/report-1.0.1.kda", "prod",
        ...                              no_index=True, find_links="wheels")  # doctest: +SKIP
        """
        def install_dependencies(staging: str, manifest: AppManifest) -> None:
            # Into the staging folder, before the swap: a failed install leaves
            # the previous deployment running, as a tampered package does.
            if manifest.dependencies:
                self.pip.install_packages(manifest.dependencies, target=os.path.join(staging, LIBS_DIR),
                                          index_url=index_url, find_links=find_links, no_index=no_index)
            self.platform.write(os.path.join(staging, _INSTALLED_MARKER),
                                json.dumps({"name": manifest.name, "version": manifest.version,
                                            "dependencies": manifest.dependencies}))

        deployed = self._deploy(kda_file, target_environment, install_dependencies)
        manifest = self._manifest(deployed)
        self.emit("app.installed", app_name=manifest.name, version=manifest.version,
                  deploy_path=deployed, dependencies=list(manifest.dependencies))
        return deployed

    def uninstall_app(self, app_name: str, target_environment: str = "local") -> None:
        """Remove the app's deployment (code and ``.libs``) from ``target_environment``.

        >>> DataAppManager().uninstall_app("report", "prod")  # doctest: +SKIP
        """
        path = self._deployment(app_name, target_environment)
        self.platform.delete(path, recursive=True)
        self.emit("app.uninstalled", app_name=app_name, target_environment=target_environment)

    def list_apps(self, target_environment: str = "local") -> list[str]:
        """The apps deployed in ``target_environment``, sorted."""
        env_dir = os.path.join(self.deploy_root, _check_name(target_environment, "target_environment"))
        if not os.path.isdir(env_dir):
            return []
        return sorted(n for n in os.listdir(env_dir)
                      if not n.startswith(".") and os.path.isfile(os.path.join(env_dir, n, MANIFEST_FILE)))

    # -- run
    def run_app(self, app_name: str, target_environment: str = "local", *, args: Sequence[str] = (),
                isolated: bool = False, timeout: float | None = None) -> AppRunResult:
        """Run the deployed app's entry point as ``__main__`` with ``sys.argv[1:] == args``.

        In-process by default: an exception from the entry point propagates
        (``app.run_failed`` carries its type), ``sys.exit(n)`` with ``n != 0``
        raises :class:`AppRunError`. ``isolated=True`` runs
        ``python <entry_point>`` in a subprocess in the deployment folder;
        a non-zero exit raises :class:`AppRunError` with the end of stderr.

        >>> DataAppManager().run_app("report", "prod", args=["--day", "2025-01-20"])  # doctest: +SKIP
        """
        with self.operation("app.run", app_name=app_name, target_environment=target_environment,
                            isolated=isolated):
            path = self._deployment(app_name, target_environment)
            manifest = self._manifest(path)
            entry = os.path.join(path, *manifest.entry_point.split("/"))
            if isolated:
                result = self._run_subprocess(manifest, path, entry, args, timeout)
            else:
                self._run_in_process(manifest, path, entry, args)
                result = AppRunResult(manifest.name, manifest.version, 0)
        return result

    def _run_in_process(self, manifest: AppManifest, path: str, entry: str, args: Sequence[str]) -> None:
        saved_path, saved_argv, before = list(sys.path), list(sys.argv), set(sys.modules)
        sys.path[:0] = [path, os.path.join(path, LIBS_DIR)]
        sys.argv = [entry, *map(str, args)]
        try:
            runpy.run_path(entry, run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise AppRunError(f"app {manifest.name!r} exited with status {exc.code!r}") from None
        finally:
            sys.path[:], sys.argv = saved_path, saved_argv
            # The app's own modules go, so the next run (maybe another version) imports fresh.
            for mod_name in set(sys.modules) - before:
                mod_file = getattr(sys.modules[mod_name], "__file__", None) or ""
                if mod_file.startswith(path + os.sep):
                    del sys.modules[mod_name]

    def _run_subprocess(self, manifest: AppManifest, path: str, entry: str, args: Sequence[str],
                        timeout: float | None) -> AppRunResult:
        pythonpath = os.pathsep.join(p for p in (path, os.path.join(path, LIBS_DIR),
                                                 os.environ.get("PYTHONPATH", "")) if p)
        proc = subprocess.run([sys.executable, entry, *map(str, args)], cwd=path, capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": pythonpath},
                              check=False)
        if proc.returncode != 0:
            last = [ln for ln in proc.stderr.splitlines() if ln.strip()][-1:] or ["no output on stderr"]
            raise AppRunError(f"app {manifest.name!r} exited with status {proc.returncode}: {last[0]}")
        return AppRunResult(manifest.name, manifest.version, 0, proc.stdout, proc.stderr)

    # -- helpers
    def _deployment(self, app_name: str, target_environment: str) -> str:
        env = _check_name(target_environment, "target_environment")
        path = os.path.join(self.deploy_root, env, _check_name(app_name, "app_name"))
        if not os.path.isfile(os.path.join(path, MANIFEST_FILE)):
            known = self.list_apps(env)
            close = close_matches(app_name, known)
            hint = (f"; did you mean {' or '.join(map(repr, close))}?" if close
                    else f"; deployed there: {known}" if known else "; deploy it first with deploy_app()")
            raise AppNotFoundError(f"no app {app_name!r} is deployed in environment {env!r} "
                                   f"({os.path.join(self.deploy_root, env)}){hint}")
        return path

    def _manifest(self, path: str) -> AppManifest:
        raw = json.loads(self.platform.read_text(os.path.join(path, MANIFEST_FILE)))
        return _manifest_from(raw, os.path.join(path, MANIFEST_FILE))


# -- app definitions -------------------------------------------------------------

def _try(fn: Callable[[], T]) -> tuple[T | None, Exception | None]:
    """``fn()`` and no error, or ``None`` and the error: lets a failure surface inside an operation."""
    try:
        return fn(), None
    except Exception as exc:
        return None, exc


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SAFE_NAME.match(value):
        raise ValueError(f"{what}={value!r} is not a valid name: use letters, digits, '.', '_' "
                         f"or '-', starting with a letter or digit (it becomes a folder name)")
    return value


def _read_definition(fs: PlatformService, app_dir: str, version: str | None,
                     target_platform: str) -> AppManifest:
    path = os.path.join(app_dir, APP_DEFINITION_FILE)
    if not os.path.isdir(app_dir):
        raise AppDefinitionError(f"app_dir={app_dir!r} is not a folder; pass the folder that "
                                 f"holds the app's {APP_DEFINITION_FILE}")
    if not fs.exists(path):
        raise AppDefinitionError(f"{path}: no {APP_DEFINITION_FILE} in the app folder; add one with "
                                 f"at least 'name', 'version' and 'entry_point'")
    try:
        raw = yaml.safe_load(fs.read_text(path))
    except yaml.YAMLError as exc:
        raise AppDefinitionError(f"{path}: invalid YAML{_yaml_where(exc)}: "
                                 f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(raw, dict):
        raise AppDefinitionError(f"{path}: expected a mapping of keys (name, version, entry_point, "
                                 f"...), got {type(raw).__name__}")
    if version is not None:
        raw["version"] = version
    for key in ("name", "version", "entry_point"):
        if raw.get(key) in (None, ""):
            raise AppDefinitionError(f"{path}: missing key {key!r}; add '{key}: ...' "
                                     f"(required keys: name, version, entry_point)")
    name = _check_name(str(raw["name"]), f"{path}: name")
    entry = str(raw["entry_point"]).replace("\\", "/")
    if not entry.endswith(".py") or _escapes(entry):
        raise AppDefinitionError(f"{path}: entry_point={entry!r} must be a .py file inside the app folder")
    deps = raw.get("dependencies") or []
    if not isinstance(deps, list) or not all(isinstance(d, str) and d.strip() for d in deps):
        raise AppDefinitionError(f"{path}: dependencies must be a list of pip requirement "
                                 f"strings, got {deps!r}")
    if target_platform not in TARGET_PLATFORMS:
        raise ValueError(f"target_platform={target_platform!r} is not one of {', '.join(TARGET_PLATFORMS)}")
    return AppManifest(name=name, version=str(raw["version"]), entry_point=entry,
                       target_platform=target_platform, dependencies=[d.strip() for d in deps],
                       description=str(raw.get("description") or ""))


def _yaml_where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _app_files(app_dir: str) -> list[tuple[str, str]]:
    found = []
    for folder, dirs, files in os.walk(app_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        for f in sorted(files):
            if f.endswith((".pyc", ".kda")) or f.startswith("."):
                continue
            path = os.path.join(folder, f)
            found.append((path, os.path.relpath(path, app_dir).replace(os.sep, "/")))
    return found


# -- packages --------------------------------------------------------------------

def _stem(kda: str) -> str:
    return os.path.splitext(os.path.basename(kda))[0]


def _peek_name(data: bytes) -> str | None:
    """The manifest's app name for ``pre_deploy``, if it can be read cheaply; never raises."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open(MANIFEST_FILE) as f:
            name = json.loads(f.read(_PEEK_MAX_BYTES + 1)[:_PEEK_MAX_BYTES]).get("name")
        return name if isinstance(name, str) and _SAFE_NAME.match(name) else None
    except Exception:
        return None  # the real check, inside the operation, says what is wrong


def _escapes(name: str) -> bool:
    """Whether an archive path would land outside the folder it is unpacked into."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return True
    return ".." in PurePosixPath(name.replace("\\", "/")).parts


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _manifest_from(raw: Any, where: str) -> AppManifest:
    """A manifest's JSON as an :class:`AppManifest`; a bad key is an AppPackageError naming it."""
    def bad(key: str, want: str) -> AppPackageError:
        return AppPackageError(f"{where}: {MANIFEST_FILE} key {key!r} must be {want}, got "
                               f"{_short(raw[key])}; {_REBUILD}")

    if not isinstance(raw, dict):
        raise AppPackageError(f"{where}: {MANIFEST_FILE} is not a JSON object; {_REBUILD}")
    missing = [k for k in ("name", "version", "entry_point", "target_platform", "files") if k not in raw]
    if missing:
        raise AppPackageError(f"{where}: {MANIFEST_FILE} lacks {', '.join(map(repr, missing))}; {_REBUILD}")
    if raw.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT:
        raise bad("format", repr(MANIFEST_FORMAT))
    for key in ("name", "version", "entry_point", "target_platform"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise bad(key, "a non-empty string")
    if not _SAFE_NAME.match(raw["name"]):
        raise bad("name", "a name of letters, digits, '.', '_' or '-', starting with a letter or digit")
    entry = raw["entry_point"]
    if not entry.endswith(".py") or _escapes(entry):
        raise bad("entry_point", "a .py file inside the package")
    if raw["target_platform"] not in TARGET_PLATFORMS:
        raise bad("target_platform", f"one of {', '.join(TARGET_PLATFORMS)}")
    deps = raw.get("dependencies")
    if deps is not None and not (isinstance(deps, list) and all(isinstance(d, str) and d.strip() for d in deps)):
        raise bad("dependencies", "a list of pip requirement strings")
    if not isinstance(raw.get("description"), (str, type(None))):
        raise bad("description", "a string")
    files = raw["files"]
    if not isinstance(files, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) for k, v in files.items()):
        raise bad("files", "a map of file paths to sha256 digests")
    return AppManifest(name=raw["name"], version=raw["version"], entry_point=entry,
                       target_platform=raw["target_platform"], dependencies=list(deps or []),
                       description=raw.get("description") or "", files=dict(files))


@dataclass(frozen=True)
class _Limits:
    max_unpacked_bytes: int
    max_members: int
    max_compression_ratio: float


_FILE_KINDS = {stat.S_IFLNK: "symbolic link", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
               stat.S_IFIFO: "named pipe", stat.S_IFSOCK: "socket"}


class _MemberStream:
    """One member's bytes as they are decompressed: counted, hashed, and refused past the limits.

    The sizes the zip declares are not trusted: the bytes actually produced
    are counted, and the read that would pass a limit raises instead of
    returning them, so nothing past the limit is ever written.
    """

    def __init__(self, package: _Package, info: zipfile.ZipInfo, budget: int) -> None:
        self.name = info.filename
        self.count = 0
        self.sha256 = hashlib.sha256()
        self._kda = package.kda
        self._budget = budget
        limits = package.limits
        self._limits = limits
        # The compressed size is the zip's word too: never more than the whole package.
        self._ratio_cap = max(_RATIO_FREE_BYTES,
                              limits.max_compression_ratio * min(info.compress_size, package.size))
        try:
            self._source = package.zf.open(info)
        except Exception as exc:  # encrypted, an unknown compression, a broken header...
            raise AppPackageError(f"{self._kda}: member {self.name!r} cannot be read ({exc}); {_REBUILD}") from None

    def read(self, size: int = -1, /) -> bytes:
        try:
            chunk = self._source.read(size if 0 < size <= _CHUNK else _CHUNK)
        except Exception as exc:  # a bad CRC, a truncated or garbled stream
            raise AppPackageError(f"{self._kda}: member {self.name!r} is corrupt ({exc}); {_REBUILD}") from None
        self.count += len(chunk)
        if self.count > self._budget:
            raise AppPackageError(
                f"{self._kda}: refusing to deploy, it unpacks to more than max_unpacked_bytes="
                f"{self._limits.max_unpacked_bytes:,} bytes (at member {self.name!r}); a real app is far "
                f"smaller (a zip bomb?); raise DataAppManager(max_unpacked_bytes=...) if it is genuine")
        if self.count > self._ratio_cap:
            raise AppPackageError(
                f"{self._kda}: refusing to deploy, member {self.name!r} expands more than "
                f"max_compression_ratio={self._limits.max_compression_ratio:g} times its compressed size "
                f"(a zip bomb?); raise DataAppManager(max_compression_ratio=...) if it is genuine")
        self.sha256.update(chunk)
        return chunk

    def read_all(self) -> bytes:
        parts = []
        while chunk := self.read(_CHUNK):
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        self._source.close()


class _Package:
    """A ``.kda`` whose entries and manifest were checked; :meth:`unpack` streams its files out."""

    def __init__(self, kda: str, zf: zipfile.ZipFile, limits: _Limits, size: int) -> None:
        self.kda, self.zf, self.limits, self.size = kda, zf, limits, size
        self.members = self._check_members()
        self.manifest = self._read_manifest()
        listed, present = set(self.manifest.files), {i.filename for i in self.members} - {MANIFEST_FILE}
        if listed != present:
            extra, lost = sorted(present - listed), sorted(listed - present)
            raise AppPackageError(f"{kda} does not match its manifest (files not listed: {extra}; listed "
                                  f"but missing: {lost}); the package was altered, {_REBUILD}")
        if self.manifest.entry_point not in present:
            raise AppPackageError(f"{kda}: entry_point {self.manifest.entry_point!r} is not in the package; "
                                  f"{_REBUILD}")

    def __enter__(self) -> _Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zf.close()

    def _check_members(self) -> list[zipfile.ZipInfo]:
        """The file entries, after refusing what no app package holds; nothing is decompressed yet."""
        kda, infos, limits = self.kda, self.zf.infolist(), self.limits
        if len(infos) > limits.max_members:
            raise AppPackageError(f"{kda} holds {len(infos):,} entries, more than max_members="
                                  f"{limits.max_members:,}; raise DataAppManager(max_members=...) if it is genuine")
        for info in infos:
            kind = _FILE_KINDS.get(stat.S_IFMT(info.external_attr >> 16))
            if kind is not None:
                raise AppPackageError(f"{kda}: member {info.filename!r} is a {kind}; a package holds only "
                                      f"files and folders, {_REBUILD}")
        files = [i for i in infos if not i.is_dir()]
        unsafe = [i.filename for i in files if _escapes(i.filename)]
        if unsafe:
            raise AppPackageError(f"{kda}: refusing to deploy, entries {unsafe} would be written outside "
                                  f"the deployment folder (absolute path or '..'); {_REBUILD}")
        paths: dict[str, str] = {}  # the path a member is written to -> its name in the zip
        for info in files:
            parts = [p for p in info.filename.split("/") if p not in ("", ".")]
            path = "/".join(parts)
            if not parts or any(len(p.encode("utf-8", "surrogatepass")) > 255 for p in parts):
                raise AppPackageError(f"{kda}: member {_short(info.filename)} is not a valid file name; {_REBUILD}")
            if path in paths:
                raise AppPackageError(f"{kda}: members {paths[path]!r} and {info.filename!r} are both "
                                      f"written to {path!r}; {_REBUILD}")
            paths[path] = info.filename
        for path, name in paths.items():
            folder = path.rpartition("/")[0]
            while folder:
                if folder in paths:
                    raise AppPackageError(f"{kda}: member {paths[folder]!r} is a file, but member {name!r} "
                                          f"needs it to be a folder; {_REBUILD}")
                folder = folder.rpartition("/")[0]
        # What the zip declares is checked first (refused before anything is written);
        # the streams count what it really holds.
        declared = sum(i.file_size for i in files)
        if declared > limits.max_unpacked_bytes:
            raise AppPackageError(f"{kda}: refusing to deploy, its files declare {declared:,} bytes, more than "
                                  f"max_unpacked_bytes={limits.max_unpacked_bytes:,}; raise "
                                  f"DataAppManager(max_unpacked_bytes=...) if it is genuine")
        for i in files:
            if i.header_offset + i.compress_size > self.size:
                raise AppPackageError(f"{kda}: member {i.filename!r} claims more compressed bytes than the "
                                      f"package holds (the zip is corrupt); {_REBUILD}")
            if i.file_size > max(_RATIO_FREE_BYTES, limits.max_compression_ratio * i.compress_size):
                raise AppPackageError(
                    f"{kda}: refusing to deploy, member {i.filename!r} declares {i.file_size:,} bytes from "
                    f"{i.compress_size:,} compressed, more than max_compression_ratio="
                    f"{limits.max_compression_ratio:g} times (a zip bomb?); raise "
                    f"DataAppManager(max_compression_ratio=...) if it is genuine")
        if MANIFEST_FILE not in paths.values():
            raise AppPackageError(f"{kda} has no {MANIFEST_FILE}; {_REBUILD}")
        return files

    def _read_manifest(self) -> AppManifest:
        info = next(i for i in self.members if i.filename == MANIFEST_FILE)
        stream = _MemberStream(self, info, min(self.limits.max_unpacked_bytes, _MANIFEST_MAX_BYTES))
        try:
            text = stream.read_all()
        finally:
            stream.close()
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise AppPackageError(f"{self.kda}: {MANIFEST_FILE} is not valid JSON ({exc}); {_REBUILD}") from None
        return _manifest_from(raw, self.kda)

    def unpack(self, fs: PlatformService, folder: str) -> None:
        """Stream every file into ``folder`` (through the platform), checking its sha256."""
        budget = self.limits.max_unpacked_bytes
        for info in self.members:
            stream = _MemberStream(self, info, budget)
            try:
                fs.write(os.path.join(folder, *info.filename.split("/")), stream)
            except OSError as exc:
                if exc.errno not in (errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL):
                    raise  # a full disk, a permission: not the package's fault
                raise AppPackageError(f"{self.kda}: member {_short(info.filename)} can't be written here "
                                      f"({exc.strerror}); {_REBUILD}") from None
            finally:
                stream.close()
            budget -= stream.count
            expected = self.manifest.files.get(info.filename)
            if info.filename != MANIFEST_FILE and stream.sha256.hexdigest() != expected:
                raise AppPackageError(f"{self.kda}: sha256 of {[info.filename]} does not match the manifest; "
                                      f"the package was altered or damaged, {_REBUILD}")


def _open_package(kda: str, data: bytes, limits: _Limits) -> _Package:
    """The package in ``data``, its entries and manifest checked (nothing is unpacked yet)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # zipfile parses untrusted bytes: whatever it raises, the zip is broken
        raise AppPackageError(f"{kda} is not a valid .kda package (not a zip archive: {exc}); {_REBUILD}") from None
    try:
        return _Package(kda, zf, limits, len(data))
    except BaseException:
        zf.close()
        raise


def _swap_in(fs: PlatformService, staging: str, final: str) -> None:
    """Replace ``final`` by ``staging`` with renames; the old deployment comes back if the swap fails."""
    if not os.path.exists(final):
        fs.move(staging, final)
        return
    previous = f"{os.path.dirname(final)}{os.sep}.{os.path.basename(final)}.previous-{uuid.uuid4().hex[:8]}"
    fs.move(final, previous)
    try:
        fs.move(staging, final)
    except BaseException:
        fs.move(previous, final)
        raise
    try:
        fs.delete(previous, recursive=True)
    except OSError as exc:  # deployed all the same: a leftover folder is not a failed deploy
        logger.warning("deployed %s; could not remove the previous deployment %s: %s", final, previous, exc)

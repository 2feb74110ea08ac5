"""Start a Kindling app: load its settings, detect the platform, install its packages.

:func:`initialize_framework` takes the settings as a dict or as a folder
holding ``settings.yaml`` plus optional environment overlays
(``settings.<environment>.yaml``, deep-merged over the base)::

    # settings.yaml
    app_name: sales
    dependencies:
      framework_wheels: [kindling_ext-0.2.0-py3-none-any.whl]  # wheel files in wheels_dir
      lake_packages: [sales_rules]      # installed from wheels_dir, offline
      pypi_packages: [requests>=2.31]   # installed from the package index
      wheels_dir: /lake/packages        # default: <lakehouse>/packages
    pip:
      target: /lake/libs                # default: the current environment
      index_url: https://index.example/simple

    >>> ctx = initialize_framework("config/", environment="dev")   # doctest: +SKIP
    >>> ctx.platform, ctx.config["app_name"]                        # doctest: +SKIP
    ('standalone', 'sales')

The environment is, first found: the ``environment=`` argument,
``$KINDLING_ENVIRONMENT``, the base settings' ``environment`` key,
``"local"``. The platform is the settings' ``platform`` key, or else
detected by :func:`detect_platform`.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from kindling.lakehouse import require_local
from kindling.pip_manager import PipManager
from kindling.platform import PlatformService, get_platform_service
from kindling.signaling import SignalEmitter, SignalProvider

__all__ = [
    "ENV_ENVIRONMENT",
    "FABRIC_CONTEXT_FILE",
    "PLATFORMS",
    "Bootstrap",
    "ConfigError",
    "FrameworkContext",
    "LoadedConfig",
    "PlatformInfo",
    "detect_platform",
    "initialize_framework",
    "load_config",
]

PathLike = str | os.PathLike[str]

PLATFORMS = ("fabric", "synapse", "databricks", "standalone")
ENV_ENVIRONMENT = "KINDLING_ENVIRONMENT"
SETTINGS_FILE = "settings.yaml"
DEFAULT_ENVIRONMENT = "local"
# Fabric Spark writes its session context (workspace, lakehouse, capacity ids) here.
FABRIC_CONTEXT_FILE = "/home/trusted-service-user/.trident-context"
SYNAPSE_AZURE_SERVICE = "Microsoft.ProjectArcadia"
_DEPENDENCY_GROUPS = ("framework_wheels", "lake_packages", "pypi_packages")


class ConfigError(ValueError):
    """A settings file is missing or malformed, or a setting has the wrong shape."""


@dataclass(frozen=True)
class LoadedConfig:
    """Merged settings, the files they came from (base first), and the environment chosen."""

    settings: dict[str, Any]
    files: list[str]
    environment: str


@dataclass(frozen=True)
class PlatformInfo:
    """What :func:`detect_platform` found and what told it (``detected_by``)."""

    platform: str
    workspace_id: str | None
    spark_version: str | None
    detected_by: str


@dataclass(frozen=True)
class FrameworkContext:
    """The initialised framework: who, where, with which settings and packages."""

    app_name: str
    environment: str
    platform: str
    workspace_id: str | None
    spark_version: str | None
    config: dict[str, Any]
    config_files: list[str]
    framework_wheels: list[str] = field(default_factory=list)
    lake_packages: list[str] = field(default_factory=list)
    pypi_packages: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0


# -- settings ----------------------------------------------------------------------

def load_config(config: Mapping[str, Any] | PathLike, environment: str | None = None, *,
                platform: PlatformService | None = None) -> LoadedConfig:
    """Load settings from a dict, a settings folder, or one YAML file plus its overlay.

    A folder needs ``settings.yaml``; ``settings.<environment>.yaml`` is
    merged over it when present. A file ``app.yaml`` takes ``app.<env>.yaml``
    as its overlay. Mappings merge key by key at every depth; other values
    (lists included) are replaced by the overlay's.

    >>> load_config({"app_name": "demo", "environment": "dev"}).environment
    'dev'
    """
    if isinstance(config, Mapping):
        settings = copy.deepcopy(dict(config))
        return LoadedConfig(settings, [], _environment(environment, settings))
    if not isinstance(config, (str, os.PathLike)):
        raise TypeError(f"config={config!r} must be a dict of settings or a path to a settings "
                        f"folder (with {SETTINGS_FILE}) or YAML file")
    fs = platform or get_platform_service()
    path = os.path.abspath(os.fspath(config))
    if os.path.isdir(path):
        base_file = os.path.join(path, SETTINGS_FILE)
    elif os.path.isfile(path):
        base_file = path
    else:
        raise ConfigError(f"{path}: no such settings folder or file; pass a folder holding "
                          f"{SETTINGS_FILE} (and settings.<environment>.yaml overlays) or a YAML file")
    if not os.path.isfile(base_file):
        raise ConfigError(f"{base_file}: not found; a settings folder needs {SETTINGS_FILE} "
                          f"(overlays go in settings.<environment>.yaml)")
    settings = _read_yaml(fs, base_file)
    env = _environment(environment, settings)
    stem, ext = os.path.splitext(base_file)
    overlay = f"{stem}.{env}{ext}"
    files = [base_file]
    if os.path.isfile(overlay):
        settings = _deep_merge(settings, _read_yaml(fs, overlay))
        files.append(overlay)
    return LoadedConfig(settings, files, env)


def _environment(explicit: str | None, settings: Mapping[str, Any]) -> str:
    env = explicit or os.environ.get(ENV_ENVIRONMENT) or settings.get("environment") or DEFAULT_ENVIRONMENT
    if not isinstance(env, str) or not env.strip() or os.sep in env:
        raise ConfigError(f"environment={env!r} must be a name like 'dev' or 'prod'")
    return env.strip()


def _read_yaml(fs: PlatformService, path: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(fs.read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}; fix the file's syntax") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings (key: value), "
                          f"got a {type(data).__name__}")
    return data


def _deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# -- platform --------------------------------------------------------------------

def detect_platform(environ: Mapping[str, str] | None = None, *,
                    fabric_context_file: PathLike = FABRIC_CONTEXT_FILE) -> PlatformInfo:
    """Tell Fabric, Synapse, Databricks and standalone apart, without starting Spark.

    Checked in order: ``DATABRICKS_RUNTIME_VERSION`` (set on every Databricks
    cluster) -> databricks; ``MSNOTEBOOKUTILS_RUNTIME_TYPE`` (Fabric's
    notebook runtime) or Fabric's context file
    ``/home/trusted-service-user/.trident-context`` -> fabric, with the
    workspace id from that file; ``AZURE_SERVICE=Microsoft.ProjectArcadia``
    (set by Synapse Spark pools; Fabric sets it too, hence Fabric first) ->
    synapse; otherwise standalone. ``spark_version`` is the active
    session's if there is one, else the installed pyspark's.

    >>> detect_platform({"DATABRICKS_RUNTIME_VERSION": "15.4"}).platform
    'databricks'
    """
    env = os.environ if environ is None else environ
    context_file = os.fspath(fabric_context_file)
    session = _active_spark_session()
    spark_version = _spark_version(session)
    if env.get("DATABRICKS_RUNTIME_VERSION"):
        workspace = _spark_conf(session, "spark.databricks.clusterUsageTags.clusterOwnerOrgId")
        return PlatformInfo("databricks", workspace, spark_version,
                            f"DATABRICKS_RUNTIME_VERSION={env['DATABRICKS_RUNTIME_VERSION']}")
    if env.get("MSNOTEBOOKUTILS_RUNTIME_TYPE") or os.path.isfile(context_file):
        ctx = _fabric_context(context_file)
        workspace = ctx.get("trident.artifact.workspace.id") or ctx.get("trident.workspace.id")
        evidence = ("MSNOTEBOOKUTILS_RUNTIME_TYPE" if env.get("MSNOTEBOOKUTILS_RUNTIME_TYPE")
                    else context_file)
        return PlatformInfo("fabric", workspace or None, spark_version, evidence)
    if env.get("AZURE_SERVICE") == SYNAPSE_AZURE_SERVICE:
        workspace = _spark_conf(session, "spark.synapse.workspace.name")
        return PlatformInfo("synapse", workspace, spark_version, f"AZURE_SERVICE={SYNAPSE_AZURE_SERVICE}")
    return PlatformInfo("standalone", None, spark_version, "no Fabric, Synapse or Databricks marker")


def _fabric_context(path: str) -> dict[str, str]:
    """Fabric's context file: ``key=value`` lines."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    pairs = (ln.split("=", 1) for ln in lines if "=" in ln)
    return {k.strip(): v.strip() for k, v in pairs}


def _active_spark_session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()  # never starts one


def _spark_version(session: Any) -> str | None:
    if session is not None:
        return str(session.version)
    try:
        import pyspark
    except ImportError:
        return None
    return str(pyspark.__version__)


def _spark_conf(session: Any, key: str) -> str | None:
    if session is None:
        return None
    try:
        value = session.conf.get(key, None)
    except Exception:  # a conf lookup must not fail the bootstrap
        return None
    return str(value) if value else None


# -- the bootstrap -------------------------------------------------------------------

class Bootstrap(SignalEmitter):
    """Initialises the framework; :func:`initialize_framework` is the usual way in.

    Phases, in order: ``config`` (load and check settings), ``platform``
    (detect or take the ``platform`` setting), ``dependencies`` (install the
    three dependency groups through :class:`~kindling.pip_manager.PipManager`,
    whose ``pip.*`` operations nest under this one). A failure emits
    ``bootstrap.failed`` with the phase it happened in and re-raises.

    >>> Bootstrap().initialize({"app_name": "demo"}).platform   # doctest: +SKIP
    'standalone'

    Signals Emitted:
        - ``bootstrap.started``: ``app_name``, ``environment``
        - ``bootstrap.config_loaded``: ``config_files``, ``config_count``
        - ``bootstrap.platform_detected``: ``platform``, ``workspace_id``, ``spark_version``, ``detected_by``
        - ``bootstrap.dependencies_installed``: ``framework_wheels``, ``lake_packages``, ``pypi_packages``
        - ``bootstrap.framework_ready``: ``app_name``, ``environment``, ``platform``, ``duration_seconds``
        - ``bootstrap.failed``: ``failed_phase``, ``error``, ``error_type``, ``duration_seconds``
    """

    EMITS: ClassVar[tuple[str, ...]] = (
        "bootstrap.started", "bootstrap.platform_detected", "bootstrap.config_loaded",
        "bootstrap.dependencies_installed", "bootstrap.framework_ready", "bootstrap.failed")

    def __init__(self, signal_provider: SignalProvider | None = None, *,
                 pip_manager: PipManager | None = None, platform: PlatformService | None = None,
                 environ: Mapping[str, str] | None = None,
                 fabric_context_file: PathLike = FABRIC_CONTEXT_FILE) -> None:
        super().__init__(signal_provider)
        self.pip = pip_manager or PipManager(signal_provider)
        # The provider's own platform service, so platform.* goes where the caller listens.
        self.platform = platform or (
            PlatformService(signal_provider) if signal_provider is not None else get_platform_service())
        self._environ = environ
        self._fabric_context_file = fabric_context_file

    def initialize(self, config: Mapping[str, Any] | PathLike, *,
                   environment: str | None = None) -> FrameworkContext:
        """Run the phases; returns the :class:`FrameworkContext`. See :func:`initialize_framework`."""
        started = time.perf_counter()
        fs = self.platform
        # Settings are read before bootstrap.started so it can name the app; a failure to
        # read them is raised inside the operation, as a failure of the 'config' phase.
        loaded: LoadedConfig | None = None
        problem: Exception | None = None
        try:
            loaded = load_config(config, environment, platform=fs)
        except Exception as exc:
            problem = exc
        app_name = _app_name(loaded.settings if loaded else {}, config)
        env = loaded.environment if loaded else _fallback_environment(environment)
        phase = "config"
        with self.operation("bootstrap.initialize", app_name=app_name, environment=env) as op:
            try:
                if problem is not None:
                    raise problem
                assert loaded is not None
                settings = loaded.settings
                where = loaded.files[-1] if loaded.files else "config"
                deps = _dependency_settings(settings, where)
                pip_opts = _pip_settings(settings, where)
                self.emit("bootstrap.config_loaded", config_files=loaded.files,
                          config_count=len(loaded.files), environment=env)
                phase = "platform"
                info = self._platform_info(settings, where)
                self.emit("bootstrap.platform_detected", platform=info.platform,
                          workspace_id=info.workspace_id, spark_version=info.spark_version,
                          detected_by=info.detected_by)
                phase = "dependencies"
                installed = self._install(deps, pip_opts, config)
                self.emit("bootstrap.dependencies_installed", **installed)
            except BaseException:
                op.set(failed_phase=phase)
                raise
            op.set(platform=info.platform)
        return FrameworkContext(app_name=app_name, environment=env, platform=info.platform,
                                workspace_id=info.workspace_id, spark_version=info.spark_version,
                                config=settings, config_files=loaded.files,
                                duration_seconds=time.perf_counter() - started, **installed)

    def _platform_info(self, settings: Mapping[str, Any], where: str) -> PlatformInfo:
        detected = detect_platform(self._environ, fabric_context_file=self._fabric_context_file)
        forced = settings.get("platform")
        workspace = settings.get("workspace_id")
        if forced is None:
            return detected if workspace is None else PlatformInfo(
                detected.platform, str(workspace), detected.spark_version, detected.detected_by)
        if forced not in PLATFORMS:
            raise ConfigError(f"{where}: platform={forced!r} is not one of {', '.join(PLATFORMS)}; "
                              f"remove the key to detect the platform")
        return PlatformInfo(forced, str(workspace) if workspace is not None else detected.workspace_id,
                            detected.spark_version, "the 'platform' setting")

    def _install(self, deps: dict[str, Any], pip_opts: dict[str, Any],
                 config: Mapping[str, Any] | PathLike) -> dict[str, list[str]]:
        base = os.path.abspath(os.fspath(config)) if not isinstance(config, Mapping) else os.getcwd()
        base = base if os.path.isdir(base) else os.path.dirname(base)
        wheels_dir = deps.get("wheels_dir")
        wheels_dir = (os.path.join(base, os.fspath(wheels_dir)) if wheels_dir
                      else os.path.join(require_local("bootstrap's wheel folder"), "packages"))
        target = pip_opts.get("target")
        target = os.path.join(base, target) if target else None
        wheels = [_wheel_path(w, wheels_dir) for w in deps["framework_wheels"]]
        local = wheels + list(deps["lake_packages"])
        if local:
            # Framework wheels and lake packages both come from the lake's wheel folder: offline.
            self.pip.install_packages(local, target=target, no_index=True, find_links=wheels_dir,
                                      extra_args=pip_opts.get("extra_args", ()))
        if deps["pypi_packages"]:
            find_links = pip_opts.get("find_links")
            self.pip.install_packages(deps["pypi_packages"], target=target,
                                      index_url=pip_opts.get("index_url"),
                                      find_links=os.path.join(base, find_links) if find_links else None,
                                      no_index=bool(pip_opts.get("no_index", False)),
                                      extra_args=pip_opts.get("extra_args", ()))
        return {"framework_wheels": [os.path.basename(w) for w in wheels],
                "lake_packages": list(deps["lake_packages"]),
                "pypi_packages": list(deps["pypi_packages"])}


def initialize_framework(config: Mapping[str, Any] | PathLike, *, environment: str | None = None,
                         signal_provider: SignalProvider | None = None,
                         pip_manager: PipManager | None = None) -> FrameworkContext:
    """Initialise Kindling for an app: settings, platform, packages; returns the context.

    >>> ctx = initialize_framework({"app_name": "demo", "environment": "dev"})  # doctest: +SKIP
    >>> ctx.app_name, ctx.environment, ctx.platform                            # doctest: +SKIP
    ('demo', 'dev', 'standalone')

    Raises :class:`ConfigError` for missing or malformed settings (naming the
    file, and the line for YAML), and :class:`~kindling.pip_manager.PipError`
    when a dependency can't be installed.
    """
    return Bootstrap(signal_provider, pip_manager=pip_manager).initialize(config, environment=environment)


def _app_name(settings: Mapping[str, Any], config: Mapping[str, Any] | PathLike) -> str:
    name = settings.get("app_name")
    if name:
        return str(name)
    if not isinstance(config, Mapping) and isinstance(config, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(config))
        return os.path.basename(path if os.path.isdir(path) else os.path.dirname(path))
    return "kindling-app"


def _fallback_environment(explicit: str | None) -> str:
    env = explicit or os.environ.get(ENV_ENVIRONMENT) or DEFAULT_ENVIRONMENT
    return env if isinstance(env, str) else DEFAULT_ENVIRONMENT


def _string_list(value: Any, key: str, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: {key} must be a list of strings, got {value!r}")
    return [v.strip() for v in value]


def _dependency_settings(settings: Mapping[str, Any], where: str) -> dict[str, Any]:
    deps = settings.get("dependencies") or {}
    if not isinstance(deps, Mapping):
        raise ConfigError(f"{where}: dependencies must be a mapping with "
                          f"{', '.join(_DEPENDENCY_GROUPS)}, got {deps!r}")
    unknown = sorted(set(deps) - set(_DEPENDENCY_GROUPS) - {"wheels_dir"})
    if unknown:
        raise ConfigError(f"{where}: unknown dependencies key(s) {unknown}; use "
                          f"{', '.join(_DEPENDENCY_GROUPS)} or wheels_dir")
    out: dict[str, Any] = {g: _string_list(deps.get(g), f"dependencies.{g}", where) for g in _DEPENDENCY_GROUPS}
    out["wheels_dir"] = deps.get("wheels_dir")
    return out


def _pip_settings(settings: Mapping[str, Any], where: str) -> dict[str, Any]:
    pip = settings.get("pip") or {}
    if not isinstance(pip, Mapping):
        raise ConfigError(f"{where}: pip must be a mapping (target, index_url, find_links, "
                          f"no_index, extra_args), got {pip!r}")
    opts = dict(pip)
    opts["extra_args"] = tuple(_string_list(pip.get("extra_args"), "pip.extra_args", where))
    return opts


def _wheel_path(wheel: str, wheels_dir: str) -> str:
    path = wheel if os.path.isabs(wheel) else os.path.join(wheels_dir, wheel)
    if not path.endswith(".whl"):
        raise ConfigError(f"dependencies.framework_wheels: {wheel!r} is not a wheel file name "
                          f"(*.whl); list package names under lake_packages instead")
    if not os.path.isfile(path):
        have = sorted(f for f in os.listdir(wheels_dir) if f.endswith(".whl")) if os.path.isdir(wheels_dir) else []
        raise ConfigError(f"dependencies.framework_wheels: {path} not found; wheels in "
                          f"{wheels_dir}: {have or 'none'}")
    return path

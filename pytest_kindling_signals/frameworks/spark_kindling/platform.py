"""A platform service that deploys and runs spark-kindling apps on this machine, for real.

spark-kindling's ``DataAppDeployer`` deploys an app (``app.*`` signals) and
creates, runs, checks and cancels its job (``job.*``) by calling the platform
service: ``deploy_app``, ``create_job``, ``run_spark_job``, ``get_job_status``,
``cancel_job``, ``cleanup_app``. Fabric, Synapse and Databricks implement them
against their REST APIs; the ``standalone`` service implements none.
:class:`LocalPlatformService` implements them on this machine:

- ``deploy_app`` writes the app's files under ``<root>/apps/<app name>/``;
- ``create_job`` checks the app is deployed and its entry point is there, and
  saves the job definition as ``<root>/jobs/<job id>.json``;
- ``run_spark_job`` starts ``spark-submit <entry point>`` (pyspark's own, on
  ``local[1]`` bound to 127.0.0.1 unless the job says otherwise) as a process
  of its own, its output in ``<root>/runs/<run id>.log``;
- ``get_job_status`` reports ``RUNNING``, ``COMPLETED``, ``FAILED`` (with the
  exit code and the log's last lines) or ``CANCELLED``;
- ``cancel_job`` ends the run's whole process group by its id (``SIGTERM``,
  then ``SIGKILL``): ``True``, or ``False`` for a run that had already ended.

Everything else (files, secrets, the workspace) is the service it wraps, so
the rest of spark-kindling works as before. :func:`bind_local_platform` binds it
through spark-kindling's dependency injection::

    platform = bind_local_platform(tmp_path / "platform")
    deployer = GlobalInjector.get(DataAppDeployer)          # now constructible
    deployer.deploy_app("apps/orders", "orders")           # app.before_deploy ... after_deploy
    job = deployer.create_job({"job_name": "nightly", "app_name": "orders"})
    run_id = deployer.run_job(job["job_id"])                # job.before_run ... after_run
    platform.wait(run_id)                                   # blocks on the process, no polling
    deployer.get_job_status(run_id)["status"]               # 'COMPLETED' (job.status_checked)

Nothing here imports ``kindling`` at import time.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["JobRun", "LocalPlatformService", "LocalPlatformServiceProvider", "bind_local_platform", "spark_submit_path"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: What a Spark Connect client session leaves in the environment (a job's spark-submit must not follow it).
_CONNECT_ENV = frozenset({"SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE", "KINDLING_SPARK_REMOTE"})


def spark_submit_path() -> Path:
    """pyspark's own ``bin/spark-submit`` (the one of the pyspark this Python imports)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("spark-submit: pyspark is not installed in this Python; install pyspark")
    path = Path(list(spec.submodule_search_locations)[0]) / "bin" / "spark-submit"
    if not path.exists():
        raise RuntimeError(f"spark-submit: {path} does not exist; reinstall pyspark")
    return path


def _checked_name(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{kind} {value!r}: use letters, digits, '.', '_' or '-' (at most 128), "
                         "starting with a letter or digit")
    return value


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class JobRun:
    """One run of a job: its process, its log, and how it ended."""

    run_id: str
    job_id: str
    process: subprocess.Popen[bytes]
    log: Path
    parameters: dict[str, Any]
    start_time: str = field(default_factory=_now)
    end_time: str | None = None
    cancelled: bool = False
    #: the run's output so far, line by line; ``finished`` once all of it is read
    lines: list[str] = field(default_factory=list)
    finished: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)

    @property
    def pid(self) -> int:
        return self.process.pid

    def status(self) -> str:
        code = self.process.poll()
        if code is None:
            return "RUNNING"
        if self.end_time is None:
            self.end_time = _now()
        if self.cancelled:
            return "CANCELLED"
        return "COMPLETED" if code == 0 else "FAILED"


class LocalPlatformService:
    """spark-kindling's platform service, with apps deployed to a folder and jobs run by ``spark-submit``.

    ``base`` is the service it stands in for (the ``standalone`` one): every method
    this class lacks is that service's. ``master`` is where runs' Spark sessions go
    unless a job's config says ``master``; ``env`` is added to the runs' environment.
    """

    def __init__(self, root: str | os.PathLike[str], *, base: Any = None, master: str = "local[1]",
                 env: Mapping[str, str] | None = None, spark_submit: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root)
        self.base = base
        self.master = master
        self.env = dict(env or {})
        self._spark_submit = Path(spark_submit) if spark_submit is not None else None
        self.runs: dict[str, JobRun] = {}
        self._lock = threading.Lock()
        self._counter = 0
        for folder in ("apps", "jobs", "runs"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)

    def __getattr__(self, name: str) -> Any:
        base = self.__dict__.get("base")
        if base is None or name.startswith("_"):
            raise AttributeError(f"{type(self).__name__} has no {name!r} (and wraps no platform service)")
        return getattr(base, name)

    def get_platform_name(self) -> str:
        base = self.__dict__.get("base")
        return str(base.get_platform_name()) if base is not None else "standalone"

    # -- apps ---------------------------------------------------------------------
    def app_path(self, app_name: str) -> Path:
        return self.root / "apps" / _checked_name("app name", app_name)

    def deploy_app(self, app_name: str, app_files: Mapping[str, str]) -> str:
        """Write ``app_files`` (relative path -> text) to ``<root>/apps/<app_name>/``; returns that folder."""
        target = self.app_path(app_name)
        if not app_files:
            raise ValueError(f"deploy_app({app_name!r}): the app has no deployable file (.py, .yaml, .sql, "
                             "requirements.txt); check the app's folder")
        staged = target.with_name(f".{target.name}.staging")
        for relative, content in app_files.items():
            path = (staged / relative).resolve()
            if not path.is_relative_to(staged.resolve()):
                raise ValueError(f"deploy_app({app_name!r}): file {relative!r} would land outside the app's folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        if target.exists():
            self._remove_tree(target)
        staged.rename(target)
        return str(target)

    def cleanup_app(self, app_name: str) -> bool:
        target = self.app_path(app_name)
        if not target.exists():
            return False
        self._remove_tree(target)
        return True

    @staticmethod
    def _remove_tree(path: Path) -> None:
        import shutil

        shutil.rmtree(path)

    # -- jobs ---------------------------------------------------------------------
    def create_job(self, job_name: str, job_config: Mapping[str, Any]) -> dict[str, Any]:
        """Check the job's app is deployed with its entry point (``entry_point``, default ``main.py``);
        save the definition; returns ``{job_id, job_name, app_name, entry_point, definition}``."""
        _checked_name("job name", job_name)
        app_name = job_config.get("app_name", job_name)
        app = self.app_path(app_name)
        if not app.is_dir():
            raise FileNotFoundError(f"create_job({job_name!r}): app {app_name!r} is not deployed under "
                                    f"{app.parent}; deploy it first (DataAppDeployer.deploy_app)")
        entry = str(job_config.get("entry_point", "main.py"))
        if not (app / entry).is_file():
            files = sorted(str(p.relative_to(app)) for p in app.rglob("*") if p.is_file())
            raise FileNotFoundError(f"create_job({job_name!r}): entry point {entry!r} is not in app {app_name!r} "
                                    f"(it has {', '.join(files) or 'no files'}); set job_config['entry_point']")
        with self._lock:
            self._counter += 1
            job_id = f"{job_name}-{self._counter}"
        definition = self.root / "jobs" / f"{job_id}.json"
        saved = {"job_id": job_id, "job_name": job_name, "app_name": app_name, "entry_point": entry,
                 "master": job_config.get("master", self.master),
                 "spark_conf": dict(job_config.get("spark_conf") or {})}
        definition.write_text(json.dumps(saved, indent=2), encoding="utf-8")
        return {**saved, "definition": str(definition)}

    def job(self, job_id: str) -> dict[str, Any]:
        definition = self.root / "jobs" / f"{_checked_name('job id', job_id)}.json"
        if not definition.is_file():
            known = sorted(p.stem for p in (self.root / "jobs").glob("*.json"))
            raise KeyError(f"no job {job_id!r} on this platform; created jobs: {', '.join(known) or 'none'}")
        loaded: dict[str, Any] = json.loads(definition.read_text(encoding="utf-8"))
        return loaded

    def run_spark_job(self, job_id: str, parameters: Mapping[str, Any] | None = None) -> str:
        """Start ``spark-submit`` on the job's entry point; returns the run id.

        ``parameters`` reach the app as ``--name value`` arguments and, as JSON, in
        ``KINDLING_JOB_PARAMETERS``."""
        job = self.job(job_id)
        app = self.app_path(job["app_name"])
        params = dict(parameters or {})
        with self._lock:
            self._counter += 1
            run_id = f"{job_id}-run-{self._counter}"
        log = self.root / "runs" / f"{run_id}.log"
        args = [str(self._spark_submit or spark_submit_path()), "--master", str(job["master"]),
                "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
                "--conf", "spark.ui.enabled=false"]
        for key, value in job.get("spark_conf", {}).items():
            args += ["--conf", f"{key}={value}"]
        args.append(str(app / job["entry_point"]))
        for key, value in params.items():
            args += [f"--{key}", str(value)]
        # The job runs on its own master: not on the Spark Connect server a test session may use.
        inherited = {k: v for k, v in os.environ.items() if k not in _CONNECT_ENV}
        env = {**inherited, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
               "PYSPARK_DRIVER_PYTHON": sys.executable, "KINDLING_JOB_ID": job_id, "KINDLING_RUN_ID": run_id,
               "KINDLING_JOB_PARAMETERS": json.dumps(params, default=str), **self.env}
        process = subprocess.Popen(args, cwd=app, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        run = JobRun(run_id, job_id, process, log, params)
        self.runs[run_id] = run
        threading.Thread(target=self._pump, args=(run,), name=f"LocalPlatform[{run_id}]", daemon=True).start()
        return run_id

    @staticmethod
    def _pump(run: JobRun) -> None:
        """The run's output into its log, line by line, notifying who waits for a line."""
        assert run.process.stdout is not None
        with open(run.log, "wb") as log:
            for raw in run.process.stdout:
                log.write(raw)
                log.flush()
                with run.cond:
                    run.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                    run.cond.notify_all()
        run.process.wait()
        with run.cond:
            run.finished = True
            run.cond.notify_all()

    def run(self, run_id: str) -> JobRun:
        if run_id not in self.runs:
            raise KeyError(f"no run {run_id!r} on this platform; runs: {', '.join(self.runs) or 'none'}")
        return self.runs[run_id]

    def get_job_status(self, run_id: str) -> dict[str, Any]:
        """``{status, start_time, end_time, error, logs, exit_code, pid}`` of a run."""
        run = self.run(run_id)
        status = run.status()
        code = run.process.poll()
        tail = run.lines[-20:]
        error = None
        if status == "FAILED":
            error = f"exit code {code}: " + (next((ln for ln in reversed(tail) if ln.strip()), "") or "no output")
        return {"status": status, "start_time": run.start_time, "end_time": run.end_time, "error": error,
                "logs": "\n".join(tail), "exit_code": code, "pid": run.pid, "log_path": str(run.log)}

    def cancel_job(self, run_id: str) -> bool:
        """End the run's process group (``SIGTERM``, then ``SIGKILL`` after 30 s): ``True``;
        ``False`` when the run had already ended."""
        run = self.run(run_id)
        if run.process.poll() is not None:
            return False
        run.cancelled = True
        try:
            os.killpg(run.pid, signal.SIGTERM)
        except ProcessLookupError:  # it ended just now
            pass
        try:
            run.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.process.wait()
        run.status()
        return True

    # -- for tests ----------------------------------------------------------------
    def wait(self, run_id: str, timeout: float = 300.0) -> str:
        """Block until the run ends (on the process itself, no polling); returns its status."""
        __tracebackhide__ = True
        run = self.run(run_id)
        try:
            run.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"run {run_id!r} still running after {timeout:g} s; its output so far:\n"
                                 + "\n".join(run.lines[-30:])) from None
        return run.status()

    def wait_for_output(self, run_id: str, text: str, timeout: float = 300.0) -> str:
        """Block until the run prints a line containing ``text``; returns that line."""
        __tracebackhide__ = True
        run = self.run(run_id)
        deadline = time.monotonic() + timeout
        with run.cond:
            seen = 0
            while True:
                for line in run.lines[seen:]:
                    if text in line:
                        return line
                seen = len(run.lines)
                remaining = deadline - time.monotonic()
                if run.finished or remaining <= 0:
                    break
                run.cond.wait(remaining)
        raise AssertionError(f"run {run_id!r} ({run.status()}) printed no line with {text!r} within {timeout:g} s; "
                             "its output:\n" + "\n".join(run.lines[-30:]))

    def close(self) -> None:
        """Cancel every run still going (the fixture's teardown)."""
        for run_id, run in list(self.runs.items()):
            if run.process.poll() is None:
                self.cancel_job(run_id)

    def __repr__(self) -> str:
        return f"<LocalPlatformService {str(self.root)!r} runs={len(self.runs)}>"


class LocalPlatformServiceProvider:
    """What spark-kindling's ``PlatformServiceProvider`` is bound to: :class:`LocalPlatformService`.

    ``get_service()`` is the interface the framework uses; ``get()`` is what
    ``DataAppDeployer`` 0.14 calls (the interface has no ``get``)."""

    def __init__(self, service: LocalPlatformService) -> None:
        self.svc = service

    def get(self) -> LocalPlatformService:
        return self.svc

    def get_service(self) -> LocalPlatformService:
        return self.svc

    def set_service(self, svc: Any) -> None:
        self.svc = svc


class _LoggerProvider:
    """spark-kindling's logger provider plus the ``get()`` that ``DataAppDeployer`` 0.14 calls."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def get_logger(self, name: str, session: Any = None) -> Any:
        return self.wrapped.get_logger(name, session=session)

    def get(self) -> Any:
        return self.wrapped.get_logger("DataAppDeployer")


def bind_local_platform(root: str | os.PathLike[str], **options: Any) -> LocalPlatformService:
    """Bind a :class:`LocalPlatformService` (wrapping the current platform service) through spark-kindling's
    dependency injection, so ``GlobalInjector.get(DataAppDeployer)`` deploys and runs on this machine.

    Binds ``PlatformServiceProvider`` to a :class:`LocalPlatformServiceProvider`, and
    ``PythonLoggerProvider`` to one with the ``get()`` that ``DataAppDeployer`` 0.14
    calls (without both, constructing it raises ``AttributeError: 'SparkPlatformServiceProvider'
    object has no attribute 'get'``). Under the ``spark_kindling`` fixture both bindings
    are undone after the test.
    """
    injection: Any = importlib.import_module("kindling.injection")
    platforms: Any = importlib.import_module("kindling.platform_provider")
    logs: Any = importlib.import_module("kindling.spark_log_provider")
    injector = injection.GlobalInjector
    current = injector.get(platforms.PlatformServiceProvider)
    base = current.get_service()
    if isinstance(base, LocalPlatformService):
        base = base.base
    service = LocalPlatformService(root, base=base, **options)
    injector.rebind_singleton(platforms.PlatformServiceProvider, LocalPlatformServiceProvider(service))
    loggers = injector.get(logs.PythonLoggerProvider)
    if not callable(getattr(loggers, "get", None)):
        injector.rebind_singleton(logs.PythonLoggerProvider, _LoggerProvider(loggers))
    return service

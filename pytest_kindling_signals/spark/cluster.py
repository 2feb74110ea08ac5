"""A throwaway Spark cluster on this machine: a standalone master, N workers, a Spark Connect server.

Everything runs from the installed ``pyspark`` (its folder is ``SPARK_HOME``)
and listens on the loopback address only (127.0.0.1)::

    python -m pytest_kindling_signals.spark.cluster start --workers 2             # master + 2 workers
    KINDLING_SPARK_MASTER=spark://127.0.0.1:7077 SPARK_LOCAL_IP=127.0.0.1 pytest tests/contract
    python -m pytest_kindling_signals.spark.cluster stop

    python -m pytest_kindling_signals.spark.cluster start --workers 0 --connect   # a Spark Connect server (local[2])
    KINDLING_SPARK_REMOTE=sc://127.0.0.1:15002 pytest tests/contract
    python -m pytest_kindling_signals.spark.cluster status
    python -m pytest_kindling_signals.spark.cluster stop

From Python, :class:`LocalCluster` is a context manager::

    >>> with LocalCluster(ClusterSpec(workers=2)) as cluster:     # doctest: +SKIP
    ...     cluster.master_url
    'spark://127.0.0.1:7077'

``start`` waits (bounded) until the master is up and every worker has
registered, or until the Connect server accepts connections; ``stop`` stops
the processes it started and only them: by the process ids it recorded, each
checked to still be ours (a token on its command line) before it is signalled.
What a cluster started is kept in ``<state dir>/<name>/state.json``
(``$KINDLING_CLUSTER_DIR`` or ``~/.cache/kindling/cluster``), beside its logs.

Spark Connect 3.5's own server binds its port on every address; ours is a
small launcher (:data:`CONNECT_SERVER_SOURCE`, compiled once with ``javac``)
that starts the same service bound to 127.0.0.1. Its jars
(``org.apache.spark:spark-connect_2.12`` at the pyspark version, Delta's)
come from ``~/.m2/repository`` or Maven Central through Spark's Ivy resolver.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "CONNECT_SERVER_SOURCE",
    "ClusterError",
    "ClusterSpec",
    "LocalCluster",
    "connect_packages",
    "main",
    "spark_home",
]

LOOPBACK = "127.0.0.1"
ENV_CLUSTER_DIR = "KINDLING_CLUSTER_DIR"
_MASTER_CLASS = "org.apache.spark.deploy.master.Master"
_WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
_CONNECT_MAIN = "kindling.LoopbackConnectServer"
_TOKEN_PROPERTY = "-Dkindling.cluster.token="


class ClusterError(RuntimeError):
    """The cluster could not start (or stop): says which process, why, and what to do."""


@dataclass
class ClusterSpec:
    """What to start. ``workers=0`` starts no standalone cluster; ``connect`` adds a Connect server.

    Port 0 picks a free port. The Connect server's master is the standalone
    master when there are workers, else ``local[2]``.
    """

    workers: int = 2
    cores: int = 1
    memory: str = "1g"
    master_port: int = 7077
    connect: bool = False
    connect_port: int = 15002
    name: str = "default"
    state_dir: str | None = None
    daemon_memory: str = "512m"
    connect_driver_memory: str = "1g"

    def __post_init__(self) -> None:
        for what in ("workers", "cores", "master_port", "connect_port"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ClusterSpec({what}={value!r}) must be an int >= 0")
        if self.cores < 1:
            raise ValueError(f"ClusterSpec(cores={self.cores!r}) must be at least 1")
        if not self.workers and not self.connect:
            raise ValueError("ClusterSpec(workers=0, connect=False) starts nothing; ask for "
                             "workers=N, or connect=True for a Spark Connect server")
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"ClusterSpec(name={self.name!r}) must be letters, digits, '-' or '_'")

    def folder(self) -> Path:
        root = self.state_dir or os.environ.get(ENV_CLUSTER_DIR) or Path.home() / ".cache" / "kindling" / "cluster"
        return Path(root) / self.name


@dataclass
class _Proc:
    role: str
    pid: int
    log: str


@dataclass
class _State:
    name: str
    token: str
    folder: str
    master_url: str | None = None
    master_ui: str | None = None
    remote_url: str | None = None
    workers: int = 0
    processes: list[_Proc] = field(default_factory=list)


def spark_home() -> Path:
    """The installed pyspark's folder, which holds Spark's launch scripts and jars."""
    env = os.environ.get("SPARK_HOME")
    if env and (Path(env) / "bin" / "spark-class").is_file():
        return Path(env)
    try:
        import pyspark
    except ImportError as exc:
        raise ClusterError("pyspark is not installed: `pip install -e '.[test]'` "
                           "(pyspark 3.5 + delta-spark 3.3)") from exc
    home = Path(pyspark.__file__).parent
    if not (home / "bin" / "spark-class").is_file():
        raise ClusterError(f"{home} holds no bin/spark-class: reinstall pyspark, or set "
                           f"SPARK_HOME to a Spark 3.5 distribution")
    return home


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise ClusterError("Java is missing: Spark needs Java 17 on PATH or in JAVA_HOME "
                           "(Debian: `apt-get install openjdk-17-jdk-headless`)")
    return found


def _javac() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "javac").is_file():
        return str(Path(home) / "bin" / "javac")
    found = shutil.which("javac")
    if not found:
        raise ClusterError("javac is missing: the Spark Connect launcher is compiled once with the "
                           "JDK's javac (Debian: `apt-get install openjdk-17-jdk-headless`)")
    return found


def connect_packages() -> list[str]:
    """The Maven coordinates a Connect server needs: Spark Connect at pyspark's version, and Delta."""
    from importlib.metadata import version

    import pyspark

    return [f"org.apache.spark:spark-connect_2.12:{pyspark.__version__}",
            f"io.delta:delta-spark_2.12:{version('delta-spark')}"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _claim_port(port: int, what: str, option: str) -> int:
    """``port`` if it is free on the loopback address (0: a free one), else a clear error."""
    if port == 0:
        return _free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise ClusterError(
                f"port {port} on {LOOPBACK} is taken, so the {what} can't listen there (another "
                f"Spark, or a cluster already started: `python -m pytest_kindling_signals.spark.cluster status`); "
                f"pick another with {option} PORT, or {option} 0 for any free port") from None
    return port


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex((LOOPBACK, port)) == 0


def _cmdline(pid: int) -> str | None:
    """The process's command line, or ``None`` when no such process runs."""
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.parent.is_dir() or Path("/proc/self").is_dir():
        try:
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            return None
    done = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
    return done.stdout.strip() or None


def _is_ours(pid: int, token: str) -> bool:
    line = _cmdline(pid)
    return line is not None and f"{_TOKEN_PROPERTY}{token}" in line


def _group_running(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies waiting to be reaped don't)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return _alive(pgid)
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not). Not read from the command line: while a
    process execs (spark-class execs java) its command line briefly reads empty."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: kill(0) said it exists
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _tail(path: str, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


# The Connect service of Spark 3.5 (SparkConnectService.startGRPCService) binds with
# NettyServerBuilder.forPort, i.e. on every address, and has no setting for the
# address. This starts the same service (same session, interceptors, message size,
# UI listener) bound to the address given as the first argument. Reflection keeps it
# independent of the shaded gRPC classes at compile time.
CONNECT_SERVER_SOURCE = r"""
package kindling;

import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.sql.SparkSession;

public final class LoopbackConnectServer {
  public static void main(String[] args) throws Exception {
    String host = args.length > 0 ? args[0] : "127.0.0.1";
    SparkSession session = SparkSession.builder().getOrCreate();
    SparkContext sc = session.sparkContext();
    SparkConf conf = sc.getConf();
    ClassLoader loader = Thread.currentThread().getContextClassLoader();

    Class<?> connectConfig = Class.forName("org.apache.spark.sql.connect.config.Connect$", true, loader);
    Object connect = connectConfig.getField("MODULE$").get(null);
    Object portEntry = connectConfig.getMethod("CONNECT_GRPC_BINDING_PORT").invoke(connect);
    Object sizeEntry = connectConfig.getMethod("CONNECT_GRPC_MAX_INBOUND_MESSAGE_SIZE").invoke(connect);
    Class<?> configEntry = Class.forName("org.apache.spark.internal.config.ConfigEntry", true, loader);
    Method confGet = SparkConf.class.getMethod("get", configEntry);
    int port = ((Number) confGet.invoke(conf, portEntry)).intValue();
    int maxInbound = (int) ((Number) confGet.invoke(conf, sizeEntry)).longValue();

    Class<?> nettyBuilder = Class.forName("org.sparkproject.connect.grpc.netty.NettyServerBuilder", true, loader);
    Object builder = nettyBuilder.getMethod("forAddress", SocketAddress.class)
        .invoke(null, new InetSocketAddress(host, port));
    builder = nettyBuilder.getMethod("maxInboundMessageSize", int.class).invoke(builder, maxInbound);
    Class<?> bindable = Class.forName("org.sparkproject.connect.grpc.BindableService", true, loader);
    Object service = Class.forName("org.apache.spark.sql.connect.service.SparkConnectService", true, loader)
        .getConstructor(boolean.class).newInstance(false);
    nettyBuilder.getMethod("addService", bindable).invoke(builder, service);
    Class<?> registryClass = Class.forName(
        "org.apache.spark.sql.connect.service.SparkConnectInterceptorRegistry$", true, loader);
    Object registry = registryClass.getField("MODULE$").get(null);
    registryClass.getMethod("chainInterceptors", nettyBuilder).invoke(registry, builder);
    Object server = nettyBuilder.getMethod("build").invoke(builder);

    Class<?> serviceObject = Class.forName(
        "org.apache.spark.sql.connect.service.SparkConnectService$", true, loader);
    Object services = serviceObject.getField("MODULE$").get(null);
    Class<?> serverClass = Class.forName("org.sparkproject.connect.grpc.Server", true, loader);
    serviceObject.getMethod("server_$eq", serverClass).invoke(services, server);
    serverClass.getMethod("start").invoke(server);
    Method ui = serviceObject.getDeclaredMethod("createListenerAndUI", SparkContext.class);
    ui.setAccessible(true);
    ui.invoke(services, sc);
    System.err.println("Spark Connect server started at: " + host + ":" + port);
    try {
      serverClass.getMethod("awaitTermination").invoke(server);
    } finally {
      session.stop();
    }
  }
}
"""


def _connect_launcher(cache: Path) -> Path:
    """The launcher's jar, compiled on first use (cached by source and Spark version)."""
    home = spark_home()
    digest = hashlib.sha256((CONNECT_SERVER_SOURCE + str(home)).encode()).hexdigest()[:16]
    jar = cache / f"kindling-connect-launcher-{digest}.jar"
    if jar.is_file():
        return jar
    build = cache / f"build-{digest}-{os.getpid()}"
    source = build / "src" / "kindling" / "LoopbackConnectServer.java"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(CONNECT_SERVER_SOURCE)
    classes = build / "classes"
    done = subprocess.run([_javac(), "-nowarn", "-cp", str(home / "jars" / "*"), "-d", str(classes),
                           str(source)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ClusterError(f"compiling the Spark Connect launcher failed:\n{done.stderr[-3000:]}")
    tmp = build / "launcher.jar"
    with zipfile.ZipFile(tmp, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        for f in sorted(classes.rglob("*.class")):
            z.write(f, f.relative_to(classes).as_posix())
    os.replace(tmp, jar)
    shutil.rmtree(build, ignore_errors=True)
    return jar


class LocalCluster:
    """Starts and stops a standalone master, its workers and/or a Connect server on 127.0.0.1."""

    def __init__(self, spec: ClusterSpec | None = None) -> None:
        self.spec = spec or ClusterSpec()
        self._state: _State | None = None
        self._popen: dict[int, subprocess.Popen[bytes]] = {}

    # -- what runs ----------------------------------------------------------------------
    @property
    def master_url(self) -> str | None:
        return self._state.master_url if self._state else None

    @property
    def remote_url(self) -> str | None:
        return self._state.remote_url if self._state else None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._state.processes] if self._state else []

    @classmethod
    def attach(cls, spec: ClusterSpec) -> LocalCluster | None:
        """The cluster a previous ``start`` (maybe another process) left recorded under ``spec``'s name."""
        path = spec.folder() / "state.json"
        if not path.is_file():
            return None
        raw = json.loads(path.read_text())
        raw["processes"] = [_Proc(**p) for p in raw.get("processes", [])]
        cluster = cls(spec)
        cluster._state = _State(**raw)
        return cluster

    def status(self) -> dict[str, Any]:
        """Each recorded process's role, pid and whether it still runs (and is ours)."""
        state = self._state
        if state is None:
            return {"name": self.spec.name, "running": False, "processes": []}
        procs = [{"role": p.role, "pid": p.pid, "alive": _alive(p.pid) and _is_ours(p.pid, state.token),
                  "log": p.log} for p in state.processes]
        return {"name": state.name, "master_url": state.master_url, "remote_url": state.remote_url,
                "running": bool(procs) and all(p["alive"] for p in procs), "processes": procs}

    # -- start --------------------------------------------------------------------------
    def start(self, timeout: float = 300.0) -> LocalCluster:
        """Start what the spec asks for and wait until it is usable; raises :class:`ClusterError`."""
        spec = self.spec
        previous = LocalCluster.attach(spec)
        if previous is not None and any(p["alive"] for p in previous.status()["processes"]):
            raise ClusterError(
                f"cluster {spec.name!r} is already running ({previous.master_url or previous.remote_url}); "
                f"stop it first: python -m pytest_kindling_signals.spark.cluster stop --name {spec.name}")
        _java()
        home = spark_home()
        folder = spec.folder()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "logs").mkdir(exist_ok=True)
        self._state = _State(name=spec.name, token=secrets.token_hex(8), folder=str(folder),
                             workers=spec.workers)
        deadline = time.monotonic() + timeout
        try:
            if spec.workers:
                self._start_standalone(home, deadline)
            if spec.connect:
                self._start_connect(home, deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP=LOOPBACK,
                   PYSPARK_PYTHON=env.get("PYSPARK_PYTHON", sys.executable),
                   SPARK_DAEMON_MEMORY=self.spec.daemon_memory)
        # The token on every JVM's command line: stop() signals a pid only if it is still ours.
        assert self._state is not None
        env["SPARK_DAEMON_JAVA_OPTS"] = f"{_TOKEN_PROPERTY}{self._state.token}"
        env.pop("SPARK_CONF_DIR", None)
        return env

    def _spawn(self, role: str, argv: Sequence[str], env: dict[str, str]) -> _Proc:
        assert self._state is not None
        log = Path(self._state.folder) / "logs" / f"{role}.log"
        with open(log, "wb") as out:
            # Its own session: stop() signals the group, so the executors and Python
            # workers it starts go with it. spark-class execs java: the pid is the JVM's.
            popen = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        proc = _Proc(role, popen.pid, str(log))
        self._popen[popen.pid] = popen
        self._state.processes.append(proc)
        self._save()
        return proc

    def _start_standalone(self, home: Path, deadline: float) -> None:
        spec, state = self.spec, self._state
        assert state is not None
        port = _claim_port(spec.master_port, "standalone master", "--master-port")
        ui_port = _free_port()
        spark_class = str(home / "bin" / "spark-class")
        env = self._env()
        master = self._spawn("master", [spark_class, _MASTER_CLASS, "--host", LOOPBACK, "--port", str(port),
                                        "--webui-port", str(ui_port)], env)
        state.master_url = f"spark://{LOOPBACK}:{port}"
        state.master_ui = f"http://{LOOPBACK}:{ui_port}"
        self._save()
        self._wait(lambda: _accepts(port), master, deadline, f"the master to listen on {LOOPBACK}:{port}")
        for i in range(1, spec.workers + 1):
            work = Path(state.folder) / "work" / f"worker-{i}"
            work.mkdir(parents=True, exist_ok=True)
            self._spawn(f"worker-{i}", [spark_class, _WORKER_CLASS, "--host", LOOPBACK,
                                        "--cores", str(spec.cores), "--memory", spec.memory,
                                        "--webui-port", str(_free_port()), "--work-dir", str(work),
                                        state.master_url], env)
        self._wait(lambda: self._alive_workers() >= spec.workers, master, deadline,
                   f"{spec.workers} worker(s) to register with {state.master_url}")

    def _alive_workers(self) -> int:
        assert self._state is not None and self._state.master_ui
        for proc in self._state.processes:
            popen = self._popen.get(proc.pid)
            exited = (popen.poll() is not None) if popen is not None else not _alive(proc.pid)
            if proc.role.startswith("worker") and exited:
                raise ClusterError(f"{proc.role} (pid {proc.pid}) exited while starting; its log "
                                   f"{proc.log} ends:\n{_tail(proc.log)}")
        try:
            with urllib.request.urlopen(f"{self._state.master_ui}/json/", timeout=5) as r:
                info = json.loads(r.read())
        except (urllib.error.URLError, OSError, ValueError):
            return 0
        return sum(1 for w in info.get("workers", []) if w.get("state") == "ALIVE")

    def _start_connect(self, home: Path, deadline: float) -> None:
        spec, state = self.spec, self._state
        assert state is not None
        port = _claim_port(spec.connect_port, "Spark Connect server", "--connect-port")
        jar = _connect_launcher(Path(state.folder).parent / ".launcher")
        master = state.master_url or "local[2]"
        settings = {
            "spark.connect.grpc.binding.port": str(port),
            "spark.driver.host": LOOPBACK,
            "spark.driver.bindAddress": LOOPBACK,
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
            "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.databricks.delta.snapshotPartitions": "2",
            "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
            "spark.sql.session.timeZone": "UTC",
            "spark.databricks.delta.retentionDurationCheck.enabled": "false",
            "spark.sql.warehouse.dir": str(Path(state.folder) / "warehouse"),
            "spark.pyspark.python": sys.executable,
        }
        argv = [str(home / "bin" / "spark-submit"), "--class", _CONNECT_MAIN,
                "--name", f"kindling-connect-{spec.name}", "--master", master,
                "--driver-memory", spec.connect_driver_memory,
                "--driver-java-options", f"{_TOKEN_PROPERTY}{state.token}",
                "--packages", ",".join(connect_packages())]
        for key, value in settings.items():
            argv += ["--conf", f"{key}={value}"]
        argv += [str(jar), LOOPBACK]
        server = self._spawn("connect", argv, self._env())
        state.remote_url = f"sc://{LOOPBACK}:{port}"
        self._save()
        self._wait(lambda: _accepts(port), server, deadline,
                   f"the Spark Connect server to listen on {LOOPBACK}:{port} (the first start "
                   f"downloads its jars from Maven Central)")

    def _wait(self, ready: Any, proc: _Proc, deadline: float, what: str) -> None:
        while True:
            if ready():
                return
            popen = self._popen.get(proc.pid)
            if (popen.poll() is not None) if popen is not None else not _alive(proc.pid):
                raise ClusterError(f"{proc.role} (pid {proc.pid}) exited before {what}; its log "
                                   f"{proc.log} ends:\n{_tail(proc.log)}")
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out waiting for {what}; {proc.role}'s log {proc.log} "
                                   f"ends:\n{_tail(proc.log)}")
            time.sleep(0.5)

    # -- stop ---------------------------------------------------------------------------
    def stop(self, timeout: float = 30.0) -> list[int]:
        """Stop every process this cluster started (newest first); returns the pids stopped."""
        state = self._state
        if state is None:
            return []
        stopped: list[int] = []
        for proc in reversed(state.processes):
            if self._stop_one(proc, state.token, timeout):
                stopped.append(proc.pid)
        state.processes = []
        self._save()
        return stopped

    def _stop_one(self, proc: _Proc, token: str, timeout: float) -> bool:
        popen = self._popen.pop(proc.pid, None)
        # A child of this process that has not exited is ours for certain (and may be in
        # the middle of exec'ing java); any other pid must still carry our token.
        child = popen is not None and popen.poll() is None
        if not child and (not _alive(proc.pid) or not _is_ours(proc.pid, token)):
            return False
        # The group is the process's own (start_new_session): it and its children.
        os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(proc.pid) and time.monotonic() < deadline:
            if popen is not None and popen.poll() is not None:
                break
            time.sleep(0.2)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # what did not stop in time, and stragglers
        except (ProcessLookupError, PermissionError):
            pass
        # a worker's executors are in its group: return when the whole group is gone
        settle = time.monotonic() + 10
        while _group_running(proc.pid) and time.monotonic() < settle:
            time.sleep(0.1)
        if popen is not None:
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        return True

    def _save(self) -> None:
        state = self._state
        if state is None:
            return
        path = Path(state.folder) / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**asdict(state), "processes": [asdict(p) for p in state.processes]},
                                  indent=2))
        os.replace(tmp, path)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# -- command line ---------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pytest_kindling_signals.spark.cluster",
                                description="A throwaway Spark cluster on 127.0.0.1 from the installed pyspark.")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("start", "stop", "status"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--name", default="default", help="which cluster (default: 'default')")
        cmd.add_argument("--state-dir", default=None,
                         help=f"where state and logs live (default: ${ENV_CLUSTER_DIR} or ~/.cache/kindling/cluster)")
        if name == "start":
            cmd.add_argument("--workers", type=int, default=2, help="standalone workers (0: none)")
            cmd.add_argument("--cores", type=int, default=1, help="cores per worker")
            cmd.add_argument("--memory", default="1g", help="memory per worker (executors)")
            cmd.add_argument("--master-port", type=int, default=7077, help="0: any free port")
            cmd.add_argument("--connect", action="store_true", help="also start a Spark Connect server")
            cmd.add_argument("--connect-port", type=int, default=15002, help="0: any free port")
            cmd.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for it to be up")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "start":
            spec = ClusterSpec(workers=args.workers, cores=args.cores, memory=args.memory,
                               master_port=args.master_port, connect=args.connect,
                               connect_port=args.connect_port, name=args.name, state_dir=args.state_dir)
            cluster = LocalCluster(spec).start(timeout=args.timeout)
            pids = " ".join(map(str, cluster.pids))
            if cluster.master_url:
                print(f"started standalone master {cluster.master_url} with {spec.workers} worker(s) "
                      f"({spec.cores} core(s), {spec.memory} each)")
            if cluster.remote_url:
                print(f"started Spark Connect server {cluster.remote_url}")
            print(f"pids: {pids}; logs: {spec.folder() / 'logs'}")
            env = [f"KINDLING_SPARK_MASTER={cluster.master_url}"] if cluster.master_url else []
            env += [f"KINDLING_SPARK_REMOTE={cluster.remote_url}"] if cluster.remote_url else []
            print("export " + " ".join(env + [f"SPARK_LOCAL_IP={LOOPBACK}"]))
            return 0
        spec = ClusterSpec(workers=1, name=args.name, state_dir=args.state_dir)
        found = LocalCluster.attach(spec)
        if args.command == "status":
            status = found.status() if found else {"name": args.name, "running": False, "processes": []}
            print(json.dumps(status, indent=2))
            return 0 if status["running"] else 1
        if found is None:
            print(f"no cluster {args.name!r} recorded under {spec.folder()}: nothing to stop")
            return 0
        stopped = found.stop()
        print(f"stopped cluster {args.name!r}: pids {' '.join(map(str, stopped)) or '(none were running)'}")
        return 0
    except (ClusterError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

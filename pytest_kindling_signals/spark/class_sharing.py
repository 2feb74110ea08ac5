"""A test run's driver JVM starts from an archive of the classes the last run loaded (Java's AppCDS).

The JVM spends most of a session's start loading and verifying Spark's and
Delta's classes. Java 17 can dump the classes a JVM loaded into an archive
when it exits (``-XX:ArchiveClassesAtExit``) and map them at the next start
(``-XX:SharedArchiveFile``). :class:`ClassArchive` keeps one archive per
Java, Spark and jar set, beside the jar cache (``<jar cache>/cds/<key>.jsa``)::

    >>> archive = ClassArchive(Path("/cache/cds"), key=lambda: "k1")
    >>> archive.path("k1")
    PosixPath('/cache/cds/k1.jsa')

:meth:`ClassArchive.java_options` gives the options of this process's JVM:
the archive when there is one; else, to the one process that takes the
archive's lock, the option that dumps one into a temporary file at the JVM's
exit (other pytest-xdist workers start without). :meth:`ClassArchive.finish`,
at the end of the test session, shuts that JVM down, waits for it, and moves
the temporary archive into place only if the JVM exited normally: a JVM never
maps a half-written archive. ``KINDLING_SPARK_CLASS_SHARING=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from pytest_kindling_signals.spark.jars import (
    JarCache,
    JarCacheError,
    cache_root,
    try_lock,
    unlock,
)

__all__ = ["DUMP_OPTION", "ENV_CLASS_SHARING", "QUIET_OPTION", "ClassArchive", "archive_key", "java_home", "shut_down_gateway",
           "spark_jars_dir"]

#: ``0`` (or ``off``, ``false``, ``no``) turns class sharing off for a test run.
ENV_CLASS_SHARING = "KINDLING_SPARK_CLASS_SHARING"
#: CDS's notes (classes it skips, an archive it can't use) go to stdout, where tests read a subprocess's output.
QUIET_OPTION = "-Xlog:cds*=off"
#: The option that makes a JVM write its archive at exit (only the process that holds the lock passes it on).
DUMP_OPTION = "-XX:ArchiveClassesAtExit="
#: How long the end of a test session waits for the dumping JVM to write its archive and exit.
EXIT_TIMEOUT_S = 180.0
_SUFFIX = ".jsa"


def class_sharing_wanted() -> bool:
    return os.environ.get(ENV_CLASS_SHARING, "").strip().lower() not in ("0", "off", "false", "no")


def java_home() -> Path | None:
    """The Java that ``spark-submit`` runs: ``$JAVA_HOME``, else the ``java`` on PATH (links followed)."""
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"]).resolve()
    java = shutil.which("java")
    return Path(java).resolve().parent.parent if java else None


def spark_jars_dir() -> Path | None:
    """The driver's application class path: ``$SPARK_HOME/jars``, else pyspark's (found without importing it)."""
    if os.environ.get("SPARK_HOME"):
        home = Path(os.environ["SPARK_HOME"])
    else:
        spec = importlib.util.find_spec("pyspark")
        if spec is None or not spec.submodule_search_locations:
            return None
        home = Path(next(iter(spec.submodule_search_locations)))
    jars = home / "jars"
    return jars.resolve() if jars.is_dir() else None


def _stat(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return f"{path} missing"
    return f"{path} {st.st_size} {st.st_mtime_ns}"


def archive_key(java: Path, spark_jars: Path, jars: Sequence[Path] = ()) -> str:
    """What the JVM checks before it maps an archive: the Java (its ``release`` file, which names the
    version, and its libjvm), the application class path (each jar of Spark's folder) and the jars
    added on top (``spark.jars``). Any change is another key, so another archive."""
    digest = hashlib.sha256()
    try:
        digest.update((java / "release").read_bytes())
    except OSError:
        pass
    parts = [_stat(java / "lib" / "server" / "libjvm.so"), str(spark_jars)]
    parts += [_stat(p) for p in sorted(spark_jars.glob("*.jar"))]
    parts += [_stat(Path(p)) for p in jars]
    digest.update("\n".join(parts).encode())
    return digest.hexdigest()[:24]


def current_key() -> str | None:
    """This machine's key (Delta's cached jars included when they are cached); ``None`` without a Java or Spark."""
    java, spark = java_home(), spark_jars_dir()
    if java is None or spark is None:
        return None
    try:
        jars = JarCache.for_delta().cached() or []
    except JarCacheError:  # no delta-spark: Spark's own jars only
        jars = []
    return archive_key(java, spark, jars)


def shut_down_gateway(options: str, timeout: float = EXIT_TIMEOUT_S) -> int | None:
    """Stop pyspark's SparkContext and its gateway JVM, if that JVM was started with ``options``, and wait
    for it to exit; its exit code, or ``None`` (no such JVM, or it did not exit in ``timeout`` and was killed).

    The gateway JVM exits normally (``System.exit(0)``, which writes a dump archive) when its stdin closes.
    """
    context_class: Any = getattr(sys.modules.get("pyspark"), "SparkContext", None)
    gateway = getattr(context_class, "_gateway", None)
    proc = getattr(gateway, "proc", None)
    args = proc.args if isinstance(proc, subprocess.Popen) else None
    if gateway is None or proc is None or not isinstance(args, list) or not any(options in str(a) for a in args):
        return None
    active = getattr(context_class, "_active_spark_context", None)
    if active is not None:
        active.stop()
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = None
    with contextlib.suppress(Exception):  # the JVM is gone: py4j's connections on this side may fail to close
        gateway.close()
    context_class._gateway = None  # a later session launches a new JVM
    context_class._jvm = None
    return code


class ClassArchive:
    """The archive of one Java + Spark + jar set (``key``), and this process's part in making it."""

    def __init__(self, folder: Path | None = None, key: Callable[[], str | None] = current_key) -> None:
        self.folder = folder if folder is not None else cache_root() / "cds"
        self.key = key
        self.dumping: Path | None = None  # the temporary archive this process's JVM writes at exit
        self._lock: IO[bytes] | None = None

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{_SUFFIX}"

    def java_options(self) -> str:
        """``-XX:SharedArchiveFile=...`` when this machine has an archive; ``-XX:ArchiveClassesAtExit=<temp>``
        when none and this process takes the lock; else nothing. Each with :data:`QUIET_OPTION`."""
        key = self.key()
        if key is None or any(c.isspace() for c in str(self.folder)):  # Spark splits JVM options at spaces
            return ""
        archive = self.path(key)
        if archive.is_file():
            return f"-XX:SharedArchiveFile={archive} {QUIET_OPTION}"
        if self.dumping is None and not self._take_lock():
            return ""  # another process makes it: this one starts without
        if archive.is_file():  # made while this one waited
            self._release()
            return f"-XX:SharedArchiveFile={archive} {QUIET_OPTION}"
        if self.dumping is None:
            for stale in self.folder.glob(".*.tmp"):  # left by a killed run: only the lock holder writes here
                stale.unlink(missing_ok=True)
            self.dumping = self.folder / f".{key}.{os.getpid()}.tmp"
        return f"{DUMP_OPTION}{self.dumping} {QUIET_OPTION}"

    def finish(self, exit_code: int | None) -> Path | None:
        """After the dumping JVM exited with ``exit_code``: the temporary archive moved into place (under the
        key as it is now: the first run resolves Delta's jars) if the JVM exited 0, else deleted. Releases the lock."""
        temp, self.dumping = self.dumping, None
        try:
            if temp is None:
                return None
            key = self.key() if exit_code == 0 else None
            if key is not None and temp.is_file() and temp.stat().st_size > 0:
                os.replace(temp, self.path(key))
                return self.path(key)
            temp.unlink(missing_ok=True)
            return None
        finally:
            self._release()

    def _take_lock(self) -> bool:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / ".lock", "a+b")  # noqa: SIM115 - held until finish()
        except OSError:
            return False
        if not try_lock(handle):
            handle.close()
            return False
        self._lock = handle
        return True

    def _release(self) -> None:
        handle, self._lock = self._lock, None
        if handle is not None:
            unlock(handle)
            handle.close()

"""Delta's jars, resolved once per machine and shared by every session after.

A session built with ``spark.jars.packages`` (what ``delta.configure_spark_with_delta_pip``
sets) runs Spark's Ivy resolver at every start, even when every jar is cached,
and two processes resolving at once write one Ivy cache. :class:`JarCache`
resolves the packages once, under a file lock, into an Ivy folder of its own;
copies the resolved jars into its cache folder and writes a manifest. Every
later session (the other pytest-xdist workers, later runs) starts from the
jars' local paths (``spark.jars``): no resolution step, no network, no lock::

    >>> jars = JarCache.for_delta()
    >>> session = jars.start(lambda settings: builder.config(map=settings).getOrCreate(),  # doctest: +SKIP
    ...                      lambda session: session.sparkContext.getConf().get("spark.jars"))

The folder is ``$KINDLING_SPARK_JARS_DIR``, else ``~/.cache/kindling/jars``;
one subfolder per set of packages. Delete it to resolve again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import IO, TypeVar
from urllib.parse import unquote, urlparse

__all__ = ["ENV_JARS_DIR", "JarCache", "JarCacheError", "cache_root", "delta_packages", "try_lock", "unlock"]

ENV_JARS_DIR = "KINDLING_SPARK_JARS_DIR"
_MANIFEST = "manifest.json"
_LOCK_TIMEOUT_S = 900.0
T = TypeVar("T")


class JarCacheError(RuntimeError):
    """The jar cache can't be used (a lock never released, a resolution without jars); says what to do."""


def delta_packages() -> list[str]:
    """The Maven coordinates ``configure_spark_with_delta_pip`` asks for, at the installed delta-spark's version."""
    try:
        version = metadata.version("delta-spark")
    except metadata.PackageNotFoundError:
        raise JarCacheError("delta-spark is not installed: `pip install 'delta-spark==3.3.2'` "
                            "(with pyspark 3.5)") from None
    return [f"io.delta:delta-spark_2.12:{version}"]


def cache_root() -> Path:
    """The folder every set of packages is cached under: ``$KINDLING_SPARK_JARS_DIR``, else ``~/.cache/kindling/jars``."""
    env = os.environ.get(ENV_JARS_DIR)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "kindling" / "jars"


def _local_path(entry: str) -> Path | None:
    """A ``spark.jars`` entry (``file:///x.jar`` or ``/x.jar``) as a local path; ``None`` for other schemes."""
    parsed = urlparse(entry)
    if parsed.scheme in ("", "file", "local"):
        return Path(unquote(parsed.path))
    if len(parsed.scheme) == 1:  # a Windows drive letter, c:/...
        return Path(entry)
    return None


class JarCache:
    """The resolved jars of one set of Maven packages, in a folder shared by every process."""

    def __init__(self, packages: Sequence[str], root: str | os.PathLike[str] | None = None) -> None:
        if isinstance(packages, str) or not packages or not all(isinstance(p, str) and p.count(":") == 2
                                                                  for p in packages):
            raise ValueError(f"JarCache(packages={packages!r}) needs Maven coordinates "
                             f"'group:artifact:version', e.g. ['io.delta:delta-spark_2.12:3.3.2']")
        self.packages = sorted(dict.fromkeys(packages))
        digest = hashlib.sha256("\n".join(self.packages).encode()).hexdigest()[:16]
        self.folder = Path(root) if root is not None else cache_root()
        self.folder = self.folder / digest

    @classmethod
    def for_delta(cls, extra_packages: Sequence[str] = (), root: str | os.PathLike[str] | None = None) -> JarCache:
        """Delta's packages (at the installed delta-spark's version) plus ``extra_packages``."""
        return cls([*delta_packages(), *extra_packages], root)

    @property
    def ivy_dir(self) -> Path:
        """The Ivy folder only the resolving process writes (it holds the lock)."""
        return self.folder / "ivy"

    def cached(self) -> list[Path] | None:
        """The jars' local paths if a resolution was recorded and every jar is still there."""
        try:
            manifest = json.loads((self.folder / _MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("packages") != self.packages:
            return None
        jars: list[Path] = []
        for entry in manifest.get("jars", []):
            path = self.folder / "jars" / str(entry.get("name", ""))
            try:
                if path.stat().st_size != entry.get("size"):
                    return None
            except OSError:
                return None
            jars.append(path)
        return jars or None

    def settings(self) -> dict[str, str]:
        """The session settings when the jars are cached (``spark.jars``), else Ivy's (resolve)."""
        jars = self.cached()
        if jars is not None:
            return {"spark.jars": ",".join(str(p) for p in jars)}
        return {"spark.jars.packages": ",".join(self.packages), "spark.jars.ivy": str(self.ivy_dir)}

    def start(self, start_session: Callable[[dict[str, str]], T], resolved: Callable[[T], str | None]) -> T:
        """Start a session from the cached jars; the first time, resolve them (under the lock) and record them.

        ``start_session(settings)`` starts a session with these settings added;
        ``resolved(session)`` returns its ``spark.jars`` (Spark lists the jars it
        resolved there).
        """
        if self.cached() is not None:
            return start_session(self.settings())
        with self._lock():
            settings = self.settings()  # another process may have resolved while this one waited
            session = start_session(settings)
            if "spark.jars.packages" in settings:
                self.record(resolved(session) or "")
            return session

    def record(self, spark_jars: str) -> list[Path]:
        """Copy the jars a resolution gave (a ``spark.jars`` value) into the cache, then write the manifest.

        Copies, because Ivy's folder is rewritten by the next resolution; the
        manifest comes last and atomically, so a reader sees all or nothing.
        """
        sources = [p for p in (_local_path(e.strip()) for e in spark_jars.split(",") if e.strip())
                   if p is not None and p.suffix == ".jar" and p.is_file()]
        if not sources:
            raise JarCacheError(f"resolving {', '.join(self.packages)} gave no local jar (spark.jars="
                                f"{spark_jars!r}); delete {self.folder} and try again")
        target = self.folder / "jars"
        target.mkdir(parents=True, exist_ok=True)
        entries: list[dict[str, object]] = []
        names: list[str] = []
        for source in sources:
            dest = target / source.name
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
            shutil.copyfile(source, tmp)
            os.replace(tmp, dest)
            entries.append({"name": dest.name, "size": dest.stat().st_size})
            names.append(dest.name)
        manifest = self.folder / _MANIFEST
        tmp = manifest.with_name(f".{_MANIFEST}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"packages": self.packages, "jars": entries}, indent=1), encoding="utf-8")
        os.replace(tmp, manifest)
        return [target / n for n in names]

    @contextlib.contextmanager
    def _lock(self, timeout: float = _LOCK_TIMEOUT_S) -> Iterator[None]:
        """An exclusive lock on the folder (released by the OS if the holder dies)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / ".lock"
        with open(path, "a+b") as handle:
            deadline = time.monotonic() + timeout
            while not try_lock(handle):
                if time.monotonic() > deadline:
                    raise JarCacheError(f"waited {timeout:.0f} s for {path}, held by another process "
                                        f"resolving {', '.join(self.packages)}; if none runs, delete {path}")
                time.sleep(0.2)
            try:
                yield
            finally:
                unlock(handle)


if sys.platform == "win32":  # pragma: no cover - Windows
    import msvcrt

    def try_lock(handle: IO[bytes]) -> bool:
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock(handle: IO[bytes]) -> None:
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def try_lock(handle: IO[bytes]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

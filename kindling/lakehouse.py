"""Where Kindling keeps its Delta tables and files: the lakehouse, a local folder or a URI.

The default is ``$KINDLING_LAKEHOUSE_DIR`` or, failing that, a temporary folder
made on first use. Tests give each test its own folder::

    >>> from kindling.lakehouse import use_lakehouse, current_lakehouse
    >>> with use_lakehouse("/tmp/lh-demo"):
    ...     str(current_lakehouse())
    '/tmp/lh-demo'

A lakehouse is given back as it was set: a local path as a :class:`~pathlib.Path`,
a URI (``file:``, ``abfss:``, ``s3a:``, ``dbfs:``...) as the same ``str``::

    >>> with use_lakehouse("abfss://lake@acct.dfs.core.windows.net/lh"):
    ...     current_lakehouse()
    'abfss://lake@acct.dfs.core.windows.net/lh'
    >>> lakehouse_join("abfss://lake@acct.dfs.core.windows.net/lh", "tables", "bronze.orders")
    'abfss://lake@acct.dfs.core.windows.net/lh/tables/bronze.orders'

Spark reads and writes both (:func:`spark_path`). Code that touches files
with Python's own file functions asks :func:`require_local` first: it gives
the local folder (a ``file:`` URI's too) or raises :class:`RemoteLakehouseError`
naming the operation and the lakehouse. :class:`HadoopFiles` reaches any
lakehouse Spark reaches, through Hadoop's ``FileSystem`` in the Spark driver.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Union
from urllib.parse import unquote, urlsplit

__all__ = [
    "ENV_LAKEHOUSE",
    "HadoopFiles",
    "Location",
    "RemoteLakehouseError",
    "current_lakehouse",
    "is_uri",
    "lakehouse_join",
    "local_path",
    "parse_location",
    "require_local",
    "set_lakehouse",
    "spark_path",
    "use_lakehouse",
]

ENV_LAKEHOUSE = "KINDLING_LAKEHOUSE_DIR"

#: A lakehouse or a place in it: a local :class:`Path`, or a URI kept as a ``str``.
Location = Union[Path, str]

# A scheme of two or more letters: "C:" (a Windows drive) is a path, not a URI.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")


class RemoteLakehouseError(ValueError):
    """An operation that works on local files only was asked to work on a remote lakehouse."""


def is_uri(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a URI (``scheme:...``) rather than a local path."""
    return isinstance(location, str) and _SCHEME.match(location) is not None


def parse_location(location: str | os.PathLike[str]) -> Location:
    """A URI as the same ``str``; anything else as a :class:`Path`.

    >>> parse_location("s3a://bucket/lh"), parse_location("/data/lh")
    ('s3a://bucket/lh', PosixPath('/data/lh'))
    """
    if isinstance(location, Path):
        return location
    if isinstance(location, str):
        if not location:
            raise ValueError("lakehouse='' is empty; pass a folder or a URI such as "
                             "'abfss://container@account.dfs.core.windows.net/lakehouse'")
        return location if is_uri(location) else Path(location)
    try:
        return Path(os.fspath(location))
    except TypeError:
        raise TypeError(f"lakehouse={location!r} is not a path or URI; pass a str or os.PathLike") from None


def local_path(location: str | os.PathLike[str]) -> Path | None:
    """The local folder ``location`` names (a path, or a ``file:`` URI), else ``None``."""
    parsed = parse_location(location)
    if isinstance(parsed, Path):
        return parsed
    parts = urlsplit(parsed)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        return None
    return Path(unquote(parts.path) or "/")


def lakehouse_join(base: str | os.PathLike[str], *parts: str) -> Location:
    """``base`` with ``parts`` appended: a :class:`Path` for a path, a ``str`` for a URI."""
    parsed = parse_location(base)
    if isinstance(parsed, Path):
        return parsed.joinpath(*parts)
    return "/".join([parsed.rstrip("/"), *(p.strip("/") for p in parts)])


def spark_path(location: str | os.PathLike[str]) -> str:
    """The string Spark reads and writes ``location`` by (paths absolute, URIs as given)."""
    parsed = parse_location(location)
    return str(parsed.absolute()) if isinstance(parsed, Path) else parsed


def require_local(what: str, location: str | os.PathLike[str] | None = None) -> Path:
    """The local folder of ``location`` (default: the current lakehouse) for ``what``, or a clear error.

    >>> require_local("file ingestion's ledger", "/data/lh")
    PosixPath('/data/lh')
    >>> require_local("app deployment", "abfss://c@a.dfs.core.windows.net/lh")
    Traceback (most recent call last):
      ...
    kindling.lakehouse.RemoteLakehouseError: app deployment works on local files only, and the lakehouse is 'abfss://c@a.dfs.core.windows.net/lh' (scheme 'abfss'); ...
    """
    target = current_lakehouse() if location is None else parse_location(location)
    found = local_path(target)
    if found is not None:
        return found
    scheme = urlsplit(str(target)).scheme
    raise RemoteLakehouseError(
        f"{what} works on local files only, and the lakehouse is {str(target)!r} (scheme "
        f"{scheme!r}); Delta tables work there, but for {what} point the lakehouse at a local "
        f"or mounted folder (set_lakehouse('/mnt/lakehouse') or KINDLING_LAKEHOUSE_DIR), or a "
        f"'file:' URI")


class _State:
    location: Location | None = None
    lock = threading.Lock()


def current_lakehouse() -> Location:
    """The lakehouse in force: a local folder (created if missing) as a :class:`Path`, a URI as a ``str``."""
    with _State.lock:
        if _State.location is None:
            env = os.environ.get(ENV_LAKEHOUSE)
            _State.location = (parse_location(env) if env
                               else Path(tempfile.mkdtemp(prefix="kindling-lakehouse-")))
        location = _State.location
    folder = local_path(location)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    return location


def set_lakehouse(location: str | os.PathLike[str] | None) -> Location | None:
    """Use ``location`` as the lakehouse from now on (``None``: back to the default); returns the previous one."""
    parsed = parse_location(location) if location is not None else None
    with _State.lock:
        previous, _State.location = _State.location, parsed
    return previous


@contextmanager
def use_lakehouse(location: str | os.PathLike[str]) -> Iterator[Location]:
    """The lakehouse is ``location`` inside the block."""
    previous = set_lakehouse(location)
    try:
        yield current_lakehouse()
    finally:
        set_lakehouse(previous)


class HadoopFiles:
    """Files anywhere Spark reaches (``abfss:``, ``s3a:``, ``dbfs:``, ``file:``...), through Hadoop's ``FileSystem``.

    Runs in the Spark driver's JVM, so it needs a classic session (Spark
    Connect gives the client no JVM: :class:`RemoteLakehouseError` says so)::

        >>> files = HadoopFiles(spark)                                      # doctest: +SKIP
        >>> files.write_bytes("abfss://c@a.dfs.core.windows.net/lh/x.txt", b"hi")  # doctest: +SKIP
        >>> files.list("abfss://c@a.dfs.core.windows.net/lh")               # doctest: +SKIP
        ['abfss://c@a.dfs.core.windows.net/lh/x.txt']
    """

    def __init__(self, spark: Any) -> None:
        jvm = getattr(getattr(spark, "_sc", None), "_jvm", None)
        if jvm is None:
            raise RemoteLakehouseError(
                "files of a remote lakehouse are reached through Hadoop's FileSystem in the Spark "
                "driver, and this session has no driver JVM here (Spark Connect); use a classic "
                "session (a master URL) or a local/mounted lakehouse folder")
        self._jvm = jvm
        self._conf = spark._jsc.hadoopConfiguration()

    def _fs(self, uri: str) -> tuple[Any, Any]:
        path = self._jvm.org.apache.hadoop.fs.Path(spark_path(uri))
        return path.getFileSystem(self._conf), path

    def exists(self, uri: str) -> bool:
        fs, path = self._fs(uri)
        return bool(fs.exists(path))

    def is_dir(self, uri: str) -> bool:
        fs, path = self._fs(uri)
        return bool(fs.exists(path) and fs.getFileStatus(path).isDirectory())

    def makedirs(self, uri: str) -> None:
        fs, path = self._fs(uri)
        fs.mkdirs(path)

    def list(self, uri: str) -> list[str]:
        """The entries (files and folders) directly in the folder ``uri``, sorted, as full URIs."""
        fs, path = self._fs(uri)
        if not fs.exists(path):
            raise FileNotFoundError(f"no such folder: {uri}")
        return sorted(str(s.getPath().toString()) for s in fs.listStatus(path))

    def read_bytes(self, uri: str) -> bytes:
        fs, path = self._fs(uri)
        if not fs.exists(path):
            raise FileNotFoundError(f"no such file: {uri}")
        stream = fs.open(path)
        try:
            out = self._jvm.java.io.ByteArrayOutputStream()
            self._jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, out, 1 << 16, False)
            return bytes(out.toByteArray())
        finally:
            stream.close()

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write ``data`` to ``uri``, replacing it (atomically where the store renames atomically)."""
        fs, path = self._fs(uri)
        tmp = self._jvm.org.apache.hadoop.fs.Path(path.getParent(), f".kindling-tmp-{path.getName()}")
        stream = fs.create(tmp, True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()
        if fs.exists(path):
            fs.delete(path, False)
        if not fs.rename(tmp, path):
            fs.delete(tmp, False)
            raise OSError(f"could not move the written file into place at {uri}")

    def rename(self, src: str, dst: str) -> None:
        fs, source = self._fs(src)
        _, target = self._fs(dst)
        fs.mkdirs(target.getParent())
        if not fs.rename(source, target):
            raise OSError(f"could not move {src} to {dst} (does {src} exist, or {dst} already?)")

    def delete(self, uri: str, *, recursive: bool = False) -> bool:
        fs, path = self._fs(uri)
        return bool(fs.delete(path, recursive))

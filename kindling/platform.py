"""File access for Kindling, with a signal for every file read, written or deleted.

Every Kindling provider that touches files (file ingestion's moves, app
deployment, notebook loading) goes through a :class:`PlatformService`, so an
observer of ``platform.*`` sees the framework's whole storage traffic::

    >>> from kindling.platform import get_platform_service
    >>> fs = get_platform_service()
    >>> path = fs.write("/tmp/kindling-doc/hello.txt", "hi")      # platform.file_written
    >>> fs.read_text(path)                                          # platform.file_read
    'hi'
    >>> fs.delete(path)                                             # platform.file_deleted

This module implements the ``standalone`` platform: the local filesystem.
Paths are ``str`` or ``os.PathLike``; every ``file_path`` in a payload and
every path returned is absolute.

Failures (a missing file, a permission error) raise the usual ``OSError``
subclasses with the path in the message and emit **no** signal: the catalog
declares no failed signal for the platform, and an event that says "file
written" for a file that was not written would lie.
"""

from __future__ import annotations

import builtins
import errno
import fnmatch
import os
import shutil
import tempfile
import threading
from typing import ClassVar, Protocol

from kindling.lakehouse import RemoteLakehouseError, is_uri, local_path
from kindling.signaling import SignalEmitter, SignalProvider

__all__ = ["PLATFORM_NAME", "PathLike", "PlatformService", "SupportsRead", "absolute_path", "get_platform_service"]

PLATFORM_NAME = "standalone"
PathLike = str | os.PathLike[str]

# Atomic writes go through a temp file next to the target; list() hides them.
_TMP_PREFIX = ".kindling-tmp-"
_READ_CHUNK = 1 << 20


class SupportsRead(Protocol):
    """A binary stream :meth:`PlatformService.write` copies from (a file, a zip member)."""

    def read(self, size: int = ..., /) -> bytes: ...


# mkstemp() creates files 0600; give written files the mode open() would have.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def absolute_path(path: PathLike, what: str = "path") -> str:
    """``path`` as an absolute str; a TypeError naming ``what`` for anything that is not a path.

    A ``file:`` URI is its local path; any other URI (``abfss:``, ``s3a:``...)
    is a :class:`~kindling.lakehouse.RemoteLakehouseError`: this platform
    works on local files (a mount of the storage works).

    >>> absolute_path("/data/in") == os.path.abspath("/data/in")
    True
    >>> absolute_path("file:///data/in")
    '/data/in'
    """
    try:
        p = os.fspath(path)
    except TypeError:
        raise TypeError(f"{what}={path!r} is not a path; pass a str or os.PathLike") from None
    if not isinstance(p, str) or not p:
        raise TypeError(f"{what}={path!r} is not a path; pass a non-empty str or os.PathLike")
    if is_uri(p):
        local = local_path(p)
        if local is None:
            raise RemoteLakehouseError(
                f"{what}={p!r} is a remote URI, and the {PLATFORM_NAME!r} platform reads and writes "
                f"local files only; pass a local or mounted folder, or a 'file:' URI")
        p = str(local)
    return os.path.abspath(p)


def _missing(path: str, what: str = "file") -> FileNotFoundError:
    # str(error) reads "[Errno 2] No such file (check the path...): '/the/path'"
    return FileNotFoundError(errno.ENOENT, f"No such {what} (check the path; "
                             f"PlatformService.exists() tells before you read)", path)


class PlatformService(SignalEmitter):
    """Read, write, list, copy, move and delete files; load notebooks.

    >>> fs = PlatformService()                                     # doctest: +SKIP
    >>> fs.move("/landing/a.csv", "/processed/a.csv")             # doctest: +SKIP
    '/processed/a.csv'

    Signals Emitted:
        - ``platform.file_read``: a file's bytes were read (``read``,
          ``read_text``, the source of ``copy``); ``platform``, ``file_path``,
          ``file_size_bytes``.
        - ``platform.file_written``: a file was written completely (``write``,
          the target of ``copy`` and ``move``); ``platform``, ``file_path``.
        - ``platform.file_deleted``: a file or folder was removed (``delete``,
          the source of ``move``); ``platform``, ``file_path``.
        - ``platform.notebook_read``: a notebook's source was loaded
          (``read_notebook``); ``platform``, ``notebook_name``.

    High volume: one signal per file. See ``docs/sampling.md`` to sample or
    summarise ``platform.*`` for busy observers.
    """

    EMITS: ClassVar[tuple[str, ...]] = (
        "platform.file_read", "platform.file_written", "platform.file_deleted",
        "platform.notebook_read")

    def __init__(self, signal_provider: SignalProvider | None = None,
                 platform: str = PLATFORM_NAME) -> None:
        super().__init__(signal_provider)
        if not isinstance(platform, str) or not platform:
            raise ValueError(f"platform={platform!r} must be a non-empty name like 'standalone'")
        self.platform = platform

    def __repr__(self) -> str:
        return f"<PlatformService platform={self.platform!r}>"

    # -- queries (no signals)
    def exists(self, path: PathLike) -> bool:
        """Whether a file or folder exists at ``path``."""
        return os.path.exists(absolute_path(path))

    def size(self, path: PathLike) -> int:
        """The size of the file at ``path`` in bytes."""
        p = absolute_path(path)
        try:
            return os.stat(p).st_size
        except FileNotFoundError:
            raise _missing(p) from None

    def list(self, path: PathLike, pattern: str | None = None, *, recursive: bool = False) -> builtins.list[str]:
        """The files (not folders) under the folder ``path``, sorted, as absolute paths.

        ``pattern`` is a glob matched against each file's name (``"*.csv"``);
        ``recursive=True`` descends into sub-folders. In-flight temp files of
        :meth:`write` are never listed.

        >>> fs.list("/landing", "sales_*.csv")                     # doctest: +SKIP
        ['/landing/sales_2025-01-01.csv', '/landing/sales_2025-01-02.csv']
        """
        root = absolute_path(path)
        if not os.path.exists(root):
            raise _missing(root, "folder")
        if not os.path.isdir(root):
            raise NotADirectoryError(errno.ENOTDIR, f"{root!r} is a file, not a folder; "
                                     f"list() takes the folder that holds it", root)
        found: builtins.list[str] = []
        if recursive:
            for folder, _dirs, files in os.walk(root):
                found.extend(os.path.join(folder, f) for f in files if self._listed(f, pattern))
        else:
            with os.scandir(root) as entries:
                found.extend(e.path for e in entries
                             if e.is_file() and self._listed(e.name, pattern))
        return sorted(found)

    @staticmethod
    def _listed(name: str, pattern: str | None) -> bool:
        if name.startswith(_TMP_PREFIX):
            return False
        return pattern is None or fnmatch.fnmatchcase(name, pattern)

    def makedirs(self, path: PathLike) -> str:
        """Create the folder ``path`` and its parents if missing; returns it (no signal)."""
        p = absolute_path(path)
        os.makedirs(p, exist_ok=True)
        return p

    # -- reads
    def read(self, path: PathLike) -> bytes:
        """The bytes of the file at ``path``; emits ``platform.file_read``."""
        p = absolute_path(path)
        try:
            with open(p, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise _missing(p) from None
        except IsADirectoryError:
            raise IsADirectoryError(errno.EISDIR, f"{p!r} is a folder; read() takes a file "
                                    f"(use list() to see what it holds)", p) from None
        self._event("platform.file_read", p, file_size_bytes=len(data))
        return data

    def read_text(self, path: PathLike, encoding: str = "utf-8") -> str:
        """The text of the file at ``path``; emits ``platform.file_read``."""
        return self.read(path).decode(encoding)

    def read_notebook(self, path: PathLike, encoding: str = "utf-8") -> str:
        """The source of a notebook (``.py``, ``.ipynb``, ...) as stored; emits ``platform.notebook_read``.

        ``notebook_name`` is the file name without its extension. Only
        ``notebook_read`` is emitted (not ``file_read`` too), so one load
        counts once.
        """
        p = absolute_path(path)
        try:
            with open(p, encoding=encoding) as f:
                source = f.read()
        except FileNotFoundError:
            raise _missing(p, "notebook") from None
        name = os.path.splitext(os.path.basename(p))[0]
        self.emit("platform.notebook_read", platform=self.platform, notebook_name=name)
        return source

    # -- writes
    def write(self, path: PathLike, data: bytes | str | SupportsRead, *, encoding: str = "utf-8") -> str:
        """Write ``data`` to ``path`` atomically, creating parent folders; returns the path.

        Readers see the old file or the new one, never half of it: the data
        goes to a temp file in the same folder, then ``os.replace``. A binary
        stream (anything with ``read(size)``) is copied in chunks; if reading
        it raises, the temp file goes and the error propagates. Emits
        ``platform.file_written``.
        """
        p = absolute_path(path)
        if isinstance(data, str):
            data = data.encode(encoding)
        if isinstance(data, (bytes, bytearray, memoryview)):
            content = data
            self._atomic(p, lambda f: f.write(content))
        elif callable(getattr(data, "read", None)):
            source = data
            self._atomic(p, lambda f: shutil.copyfileobj(source, f, _READ_CHUNK))
        else:
            raise TypeError(f"write({p!r}, data=...) takes bytes or str, got {type(data).__name__}")
        self._event("platform.file_written", p)
        return p

    def copy(self, src: PathLike, dst: PathLike) -> str:
        """Copy the file ``src`` to ``dst`` (atomically, replacing it); returns ``dst``.

        Emits ``platform.file_read`` for ``src`` and ``platform.file_written`` for ``dst``.
        """
        s, d = absolute_path(src, "src"), absolute_path(dst, "dst")
        if os.path.isdir(s):
            raise IsADirectoryError(errno.EISDIR, f"copy() takes a file; src={s!r} is a folder", s)
        try:
            size = os.stat(s).st_size
            with open(s, "rb") as source:
                self._atomic(d, lambda f: shutil.copyfileobj(source, f, _READ_CHUNK))
        except FileNotFoundError:
            if not os.path.exists(s):
                raise _missing(s) from None
            raise
        self._event("platform.file_read", s, file_size_bytes=size)
        self._event("platform.file_written", d)
        return d

    def move(self, src: PathLike, dst: PathLike) -> str:
        """Move the file or folder ``src`` to ``dst``, creating ``dst``'s parents; returns ``dst``.

        A rename when both are on one filesystem (atomic, no data copied),
        else a copy then a delete. An existing file at ``dst`` is replaced.
        Emits ``platform.file_written`` for ``dst`` then
        ``platform.file_deleted`` for ``src`` (no ``file_read``: a rename
        reads nothing).
        """
        s, d = absolute_path(src, "src"), absolute_path(dst, "dst")
        if not os.path.exists(s):
            raise _missing(s, "file or folder")
        os.makedirs(os.path.dirname(d), exist_ok=True)
        try:
            os.replace(s, d)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            shutil.move(s, d)  # across filesystems: copies, then removes the source
        self._event("platform.file_written", d)
        self._event("platform.file_deleted", s)
        return d

    def delete(self, path: PathLike, *, recursive: bool = False) -> None:
        """Delete the file at ``path`` (a folder needs ``recursive=True``); emits ``platform.file_deleted``."""
        p = absolute_path(path)
        if os.path.isdir(p) and not os.path.islink(p):
            if not recursive:
                raise IsADirectoryError(errno.EISDIR, f"{p!r} is a folder; pass recursive=True "
                                        f"to delete it and everything in it", p)
            shutil.rmtree(p)
        else:
            try:
                os.unlink(p)
            except FileNotFoundError:
                raise _missing(p) from None
        self._event("platform.file_deleted", p)

    # -- internals
    def _event(self, name: str, path: str, **fields: object) -> None:
        self.emit(name, platform=self.platform, file_path=path, **fields)

    @staticmethod
    def _atomic(path: str, fill: object) -> None:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=_TMP_PREFIX, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                fill(f)  # type: ignore[operator]
            os.chmod(tmp, _FILE_MODE)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


class _Default:
    service: PlatformService | None = None
    lock = threading.Lock()


def get_platform_service() -> PlatformService:
    """The process's platform service; it emits through the default signal provider of the moment.

    >>> get_platform_service() is get_platform_service()
    True
    """
    service = _Default.service
    if service is None:
        with _Default.lock:
            if _Default.service is None:
                _Default.service = PlatformService()
            service = _Default.service
    return service

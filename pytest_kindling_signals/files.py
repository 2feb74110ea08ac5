"""Files the plugin reads and writes, safely: bounded reads, atomic writes, one writer at a time.

Every command and the report read and write through these, so the same
rules hold everywhere::

    >>> text = read_text("catalogs/shop.yaml", limit=MAX_CATALOG_BYTES, what="catalog")  # doctest: +SKIP
    >>> write_atomic("out/coverage.md", text)                                            # doctest: +SKIP
    >>> with WriterLock(".kindling-signals", what="data file"):                          # doctest: +SKIP
    ...     ...

- :func:`read_text` reads a *regular* file only (a FIFO would block, a device
  never end), at most ``limit`` bytes, as UTF-8 (a byte-order mark is
  dropped); :class:`FileRefused` (a ``ValueError``) names the file, what is
  wrong and the fix.
- :func:`write_atomic` writes a temporary file beside the target and renames
  it into place: a failure leaves the previous file whole. Missing folders
  are created; a symbolic link keeps pointing where it did (its target is
  written); a character device or FIFO (``/dev/stdout``) is written directly.
- :class:`WriterLock` is held while a data file is being made, so two runs
  writing one file fail clearly instead of one silently losing the other's
  data (an advisory ``flock`` on a lock file named by the file's resolved
  path in the temporary folder; released by the OS if the process dies).
- :func:`same_file` and :func:`clashes` say whether an output is one of the
  inputs, or two outputs one file (by resolved path).

No pytest in here, and nothing of the plugin: every layer uses it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from types import TracebackType

__all__ = ["MAX_CATALOG_BYTES", "MAX_DATA_BYTES", "FileRefused", "WriterLock", "clashes", "read_bytes", "read_text",
           "resolved", "same_file", "write_atomic"]

#: The largest catalog file read (the quick reference is ~60 kB).
MAX_CATALOG_BYTES = 16 * 1024 * 1024
#: The largest data file read (a 400,000-test run saves a few tens of MB).
MAX_DATA_BYTES = 1024 * 1024 * 1024


class FileRefused(ValueError):
    """A file that can't be read or written as asked; the message names it and the fix."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_text(path: str | os.PathLike[str], *, limit: int, what: str) -> str:
    """The UTF-8 text of the regular file ``path`` (at most ``limit`` bytes).

    :class:`FileNotFoundError` and other :class:`OSError` pass through (the
    caller says what to do about a missing file); a folder, FIFO, device or
    socket, a file over ``limit`` and text that isn't UTF-8 are a
    :class:`FileRefused` naming the file.
    """
    data = read_bytes(path, limit=limit, what=what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{os.fspath(path)}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the "
                          f"{what} file as UTF-8") from None


def read_bytes(path: str | os.PathLike[str], *, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``); errors as :func:`read_text`'s."""
    source = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(source, flags)  # non-blocking: opening a FIFO must not wait for a writer
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{source}: is {_kind(info.st_mode)}, not a {what} file; give a regular file")
        if info.st_size > limit:
            raise FileRefused(f"{source}: {info.st_size:,} bytes, more than a {what} file may have "
                              f"({limit:,}); is it the right file?")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew while being read
            raise FileRefused(f"{source}: more than {limit:,} bytes, more than a {what} file may have; "
                              "is it the right file?")
    finally:
        os.close(fd)
    return b"".join(chunks)


def resolved(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute with every symbolic link followed (loops and all: never raises)."""
    try:
        return Path(os.path.realpath(os.fspath(path)))
    except (OSError, ValueError):
        return Path(os.path.abspath(os.fspath(path)))


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` are one file: one resolved path, or one inode (hard links)."""
    if resolved(a) == resolved(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def clashes(inputs: Iterable[tuple[str, str | os.PathLike[str]]],
            outputs: Sequence[tuple[str, str | os.PathLike[str]]]) -> str | None:
    """The first problem of a command's files: an output that is an input, or two outputs on one
    file; ``None`` when there is none. Each item is (how the user named it, the path)."""
    ins = list(inputs)
    for label, out in outputs:
        for in_label, path in ins:
            if same_file(out, path):
                return (f"{label} would write over {in_label} ({os.fspath(path)}), an input of this "
                        "command; give the output another path")
    for i, (label, out) in enumerate(outputs):
        for other_label, other in outputs[:i]:
            if same_file(out, other):
                return (f"{other_label} and {label} write to one file ({os.fspath(out)}); give each "
                        "its own path")
    return None


@lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path``, whole or not at all; returns the file written.

    Characters UTF-8 can't hold (lone surrogates) are written as ``\\udcff``
    escapes rather than failing. :class:`OSError` when it can't be written
    (the previous file, if any, is left as it was).
    """
    target = resolved(path)
    data = text.encode("utf-8", "backslashreplace")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        # /dev/stdout, a pipe a reader waits on: written as a stream (no reader: ENXIO, not a hang)
        fd = os.open(target, os.O_WRONLY | (os.O_NONBLOCK if stat.S_ISFIFO(mode) else 0))
        try:
            if stat.S_ISFIFO(mode):
                os.set_blocking(fd, True)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        return target
    if mode is not None and not stat.S_ISREG(mode):
        raise OSError(errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL,
                      f"is {_kind(mode)}, not a file", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:200]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        # as the file was (or as a plain open() would make it), not mkstemp's 0600
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


class WriterLock:
    """One writer of ``path`` at a time, across processes; :class:`FileRefused` when another holds it.

    >>> with WriterLock(".kindling-signals", what="data file"):   # doctest: +SKIP
    ...     run.save(".kindling-signals")
    """

    def __init__(self, path: str | os.PathLike[str], *, what: str, fix: str = "") -> None:
        self.target = resolved(path)
        # in the temporary folder, by the file's resolved path: nothing is added to the project's
        # tree, no folder of it is made before the file is written
        digest = hashlib.sha256(os.fsencode(self.target)).hexdigest()[:32]
        uid = os.getuid() if hasattr(os, "getuid") else 0
        self.path = Path(tempfile.gettempdir()) / f"kindling-signals-locks-{uid}" / f"{digest}.lock"
        self.what, self.fix = what, fix
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here; the writes stay atomic
            return self
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666 & ~_umask())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "another process"
                os.close(fd)
                fix = self.fix or "wait for it to finish, or give each its own path"
                raise FileRefused(f"{self.target}: another run is writing this {self.what} "
                                  f"(pid {holder}); {fix}") from None
            try:  # the holder before us may have removed the file: lock the one at the path
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode("ascii"))
                self._fd = fd
                return self
            os.close(fd)
        raise FileRefused(f"{self.target}: its lock ({self.path}) keeps changing; is another run starting? "
                          "Retry")

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)  # closing releases the flock
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

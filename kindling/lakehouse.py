"""Where Kindling keeps its Delta tables and files: the lakehouse folder.

The default is ``$KINDLING_LAKEHOUSE_DIR`` or, failing that, a temporary folder
made on first use. Tests give each test its own folder::

    >>> from kindling.lakehouse import use_lakehouse, current_lakehouse
    >>> with use_lakehouse("/tmp/lh-demo"):
    ...     str(current_lakehouse())
    '/tmp/lh-demo'
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["ENV_LAKEHOUSE", "current_lakehouse", "set_lakehouse", "use_lakehouse"]

ENV_LAKEHOUSE = "KINDLING_LAKEHOUSE_DIR"


class _State:
    path: Path | None = None
    lock = threading.Lock()


def current_lakehouse() -> Path:
    """The lakehouse folder in force, created if it does not exist yet."""
    with _State.lock:
        if _State.path is None:
            env = os.environ.get(ENV_LAKEHOUSE)
            _State.path = Path(env) if env else Path(tempfile.mkdtemp(prefix="kindling-lakehouse-"))
        path = _State.path
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_lakehouse(path: str | os.PathLike[str] | None) -> Path | None:
    """Use ``path`` as the lakehouse from now on (``None``: back to the default); returns the previous one."""
    with _State.lock:
        previous, _State.path = _State.path, (Path(path) if path is not None else None)
    return previous


@contextmanager
def use_lakehouse(path: str | os.PathLike[str]) -> Iterator[Path]:
    """The lakehouse is ``path`` inside the block."""
    previous = set_lakehouse(path)
    try:
        yield current_lakehouse()
    finally:
        set_lakehouse(previous)

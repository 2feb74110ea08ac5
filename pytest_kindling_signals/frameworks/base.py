"""Which Kindling the plugin serves, and how it sees that framework's signals.

Two frameworks share the import name ``kindling`` (so at most one is
installed in a virtualenv):

- this project's providers (distribution ``kindling-signals``), which
  declare themselves through the ``pytest_kindling_signals.frameworks``
  entry point;
- spark-kindling from PyPI, which knows nothing of this plugin: its adapter
  ships here (:mod:`pytest_kindling_signals.frameworks.spark_kindling.adapter`).

A :class:`Framework` tells the plugin where the framework's catalog is, how
to see every emission of the process (the coverage report), which provider a
test records (``signal_provider``) and how to isolate one test's
declarations from another's. Nothing here imports pytest or a framework
until one is asked for::

    >>> fw = find_framework()                 # doctest: +SKIP
    >>> fw.name, [p.name for p in fw.catalog_paths()]   # doctest: +SKIP
    ('kindling', ['quick_reference.yaml'])
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pytest_kindling_signals.names import UnknownNameError
from pytest_kindling_signals.catalog import SignalCatalog, load_catalog

__all__ = [
    "ENTRY_POINT_GROUP",
    "FRAMEWORK_CHOICES",
    "Framework",
    "FrameworkError",
    "TapSource",
    "default_catalog",
    "find_framework",
    "framework_names",
]

ENTRY_POINT_GROUP = "pytest_kindling_signals.frameworks"
#: Frameworks the plugin knows without an entry point: name -> "module:attribute".
_BUILTIN = {"spark-kindling": "pytest_kindling_signals.frameworks.spark_kindling.adapter:SparkKindling"}
FRAMEWORK_CHOICES = ("auto", "none")


class FrameworkError(RuntimeError):
    """No framework, an unknown one, or two where one is needed; the message says how to choose."""


class TapSource(Protocol):
    """What a recorder binds to: ``add_tap(tap)`` calls ``tap(emission)`` for every emission
    it sees and returns a function that removes the tap."""

    name: str

    def add_tap(self, tap: Callable[[Any], None]) -> Callable[[], None]: ...


class Framework(ABC):
    """One Kindling framework as the plugin sees it."""

    #: The name users pick with ``--kindling-signals-framework`` / the ini key.
    name: ClassVar[str]
    #: Its distribution on a package index (how the plugin tells it is installed).
    distribution: ClassVar[str]

    @classmethod
    def is_installed(cls) -> bool:
        try:
            metadata.distribution(cls.distribution)
        except metadata.PackageNotFoundError:
            return False
        return True

    @classmethod
    def version(cls) -> str:
        try:
            return metadata.version(cls.distribution)
        except metadata.PackageNotFoundError:
            return "not installed"

    @abstractmethod
    def catalog_paths(self) -> list[Path]:
        """The framework's own catalog file(s); files given by the user merge after them."""

    @abstractmethod
    def add_global_tap(self, tap: Callable[[Any], None]) -> Callable[[], None]:
        """See every emission of the process (any provider instance); returns a remover."""

    @abstractmethod
    def test_provider(self) -> contextlib.AbstractContextManager[Any]:
        """A provider for one test (a :class:`TapSource`), in force while the block runs."""

    def isolation(self) -> contextlib.AbstractContextManager[None]:
        """Keeps one test's declarations (entities, pipes...) out of the next test."""
        return contextlib.nullcontext()

    def conformance_paths(self) -> tuple[Path, Path] | None:
        """(the quick reference's catalog, an alias map) when the framework names signals its
        own way; ``None`` when it keeps the quick reference's names."""
        return None

    # -- declarations, for the provider-input strategies (pipe_graphs, EntitySchema.declare) --

    def declare_entity(self, entity_id: str, *, schema: Any, merge_columns: Sequence[str] = (),
                       partition_columns: Sequence[str] = (), tags: Mapping[str, str] | None = None) -> Any:
        """Declare an entity with the framework's own registry (``DataEntities.entity``);
        ``schema`` is a pyspark ``StructType``. Returns the framework's definition."""
        raise FrameworkError(f"the {self.name} framework can't declare entities for the plugin's "
                             "strategies; declare them yourself")

    def declare_pipe(self, pipe_id: str, function: Callable[..., Any], *, input_entity_ids: Sequence[str],
                     output_entity_id: str, name: str | None = None,
                     tags: Mapping[str, str] | None = None) -> Any:
        """Declare a pipe (``DataPipes.pipe``) that runs ``function`` on its inputs (passed by
        entity id, ``.`` as ``_``) and writes ``output_entity_id`` as a table."""
        raise FrameworkError(f"the {self.name} framework can't declare pipes for the plugin's "
                             "strategies; declare them yourself")

    def table_path(self, entity_id: str) -> str:
        """Where the declared entity's Delta table is (a local path or URI)."""
        raise FrameworkError(f"the {self.name} framework can't locate entity tables for the "
                             "plugin's strategies")

    def use_engine(self, master: str | None, remote: str | None) -> None:
        """Point the framework's Spark session at the run's engine (a master URL, or a Spark
        Connect address), before the session starts. The engine has already exported them
        as ``KINDLING_SPARK_MASTER`` / ``KINDLING_SPARK_REMOTE``; the default does nothing more."""

    def __repr__(self) -> str:
        return f"<Framework {self.name} ({self.distribution} {self.version()})>"


def _candidates() -> dict[str, str]:
    found = dict(_BUILTIN)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def _load(target: str) -> type[Framework]:
    module, _, attr = target.partition(":")
    obj = __import__(module, fromlist=[attr])
    cls: type[Framework] = getattr(obj, attr)
    return cls


def framework_names() -> list[str]:
    """Every framework the plugin can serve here (installed or not), and the choices."""
    return [*FRAMEWORK_CHOICES, *_candidates()]


_found: dict[str, Framework | None] = {}
_found_lock = threading.Lock()


def find_framework(choice: str = "auto") -> Framework | None:
    """The framework to serve: ``auto`` (the one installed), ``none``, or a name.

    Raises :class:`FrameworkError` for an unknown name, a named framework that
    is not installed, or (with ``auto``) two installed frameworks.
    """
    with _found_lock:
        if choice in _found:
            return _found[choice]
        result = _find(choice)
        _found[choice] = result
        return result


def _find(choice: str) -> Framework | None:
    if choice == "none":
        return None
    candidates = _candidates()
    if choice != "auto":
        if choice not in candidates:
            raise FrameworkError(str(UnknownNameError(
                "Kindling framework", choice, framework_names(),
                f"use one of {', '.join(framework_names())} (--kindling-signals-framework or the "
                "ini key kindling_signals_framework).")))
        cls = _load(candidates[choice])
        if not cls.is_installed():
            raise FrameworkError(
                f"kindling_signals_framework={choice!r}: the distribution {cls.distribution!r} is "
                f"not installed here; install it, or choose 'auto' or 'none'.")
        return cls()
    installed = []
    for target in candidates.values():
        cls = _load(target)
        if cls.is_installed():
            installed.append(cls)
    if len(installed) > 1:
        names = ", ".join(f"{c.name} ({c.distribution})" for c in installed)
        raise FrameworkError(
            f"two Kindling frameworks are installed ({names}); they share the import name "
            "'kindling', so give each its own virtualenv, or choose one with "
            "--kindling-signals-framework=NAME")
    return installed[0]() if installed else None


def default_catalog() -> SignalCatalog:
    """The catalog of the framework found here; the quick reference's when there is none."""
    framework = find_framework()
    if framework is None:
        from pytest_kindling_signals.catalog import QUICK_REFERENCE_PATH

        return load_catalog(QUICK_REFERENCE_PATH)
    return load_catalog(*framework.catalog_paths())

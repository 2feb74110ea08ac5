"""Kindling's signal catalog: the quick reference's 88 signals.

The file is the plugin's (``pytest_kindling_signals/catalog/shipped/quick_reference.yaml``,
shipped with the plugin this distribution depends on): the single source of truth
for what our providers emit. The catalog *engine* (format, loading, validation,
JSON Schema) is the plugin's too, :mod:`pytest_kindling_signals.catalog`; this
module makes that file the built-in catalog::

    >>> from kindling.signal_catalog import load_catalog
    >>> catalog = load_catalog()
    >>> catalog["entity.post_merge"].tier
    'critical'
    >>> catalog.validate("entity.post_merge", {"rows_inserted": "3"})[0].field
    'rows_inserted'
"""

from __future__ import annotations

import os

from pytest_kindling_signals.catalog import (
    DATETIME_PATTERN,
    QUICK_REFERENCE_PATH,
    UUID_PATTERN,
    CatalogError,
    FieldSpec,
    OperationSpec,
    SignalCatalog,
    SignalSpec,
    UnknownSignalError,
    Violation,
    parse_catalog,
    signal_kind,
)
from pytest_kindling_signals.catalog import load_catalog as load_catalog_files

__all__ = [
    "BUILTIN_CATALOG_PATH",
    "DATETIME_PATTERN",
    "UUID_PATTERN",
    "CatalogError",
    "FieldSpec",
    "OperationSpec",
    "SignalCatalog",
    "SignalSpec",
    "UnknownSignalError",
    "Violation",
    "load_catalog",
    "parse_catalog",
    "signal_kind",
]

BUILTIN_CATALOG_PATH = QUICK_REFERENCE_PATH


def load_catalog(*extra: str | os.PathLike[str], builtin: bool = True) -> SignalCatalog:
    """The built-in catalog merged with any extra catalog files (YAML or JSON).

    Extra files may omit ``common_fields``/``post_fields``/``failed_fields``:
    they inherit the built-in ones. ``builtin=False`` loads the extra files
    alone (still inheriting those fields). Results are cached per set of paths.
    """
    if builtin:
        return load_catalog_files(BUILTIN_CATALOG_PATH, *extra)
    if not extra:
        raise CatalogError("load_catalog(builtin=False) needs at least one catalog file")
    return load_catalog_files(*extra, inherit_from=load_catalog_files(BUILTIN_CATALOG_PATH))


def main(argv: list[str] | None = None) -> int:
    """``python -m kindling.signal_catalog [--format markdown|jsonschema|asyncapi]``: validate the
    built-in catalog and say what it holds, or export it (the plugin's ``kindling-signals catalog``)."""
    import sys

    from pytest_kindling_signals.cli import main as cli

    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        return cli(["catalog", "export", str(BUILTIN_CATALOG_PATH), *args])
    return cli(["catalog", "validate", str(BUILTIN_CATALOG_PATH)])


if __name__ == "__main__":
    raise SystemExit(main())

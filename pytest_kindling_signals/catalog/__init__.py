"""Catalogs: the model and its loading, contract checks, conformance, export and the scanner.

Pure Python (no pytest, no Spark): everything here works on catalog files and
recorded emissions, so the CLI, the report and the recorder share it::

    >>> from pytest_kindling_signals.catalog import QUICK_REFERENCE_PATH, load_catalog
    >>> load_catalog(QUICK_REFERENCE_PATH).get("entity.post_merge").tier
    'critical'

The shipped catalogs (the quick reference, spark-kindling's, its alias map) and
the catalog file's JSON Schema are in ``shipped/``.
"""

from __future__ import annotations

from pytest_kindling_signals.catalog.model import (
    CATALOGS_DIR,
    DATETIME_PATTERN,
    FORMAT,
    QUICK_REFERENCE_PATH,
    TIERS_DEFAULT,
    UUID_PATTERN,
    CatalogError,
    FieldSpec,
    OperationSpec,
    SignalCatalog,
    SignalSpec,
    UnknownSignalError,
    Violation,
    signal_kind,
)
from pytest_kindling_signals.catalog.loading import catalog_schema, load_catalog, parse_catalog
from pytest_kindling_signals.catalog.contract import ContractFinding, check_contract, check_lifecycles, check_payloads
from pytest_kindling_signals.catalog.contract import known_match, unseen_known
from pytest_kindling_signals.catalog.known import RULES, KnownFinding
from pytest_kindling_signals.catalog.values import is_data, safe_repr
from pytest_kindling_signals.catalog.conformance import AliasMap, conformance, conformance_dict, load_aliases, summarize
from pytest_kindling_signals.catalog.export import EXPORT_FORMATS, export
from pytest_kindling_signals.catalog.scan import ScanError, infer_kind, scan
from pytest_kindling_signals.catalog.draft import draft_catalog
from pytest_kindling_signals.catalog.yaml_writer import render_yaml

__all__ = [
    "CATALOGS_DIR", "DATETIME_PATTERN", "EXPORT_FORMATS", "FORMAT", "QUICK_REFERENCE_PATH", "TIERS_DEFAULT",
    "UUID_PATTERN", "AliasMap", "CatalogError", "ContractFinding", "FieldSpec", "OperationSpec", "ScanError",
    "SignalCatalog", "SignalSpec", "UnknownSignalError", "Violation", "catalog_schema", "check_contract",
    "check_lifecycles", "check_payloads", "conformance", "conformance_dict", "draft_catalog", "export",
    "infer_kind", "load_aliases", "load_catalog", "parse_catalog", "render_yaml", "scan", "signal_kind",
    "summarize",
    # known findings, and describing values without touching them
    "RULES", "KnownFinding", "is_data", "known_match", "safe_repr", "unseen_known",
]

"""The coverage report: collectors, session data, gates, the data file, comparison and rendering.

Plain code that imports no pytest, but for ``report/plugin.py``, the pytest hooks
(an entry point) that call it.
"""

from __future__ import annotations

from pytest_kindling_signals.report.collect import CentralCollector, ControllerCollector, WorkerCollector
from pytest_kindling_signals.report.coverage import Coverage, CoverageReport
from pytest_kindling_signals.report.gates import FailUnder, evaluate_gates, gate_failure_line, parse_fail_under
from pytest_kindling_signals.report.results import Finding, LostWorker, SessionData, why_partial
from pytest_kindling_signals.report.data import (
    DATA_FORMAT,
    DATA_SCHEMA_PATH,
    REPORT_SCHEMA_PATH,
    CatalogFile,
    DataError,
    DataLock,
    RunData,
    catalog_ref,
    combine,
    describe_gates,
    load_many,
)
from pytest_kindling_signals.report.compare import (
    Comparison,
    render_compare_json,
    render_compare_markdown,
    render_compare_term,
)
from pytest_kindling_signals.report.render import (
    render,
    render_html,
    render_json,
    render_markdown,
    render_term,
)
from pytest_kindling_signals.report.options import Raw, ReportTarget, check_outputs, parse_report_targets, parse_settings

__all__ = [
    "DATA_FORMAT", "DATA_SCHEMA_PATH", "REPORT_SCHEMA_PATH", "CatalogFile", "CentralCollector", "Comparison",
    "ControllerCollector", "Coverage", "CoverageReport", "DataError", "DataLock", "FailUnder", "Finding", "LostWorker", "Raw",
    "ReportTarget", "RunData", "SessionData", "WorkerCollector", "catalog_ref", "check_outputs", "combine", "describe_gates",
    "evaluate_gates", "gate_failure_line", "load_many", "parse_fail_under", "parse_report_targets",
    "parse_settings", "render", "render_compare_json", "render_compare_markdown", "render_compare_term",
    "render_html", "render_json", "render_markdown", "render_term", "why_partial",
]

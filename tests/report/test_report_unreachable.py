"""A catalog signal marked ``unreachable: "reason"``: no test can fire it where the tests run (a
platform job API, say). The report counts it apart from the coverage, with the reason, so a
suite that fires every other signal is at 100%; one that fires it anyway counts it as emitted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from report_schema import validator

from pytest_kindling_signals.catalog import CatalogError, load_catalog
from pytest_kindling_signals.report import REPORT_SCHEMA_PATH, CoverageReport, SessionData, render_json, render_term

CATALOG = """\
format: kindling-signal-catalog/1
common_fields: {}
post_fields: {}
failed_fields: {}
providers:
  jobs:
    class: JobService
    tier: high
    signals:
      before_run: {when: before a job starts}
      after_run: {when: after it started}
      cancelled:
        when: a platform cancelled the job
        unreachable: "needs the platform's job API; nothing cancels a job on local Spark"
"""


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    return path


def report(catalog_path: Path, *emitted: str) -> CoverageReport:
    data = SessionData(tests={"t.py::test_a": 0}, counts={n: 1 for n in emitted},
                       emitters={n: {"t.py::test_a"} for n in emitted})
    return CoverageReport(load_catalog(catalog_path), data)


def test_the_catalog_keeps_the_reason(catalog_path: Path) -> None:
    catalog = load_catalog(catalog_path)
    assert catalog["jobs.cancelled"].unreachable == "needs the platform's job API; nothing cancels a job on local Spark"
    assert catalog["jobs.before_run"].unreachable is None


def test_an_empty_reason_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CATALOG.replace('"needs the platform\'s job API; nothing cancels a job on local Spark"', '""'),
                    encoding="utf-8")
    with pytest.raises(CatalogError, match="unreachable"):
        load_catalog(path)


def test_an_unreachable_signal_is_counted_apart_with_its_reason(catalog_path: Path) -> None:
    made = report(catalog_path, "jobs.before_run", "jobs.after_run")

    assert (made.totals.signals, made.totals.emitted, made.totals.missing) == (2, 2, ())
    assert made.totals.unreachable == ("jobs.cancelled",)
    assert made.totals.percent == "100.0"
    lines = render_term(made, missing=True)
    at = lines.index("Unreachable where these tests run (1), not counted in the coverage:")
    assert lines[at + 1] == "  jobs.cancelled: needs the platform's job API; nothing cancels a job on local Spark"
    as_json = made.to_dict()
    assert as_json["totals"]["unreachable"] == ["jobs.cancelled"]
    assert as_json["signals"]["jobs.cancelled"]["unreachable"].startswith("needs the platform's job API")
    assert "unreachable" not in as_json["signals"]["jobs.after_run"]
    validator(REPORT_SCHEMA_PATH).validate(json.loads(render_json(made)))


def test_a_reachable_signal_left_unfired_is_still_missing(catalog_path: Path) -> None:
    made = report(catalog_path, "jobs.before_run")
    assert (made.totals.signals, made.totals.emitted, made.totals.missing) == (2, 1, ("jobs.after_run",))


def test_one_fired_anyway_counts_as_emitted(catalog_path: Path) -> None:
    made = report(catalog_path, "jobs.before_run", "jobs.after_run", "jobs.cancelled")
    assert (made.totals.signals, made.totals.emitted, made.totals.unreachable) == (3, 3, ())
    assert not any(line.startswith("Unreachable") for line in render_term(made, missing=True))

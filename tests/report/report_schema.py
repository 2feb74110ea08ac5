"""Every report and data file a test writes must match the schemas shipped with the plugin.

Used by the autouse fixtures of ``tests/report`` and ``tests/cli``: after each
test, every JSON report (``$schema`` is the report schema's ``$id``) and every
data file (``"format": "kindling-signals-data"``) under the test's folders is
validated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pytest_kindling_signals.report import DATA_FORMAT, DATA_SCHEMA_PATH, REPORT_SCHEMA_PATH


@lru_cache(maxsize=None)
def validator(path: Path) -> Any:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _candidates(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".pytest_cache" not in p.parts
            and "node_modules" not in p.parts
            and (p.suffix in (".json", ".data") or p.name.startswith(".kindling-signals"))]


def check_files(root: Path) -> tuple[int, int]:
    """Validate the reports and data files under ``root``; returns how many of each were checked."""
    reports = datas = 0
    report_id = validator(REPORT_SCHEMA_PATH).schema["$id"]
    for path in _candidates(root):
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(obj, dict):
            continue
        if obj.get("$schema") == report_id:
            errors = sorted(validator(REPORT_SCHEMA_PATH).iter_errors(obj), key=lambda e: list(e.path))
            assert not errors, f"{path} breaks the report schema: {errors[0].message} at {list(errors[0].path)}"
            reports += 1
        elif obj.get("format") == DATA_FORMAT:
            errors = sorted(validator(DATA_SCHEMA_PATH).iter_errors(obj), key=lambda e: list(e.path))
            assert not errors, f"{path} breaks the data schema: {errors[0].message} at {list(errors[0].path)}"
            datas += 1
    return reports, datas


@pytest.fixture(autouse=True)
def _written_files_match_the_shipped_schemas(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, every JSON report and data file it wrote validates against its schema
    (a conftest that imports this fixture turns it on for its folder)."""
    yield
    if request.node.get_closest_marker("malformed_files"):
        return
    for name in ("pytester", "tmp_path"):
        value = request.node.funcargs.get(name)
        root = getattr(value, "path", value)
        if isinstance(root, Path) and root.is_dir():
            check_files(root)

"""``kindling-signals catalog validate`` and ``catalog export`` (``catalog scan``: tests/test_scan.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_helpers import Cli
from jsonschema import Draft202012Validator
from report_project import SHOP_CATALOG

from kindling.signal_catalog import load_catalog
from pytest_kindling_signals.catalog import CATALOGS_DIR

pytestmark = pytest.mark.kindling_signals_ignore


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shop.yaml").write_text(SHOP_CATALOG, encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("format: kindling-signal-catalog/1\nproviders: []\n", encoding="utf-8")
    (tmp_path / "clash.yaml").write_text(SHOP_CATALOG.replace("shop", "entity"), encoding="utf-8")
    return tmp_path


def test_validate_says_ok_per_file(files: Path, cli: Cli) -> None:
    assert cli("catalog", "validate", "shop.yaml") == (0, "shop.yaml: ok, 4 signals in 1 provider\n", "")


def test_validate_checks_every_file_and_names_the_bad_one(files: Path, cli: Cli) -> None:
    code, out, err = cli("catalog", "validate", "broken.yaml", "shop.yaml")
    assert code == 1
    assert out == "shop.yaml: ok, 4 signals in 1 provider\n"
    first, last = err.splitlines()[0], err.splitlines()[-1]
    assert first.startswith(f"kindling-signals: error: {files / 'broken.yaml'}: providers")
    assert last == "kindling-signals: 1 of 2 catalog files are not valid"


def test_validate_with_the_frameworks_catalog_as_base(files: Path, cli: Cli) -> None:
    assert cli("catalog", "validate", "--base", "auto", "shop.yaml") == (
        0, "shop.yaml: ok, 4 signals in 1 provider (merged after pytest_kindling_signals:catalog/shipped/quick_reference.yaml)\n", "")
    code, _, err = cli("catalog", "validate", "--base", "auto", "clash.yaml")
    assert code == 1
    assert "namespace 'entity' is already declared" in err


def test_export_markdown(files: Path, cli: Cli) -> None:
    code, out, _ = cli("catalog", "export", "shop.yaml", "--alone", "--format", "markdown", "--title", "Shop signals")
    assert code == 0
    lines = out.splitlines()
    assert lines[:3] == ["# Shop signals", "", "4 signals in 1 providers; tiers: shop. Every signal is sent "
                                                "with its name as the sender and a JSON payload."]
    assert "| `shop.post_checkout` | shop | After a checkout | `cart_id` (string), `total` (number) |" in lines
    assert ("- Operation `shop.checkout`: `shop.pre_checkout` then `shop.post_checkout` or "
            "`shop.checkout_failed`") in lines


def test_export_of_the_frameworks_catalog_marks_its_extensions(files: Path, cli: Cli) -> None:
    code, out, _ = cli("catalog", "export", "--format", "markdown")
    assert code == 0
    extensions = [s.name for s in load_catalog().values() if s.extension]
    for name in extensions:
        assert f"| `{name}` *(extension)* |" in out
    assert out.startswith("# kindling signals\n")


def test_export_jsonschema_validates_emissions(files: Path, cli: Cli) -> None:
    assert cli("catalog", "export", "--format", "jsonschema", "-o", "out/signals.schema.json")[0] == 0
    schema = json.loads((files / "out" / "signals.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    catalog = load_catalog()
    assert set(schema["$defs"]) == set(catalog)
    good = {"signal": "entity.post_merge", "payload": {
        "operation_id": "0b6f9d3e-4d1c-4a57-9d33-2f1f0e7c1a10", "timestamp": "2025-01-01T00:00:00+00:00",
        "entity_id": "silver.orders", "rows_inserted": 3, "rows_updated": 0, "rows_deleted": 0,
        "duration_seconds": 0.5}}
    good["payload"].update({f: 1 for f in catalog["entity.post_merge"].required_fields if f not in good["payload"]})
    assert not list(validator.iter_errors(good))
    bad = {"signal": "entity.post_merge", "payload": {**good["payload"], "rows_inserted": "3"}}
    assert [e.message for e in validator.iter_errors(bad)] == ["'3' is not of type 'integer'"]
    assert list(validator.iter_errors({"signal": "entity.post_mrege", "payload": {}}))


@pytest.mark.parametrize("catalog", ["builtin", "spark_kindling_0.14.yaml"])
def test_export_asyncapi_has_a_channel_operation_and_message_per_signal(files: Path, cli: Cli, catalog: str) -> None:
    args = [] if catalog == "builtin" else [str(CATALOGS_DIR / catalog), "--alone"]
    assert cli("catalog", "export", *args, "--format", "asyncapi", "-o", "a.yaml")[0] == 0
    doc = yaml.safe_load((files / "a.yaml").read_text(encoding="utf-8"))
    names = list(load_catalog() if catalog == "builtin" else load_catalog(CATALOGS_DIR / catalog, builtin=False))
    assert doc["asyncapi"] == "3.0.0"
    assert list(doc["channels"]) == list(doc["operations"]) == list(doc["components"]["messages"]) == names
    op = doc["operations"][names[0]]
    assert (op["action"], op["channel"]) == ("send", {"$ref": f"#/channels/{names[0]}"})


def test_export_needs_a_format_and_readable_files(files: Path, cli: Cli) -> None:
    code, _, err = cli("catalog", "export", "shop.yaml")
    assert code == 2 and "the following arguments are required: --format" in err
    code, _, err = cli("catalog", "export", "nope.yaml", "--format", "markdown")
    assert code == 1 and err.startswith("kindling-signals: error: ") and "nope.yaml" in err

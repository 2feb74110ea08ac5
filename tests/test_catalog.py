"""The signal catalog: the 88 seed signals, validation, JSON Schemas, user catalogs, errors.

Fast tests: no JVM.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from kindling.signal_catalog import (
    BUILTIN_CATALOG_PATH,
    CatalogError,
    SignalCatalog,
    UnknownSignalError,
    Violation,
    load_catalog,
)
from kindling.signaling import new_operation_id, utc_timestamp

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "signal_quick_reference.md"

# The seed's twelve providers: namespace -> (class, tier).
PROVIDERS = {
    "datapipes": ("DataPipesExecuter", "critical"),
    "entity": ("DataEntityManager", "critical"),
    "file_ingestion": ("FileIngestionProcessor", "critical"),
    "watermark": ("WatermarkManager", "high"),
    "app": ("DataAppManager", "high"),
    "pip": ("PipManager", "high"),
    "notebooks": ("NotebookLoader", "high"),
    "stage": ("StageProcessor", "high"),
    "bootstrap": ("Bootstrap", "high"),
    "session": ("SparkSessionProvider", "moderate"),
    "platform": ("PlatformService", "moderate"),
    "trace": ("SparkTraceProvider", "moderate"),
}

# The seed's catalog tables, copied: "name: key payload fields". Kept here so the
# count and field checks run even where the seed file is not beside the clone.
SEED_SIGNALS = [
    "datapipes.pre_run: pipe_ids, pipe_count, run_id",
    "datapipes.post_run: success_count, failed_count, duration_seconds",
    "datapipes.run_failed: failed_pipe, error, error_type",
    "datapipes.pre_pipe: pipe_id, pipe_name, pipe_index",
    "datapipes.post_pipe: pipe_id, duration_seconds, rows_processed",
    "datapipes.pipe_failed: pipe_id, error, error_type",
    "datapipes.pipe_skipped: pipe_id, skip_reason",
    "entity.pre_ensure_table: entity_id, entity_name",
    "entity.post_ensure_table: entity_id, table_exists",
    "entity.ensure_failed: entity_id, error",
    "entity.pre_merge: entity_id, merge_keys, source_row_count",
    "entity.post_merge: rows_inserted, rows_updated, rows_deleted",
    "entity.merge_failed: entity_id, error",
    "entity.pre_append: entity_id, row_count",
    "entity.post_append: entity_id, rows_appended",
    "entity.append_failed: entity_id, error",
    "entity.pre_write: entity_id, mode",
    "entity.post_write: entity_id, rows_written",
    "entity.write_failed: entity_id, error",
    "entity.schema_changed: added_columns, removed_columns, modified_columns",
    "entity.version_updated: old_version, new_version, reason",
    "file_ingestion.pre_process: path, pattern, file_count, batch_id",
    "file_ingestion.post_process: success_files, failed_files, total_rows",
    "file_ingestion.process_failed: error, failed_file, processed_files",
    "file_ingestion.pre_file: filename, entry_id, file_size_bytes",
    "file_ingestion.post_file: filename, rows_processed, duration_seconds",
    "file_ingestion.file_failed: filename, error",
    "file_ingestion.file_moved: source_path, dest_path",
    "file_ingestion.batch_built: entry_id, file_count",
    "file_ingestion.batch_written: entry_id, rows_written",
    "watermark.pre_get: entity_id",
    "watermark.watermark_found: watermark_value, version, age_hours",
    "watermark.watermark_missing: entity_id",
    "watermark.pre_save: entity_id, new_watermark",
    "watermark.post_save: old_watermark, new_watermark, watermark_delta",
    "watermark.save_failed: entity_id, error",
    "watermark.watermark_advanced: advancement_seconds",
    "watermark.watermark_reset: old_watermark, reason",
    "watermark.version_changed: old_version, new_version",
    "app.pre_package: app_name, version, target_platform",
    "app.post_package: kda_file, kda_size_bytes",
    "app.package_failed: app_name, error",
    "app.pre_deploy: app_name, kda_file, target_environment",
    "app.post_deploy: deploy_path, file_count",
    "app.deploy_failed: app_name, error",
    "app.pre_run: app_name",
    "app.post_run: app_name, duration_seconds",
    "app.run_failed: app_name, error",
    "app.installed: app_name, version",
    "app.uninstalled: app_name",
    "pip.pre_install: packages, package_count, operation_id",
    "pip.post_install: success_count, cached_packages, downloaded_packages",
    "pip.install_failed: failed_package, error",
    "pip.pre_wheel: operation",
    "pip.post_wheel: wheel_file",
    "pip.wheel_failed: error",
    "pip.package_installing: package",
    "pip.package_installed: package, cached, dependencies_installed",
    "pip.package_failed: package, error",
    "notebooks.packages_discovered: packages, package_count",
    "notebooks.pre_build: package_name, notebook_count",
    "notebooks.post_build: wheel_file, wheel_size_bytes",
    "notebooks.build_failed: package_name, error",
    "notebooks.notebook_loaded: notebook_name",
    "notebooks.notebook_executed: notebook_name",
    "notebooks.notebook_failed: notebook_name, error",
    "stage.pre_execute: stage, layer, pipe_count",
    "stage.post_execute: pipes_executed, duration_seconds",
    "stage.execute_failed: stage, error",
    "stage.watermark_ensured: layer",
    "stage.pipes_started: pipe_ids",
    "stage.pipes_completed: pipe_count",
    "bootstrap.started: app_name, environment",
    "bootstrap.platform_detected: platform, workspace_id, spark_version",
    "bootstrap.config_loaded: config_files, config_count",
    "bootstrap.dependencies_installed: framework_wheels, lake_packages, pypi_packages",
    "bootstrap.framework_ready: duration_seconds",
    "bootstrap.failed: failed_phase, error",
    "session.created: app_name, spark_version, config",
    "session.config_changed: changed_configs, old_values",
    "session.stopped: app_name",
    "platform.file_read: platform, file_path, file_size_bytes",
    "platform.file_written: platform, file_path",
    "platform.file_deleted: platform, file_path",
    "platform.notebook_read: platform, notebook_name",
    "trace.span_started: span_id, component, operation",
    "trace.span_ended: span_id, duration_seconds",
    "trace.span_failed: span_id, error",

]


def seed_table() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(name, provider class, tier, key fields) for every signal of the embedded seed copy."""
    rows = []
    for line in SEED_SIGNALS:
        name, fields = line.split(": ", 1)
        cls, tier = PROVIDERS[name.split(".", 1)[0]]
        rows.append((name, cls, tier, tuple(f.strip() for f in fields.split(","))))
    return rows


def parse_seed(text: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """The same rows, read from the seed markdown's provider sections and tables."""
    rows = []
    section: tuple[str, str] | None = None
    for line in text.splitlines():
        heading = re.match(r"### .*?(CRITICAL|HIGH|MODERATE) - (\w+)", line)
        if heading:
            section = (heading.group(2), heading.group(1).lower())
            continue
        row = re.match(r"\| `([\w.]+)` \| .*? \| (.*?) \|", line)
        if row and section:
            rows.append((row.group(1), *section, tuple(f.strip() for f in row.group(2).split(","))))
    return rows


@pytest.fixture(scope="module")
def catalog() -> SignalCatalog:
    return load_catalog()


def assert_matches_seed(catalog: SignalCatalog, rows: list[tuple[str, str, str, tuple[str, ...]]]) -> None:
    assert len(rows) == 88
    # the catalog is the seed's 88 plus the extensions it marks (a failed watermark read)
    assert sorted(n for n in catalog if not catalog[n].extension) == sorted(name for name, *_ in rows)
    assert [s.name for s in catalog.extensions()] == ["watermark.get_failed"]
    for name, cls, tier, key_fields in rows:
        spec = catalog[name]
        assert (spec.provider, spec.tier) == (cls, tier), name
        for f in key_fields:
            assert f in spec.fields, f"{name}: key field {f!r} missing from the catalog"
            assert spec.fields[f].required, f"{name}: key field {f!r} must be required"


def test_catalog_holds_the_88_seed_signals(catalog: SignalCatalog) -> None:
    assert_matches_seed(catalog, seed_table())


def test_catalog_matches_the_seed_file(catalog: SignalCatalog) -> None:
    if not SEED.exists():
        pytest.skip(f"the seed catalog is not beside the clone ({SEED}); the embedded copy is checked instead")
    rows = parse_seed(SEED.read_text(encoding="utf-8"))
    assert rows == seed_table(), "the embedded seed copy drifted from the seed file"
    assert_matches_seed(catalog, rows)


def test_tiers_and_providers(catalog: SignalCatalog) -> None:
    assert catalog.tiers == ("critical", "high", "moderate")
    assert {t: len([s for s in catalog.by_tier(t) if not s.extension]) for t in catalog.tiers} == {
        "critical": 30, "high": 48, "moderate": 10}
    assert catalog.providers() == [cls for cls, _ in PROVIDERS.values()]
    assert catalog.namespaces() == list(PROVIDERS)
    assert [s.name for s in catalog.by_provider("SparkSessionProvider")] == [
        "session.created", "session.config_changed", "session.stopped"]
    assert catalog.by_provider("session") == catalog.by_provider("SparkSessionProvider")
    assert set(catalog.silent_providers) == {"SparkLoggerProvider", "SignalProvider"}


def test_unknown_provider_and_tier_are_clear_errors(catalog: SignalCatalog) -> None:
    with pytest.raises(LookupError, match=r"Unknown provider 'DataEntityManger'\. Did you mean 'DataEntityManager'"):
        catalog.by_provider("DataEntityManger")
    with pytest.raises(LookupError, match="Unknown tier 'low'; the catalog's tiers are critical, high, moderate"):
        catalog.by_tier("low")


def test_spec_fields_common_post_and_failed(catalog: SignalCatalog) -> None:
    pre, post, failed = catalog["entity.pre_merge"], catalog["entity.post_merge"], catalog["entity.merge_failed"]
    assert (pre.kind, post.kind, failed.kind) == ("pre", "post", "failed")
    assert pre.when == "Before merge operation" and pre.operation == "entity.merge"
    for spec in (pre, post, failed):
        assert {"operation_id", "timestamp", "parent_operation_id"} <= set(spec.fields)
        assert not spec.fields["parent_operation_id"].required
    assert "duration_seconds" not in pre.fields
    assert post.fields["duration_seconds"].required
    assert {"error", "error_type", "duration_seconds"} <= set(failed.required_fields)
    assert pre.fields["merge_keys"].type == "array[string]"
    assert catalog.operation("entity.ensure_failed").pre == "entity.pre_ensure_table"
    assert catalog.operations["datapipes.pipe"].post == ("datapipes.post_pipe", "datapipes.pipe_skipped")


# -- validation ------------------------------------------------------------------

def good_post_merge() -> dict[str, Any]:
    return {"operation_id": new_operation_id(), "timestamp": utc_timestamp(),
            "parent_operation_id": None, "entity_id": "silver.orders",
            "rows_inserted": 3, "rows_updated": 1, "rows_deleted": 0, "duration_seconds": 0.5}


def only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, violations
    return violations[0]


def test_a_good_payload_has_no_violations(catalog: SignalCatalog) -> None:
    assert catalog.validate("entity.post_merge", good_post_merge()) == []
    assert catalog.is_valid("entity.post_merge", {**good_post_merge(), "extra_metric": [1, {"a": None}]})


def test_missing_required_field(catalog: SignalCatalog) -> None:
    payload = good_post_merge()
    del payload["rows_inserted"]
    v = only(catalog.validate("entity.post_merge", payload))
    assert (v.signal, v.field, v.expected, v.actual) == (
        "entity.post_merge", "rows_inserted", "a value (required)", "missing")
    assert str(v) == "entity.post_merge: field 'rows_inserted': expected a value (required), got missing"


def test_wrong_type(catalog: SignalCatalog) -> None:
    v = only(catalog.validate("entity.post_merge", {**good_post_merge(), "rows_inserted": "3"}))
    assert (v.signal, v.field, v.expected, v.actual) == ("entity.post_merge", "rows_inserted", "integer", "string '3'")
    v = only(catalog.validate("entity.post_merge", {**good_post_merge(), "rows_updated": True}))
    assert (v.field, v.actual) == ("rows_updated", "boolean True")


def test_timestamp_without_offset(catalog: SignalCatalog) -> None:
    v = only(catalog.validate("entity.post_merge", {**good_post_merge(), "timestamp": "2025-01-20T10:00:00"}))
    assert (v.field, v.expected, v.actual) == (
        "timestamp", "an ISO-8601 date-time with a UTC offset", "string '2025-01-20T10:00:00'")
    assert catalog.is_valid("entity.post_merge", {**good_post_merge(), "timestamp": "2025-01-20T10:00:00Z"})


def test_negative_duration(catalog: SignalCatalog) -> None:
    v = only(catalog.validate("entity.post_merge", {**good_post_merge(), "duration_seconds": -0.5}))
    assert (v.signal, v.field, v.expected, v.actual) == ("entity.post_merge", "duration_seconds", ">= 0", "number -0.5")


def test_operation_id_must_be_a_uuid(catalog: SignalCatalog) -> None:
    v = only(catalog.validate("entity.post_merge", {**good_post_merge(), "operation_id": "op-1"}))
    assert (v.field, v.expected) == ("operation_id", "a uuid")


@pytest.mark.parametrize("value, actual", [
    ({1, 2}, "set {1, 2}"),
    (Path("/tmp/x"), "PosixPath PosixPath('/tmp/x')"),
    (float("nan"), "float nan"),
])
def test_non_json_values(catalog: SignalCatalog, value: Any, actual: str) -> None:
    v = only(catalog.validate("entity.post_merge", {**good_post_merge(), "source": value}))
    assert (v.signal, v.field, v.actual) == ("entity.post_merge", "source", actual)
    assert v.expected.startswith("a JSON value")


def test_non_json_value_nested_in_a_list(catalog: SignalCatalog) -> None:
    v = only(catalog.validate("entity.post_merge", {**good_post_merge(), "source": [1, {"k": b"raw"}]}))
    assert (v.field, v.actual) == ("source[1].k", "bytes b'raw'")


def test_every_violation_at_once(catalog: SignalCatalog) -> None:
    violations = catalog.validate("entity.post_merge", {"rows_inserted": "3"})
    assert {v.field for v in violations} == {
        "operation_id", "timestamp", "rows_inserted", "rows_updated", "rows_deleted", "duration_seconds"}
    assert all(v.signal == "entity.post_merge" for v in violations)


def test_json_schemas_are_valid_draft_2020_12(catalog: SignalCatalog) -> None:
    for name in catalog:
        schema = catalog.json_schema(name)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["title"] == name
        assert set(schema["required"]) == set(catalog[name].required_fields)


def test_json_schema_agrees_with_validate(catalog: SignalCatalog) -> None:
    validator = Draft202012Validator(catalog.json_schema("entity.post_merge"))
    good = good_post_merge()
    bad = {**good, "rows_inserted": -1}
    assert validator.is_valid(good) and not validator.is_valid(bad)
    assert catalog.validate("entity.post_merge", bad)[0].field == "rows_inserted"


def test_json_schema_returns_a_copy(catalog: SignalCatalog) -> None:
    catalog.json_schema("session.created")["required"].clear()
    assert "app_name" in catalog.json_schema("session.created")["required"]


def test_unknown_name_suggests_close_names(catalog: SignalCatalog) -> None:
    with pytest.raises(UnknownSignalError) as excinfo:
        catalog["datapipes.post_runn"]
    assert excinfo.value.suggestions[0] == "datapipes.post_run"
    assert str(excinfo.value).startswith(
        "Unknown signal 'datapipes.post_runn': it is not in the signal catalog. Did you mean 'datapipes.post_run'")
    with pytest.raises(UnknownSignalError, match="Did you mean 'entity.post_merge'"):
        catalog.validate("entity.post_merg", {})
    with pytest.raises(UnknownSignalError, match="Did you mean"):
        catalog.json_schema("session.createdd")
    assert "entity.post_merge" in catalog and "entity.post_merg" not in catalog


# -- user catalogs -------------------------------------------------------------------

USER_CATALOG: dict[str, Any] = {
    "format": "kindling-signal-catalog/1",
    "providers": {
        "myapp": {
            "class": "MyAppProvider",
            "tier": "high",
            "operations": {"myapp.sync": {"pre": "pre_sync", "post": ["post_sync"], "failed": "sync_failed"}},
            "signals": {
                "pre_sync": {"when": "Before sync", "fields": {"target": "string"}},
                "post_sync": {"when": "After sync",
                              "fields": {"target": "string", "rows": {"type": "integer", "minimum": 0}}},
                "sync_failed": {"when": "Sync fails", "fields": {"target": "string"}},
                "cache_cleared": {"when": "Cache cleared"},
            },
        },
    },
}


def write_catalog(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if path.suffix == ".json" else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("filename", ["mine.yaml", "mine.json"])
def test_user_catalog_merges_with_the_builtin(tmp_path: Path, filename: str) -> None:
    catalog = load_catalog(write_catalog(tmp_path / filename, USER_CATALOG))
    assert len(catalog) == 89 + 4
    assert "entity.post_merge" in catalog
    post = catalog["myapp.post_sync"]
    assert (post.provider, post.tier, post.kind, post.source) == (
        "MyAppProvider", "high", "post", str((tmp_path / filename).resolve()))
    # inherited from the built-in catalog's common / post / failed fields
    assert {"operation_id", "timestamp", "parent_operation_id", "duration_seconds"} <= set(post.fields)
    assert {"error", "error_type", "duration_seconds"} <= set(catalog["myapp.sync_failed"].required_fields)
    assert catalog.operations["myapp.sync"].failed == "myapp.sync_failed"
    assert [s.name for s in catalog.by_provider("MyAppProvider")] == [
        "myapp.pre_sync", "myapp.post_sync", "myapp.sync_failed", "myapp.cache_cleared"]
    v = only(catalog.validate("myapp.post_sync", {
        "operation_id": new_operation_id(), "timestamp": utc_timestamp(), "target": "t",
        "rows": -1, "duration_seconds": 0.1}))
    assert (v.signal, v.field, v.expected) == ("myapp.post_sync", "rows", ">= 0")
    assert load_catalog() is not catalog and len(load_catalog()) == 89


def test_user_catalog_without_the_builtin(tmp_path: Path) -> None:
    catalog = load_catalog(write_catalog(tmp_path / "mine.yaml", USER_CATALOG), builtin=False)
    assert sorted(catalog) == ["myapp.cache_cleared", "myapp.post_sync", "myapp.pre_sync", "myapp.sync_failed"]
    assert "duration_seconds" in catalog["myapp.post_sync"].fields


def test_two_user_catalogs(tmp_path: Path) -> None:
    other = copy.deepcopy(USER_CATALOG)
    other["providers"] = {"billing": {"class": "Billing", "tier": "moderate",
                                      "signals": {"invoice_sent": {"when": "Invoice sent"}}}}
    catalog = load_catalog(write_catalog(tmp_path / "a.yaml", USER_CATALOG),
                           write_catalog(tmp_path / "b.json", other))
    assert len(catalog) == 89 + 5 and catalog["billing.invoice_sent"].tier == "moderate"


def test_short_operation_names_are_put_in_the_namespace(tmp_path: Path) -> None:
    data = copy.deepcopy(USER_CATALOG)
    ops = data["providers"]["myapp"]["operations"]
    ops["sync"] = ops.pop("myapp.sync")
    catalog = load_catalog(write_catalog(tmp_path / "mine.yaml", data))
    assert catalog.operations["myapp.sync"].pre == "myapp.pre_sync"


# -- bad catalogs ------------------------------------------------------------------------

def mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(USER_CATALOG)
    change(data)
    return data


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = data
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return change


_DELETE = object()
MY = "providers/myapp"

BAD_CATALOGS = {
    # case: (content, where the message points, what it says)
    "malformed_yaml": ("providers:\n  myapp: [\n", "", "is not valid YAML"),
    "top_level_list": ("- providers\n- signals\n", "", "top level must be a mapping with 'providers', got array"),
    "missing_providers": (mutated(_set("providers", _DELETE)), "top level",
                          "missing 'providers' (a catalog declares at least one provider"),
    "signal_without_when": (mutated(_set(f"{MY}/signals/cache_cleared/when", _DELETE)),
                            "providers.myapp.signals.cache_cleared", "missing 'when'"),
    "unknown_field_type": (mutated(_set(f"{MY}/signals/pre_sync/fields/target", "strng")),
                           "providers.myapp.signals.pre_sync.fields.target",
                           "'strng' is not allowed (did you mean 'string'?); use one of string, integer"),
    "unknown_tier": (mutated(_set(f"{MY}/tier", "urgent")), "providers.myapp.tier",
                     "unknown tier 'urgent'; declared tiers are critical, high, moderate"),
    "operation_names_undeclared_signal": (
        mutated(_set(f"{MY}/operations/myapp.sync/post", ["post_synced"])),
        "providers.myapp.operations.myapp.sync",
        "names 'myapp.post_synced', which providers.myapp.signals does not declare"),
    "operation_names_another_namespace": (
        mutated(_set(f"{MY}/operations/myapp.sync/pre", "entity.pre_sync")),
        "providers.myapp.operations.myapp.sync", "names 'entity.pre_sync'"),
    "wrong_format_version": (mutated(_set("format", "kindling-signal-catalog/2")), "format",
                             "unsupported catalog format 'kindling-signal-catalog/2'; "
                             "expected 'kindling-signal-catalog/1'"),
    "duplicate_builtin_signal": (
        mutated(_set("providers/entity", {"class": "Mine", "tier": "high",
                                          "signals": {"post_merge": {"when": "again"}}})),
        "", f"signal 'entity.post_merge' is already defined in {BUILTIN_CATALOG_PATH}"),
    "builtin_namespace_reused": (
        mutated(_set("providers/entity", {"class": "Mine", "tier": "high",
                                          "signals": {"archived": {"when": "archived"}}})),
        "providers.entity", "namespace 'entity' is already declared by"),
    "field_without_type": (mutated(_set(f"{MY}/signals/pre_sync/fields/target", {"required": True})),
                           "providers.myapp.signals.pre_sync.fields.target", "missing 'type'; add type: ..."),
    "provider_without_class": (mutated(_set(f"{MY}/class", _DELETE)), "providers.myapp", "missing 'class'"),
}


@pytest.mark.parametrize("case", list(BAD_CATALOGS))
def test_bad_catalog_names_file_entry_and_problem(tmp_path: Path, case: str) -> None:
    content, where, problem = BAD_CATALOGS[case]
    path = tmp_path / f"{case}.yaml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        write_catalog(path, content)
    with pytest.raises(CatalogError) as excinfo:
        load_catalog(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path.resolve()}: "), message
    assert where in message and problem in message, message


def test_malformed_yaml_points_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("providers:\n  myapp: [\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"line 3, column 1"):
        load_catalog(path)


def test_malformed_json_user_catalog(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text('{"providers": {', encoding="utf-8")
    with pytest.raises(CatalogError, match=re.escape(f"{path}: is not valid JSON: Expecting property name")):
        load_catalog(path)


def test_missing_catalog_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(CatalogError, match=re.escape(f"{path}: no such catalog file; check the path")):
        load_catalog(path)


def test_duplicate_between_two_user_catalogs(tmp_path: Path) -> None:
    a = write_catalog(tmp_path / "a.yaml", USER_CATALOG)
    b = write_catalog(tmp_path / "b.yaml", USER_CATALOG)
    with pytest.raises(CatalogError, match=re.escape(f"{b}: signal 'myapp.pre_sync' is already defined in {a}")):
        load_catalog(a, b)


def test_catalog_error_is_a_value_error_not_a_key_error(tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "mine.yaml", mutated(_set(f"{MY}/signals", _DELETE)))
    with pytest.raises(CatalogError) as excinfo:
        load_catalog(path)
    assert isinstance(excinfo.value, ValueError) and not isinstance(excinfo.value, KeyError)
    assert "providers.myapp: missing 'signals'" in str(excinfo.value)


@pytest.mark.parametrize(("text", "key", "line"), [
    ("providers:\n  myapp: {class: A, tier: high, signals: {s: {when: x}}}\n"
     "  myapp: {class: B, tier: high, signals: {t: {when: y}}}\n", "myapp", 3),
    ("providers:\n  myapp:\n    class: A\n    tier: high\n    signals:\n"
     "      s: {when: x}\n      s: {when: y}\n", "s", 7),
    ("providers:\n  myapp:\n    class: A\n    tier: high\n    signals:\n"
     "      s: {when: x, fields: {a: string, a: integer}}\n", "a", 6),
])
def test_a_key_given_twice_is_an_error_not_a_silent_replacement(tmp_path: Path, text: str, key: str,
                                                                 line: int) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match=re.escape(
            f"line {line}: key {key!r} is given twice in one mapping (the second would silently replace")):
        load_catalog(path)


def test_a_json_key_given_twice_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text('{"providers": {"a": {}, "a": {}}}', encoding="utf-8")
    with pytest.raises(CatalogError, match="key 'a' is given twice in one mapping"):
        load_catalog(path)


@pytest.mark.parametrize(("change", "where", "problem"), [
    (_set(f"{MY}/operations", ["myapp.sync"]), "providers.myapp.operations", "must be an object"),
    (_set("silent_providers", ["Logger"]), "silent_providers", "must be an object"),
    (_set(f"{MY}/signals/pre_sync/kind", "start"), "providers.myapp.signals.pre_sync.kind",
     "'start' is not allowed; use one of pre, post, failed, event"),
    (_set(f"{MY}/clas", "X"), "providers.myapp", "unknown key 'clas' (did you mean 'class'?)"),
    (_set(f"{MY}/signals/Bad-Name", {"when": "x"}), "providers.myapp.signals",
     "must be lower-case letters, digits and underscores"),
    (_set("tiers", []), "tiers", "must not be empty"),
    (_set(f"{MY}/signals/pre_sync/fields/target", {"type": "string", "required": "yes"}),
     "providers.myapp.signals.pre_sync.fields.target.required", "must be a boolean, got string 'yes'"),
])
def test_structure_errors_name_the_key_path_and_the_fix(tmp_path: Path, change: Any, where: str,
                                                        problem: str) -> None:
    path = write_catalog(tmp_path / "mine.yaml", mutated(change))
    with pytest.raises(CatalogError) as excinfo:
        load_catalog(path)
    assert f": {where}: " in str(excinfo.value) and problem in str(excinfo.value), str(excinfo.value)


def test_the_shipped_catalogs_and_the_schema_agree() -> None:
    from jsonschema import Draft202012Validator

    from pytest_kindling_signals.catalog import CATALOGS_DIR, catalog_schema

    Draft202012Validator.check_schema(catalog_schema())
    for path in sorted(CATALOGS_DIR.glob("*.yaml")):
        if "aliases" in path.name:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert list(Draft202012Validator(catalog_schema()).iter_errors(data)) == [], path


def test_python_m_kindling_signal_catalog_validates_and_exports(capsys: pytest.CaptureFixture[str]) -> None:
    from kindling.signal_catalog import main

    assert main([]) == 0
    assert capsys.readouterr().out.strip().endswith(": ok, 89 signals in 12 providers")
    assert main(["--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("# Signal catalog\n")

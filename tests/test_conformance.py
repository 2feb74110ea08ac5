"""Alias maps and conformance (``pytest_kindling_signals.catalog.conformance``), and the shipped
spark-kindling catalog and alias map.

Fast tests: no JVM, no subprocess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_kindling_signals.catalog import (
    CATALOGS_DIR,
    QUICK_REFERENCE_PATH,
    CatalogError,
    SignalCatalog,
    load_catalog,
    parse_catalog,
)
from pytest_kindling_signals.catalog import (
    AliasMap,
    conformance,
    conformance_dict,
    load_aliases,
    summarize,
)

SK_CATALOG = CATALOGS_DIR / "spark_kindling_0.14.yaml"
SK_ALIASES = CATALOGS_DIR / "spark_kindling_aliases.yaml"

# A small "quick reference" (with the shared fields) and a framework that renames some signals.
QR_DATA: dict[str, Any] = {
    "format": "kindling-signal-catalog/1",
    "common_fields": {"operation_id": "string", "timestamp": "string",
                      "note": {"type": "string", "required": False}},
    "post_fields": {"duration_seconds": "number"},
    "failed_fields": {"error": "string", "error_type": "string"},
    "tiers": ["critical", "high", "moderate"],
    "providers": {
        "job": {"class": "Jobs", "tier": "critical", "signals": {
            "pre_run": {"when": "w", "fields": {"job_id": "string"}},
            "post_run": {"when": "w", "fields": {"job_id": "string", "rows": "integer"}},
            "run_failed": {"when": "w", "fields": {"job_id": "string"}},
            "archived": {"when": "w", "tier": "moderate"},
            "forgotten": {"when": "w", "tier": "high"},
        }},
    },
}
FW_DATA: dict[str, Any] = {
    "format": "kindling-signal-catalog/1", "json_payloads": False, "framework": "fw 1",
    "common_fields": {}, "post_fields": {}, "failed_fields": {},
    "providers": {
        "job": {"class": "JobRunner", "tier": "critical", "signals": {
            "before_run": {"when": "w", "kind": "pre", "fields": {"job_id": "any"}},
            "after_run": {"when": "w", "kind": "post", "fields": {"job_id": "any", "duration_seconds": "any"}},
            "run_failed": {"when": "w", "fields": {"job_id": "any", "error": "any"}},
            "retried": {"when": "w"},
        }},
    },
}


@pytest.fixture
def qr() -> SignalCatalog:
    return parse_catalog(QR_DATA, "qr.yaml")


@pytest.fixture
def fw() -> SignalCatalog:
    return parse_catalog(FW_DATA, "fw.yaml")


def write_aliases(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "aliases.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def aliases_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": "kindling-signal-aliases/1", "framework": "fw 1",
        "aliases": {"job.pre_run": "job.before_run", "job.post_run": "job.after_run"},
        "missing": {"job.archived": "fw has no archive"},
    }
    data.update(changes)
    return data


# -- the alias map ---------------------------------------------------------------------------

def test_load_aliases_reads_a_valid_map(tmp_path: Path, qr: SignalCatalog, fw: SignalCatalog) -> None:
    aliases = load_aliases(write_aliases(tmp_path, aliases_data()), quick_ref=qr, framework=fw)
    assert aliases.framework == "fw 1"
    assert aliases.target("job.pre_run") == "job.before_run" and aliases.target("job.run_failed") is None
    assert aliases.missing == {"job.archived": "fw has no archive"}
    assert aliases.reverse() == {"job.before_run": ["job.pre_run"], "job.after_run": ["job.post_run"]}
    assert aliases.to_dict()["format"] == "kindling-signal-aliases/1"


@pytest.mark.parametrize("data, message", [
    ("[1, 2]", "aliases.yaml: top level: must be a mapping"),
    ("a: [", "aliases.yaml: is not valid YAML"),
    (aliases_data(alias={}), "top level: unknown keys ['alias'] (did you mean 'aliases'?)"),
    (aliases_data(format="kindling-signal-aliases/9"), "format: expected 'kindling-signal-aliases/1'"),
    (aliases_data(framework=None), "framework: missing: say which framework"),
    (aliases_data(aliases=["job.pre_run"]), "aliases: must be a mapping of quick-reference name to framework name"),
    (aliases_data(aliases={"job.pre_run": 3}), "aliases.job.pre_run: must be a string, got 3"),
    (aliases_data(aliases={"job.pre_run": "before_run"}), "aliases.job.pre_run: 'before_run' is not a signal name"),
    (aliases_data(aliases={"job.pre_run": "job.pre_run"}), "aliases.job.pre_run: maps the name to itself"),
    (aliases_data(missing={"job.pre_run": "x"}), "missing.job.pre_run: is also in 'aliases'"),
    (aliases_data(aliases={"job.pre_runn": "job.before_run"}),
     "aliases.job.pre_runn: 'job.pre_runn' is not a quick-reference signal (did you mean 'job.pre_run'"),
    (aliases_data(missing={"job.archivd": ""}),
     "missing.job.archivd: 'job.archivd' is not a quick-reference signal (did you mean 'job.archived'"),
])
def test_alias_map_errors_name_the_file_the_key_and_the_fix(
        tmp_path: Path, qr: SignalCatalog, data: Any, message: str) -> None:
    path = write_aliases(tmp_path, data)
    with pytest.raises(CatalogError) as info:
        load_aliases(path, quick_ref=qr)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_alias_targets_are_checked_against_the_framework(tmp_path: Path, qr: SignalCatalog,
                                                         fw: SignalCatalog) -> None:
    path = write_aliases(tmp_path, aliases_data(aliases={"job.pre_run": "job.befor_run"}))
    with pytest.raises(CatalogError, match=r"aliases.job.pre_run: 'job.befor_run' is not in the "
                                           r"framework's catalog \(did you mean 'job.before_run'"):
        load_aliases(path, quick_ref=qr, framework=fw)
    path = write_aliases(tmp_path, aliases_data(missing={"job.run_failed": "?"}))
    with pytest.raises(CatalogError, match="the framework emits 'job.run_failed' under that very name"):
        load_aliases(path, quick_ref=qr, framework=fw)


def test_a_missing_alias_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="nope.yaml: no such alias file; check the path"):
        load_aliases(tmp_path / "nope.yaml")


def test_missing_reasons_may_be_blank(tmp_path: Path, qr: SignalCatalog) -> None:
    aliases = load_aliases(write_aliases(tmp_path, aliases_data(missing={"job.archived": None})), quick_ref=qr)
    assert aliases.missing == {"job.archived": ""}


# -- conformance rows --------------------------------------------------------------------------

def test_conformance_has_one_row_per_quick_reference_signal(tmp_path: Path, qr: SignalCatalog,
                                                            fw: SignalCatalog) -> None:
    aliases = load_aliases(write_aliases(tmp_path, aliases_data()), quick_ref=qr)
    rows = conformance(qr, fw, aliases)
    assert [r.qr_name for r in rows] == list(qr)
    by = {r.qr_name: r for r in rows}
    assert (by["job.pre_run"].status, by["job.pre_run"].framework_name) == ("other-name", "job.before_run")
    assert by["job.run_failed"].status == "same-name"
    assert (by["job.archived"].status, by["job.archived"].reason) == ("missing", "fw has no archive")
    assert (by["job.forgotten"].status, by["job.forgotten"].reason) == ("missing", "")
    # required fields of the quick reference, shared ones included; optional ones never count
    assert by["job.pre_run"].missing_fields == ("operation_id", "timestamp")
    assert by["job.post_run"].missing_fields == ("operation_id", "timestamp", "rows")
    assert by["job.run_failed"].missing_fields == ("operation_id", "timestamp", "error_type")
    assert by["job.archived"].missing_fields == ()
    assert all(r.count is None for r in rows)
    assert by["job.archived"].tier == "moderate" and by["job.pre_run"].provider == "Jobs"


def test_conformance_counts_emissions_by_framework_name(tmp_path: Path, qr: SignalCatalog,
                                                        fw: SignalCatalog) -> None:
    aliases = load_aliases(write_aliases(tmp_path, aliases_data()), quick_ref=qr)
    rows = conformance(qr, fw, aliases, counts={"job.before_run": 3, "job.pre_run": 99})
    by = {r.qr_name: r.count for r in rows}
    assert by == {"job.pre_run": 3, "job.post_run": 0, "job.run_failed": 0,
                  "job.archived": None, "job.forgotten": None}
    summary = summarize(rows, fw, qr.tiers)
    assert summary.exercised == 1


def test_summary_and_json(tmp_path: Path, qr: SignalCatalog, fw: SignalCatalog) -> None:
    aliases = load_aliases(write_aliases(tmp_path, aliases_data()), quick_ref=qr)
    summary = summarize(conformance(qr, fw, aliases), fw, qr.tiers)
    assert summary.total == 5
    assert dict(summary.by_status) == {"same-name": 1, "other-name": 2, "missing": 2}
    assert summary.by_tier["critical"] == {"same-name": 1, "other-name": 2, "missing": 0}
    assert summary.by_tier["moderate"]["missing"] == 1 and summary.by_tier["high"]["missing"] == 1
    assert summary.with_gaps == 3 and summary.gap_fields["operation_id"] == 3
    assert summary.framework_only == ("job.retried",)
    assert summary.exercised is None
    data = conformance_dict(qr, fw, aliases, counts={})
    assert json.loads(json.dumps(data)) == data
    assert data["framework"] == "fw 1" and len(data["rows"]) == 5
    assert data["rows"][0] == {"qr_name": "job.pre_run", "tier": "critical", "provider": "Jobs",
                               "status": "other-name", "framework_name": "job.before_run", "count": 0,
                               "missing_fields": ["operation_id", "timestamp"], "reason": ""}


def test_conformance_rejects_an_alias_the_framework_lacks(qr: SignalCatalog, fw: SignalCatalog) -> None:
    aliases = AliasMap("fw 1", {"job.pre_run": "job.start"}, {}, "inline")
    with pytest.raises(CatalogError, match="inline: aliases.job.pre_run: 'job.start' is not in the framework"):
        conformance(qr, fw, aliases)


# -- the shipped spark-kindling files ------------------------------------------------------

@pytest.fixture(scope="module")
def shipped() -> tuple[SignalCatalog, SignalCatalog, AliasMap]:
    quick_ref = load_catalog(QUICK_REFERENCE_PATH)
    sk = load_catalog(SK_CATALOG)
    return quick_ref, sk, load_aliases(SK_ALIASES, quick_ref=quick_ref, framework=sk)


def test_the_shipped_spark_kindling_catalog_loads(shipped: tuple[SignalCatalog, SignalCatalog, AliasMap]) -> None:
    _, sk, _ = shipped
    assert len(sk) >= 90
    assert all(not s.json_payload for s in sk.values())
    assert "datapipes.before_run" in sk and "entity.after_merge" in sk and "persist.before_persist" in sk
    assert sk["entity.after_merge"].kind == "post" and sk["persist.persist_failed"].kind == "failed"
    assert sk.operation("datapipes.before_pipe").closers == (
        "datapipes.after_pipe", "datapipes.pipe_skipped", "datapipes.pipe_failed")
    assert sk.is_valid("persist.before_persist", {"df": object(), "pipe_id": "p", "source_entity_id": "a",
                                                  "output_entity_id": "b", "persist_id": "x"})
    data = yaml.safe_load(SK_CATALOG.read_text())
    assert data["framework"] == "spark-kindling 0.14.0"


def test_every_alias_names_real_signals_on_both_sides(shipped: tuple[SignalCatalog, SignalCatalog, AliasMap]) -> None:
    quick_ref, sk, aliases = shipped
    assert aliases.framework == "spark-kindling 0.14.0"
    for qr_name, sk_name in aliases.aliases.items():
        assert qr_name in quick_ref, qr_name
        assert sk_name in sk, sk_name
        assert qr_name not in sk, f"{qr_name} is emitted under its own name"
    for qr_name, reason in aliases.missing.items():
        assert qr_name in quick_ref and qr_name not in sk and reason, qr_name


def test_every_quick_reference_signal_is_accounted_for(shipped: tuple[SignalCatalog, SignalCatalog, AliasMap]) -> None:
    quick_ref, sk, aliases = shipped
    for name in quick_ref:
        if quick_ref[name].extension:  # beyond the quick reference: not its to map
            continue
        covered = [name in sk, name in aliases.aliases, name in aliases.missing]
        assert covered.count(True) == 1, name
    # the shipped catalog rates each aliased signal as the quick reference does
    for qr_name, sk_name in aliases.aliases.items():
        assert sk[sk_name].tier == quick_ref[qr_name].tier, sk_name
        assert not sk[sk_name].extension, sk_name


def test_the_documented_conformance_table(shipped: tuple[SignalCatalog, SignalCatalog, AliasMap]) -> None:
    quick_ref, sk, aliases = shipped
    rows = conformance(quick_ref, sk, aliases)
    summary = summarize(rows, sk, quick_ref.tiers)
    assert dict(summary.by_status) == {"same-name": 16, "other-name": 24, "missing": 48}
    assert summary.by_tier["critical"] == {"same-name": 11, "other-name": 16, "missing": 3}
    assert summary.by_tier["high"] == {"same-name": 5, "other-name": 8, "missing": 35}
    assert summary.by_tier["moderate"] == {"same-name": 0, "other-name": 0, "missing": 10}
    # spark-kindling sends neither operation_id nor timestamp
    emitted = [r for r in rows if r.status != "missing"]
    assert all({"operation_id", "timestamp"} <= set(r.missing_fields) for r in emitted)
    by = {r.qr_name: r for r in rows}
    assert by["entity.post_merge"].missing_fields == (
        "operation_id", "timestamp", "rows_inserted", "rows_updated", "rows_deleted")
    assert by["watermark.watermark_advanced"].framework_name == "persist.watermark_saved"
    assert len(summary.framework_only) == len(sk) - 40

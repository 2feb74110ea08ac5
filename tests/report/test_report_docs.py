"""docs/report.md and docs/ci.md: their examples run and say what the plugin does."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from typing import Any

import pytest
import yaml
from docs_examples import code_blocks, run_blocks
from report_project import section

from kindling.signal_catalog import load_catalog

pytestmark = pytest.mark.kindling_signals_ignore  # pytester runs emit bad signals on purpose


def blocks(page: str, lang: str) -> list[str]:
    return [code for _, code in code_blocks(page, lang)]


def test_reading_the_json_as_the_docs_show(shop_project: pytest.Pytester) -> None:
    ns: dict[str, Any] = {}
    run_blocks("report.md", namespace=ns)
    shop_project.runpytest("--kindling-signals", "--kindling-signals-report=json:r.json")
    assert ns["never_emitted"](shop_project.path / "r.json") == [
        s.name for s in load_catalog().by_tier("critical")]
    assert ns["never_emitted"](shop_project.path / "r.json", tier="shop") == ["shop.refunded"]


def test_the_json_shape_in_the_docs_has_the_reports_keys(shop_project: pytest.Pytester) -> None:
    (documented,) = [json.loads(b) for b in blocks("report.md", "json")]
    shop_project.runpytest("--kindling-signals", "--kindling-signals-report=json:r.json",
                           "--kindling-signals-fail-under=shop:100")
    real = json.loads((shop_project.path / "r.json").read_text(encoding="utf-8"))
    assert list(documented) == list(real)
    assert list(documented["meta"]) == list(real["meta"])
    assert list(documented["totals"]) == list(real["totals"])
    assert list(documented["providers"]["ShopService"]) == list(real["providers"]["ShopService"])
    assert list(documented["signals"]["shop.pre_checkout"]) == list(real["signals"]["shop.pre_checkout"])
    for kind in ("undocumented", "payload", "lifecycle"):
        assert kind in real["findings"]
    assert list(documented["gates"][0]) == list(real["gates"][0])


def test_the_usage_error_quoted_in_the_docs(pytester: pytest.Pytester) -> None:
    quoted = next(b for b in blocks("report.md", "text") if b.startswith("ERROR:")).strip()
    result = pytester.runpytest("--kindling-signals", "--kindling-signals-fail-under=critcal:100")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert quoted in result.stderr.lines


def test_the_pyproject_settings_in_the_docs(shop_project: pytest.Pytester) -> None:
    settings = tomllib.loads(blocks("report.md", "toml")[0])["tool"]["pytest"]["ini_options"]
    (shop_project.path / "catalogs").mkdir()
    (shop_project.path / "shop_catalog.yaml").rename(shop_project.path / "catalogs" / "shop.yaml")
    (shop_project.path / "tox.ini").unlink()
    shop_project.makepyprojecttoml(blocks("report.md", "toml")[0])
    result = shop_project.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    lines = section(result)
    assert "  ShopService: shop.refunded" in lines  # term-missing
    assert lines[-1].startswith("kindling-signals: FAILED critical coverage 0/30 (0.0%) < 100%")
    assert (shop_project.path / "build" / "signal-coverage.json").exists()
    assert settings["kindling_signals_fail_under"] == "critical:100,high:90"


@pytest.mark.slow
def test_the_github_actions_job(shop_project: pytest.Pytester) -> None:
    (workflow,) = [yaml.safe_load(b) for b in blocks("ci.md", "yaml")]
    (step,) = [s for s in workflow["jobs"]["tests"]["steps"] if "--kindling-signals" in s.get("run", "")]
    summary = shop_project.path / "step_summary.md"
    command = shlex.split(step["run"].replace("$GITHUB_STEP_SUMMARY", str(summary)))
    assert command[:3] == ["python", "-m", "pytest"]
    result = shop_project.runpytest_subprocess(*command[3:])
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1].startswith("kindling-signals: FAILED critical coverage 0/30 (0.0%) < 100%, "
                                          "never emitted: datapipes.pre_run")
    assert summary.read_text(encoding="utf-8").startswith(
        "## Kindling signals: catalog coverage\n\n**3.2%** of catalog signals emitted (3 of 92) by 2 tests · "
        ":x: gate failed")
    assert (shop_project.path / "signal-coverage.json").exists()
    assert (shop_project.path / "signal-coverage.html").exists()
    quoted = next(b for b in blocks("ci.md", "text")).strip()
    assert re.fullmatch(r"kindling-signals: FAILED critical coverage \d+/30 \(\d+\.\d%\) < 100%, never emitted: .+",
                        quoted)

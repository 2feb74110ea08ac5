"""docs/report.md and docs/ci.md: their examples run and say what the plugin does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
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
    assert list(documented["providers"]["shop"]) == list(real["providers"]["shop"])
    test = "test_shop.py::test_checkout"
    assert list(documented["tests"][test]) == list(real["tests"][test])
    assert list(documented["tests"][test]["timeline"]) == list(real["tests"][test]["timeline"])
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
    assert "  shop (ShopService): shop.refunded" in lines  # term-missing
    assert lines[-1].startswith("kindling-signals: FAILED critical coverage 0/30 (0.0%) < 100%")
    assert (shop_project.path / "build" / "signal-coverage.json").exists()
    assert settings["kindling_signals_fail_under"] == "critical:100,high:90"


def test_checking_a_report_as_the_docs_show(shop_project: pytest.Pytester) -> None:
    ns: dict[str, Any] = {}
    run_blocks("report.md", namespace=ns)
    shop_project.runpytest("--kindling-signals", "--kindling-signals-report=json:r.json")
    assert ns["check_report"](shop_project.path / "r.json") is True


def test_the_write_error_quoted_in_the_docs(shop_project: pytest.Pytester) -> None:
    quoted = next(b for b in blocks("report.md", "text") if b.startswith("kindling-signals: ERROR")).strip()
    shop_project.makepyfile(test_breaks="import pathlib\n\ndef test_out_becomes_a_file():\n"
                                        "    pathlib.Path('out').write_text('a file, not a folder')\n")
    result = shop_project.runpytest("--kindling-signals", "--kindling-signals-report=html:out/r.html",
                                    "--kindling-signals-report=json:r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    real = next(line for line in section(result) if line.startswith("kindling-signals: ERROR"))
    assert real.replace(str(shop_project.path), "/ci") == quoted
    assert (shop_project.path / "r.json").exists()  # the other report is written all the same


def _ci_env(project: pytest.Pytester) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_STEP_SUMMARY": str(project.path / "step_summary.md")}
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _sh(project: pytest.Pytester, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=project.path, env=_ci_env(project), capture_output=True,
                          text=True, check=False)


CI_PROJECT_INI = ("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\n"
                  "kindling_signals_fail_under = shop:100\nkindling_signals_strict = true\n")
#: A cheap ``spark`` fixture: the tests that use it are marked spark, as in this project's suite.
CI_PROJECT_SPARK = ("import pytest\nfrom shop import new_shop\n\n@pytest.fixture(scope='session')\n"
                    "def spark():\n    yield 'spark'\n")
CI_PROJECT_SPARK_TESTS = "from shop import new_shop\n\ndef test_refund(spark):\n    new_shop().refund(amount=1)\n"


@pytest.mark.slow
def test_the_one_job_command(shop_project: pytest.Pytester) -> None:
    (command,) = blocks("ci.md", "bash")[:1]
    done = _sh(shop_project, command.strip())
    assert done.returncode == 0, done.stdout + done.stderr
    summary = (shop_project.path / "step_summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## Kindling signals: catalog coverage\n\n**")


@pytest.mark.slow
def test_the_github_actions_workflow_runs_its_commands(shop_project: pytest.Pytester) -> None:
    """The fast job, the Spark job and the signals job's commands, run as the workflow runs them."""
    (workflow,) = [yaml.safe_load(b) for b in blocks("ci.md", "yaml")]
    shop_project.makeini(CI_PROJECT_INI)
    shop_project.makeconftest(CI_PROJECT_SPARK)
    shop_project.makepyfile(test_on_spark=CI_PROJECT_SPARK_TESTS)

    def steps(job: str) -> list[dict[str, str]]:
        return [s for s in workflow["jobs"][job]["steps"] if "run" in s and "pip install" not in s["run"]]

    for job in ("fast", "spark"):
        (step,) = steps(job)
        done = _sh(shop_project, step["run"])
        assert done.returncode == 0, done.stdout  # partial: the coverage gate is skipped
        assert "Gate shop:100: skipped" in done.stdout
    signals = steps("signals")
    keep = next(s for s in signals if s["run"].startswith("cp "))
    outputs = {}
    for step in signals:
        if step is keep:
            continue
        if step["run"].startswith("kindling-signals compare"):
            _sh(shop_project, keep["run"])  # as if main had run: its data is this very run's
        done = _sh(shop_project, step["run"])
        assert done.returncode == 0, f"{step['name']}: {done.stdout}{done.stderr}"
        outputs[step["name"]] = done.stdout
    assert outputs["Combine the two jobs' data"].endswith("(whole suite)\n")
    report = outputs["Gate on the whole suite, write the reports"].splitlines()
    assert "Gate shop:100: passed: shop coverage 4/4 (100.0%) >= 100%" in report
    assert "No change: the same signals covered and the same findings." in outputs["Compare with main"]
    assert (shop_project.path / "step_summary.md").read_text(encoding="utf-8").startswith(
        "## Kindling signals: catalog coverage\n\n**")
    for name in ("signal-coverage.json", "signal-coverage.html", "signal-compare.md"):
        assert (shop_project.path / name).exists(), name
    quoted = next(b for b in blocks("ci.md", "text")).strip()
    assert re.fullmatch(r"kindling-signals: FAILED total coverage \d+/\d+ \(\d+\.\d%\) < 100%, never emitted: .+",
                        quoted)


@pytest.mark.slow
def test_the_local_commands(shop_project: pytest.Pytester) -> None:
    shop_project.makeini(CI_PROJECT_INI)
    shop_project.makeconftest(CI_PROJECT_SPARK)
    shop_project.makepyfile(test_on_spark=CI_PROJECT_SPARK_TESTS)
    local = blocks("ci.md", "bash")[1]
    done = _sh(shop_project, "set -e\n" + local)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Gate shop:100: passed: shop coverage 4/4 (100.0%) >= 100%" in done.stdout.splitlines()

"""``kindling-signals report DATA``: the plugin's outputs and gates, from saved data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import Cli
from report_project import BAD_TESTS, section, steady

pytestmark = pytest.mark.kindling_signals_ignore  # pytester runs emit bad signals on purpose


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("-p", "no:randomly", "--kindling-signals", *args)


def test_every_output_is_the_plugins_own(shop: pytest.Pytester, cli: Cli) -> None:
    shop.makepyfile(test_bad=BAD_TESTS)
    kinds = ("json", "markdown", "html")
    result = run(shop, "--kindling-signals-report=term-missing", "--kindling-signals-fail-under=shop:100",
                 *[f"--kindling-signals-report={k}:plugin/report.{k}" for k in kinds])
    code, out, err = cli("report", ".kindling-signals", "--format", "term-missing",
                         *[f"--format={k}:cli/report.{k}" for k in kinds])
    assert (code, err) == (0, "")
    for k in kinds:
        assert (shop.path / "cli" / f"report.{k}").read_text(encoding="utf-8") == \
            (shop.path / "plugin" / f"report.{k}").read_text(encoding="utf-8"), k
    assert [line for line in out.splitlines() if " written to " not in line][:-1] == \
        [line for line in section(result) if " written to " not in line]
    # a gate given on the command line applied to the run partial or not: the saved gates say so
    assert out.splitlines()[-1] == "gates from .kindling-signals: fail under shop:100, gate partial"


def test_the_runs_gates_apply_and_options_override_them(shop: pytest.Pytester, cli: Cli) -> None:
    run(shop, "--kindling-signals-fail-under=shop:100")
    code, out, _ = cli("report", ".kindling-signals")
    assert code == 1
    assert out.splitlines()[-1] == ("kindling-signals: FAILED shop coverage 3/4 (75.0%) < 100%, never emitted: "
                                    "shop.refunded")
    code, out, _ = cli("report", ".kindling-signals", "--fail-under", "shop:75")
    assert code == 0 and out.splitlines()[-1] == "Gate shop:75: passed: shop coverage 3/4 (75.0%) >= 75%"
    code, out, _ = cli("report", ".kindling-signals", "--no-fail-under")
    assert code == 0 and "Gate" not in out


def test_strict_from_the_command_line(shop: pytest.Pytester, cli: Cli) -> None:
    shop.makepyfile(test_bad=BAD_TESTS)
    run(shop)
    assert cli("report", ".kindling-signals")[0] == 0
    code, out, _ = cli("report", ".kindling-signals", "--strict")
    assert code == 1
    assert out.splitlines()[-1].startswith("kindling-signals: FAILED strict: 1 undocumented (shop.refnded)")


@pytest.mark.parametrize("args, message", [
    (["--fail-under", "critcal:1"], "--fail-under='critcal:1': unknown tier or scope 'critcal' (did you mean "
                                    "'critical'?); use a percentage like 95"),
    (["--format", "xml:r.xml"], "--format='xml:r.xml' is not a report type; accepted forms: term, term-missing, "
                                "json:PATH, markdown:PATH or html:PATH"),
    (["--format", "json"], "--format='json': json needs a file path, as in json:PATH"),
])
def test_bad_options_are_usage_errors(shop: pytest.Pytester, cli: Cli, args: list[str], message: str) -> None:
    run(shop)
    code, out, err = cli("report", ".kindling-signals", *args)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1].startswith(f"kindling-signals report: error: {message}")


def test_an_unwritable_output_is_a_clear_error(shop: pytest.Pytester, cli: Cli) -> None:
    run(shop)
    (shop.path / "taken").write_text("a file", encoding="utf-8")
    code, out, err = cli("report", ".kindling-signals", "--format", "json:taken/r.json", "--format",
                         "markdown:r.md")
    assert code == 1
    # the other output is written all the same; the error names the file, last
    assert "markdown report written to r.md" in out.splitlines()
    assert err == ("kindling-signals: ERROR cannot write the json report to taken/r.json: Not a directory; "
                   "check that its folder is writable\n")


@pytest.mark.slow
def test_the_command_is_installed_and_every_command_has_help(tmp_path: Path) -> None:
    """As a user runs it: the console script, and ``python -m pytest_kindling_signals``."""
    script = Path(sys.executable).with_name("kindling-signals")
    for argv in ([str(script), "--help"], [sys.executable, "-m", "pytest_kindling_signals", "--help"]):
        done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, check=False)
        assert done.returncode == 0, done.stderr
        for command in ("combine", "report", "compare", "catalog"):
            assert command in done.stdout
    for command in (["combine"], ["report"], ["compare"], ["catalog", "validate"], ["catalog", "export"],
                    ["catalog", "scan"]):
        done = subprocess.run([str(script), *command, "--help"], capture_output=True, text=True, check=False)
        assert done.returncode == 0 and done.stdout.startswith("usage: kindling-signals "), command
    done = subprocess.run([str(script), "report"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "kindling-signals report: error: the following arguments are required: DATA"


@pytest.mark.slow
def test_xdist_data_reports_like_a_serial_runs(shop: pytest.Pytester, cli: Cli) -> None:
    shop.runpytest_subprocess("-p", "no:randomly", "--kindling-signals", "-n", "2",
                              "--kindling-signals-data=xdist.data")
    run(shop, "--kindling-signals-data=serial.data")
    for name in ("xdist", "serial"):
        assert cli("report", f"{name}.data", "--format", f"json:{name}.json")[0] == 0
    xdist, serial = (json.loads((shop.path / f"{n}.json").read_text(encoding="utf-8")) for n in ("xdist", "serial"))
    assert xdist["meta"].pop("workers") == ["gw0", "gw1"] and serial["meta"].pop("workers") == []
    assert steady(xdist) == steady(serial)

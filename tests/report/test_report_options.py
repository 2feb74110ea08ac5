"""Every option and ini value is checked when pytest configures; output paths before any test runs;
a file that can't be written at the end is a clear error, never an INTERNALERROR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_project import section

pytestmark = pytest.mark.kindling_signals_ignore  # pytester runs emit bad signals on purpose

FORMS = "accepted forms: term, term-missing, json:PATH, markdown:PATH or html:PATH"


def usage_error(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.outlines
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    (line,) = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    return line.removeprefix("ERROR: ")


@pytest.mark.parametrize("args, message", [
    (["--kindling-signals-report=xml:x"], f"--kindling-signals-report='xml:x' is not a report type; {FORMS}"),
    (["--kindling-signals-fail-under=abc"], "--kindling-signals-fail-under='abc': 'abc' is not a number; use a "
                                            "percentage like 95, or per tier like critical:100,high:90 (total:95 "
                                            "for the total) (other scopes: total, quick-reference, extensions, "
                                            "user-catalogs)"),
    (["--kindling-signals-data="], "--kindling-signals-data='': needs a file path"),
    (["--kindling-signals-framework=kindlin"], "Unknown Kindling framework 'kindlin' (did you mean 'kindling'"),
])
def test_bad_values_are_usage_errors_with_the_report_off(shop_project: pytest.Pytester, args: list[str],
                                                         message: str) -> None:
    assert usage_error(shop_project.runpytest(*args)).startswith(message)


@pytest.mark.parametrize("key, value, message", [
    ("kindling_signals", "maybe", "ini key kindling_signals: invalid truth value 'maybe'; use true or false"),
    ("kindling_signals_strict", "sure", "ini key kindling_signals_strict: invalid truth value 'sure'; use true or false"),
    ("kindling_signals_gate_partial", "2", "ini key kindling_signals_gate_partial: invalid truth value '2'; "
                                           "use true or false"),
    ("kindling_signals_report", "json", "ini key kindling_signals_report='json': json needs a file path, as in "
                                        f"json:PATH; {FORMS}"),
    ("kindling_signals_fail_under", "critical:1O0", "ini key kindling_signals_fail_under='critical:1O0': '1O0' is "
                                                    "not a number"),
])
def test_bad_ini_values_are_usage_errors(shop_project: pytest.Pytester, key: str, value: str, message: str) -> None:
    shop_project.makeini(f"[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\n{key} = {value}\n")
    assert usage_error(shop_project.runpytest()).startswith(message)


def test_gate_tier_names_are_checked_against_the_catalog_when_the_report_is_on(shop_project: pytest.Pytester) -> None:
    assert shop_project.runpytest("--kindling-signals-fail-under=shoop:100").ret == pytest.ExitCode.OK  # off: syntax only
    message = usage_error(shop_project.runpytest("--kindling-signals", "--kindling-signals-fail-under=shoop:100"))
    assert message.startswith("--kindling-signals-fail-under='shoop:100': unknown tier or scope 'shoop' "
                              "(did you mean 'shop'?)")


def test_two_outputs_on_one_path_are_refused(shop_project: pytest.Pytester) -> None:
    message = usage_error(shop_project.runpytest("--kindling-signals", "--kindling-signals-report=json:r.json",
                                                 "--kindling-signals-report=html:./r.json"))
    assert message == (f"--kindling-signals-report='json:r.json' and --kindling-signals-report='html:./r.json' "
                       f"write to one file ({shop_project.path / 'r.json'}); give each its own path")
    message = usage_error(shop_project.runpytest("--kindling-signals", "--kindling-signals-report=json:run.data",
                                                 "--kindling-signals-data=run.data"))
    assert message.endswith(f"and --kindling-signals-data='run.data' write to one file "
                            f"({shop_project.path / 'run.data'}); give each its own path")


def test_a_folder_where_a_file_goes_is_refused(shop_project: pytest.Pytester) -> None:
    (shop_project.path / "out").mkdir()
    message = usage_error(shop_project.runpytest("--kindling-signals", "--kindling-signals-report=html:out"))
    assert message == f"--kindling-signals-report='html:out': {shop_project.path / 'out'} is a folder; give a file path"
    message = usage_error(shop_project.runpytest("--kindling-signals", "--kindling-signals-data=out"))
    assert message == f"--kindling-signals-data='out': {shop_project.path / 'out'} is a folder; give a file path"


def test_a_file_in_the_way_is_refused(shop_project: pytest.Pytester) -> None:
    (shop_project.path / "taken").write_text("a file", encoding="utf-8")
    message = usage_error(shop_project.runpytest("--kindling-signals", "--kindling-signals-report=json:taken/a/r.json"))
    assert message == (f"--kindling-signals-report='json:taken/a/r.json': {shop_project.path / 'taken'} is a "
                       f"file, so {shop_project.path / 'taken' / 'a' / 'r.json'} can't be made; give a path in a folder")


def test_an_unwritable_folder_is_refused_before_the_tests_run(shop_project: pytest.Pytester) -> None:
    result = shop_project.runpytest("--kindling-signals", "--kindling-signals-report=json:/proc/kindling/r.json")
    message = usage_error(result)
    assert message.startswith("--kindling-signals-report='json:/proc/kindling/r.json': /proc/kindling/r.json "
                              "can't be written (")
    assert message.endswith("); give a path in a folder you can write to")
    assert "passed" not in result.stdout.str()


def test_paths_are_not_probed_with_the_report_off(shop_project: pytest.Pytester) -> None:
    assert shop_project.runpytest("--kindling-signals-report=json:/proc/kindling/r.json").ret == pytest.ExitCode.OK


BREAKS_OUT = "import pathlib\n\ndef test_out_becomes_a_file():\n    pathlib.Path('out').write_text('not a folder')\n"


def test_a_report_that_fails_to_write_at_the_end_leaves_the_others_written(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_breaks=BREAKS_OUT)
    result = shop_project.runpytest("--kindling-signals", "--kindling-signals-report=term",
                                    "--kindling-signals-report=html:out/r.html", "--kindling-signals-report=json:r.json",
                                    "--kindling-signals-report=markdown:r.md")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "INTERNALERROR" not in result.stdout.str()
    lines = section(result)
    assert lines[-3:] == [
        f"json report written to {shop_project.path / 'r.json'}",
        f"markdown report written to {shop_project.path / 'r.md'}",
        f"kindling-signals: ERROR cannot write the html report to {shop_project.path / 'out' / 'r.html'}: Not a "
        "directory; check that the folder exists and is writable",
    ]
    assert json.loads((shop_project.path / "r.json").read_text(encoding="utf-8"))["meta"]["tests"] == 3


def test_data_that_fails_to_save_at_the_end_is_a_clear_error(shop_project: pytest.Pytester) -> None:
    shop_project.makepyfile(test_breaks=BREAKS_OUT)
    result = shop_project.runpytest("--kindling-signals", "--kindling-signals-data=out/run.data",
                                    "--kindling-signals-report=json:r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1].startswith(f"kindling-signals: ERROR cannot save the data to "
                                          f"{shop_project.path / 'out' / 'run.data'}: ")
    assert (shop_project.path / "r.json").exists()


def test_the_data_is_saved_by_default_in_the_rootdir(shop_project: pytest.Pytester) -> None:
    shop_project.runpytest("--kindling-signals")
    data = json.loads((shop_project.path / ".kindling-signals").read_text(encoding="utf-8"))
    assert data["format"] == "kindling-signals-data" and data["gates"] == {
        "fail_under": "", "strict": False, "gate_partial": False}
    assert [c["ref"] for c in data["catalogs"]] == ["pytest_kindling_signals:catalog/shipped/quick_reference.yaml", "shop_catalog.yaml"]


def test_the_ini_data_path_is_relative_to_the_ini_file(shop_project: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    shop_project.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\nkindling_signals_data = build/run.data\n")
    (shop_project.path / "build").mkdir()
    (shop_project.path / "elsewhere").mkdir()
    monkeypatch.chdir(shop_project.path / "elsewhere")
    shop_project.runpytest("--kindling-signals", str(shop_project.path))
    assert (shop_project.path / "build" / "run.data").is_file()
    assert not Path("build").exists()


def test_an_ini_value_the_command_line_overrides_is_checked_too(shop_project: pytest.Pytester) -> None:
    shop_project.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\n"
                         "kindling_signals_fail_under = critical:1OO\n")
    message = usage_error(shop_project.runpytest("--kindling-signals", "--kindling-signals-fail-under=shop:75"))
    assert message.startswith("ini key kindling_signals_fail_under='critical:1OO': '1OO' is not a number")


def test_help_works_whatever_the_values(shop_project: pytest.Pytester) -> None:
    result = shop_project.runpytest("--kindling-signals-fail-under=abc", "--help")
    assert result.ret == pytest.ExitCode.OK
    assert any(line.strip().startswith("--kindling-signals-data=PATH") for line in result.outlines)

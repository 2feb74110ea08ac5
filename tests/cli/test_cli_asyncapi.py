"""The AsyncAPI export parses with the official AsyncAPI parser (``@asyncapi/parser``), with no error.

The parser is a Node package: the fixture installs it with npm (into pytest's
cache folder, so a second run needs no network). Node.js and npm must be on
``PATH``; this test fails, rather than skips, without them, so a CI machine
that lacks them says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_helpers import Cli

from pytest_kindling_signals.catalog import CATALOGS_DIR

pytestmark = [pytest.mark.slow, pytest.mark.kindling_signals_ignore]

PARSER = "@asyncapi/parser@3.6.6"

CHECK = """
import { Parser, fromFile } from '@asyncapi/parser';
const { document, diagnostics } = await fromFile(new Parser(), process.argv[2]).parse();
const severity = ['error', 'warning', 'info', 'hint'];
console.log(JSON.stringify({
  parsed: document !== undefined,
  diagnostics: diagnostics.map(d => ({severity: severity[d.severity], code: d.code, message: d.message,
                                      path: d.path.join('/')})),
}));
"""


@pytest.fixture(scope="session")
def asyncapi_parser(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``@asyncapi/parser`` installed and a ``check.mjs`` that parses one file."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm must be on PATH: the official AsyncAPI parser is a Node package "
                    "(install Node.js 18 or newer)")
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("asyncapi-parser-3.6.6") if cache is not None else tmp_path_factory.mktemp("asyncapi")
    if not (folder / "node_modules" / "@asyncapi" / "parser" / "package.json").is_file():
        done = subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund",
                               "--loglevel=error", PARSER], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"npm install {PARSER} failed:\n{done.stderr}"
    (folder / "check.mjs").write_text(CHECK, encoding="utf-8")
    return folder


def parse(parser: Path, document: Path) -> dict[str, object]:
    done = subprocess.run(["node", str(parser / "check.mjs"), str(document)], capture_output=True, text=True,
                          cwd=parser, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("catalog", ["builtin", "spark_kindling_0.14.yaml", "quick_reference.yaml"])
def test_the_asyncapi_export_parses_with_no_error(asyncapi_parser: Path, tmp_path: Path, cli: Cli,
                                                  catalog: str) -> None:
    out = tmp_path / "signals.asyncapi.yaml"
    args = [] if catalog == "builtin" else [str(CATALOGS_DIR / catalog), "--alone"]
    assert cli("catalog", "export", *args, "--format", "asyncapi", "-o", str(out))[0] == 0
    result = parse(asyncapi_parser, out)
    errors = [d for d in result["diagnostics"] if d["severity"] in ("error", "warning")]  # type: ignore[index, union-attr]
    assert result["parsed"] and errors == []


def test_the_parser_does_report_errors(asyncapi_parser: Path, tmp_path: Path) -> None:
    """The check above is not vacuous: a channel without its message is an error."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("asyncapi: 3.0.0\ninfo: {title: x, version: '1'}\noperations:\n  o:\n    action: send\n"
                   "    channel: {$ref: '#/channels/missing'}\n", encoding="utf-8")
    result = parse(asyncapi_parser, bad)
    assert not result["parsed"]
    assert [d for d in result["diagnostics"] if d["severity"] == "error"]  # type: ignore[index, union-attr]

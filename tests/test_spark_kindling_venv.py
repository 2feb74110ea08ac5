"""The plugin beside the real Kindling: spark-kindling from PyPI, in a virtualenv of its own.

Builds the plugin's wheel with pip, makes a fresh virtualenv, installs
``spark-kindling[standalone]==0.14.0`` (with the pyspark / delta-spark pair of
this project), then the wheel, and shows that no file of spark-kindling's
``kindling`` package changed and that this repository's framework isn't there.
Then runs ``tests/spark_kindling`` (a copy: a user's project with its own
``pytest.ini`` and no conftest) there under ``pytest --kindling-signals`` and
reads its JSON report.

Nothing is installed by hand: pip (with its download cache) and Maven Central
(for the Delta jars, unless ``~/.m2`` has them) are all it needs. Slow: a few
minutes, most of them in pip and Spark; the timings are printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

# The virtualenv tests are marked slow and spark (pip, Spark); the fixture's message and the
# docs check run with the fast tests.

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "tests" / "spark_kindling"
DOCS = REPO / "docs" / "spark-kindling.md"
SPARK_KINDLING = ("spark-kindling[standalone]==0.14.0", "pyspark==3.5.5", "delta-spark==3.3.2", "pytest-xdist")
PIPELINE = ("datapipes.before_run", "datapipes.before_pipe", "read.resolve_read", "entity.before_read",
            "entity.after_read", "read.after_read", "persist.before_persist", "entity.before_merge",
            "entity.after_merge", "persist.after_persist", "datapipes.after_pipe", "datapipes.after_run")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS")
           and not k.startswith("PYTEST_XDIST")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(what: str, args: Sequence[str | Path], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True,
                            text=True, timeout=timeout, check=False)
    print(f"[{time.monotonic() - started:6.1f} s] {what}")
    return result


def _check(what: str, args: Sequence[str | Path], cwd: Path, timeout: float = 900) -> str:
    result = _run(what, args, cwd, timeout)
    assert result.returncode == 0, (f"{what} failed ({result.returncode}): {' '.join(map(str, args))}\n"
                                    f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return result.stdout


def _hashes(package: Path) -> dict[str, str]:
    return {str(p.relative_to(package)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(package.rglob("*")) if p.is_file()}


@dataclass
class _Venv:
    root: Path
    python: Path
    kindling: Path
    before: dict[str, str]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> _Venv:
    root = tmp_path_factory.mktemp("spark_kindling_venv")
    wheels = root / "wheels"
    _check("pip wheel pytest_kindling_signals", [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                                                 "./pytest_kindling_signals", "-w", wheels], cwd=REPO)
    _check("python -m venv", [sys.executable, "-m", "venv", root / "venv"], cwd=root)
    python = root / "venv" / "bin" / "python"
    _check("pip install spark-kindling", [python, "-m", "pip", "install", "-q", *SPARK_KINDLING], cwd=root)
    where = _check("find spark-kindling's kindling", [python, "-c", (
        "import importlib.util; print(list(importlib.util.find_spec('kindling')"
        ".submodule_search_locations)[0])")], cwd=root)
    kindling = Path(where.strip())
    before = _hashes(kindling)
    (wheel,) = wheels.glob("pytest_kindling_signals-*.whl")
    _check("pip install the plugin's wheel", [python, "-m", "pip", "install", "-q", f"{wheel}[hypothesis]"],
           cwd=root)
    return _Venv(root, python, kindling, before)


@pytest.mark.slow
@pytest.mark.spark
def test_installing_the_plugin_changes_no_file_of_spark_kindling(venv: _Venv) -> None:
    after = _hashes(venv.kindling)
    assert venv.before, f"no file found in {venv.kindling}"
    assert sorted(set(after) - set(venv.before)) == [], "files added to spark-kindling's kindling/"
    assert [f for f in venv.before if after.get(f) != venv.before[f]] == [], "files changed"
    shown = _run("pip show kindling-signals", [venv.python, "-m", "pip", "show", "kindling-signals"],
                 cwd=venv.root, timeout=120)
    assert shown.returncode != 0 and "not found" in shown.stderr.lower(), shown.stdout
    plugin = _check("pip show pytest-kindling-signals",
                    [venv.python, "-m", "pip", "show", "-f", "pytest-kindling-signals"], cwd=venv.root)
    assert not re.search(r"^\s+kindling/", plugin, re.M), "the plugin's wheel ships a kindling/ package"


@dataclass
class _SuiteRun:
    result: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    seconds: float


def _run_suite(venv: _Venv, name: str, *options: str) -> _SuiteRun:
    """tests/spark_kindling copied to a project of its own and run there under --kindling-signals."""
    project = venv.root / name
    # without what a run in place left there (caches, the report's data file)
    shutil.copytree(SUITE, project, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", ".hypothesis", ".kindling-signals*", "artifacts"))
    assert not list(project.rglob("conftest.py")), "a user's suite with no conftest"
    started = time.monotonic()
    result = _run(f"pytest tests/spark_kindling --kindling-signals {' '.join(options)}",
                  [venv.python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--kindling-signals",
                   "--kindling-signals-report=term-missing", "--kindling-signals-report=json:r.json", *options],
                  cwd=project, timeout=3600)
    seconds = time.monotonic() - started
    print(result.stdout[-6000:])
    assert result.returncode == 0, f"{result.stdout[-8000:]}\n{result.stderr[-4000:]}"
    return _SuiteRun(result, json.loads((project / "r.json").read_text(encoding="utf-8")), seconds)


@pytest.fixture(scope="module")
def xdist_run(venv: _Venv) -> _SuiteRun:
    """The suite as spark-kindling-cli runs a project's tests: ``pytest -n 2 --dist loadscope`` (each
    worker its own session, spark-kindling initialised once per worker), on local Spark."""
    run = _run_suite(venv, "xdist", "-n", "2", "--dist", "loadscope")
    assert run.report["meta"]["workers"] == ["gw0", "gw1"]
    return run


@pytest.fixture(scope="module")
def cluster_run(venv: _Venv) -> _SuiteRun:
    """The suite serially, on the plugin's throwaway standalone cluster (``--kindling-spark-cluster 2``:
    a master and 2 workers on 127.0.0.1, the executors in JVMs of their own)."""
    return _run_suite(venv, "cluster", "--kindling-spark-cluster", "2")


def _coverage(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(signals, emitted) per namespace, and the total."""
    rows = {c["namespace"]: (c["signals"], c["emitted"]) for c in report["providers"].values()}
    rows["TOTAL"] = (report["totals"]["signals"], report["totals"]["emitted"])
    return rows


@pytest.mark.slow
@pytest.mark.spark
def test_the_spark_kindling_suite_passes_there_with_its_report(xdist_run: _SuiteRun) -> None:
    """Every signal of the catalog a test can reach here emitted, each unreachable one listed with
    its reason, no finding: the gate of the suite's pytest.ini (total:100, strict) held."""
    report = xdist_run.report
    signals = report["signals"]
    assert len(signals) == 102, f"spark-kindling's catalog has {len(signals)} signals"
    assert all(name in signals for name in PIPELINE)
    unreachable = {n: s["unreachable"] for n, s in signals.items() if "unreachable" in s}
    assert all(reason.strip() for reason in unreachable.values())
    assert sorted(report["totals"].get("unreachable", [])) == sorted(n for n in unreachable if not signals[n]["count"])
    never = [n for n, s in signals.items() if not s["count"] and n not in unreachable]
    assert never == [], f"reachable signals never emitted: {never}"
    assert {ns: emitted for ns, (_, emitted) in _coverage(report).items()} == {
        ns: total for ns, (total, _) in _coverage(report).items()}
    assert {k: report["findings"][k] for k in ("undocumented", "payload", "lifecycle")} == {
        "undocumented": [], "payload": [], "lifecycle": []}
    known = {(f["signal"], f["rule"]) for f in report["findings"].get("known", [])}
    assert known == {("datapipes.before_run", "never_closed"), ("entity.before_read", "never_closed")}
    print(f"-n 2 --dist loadscope: {xdist_run.seconds:.0f} s; per namespace (signals, emitted): "
          f"{_coverage(report)}")


def _same_report(report: dict[str, Any]) -> dict[str, Any]:
    """What two runs of one suite must agree on: each signal emitted or not, and by which tests;
    the coverage per namespace; the findings (spark-kindling's streaming threads send some signals
    a varying number of times, so counts are left out)."""
    return {"coverage": _coverage(report),
            "emitted_by": {n: sorted(s["tests"]) for n, s in report["signals"].items()},
            "findings": report["findings"], "tests": report["meta"]["tests"]}


@pytest.mark.slow
@pytest.mark.spark
def test_serially_on_a_2_worker_cluster_the_report_is_the_xdist_runs(
        xdist_run: _SuiteRun, cluster_run: _SuiteRun) -> None:
    """Two claims in one comparison (a third run of the suite would add minutes to CI): the whole
    suite passes on a cluster, and the merged report of the ``-n 2 --dist loadscope`` run is the
    one a serial run gives: the same signals emitted by the same tests, the same findings."""
    assert cluster_run.report["meta"]["workers"] == []  # serial
    assert _same_report(cluster_run.report) == _same_report(xdist_run.report)
    print(f"-n 2 --dist loadscope (local) {xdist_run.seconds:.0f} s, serial on a 2-worker cluster "
          f"{cluster_run.seconds:.0f} s")


def test_with_this_repositorys_kindling_the_fixture_says_it_is_for_spark_kindling(
        pytester: pytest.Pytester) -> None:
    if not _installed("kindling-signals"):
        pytest.skip("needs this repository's framework (kindling-signals) installed")
    registered = metadata.entry_points(group="pytest11", name="kindling_signals_spark_kindling")
    plugin = [] if registered else ["-p", "pytest_kindling_signals.frameworks.spark_kindling.plugin"]
    pytester.makepyfile("def test_pipeline(spark_kindling):\n    pass\n")

    result = pytester.runpytest(*plugin)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "the spark_kindling fixtures are for spark-kindling (PyPI `spark-kindling`, import name "
        "`kindling`), which is not installed: the `kindling` installed here is kindling-signals *, "
        "whose own fixtures are `spark` and `lakehouse`. Install spark-kindling in a virtualenv of "
        "its own *"])
    assert "Traceback" not in result.stdout.str()


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_the_docs_example_is_the_suites_quickstart() -> None:
    quickstart = (SUITE / "test_quickstart.py").read_text(encoding="utf-8")
    assert f"```python\n{quickstart}```" in DOCS.read_text(encoding="utf-8"), (
        "docs/spark-kindling.md shows tests/spark_kindling/test_quickstart.py verbatim: copy it again")


def test_the_docs_streaming_example_is_the_suites_test() -> None:
    source = (SUITE / "test_streaming.py").read_text(encoding="utf-8")
    docs = DOCS.read_text(encoding="utf-8")
    for name in ("declare_events", "rows", "test_a_streaming_pipe_runs_until_its_rows_are_in_then_stops"):
        start = source.index(f"def {name}(")
        end = source.find("\n\n\ndef ", start)
        assert source[start:end] in docs, f"docs/spark-kindling.md shows {name} of test_streaming.py: copy it again"


# -- a project scaffolded by spark-kindling-cli ---------------------------------------------

CLI = "spark-kindling-cli==0.14.0"


def _docs_file_block(marker: str) -> str:
    """The docs' ```python block that starts with ``# file: <marker>``, without that line."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(rf"```python\n# file: {re.escape(marker)}\n(.*?)```", text, re.S)
    assert found, f"docs/spark-kindling.md has no block '# file: {marker}'"
    return found.group(1)


@pytest.mark.slow
@pytest.mark.spark
def test_a_project_made_by_kindling_cli_runs_with_the_plugin(venv: _Venv) -> None:
    """``kindling repo init`` + ``kindling package init`` (the CLI in a virtualenv of its own):
    the generated pipe test's setup error gets the plugin's explanation; with the docs' recipe
    applied the package's tests pass and ``--kindling-signals`` reports its pipe's signals."""
    cli_venv = venv.root / "cli-venv"
    _check("python -m venv (kindling-cli)", [sys.executable, "-m", "venv", cli_venv], cwd=venv.root)
    _check("pip install spark-kindling-cli", [cli_venv / "bin" / "python", "-m", "pip", "install", "-q", CLI],
           cwd=venv.root)
    repo = venv.root / "demo-repo"
    repo.mkdir()
    kindling = cli_venv / "bin" / "kindling"
    _check("kindling repo init", [kindling, "repo", "init", "demo-repo", "--agents", "none"], cwd=repo)
    _check("kindling package init", [kindling, "package", "init", "orders", "--source", "pypi"], cwd=repo)
    package = repo / "packages" / "orders"
    pipe_test = package / "tests" / "integration" / "test_pipeline_local.py"

    as_generated = _run("pytest (as generated)", [venv.python, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                                                  str(pipe_test)], cwd=package, timeout=900)
    assert as_generated.returncode == 1, as_generated.stdout[-4000:]
    assert "Can't instantiate abstract class ConfigService" in as_generated.stdout
    assert "spark-kindling: initialised twice" in as_generated.stdout
    assert ("spark-kindling 0.14 can't be initialised twice in one process: the fixture `reset_kindling`"
            in as_generated.stdout)
    assert "Take the `spark_kindling` fixture of pytest-kindling-signals instead" in as_generated.stdout

    conftest = package / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text(encoding="utf-8") + "\n\n" + _docs_file_block(
        "tests/conftest.py (appended)"), encoding="utf-8")
    pipe_test.write_text(_docs_file_block("tests/integration/test_pipeline_local.py"), encoding="utf-8")
    result = _run("pytest --kindling-signals (the recipe)",
                  [venv.python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--kindling-signals",
                   "--kindling-signals-report=json:r.json"], cwd=package, timeout=900)
    assert result.returncode == 0, result.stdout[-6000:]
    counts = {n: s["count"] for n, s in json.loads((package / "r.json").read_text(encoding="utf-8"))["signals"].items()}
    emitted = sorted(n for n, c in counts.items() if c)
    assert {"datapipes.before_run", "datapipes.before_pipe", "datapipes.after_run", "entity.registered",
            "read.after_read", "persist.after_persist"} <= set(emitted), emitted

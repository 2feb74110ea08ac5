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

import pytest

# The virtualenv tests are marked slow and spark (pip, Spark); the fixture's message and the
# docs check run with the fast tests.

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "tests" / "spark_kindling"
DOCS = REPO / "docs" / "spark-kindling.md"
SPARK_KINDLING = ("spark-kindling[standalone]==0.14.0", "pyspark==3.5.5", "delta-spark==3.3.2")
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


@pytest.mark.slow
@pytest.mark.spark
def test_the_spark_kindling_suite_passes_there_with_its_report(venv: _Venv) -> None:
    project = venv.root / "project"
    shutil.copytree(SUITE, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    assert not list(project.rglob("conftest.py")), "a user's suite with no conftest"
    result = _run("pytest tests/spark_kindling --kindling-signals",
                  [venv.python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--kindling-signals",
                   "--kindling-signals-report=term-missing", "--kindling-signals-report=json:r.json"],
                  cwd=project, timeout=1800)
    print(result.stdout[-5000:])
    assert result.returncode == 0, f"{result.stdout[-8000:]}\n{result.stderr[-4000:]}"

    report = json.loads((project / "r.json").read_text(encoding="utf-8"))
    signals = report["signals"]
    assert len(signals) >= 90, f"spark-kindling's catalog has {len(signals)} signals"
    assert all(name in signals for name in PIPELINE)
    assert [n for n in PIPELINE if not signals[n]["count"]] == [], "pipeline signals never counted"
    assert report["findings"]["undocumented"] == []
    assert report["findings"]["payload"] == []


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

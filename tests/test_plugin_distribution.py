"""The plugin's distribution builds from its own folder: ``python -m build`` makes an sdist, then a
wheel from that sdist, with nothing from outside ``pytest_kindling_signals/``; the wheel installs
into a fresh virtualenv and works there (its shipped catalogs and schemas included).

Real pip and real build isolation (setuptools from PyPI); slow: about a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "pytest_kindling_signals"


def _run(args: list[str | Path], cwd: Path, timeout: float = 600) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("plugin_dist")
    # The folder alone: a build that reached outside it (the framework's files) would fail here.
    alone = root / "pytest_kindling_signals"
    shutil.copytree(PLUGIN, alone, symlinks=True, ignore=shutil.ignore_patterns(
        "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache"))
    links = [p for p in alone.rglob("*") if p.is_symlink()]
    assert links == [], f"the plugin's folder holds symlinks: {links}"
    _run([sys.executable, "-m", "build", "--outdir", root / "dist", alone], cwd=root)
    (sdist,) = (root / "dist").glob("*.tar.gz")
    (wheel,) = (root / "dist").glob("*.whl")
    return root, sdist, wheel


def test_the_wheel_built_from_the_sdist_ships_every_package_and_data_file(built: tuple[Path, Path, Path]) -> None:
    _, sdist, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {str(p.relative_to(REPO)).replace(os.sep, "/") for p in PLUGIN.rglob("*")
               if p.suffix in (".py", ".yaml", ".json", ".typed", ".js", ".css", ".html")
               and not {"build", "__pycache__"} & set(p.relative_to(PLUGIN).parts)
               and "egg-info" not in str(p)}
    assert sorted(sources - names) == [], "files of the plugin's folder missing from the wheel"
    assert not any(n.startswith("kindling/") for n in names), "the plugin's wheel ships a kindling package"
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    assert any(m.endswith("catalog/shipped/quick_reference.yaml") for m in members)


def test_the_wheel_works_in_a_fresh_virtualenv(built: tuple[Path, Path, Path]) -> None:
    root, _, wheel = built
    _run([sys.executable, "-m", "venv", root / "venv"], cwd=root)
    python = root / "venv" / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel], cwd=root)
    code = ("from pytest_kindling_signals.catalog import CATALOGS_DIR, QUICK_REFERENCE_PATH, load_catalog\n"
            "import importlib.util\n"
            "assert importlib.util.find_spec('kindling') is None\n"
            "qr = load_catalog(QUICK_REFERENCE_PATH)\n"
            "print(len(qr) - len(qr.extensions()), sorted(p.name for p in CATALOGS_DIR.iterdir()))")
    out = _run([python, "-c", code], cwd=root)
    assert out.startswith("88 ['catalog.schema.json', 'quick_reference.yaml', 'spark_kindling_0.14.yaml'"), out
    shipped = _run([python, "-c", "from pytest_kindling_signals.catalog import CATALOGS_DIR; print(CATALOGS_DIR)"],
                   cwd=root).strip()
    out = _run([root / "venv" / "bin" / "kindling-signals", "catalog", "validate", "--base", "none",
                f"{shipped}/quick_reference.yaml", f"{shipped}/spark_kindling_0.14.yaml"], cwd=root)
    assert out.count(": ok,") == 2, out

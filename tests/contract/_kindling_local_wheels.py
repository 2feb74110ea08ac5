"""Small local packages built into real wheels once per test session, for offline pip tests.

``local_wheels(tmp_path_factory)`` returns a folder holding:

- ``kdemo_dep-0.1.0``: ``kdemo_dep.base() == 40``
- ``kdemo_lib-0.1.0``: depends on ``kdemo_dep``; ``kdemo_lib.answer() == 42``

built with ``pip wheel`` (through :class:`PipManager`, on a private signal
provider so no test's recorder sees these builds). Install them with
``no_index=True, find_links=<folder>``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kindling.pip_manager import PipManager
from kindling.signaling import BlinkerSignalProvider

__all__ = ["local_wheels", "write_project"]

_built: dict[str, Path] = {}


def write_project(root: Path, name: str, code: str, *, version: str = "0.1.0",
                  dependencies: tuple[str, ...] = ()) -> Path:
    """A setuptools project ``root/name`` with one package ``name`` whose ``__init__`` is ``code``."""
    project = root / name
    (project / name).mkdir(parents=True)
    deps = ", ".join(f'"{d}"' for d in dependencies)
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "{version}"
        dependencies = [{deps}]

        [tool.setuptools]
        packages = ["{name}"]
        """))
    (project / name / "__init__.py").write_text(textwrap.dedent(code))
    return project


def local_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if "wheels" not in _built:
        root = tmp_path_factory.mktemp("kdemo-src")
        out = tmp_path_factory.mktemp("kdemo-wheels")
        pm = PipManager(BlinkerSignalProvider(name="local-wheels"))
        pm.build_wheel(write_project(root, "kdemo_dep", "def base():\n    return 40\n"), out)
        pm.build_wheel(write_project(root, "kdemo_lib",
                                     "from kdemo_dep import base\n\n\ndef answer():\n    return base() + 2\n",
                                     dependencies=("kdemo_dep",)), out)
        _built["wheels"] = out
    return _built["wheels"]

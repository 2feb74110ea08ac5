"""The layout's rules, checked: import-linter's contracts, no import cycle, public names across
modules, a small top level, and docs/architecture.md's picture drawn from the code.

Run ``python tests/test_architecture.py`` to print the diagram to paste into the page.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp", reason="the architecture checks need import-linter (pip install -e '.[test]')")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("pytest_kindling_signals", "kindling")
DOC = REPO / "docs" / "architecture.md"


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=False, exclude_type_checking_imports=False)


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")  # import-linter's command, beside this Python
    done = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"Contracts: \d+ kept, 0 broken", done.stdout), done.stdout[-3000:]


def _cycles(adjacency: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(adjacency):
        if root in index:
            continue
        work = [(root, iter(sorted(adjacency[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(adjacency[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycles_are_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_is_in_an_import_cycle() -> None:
    graph = _graph()
    adjacency = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(adjacency) == [], "import cycles (TYPE_CHECKING imports included)"


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")
                  if "build" not in p.relative_to(REPO).parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_private_name_is_imported_from_another_module() -> None:
    offenders = []
    for path in _sources():
        here = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
                continue
            if node.module.split(".")[0] not in PACKAGES or node.module == here:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: from {node.module} import {alias.name}")
    assert offenders == [], "private names used across modules: make them public or keep them in one module"


def test_the_plugin_top_level_holds_at_most_ten_modules() -> None:
    top = sorted(p.name for p in (REPO / "pytest_kindling_signals").glob("*.py"))
    assert len(top) <= 10, top


def _node(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "kindling":
        return "kindling"
    return parts[1] if len(parts) > 1 else ""


def diagram() -> str:
    """The package-level import graph as a Mermaid flowchart (the framework is one box)."""
    graph = _graph()
    edges = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = _node(module), _node(imported)
            if a and b and a != b and a != "__main__":
                edges.add((a, b))
    lines = ["flowchart TD"]
    lines += [f"    {a} --> {b}" for a, b in sorted(edges)]
    return "\n".join(lines) + "\n"


def test_the_architecture_page_draws_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert block is not None, f"{DOC.name} has no mermaid block"
    assert block.group(1) == diagram(), (
        f"{DOC.name}'s diagram is not the code's: run `python tests/test_architecture.py` and paste "
        f"its output into the mermaid block\n{diagram()}")


if __name__ == "__main__":
    print(diagram(), end="")

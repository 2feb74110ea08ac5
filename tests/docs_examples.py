"""Run the docs' examples: the code blocks of a page, all of them or one section's.

Imported by plain name (``from docs_examples import run_blocks``):
``tests/conftest.py`` puts ``tests/`` on ``sys.path`` for every test folder.

A block that needs the Spark session says so on its first line with
``# needs: spark``: ``run_blocks(..., spark=False)`` skips it. A block that
can't run here at all (a cluster address, stopping the shared session) says
``# not run: <why>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

__all__ = ["DOCS", "code_blocks", "run_blocks", "run_example"]

DOCS = Path(__file__).resolve().parents[1] / "docs"


def code_blocks(page: str, lang: str = "python", *, under: str | None = None) -> list[tuple[int, str]]:
    """(line number, code) of every ```<lang> block of ``docs/<page>``, in order.

    ``under="Example"`` keeps only the blocks of the ``## Example`` section
    (up to the next ``## `` heading).
    """
    text = (DOCS / page).read_text(encoding="utf-8")
    start, end = 0, len(text)
    if under is not None:
        heading = re.search(rf"^## {re.escape(under)}\n", text, flags=re.MULTILINE)
        assert heading, f"docs/{page} has no '## {under}' section"
        start = heading.end()
        following = re.compile(r"^## ", flags=re.MULTILINE).search(text, start)
        end = following.start() if following else end
    fence = re.compile(rf"^```{re.escape(lang)}\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in fence.finditer(text, start, end)]


def _run(page: str, line: int, code: str, namespace: dict[str, Any]) -> None:
    try:
        exec(compile(code, f"docs/{page}:{line}", "exec"), namespace)  # noqa: S102 - our own docs
    except Exception as exc:
        raise AssertionError(f"the example at docs/{page} line {line} fails: "
                             f"{type(exc).__name__}: {exc}") from exc


def run_blocks(page: str, *, spark: bool = False, namespace: dict[str, Any] | None = None) -> int:
    """Execute the page's python blocks in order in one namespace; returns how many ran."""
    ns: dict[str, Any] = namespace if namespace is not None else {"__name__": f"docs_{page}"}
    ran = 0
    for line, code in code_blocks(page):
        first = code.lstrip().splitlines()[0] if code.strip() else ""
        if first.startswith("# not run") or (first.startswith("# needs: spark") and not spark):
            continue
        _run(page, line, code, ns)
        ran += 1
    return ran


def run_example(page: str, capsys: pytest.CaptureFixture[str], *, under: str = "Example") -> tuple[str, str]:
    """Run the first python block of the page's ``## Example`` section.

    Returns (what it printed, the section's first ```text block: what the page
    says it prints).
    """
    code, shown = code_blocks(page, "python", under=under), code_blocks(page, "text", under=under)
    assert code and shown, f"docs/{page} lost its example or its output block"
    capsys.readouterr()
    _run(page, *code[0], {"__name__": "docs_example"})
    return capsys.readouterr().out, shown[0][1]

"""Run a provider page's ``## Example`` block and return (what it printed, what the page says it prints)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def run_page_example(page: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """Execute the first python block after ``## Example`` in ``docs/<page>``; the text block after it is the expected output."""
    path = DOCS / page
    section = path.read_text(encoding="utf-8").split("## Example\n", 1)[-1]
    blocks = dict(re.findall(r"```(python|text)\n(.*?)```", section, re.S)[:2])
    assert set(blocks) == {"python", "text"}, f"{path} lost its example or its output block"
    capsys.readouterr()
    exec(compile(blocks["python"], str(path), "exec"), {"__name__": "docs_example"})  # noqa: S102 - our docs
    return capsys.readouterr().out, blocks["text"]

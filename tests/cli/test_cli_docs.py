"""docs/cli.md runs as written: its files are written into the shop project, and each ``$ command``
of its console blocks runs in a shell there and prints what the page shows.

In the page's output, a line ``...`` stands for any lines, and ``...`` inside
a line for any text (numbers that follow the built-in catalog's size, timings).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docs_examples import code_blocks

pytestmark = [pytest.mark.slow, pytest.mark.kindling_signals_ignore]


def _pattern(expected: list[str]) -> re.Pattern[str]:
    parts = []
    for line in expected:
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.split("...")) + r"\n")
    return re.compile("".join(parts))


def commands(page: str) -> list[tuple[int, str, list[str]]]:
    """(line, command, expected output lines) of every ``$ `` line of the page's console blocks."""
    out: list[tuple[int, str, list[str]]] = []
    for line_no, block in code_blocks(page, "console"):
        for i, line in enumerate(block.splitlines()):
            if line.startswith("$ "):
                out.append((line_no + i, line[2:], []))
            else:
                out[-1][2].append(line)
    return out


def test_the_command_line_page_runs_as_written(shop: pytest.Pytester) -> None:
    for _, code in code_blocks("cli.md", "python"):
        first, _, body = code.partition("\n")
        assert first.startswith("# file: "), "every python block of docs/cli.md is a file of the project"
        (shop.path / first.removeprefix("# file: ").strip()).write_text(body, encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTEST_ADDOPTS", None)
    ran, previous = 0, 0
    for line_no, command, expected in commands("cli.md"):
        if command == "echo $?":
            assert expected == [str(previous)], f"docs/cli.md line {line_no}: the exit code"
            continue
        done = subprocess.run(["bash", "-c", command], cwd=shop.path, env=env, capture_output=True, text=True,
                              check=False)
        output = done.stdout + done.stderr
        assert _pattern(expected).fullmatch(output), (
            f"docs/cli.md line {line_no}: `{command}` printed\n{output}\nnot what the page shows:\n"
            + "\n".join(expected))
        previous = done.returncode
        ran += 1
    assert ran >= 10

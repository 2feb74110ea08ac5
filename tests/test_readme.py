"""The README's first section: the two commands a fresh machine runs, kept in step with CI.

Fast tests: they read files only.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = 'pip install -e ./pytest_kindling_signals -e ".[test]"'


def first_section(text: str) -> str:
    """From the title to the next ``## `` heading."""
    return re.split(r"^## ", text, maxsplit=1, flags=re.MULTILINE)[0]


def bash_blocks(markdown: str) -> list[str]:
    return [b.strip() for b in re.findall(r"^```bash\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)]


def test_first_section_has_exactly_two_bash_commands() -> None:
    blocks = bash_blocks(first_section((ROOT / "README.md").read_text(encoding="utf-8")))
    assert len(blocks) == 2, blocks
    assert all(len(b.splitlines()) == 1 for b in blocks), "each block is one command a user can paste"


def test_both_commands_install_the_test_extra() -> None:
    for command in bash_blocks(first_section((ROOT / "README.md").read_text(encoding="utf-8"))):
        assert INSTALL in command, command


def test_first_command_runs_the_contract_check_second_the_suite() -> None:
    contract, suite = bash_blocks(first_section((ROOT / "README.md").read_text(encoding="utf-8")))
    assert "tests/contract" in contract and "--kindling-signals" in contract
    # the whole suite: no path, no -m/-k selection, the report and its gates on
    assert suite.split("&&")[-1].split() == ["python", "-m", "pytest", "--kindling-signals"], suite


def test_ci_runs_the_second_command_verbatim() -> None:
    suite = bash_blocks(first_section((ROOT / "README.md").read_text(encoding="utf-8")))[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert suite in ci.splitlines(), f".ci/run must contain the README's test command as a line:\n{suite}"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md"))
    assert [p for p in pages if f"/{p})" not in readme] == []

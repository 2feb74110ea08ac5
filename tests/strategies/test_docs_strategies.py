"""docs/strategies.md runs: every python block, in order, and prints what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_docs import run_blocks

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out

PAGE = Path(__file__).resolve().parents[2] / "docs" / "strategies.md"


def test_the_page_runs_and_prints_what_it_says(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_blocks("strategies.md", spark=False) == 6
    out = capsys.readouterr().out.splitlines()
    blocks = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), flags=re.MULTILINE | re.DOTALL)
    commented = [line[2:] for block in blocks for line in block.splitlines()
                 if line.startswith("# ") and not line.startswith(("# not run", "# needs"))]
    assert len(commented) == len(out) == 4
    for expected, got in zip(commented, out):
        pattern = re.escape(expected).replace(r"\.\.\.", ".*")
        assert re.fullmatch(pattern, got), (expected, got)

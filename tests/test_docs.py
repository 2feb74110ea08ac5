"""The docs' examples run: every python block of a page, in order, in one namespace.

Blocks marked ``# needs: spark`` run only in the Spark test (see ``docs_examples``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from docs_examples import DOCS, run_blocks

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


@pytest.mark.parametrize("page, at_least", [("signaling.md", 8), ("catalog.md", 6)])
def test_page_examples_run(page: str, at_least: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_blocks(page, spark=False) >= at_least


def test_printed_output_matches_the_comments(capsys: pytest.CaptureFixture[str]) -> None:
    run_blocks("catalog.md", spark=False)
    out = capsys.readouterr().out
    text = (DOCS / "catalog.md").read_text(encoding="utf-8")
    # the commented output under the validation example, line for line
    commented = [ln[2:] for ln in text.splitlines() if ln.startswith("# entity.post_merge: field")]
    assert len(commented) == 4
    assert "\n".join(commented) in out
    assert "Unknown signal 'datapipes.post_runn': it is not in the signal catalog. Did you mean " \
           "'datapipes.post_run'" in out


def test_spark_page_examples_run(spark: Any, lakehouse: Path) -> None:
    assert run_blocks("spark.md", spark=True, namespace={"__name__": "docs_spark"}) >= 2


def test_the_docstring_examples_of_both_packages_run() -> None:
    """Every ``>>>`` example in ``kindling/`` and ``pytest_kindling_signals/`` (those that need
    Spark or a project are marked ``+SKIP``), run by pytest's doctest runner in a process of its
    own: a docstring's printed result must stay the one the code gives."""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS" and not k.startswith("PYTEST_XDIST")}
    result = subprocess.run([sys.executable, "-m", "pytest", "--doctest-modules", "-q", "-p", "no:cacheprovider",
                             "kindling", "pytest_kindling_signals"], cwd=root, env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1], result.stdout[-2000:]

"""The docs' examples run: every python block of a page, in order, in one namespace.

A block that needs the Spark session says so on its first line with
``# needs: spark``: the fast tests skip it, the Spark test runs it. A block
that can't run here at all (a cluster address, stopping the shared session)
says ``# not run: <why>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page: str) -> list[tuple[int, str]]:
    """(line number, code) of every ```python block of ``docs/<page>``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1))
            for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)]


def run_blocks(page: str, *, spark: bool, namespace: dict[str, Any] | None = None) -> int:
    """Execute the page's blocks; returns how many ran."""
    ns: dict[str, Any] = namespace if namespace is not None else {"__name__": f"docs_{page}"}
    ran = 0
    for line, code in python_blocks(page):
        first = code.lstrip().splitlines()[0] if code.strip() else ""
        if first.startswith("# not run"):
            continue
        if first.startswith("# needs: spark") and not spark:
            continue
        try:
            exec(compile(code, f"docs/{page}:{line}", "exec"), ns)  # noqa: S102 - our own docs
        except Exception as exc:
            raise AssertionError(f"the example at docs/{page} line {line} fails: "
                                 f"{type(exc).__name__}: {exc}") from exc
        ran += 1
    return ran


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

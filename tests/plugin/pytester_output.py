"""Reading a pytester run's output: one test's failure section, as a user sees it."""

from __future__ import annotations

import re

import pytest

_HEADER = re.compile(r"^_{3,} (.+?) _{3,}$")
_END = re.compile(r"^(={3,}|-{3,} Captured )")


def section(result: pytest.RunResult, title: str) -> list[str]:
    """The lines under the ``____ title ____`` header (e.g. ``test_x`` or
    ``ERROR at teardown of test_x``), up to the next header or captured output."""
    lines = result.outlines
    for i, line in enumerate(lines):
        m = _HEADER.match(line)
        if m and m.group(1) == title:
            body = []
            for rest in lines[i + 1:]:
                if _HEADER.match(rest) or _END.match(rest):
                    break
                body.append(rest)
            return body
    raise AssertionError(f"no section {title!r} in the output:\n" + "\n".join(lines))


def error_lines(result: pytest.RunResult, test: str) -> list[str]:
    """The exception message of a failed test: its ``E       `` lines without that prefix."""
    return [line[8:] for line in section(result, test) if line.startswith("E       ") or line == "E"]

"""docs/recorder.md runs as written: its files pass, and its failure messages are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytester_output import error_lines

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out

DOC = Path(__file__).resolve().parents[2] / "docs" / "recorder.md"
_BLOCK = re.compile(r"(?:<!-- failure: (?P<test>\S+) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
_FILE = re.compile(r"# file: (\S+\.py)")


def doc_parts() -> tuple[dict[str, str], dict[str, list[str]]]:
    """The page's files (``# file: name.py`` blocks, joined) and its failure messages by test."""
    files: dict[str, str] = {}
    failures: dict[str, list[str]] = {}
    for m in _BLOCK.finditer(DOC.read_text()):
        body = m.group("body")
        if m.group("test"):
            failures[m.group("test")] = body.rstrip("\n").splitlines()
            continue
        first, _, rest = body.partition("\n")
        name = _FILE.match(first)
        if m.group("lang") == "python" and name:
            files[name.group(1)] = files.get(name.group(1), "") + rest + "\n"
    return files, failures


def test_the_docs_examples_run_and_their_failure_messages_are_exact(pytester: pytest.Pytester):
    files, failures = doc_parts()
    assert {"my_provider.py", "test_merge.py", "test_failing.py", "test_hypothesis.py", "test_threads.py",
            "test_streaming.py"} <= set(files)
    # The Spark example runs in test_streaming.py, in this session's Spark; the rest runs here.
    files = {n: t for n, t in files.items() if not t.startswith("# needs: spark")}
    for name, text in files.items():
        pytester.makepyfile(**{name[:-3]: text})

    result = pytester.runpytest("-p", "no:randomly")

    failing = {f"test_failing.py::{t}" for t in ("test_merge_inserts_four_rows", "test_an_unclosed_operation",
                                                  "test_typo")}
    failing |= {f"test_waiting_failures.py::{t}" for t in ("test_the_run_never_finishes",
                                                           "test_one_entity_gets_no_rows")}
    assert set(failures) == failing
    tests = sum(t.count("\ndef test_") + t.startswith("def test_") for t in files.values())
    result.assert_outcomes(passed=tests - len(failing), failed=len(failing))
    for test, expected in failures.items():
        assert error_lines(result, test.split("::")[1]) == expected

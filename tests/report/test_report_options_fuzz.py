"""Hostile option and ini values: every one is accepted if valid, else a clear usage error; none crashes.

Hypothesis generates values for ``--kindling-signals-report`` (and the
``kindling_signals_report`` ini lines), ``--kindling-signals-fail-under`` (and
its ini key) and ``--kindling-signals-data`` (and its ini key), half of them
near the grammar (kinds, scopes, numbers, paths with folders and files in the
way), half of them hostile text (NUL, Unicode digits, lone surrogates, names
longer than the file system takes). Each goes through the same functions the
plugin calls at configure time (:func:`parse_settings`, then
:func:`check_outputs`, in a sandbox folder) and is judged against an oracle
written from the documented grammar:

- valid and accepted: fine; valid but refused: a false alarm (a failure);
- invalid and refused with a ``ValueError`` whose message names the option,
  shows the value and says what to do: a clear usage error;
- invalid and accepted: a silent accept (a failure); any other exception: a
  crash (a failure).

A handful of values then go through ``pytest`` itself (in-process pytester
runs), the ini booleans included, where a bad value must be exit status 4
with an ``ERROR:`` line, never an INTERNALERROR. The figures (``FIGURES``) are
deterministic (``derandomize=True``) and quoted in docs/reliability.md.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pytest_kindling_signals.report import Raw, check_outputs, parse_settings

pytestmark = pytest.mark.kindling_signals_ignore

TIERS = ("critical", "high", "moderate")
SCOPES = (*TIERS, "total", "quick-reference", "extensions", "user-catalogs")
TERM, FILES = ("term", "term-missing"), ("json", "markdown", "html")
EXAMPLES = 400
FIGURES: Counter[str] = Counter()
FIX_WORDS = ("use ", "give ", "accepted forms", "needs ")
#: Sandbox layout: a folder and a file where a test's paths may collide with them.
SANDBOX_DIR, SANDBOX_FILE = "adir", "afile"

HOSTILE_PIECES = st.sampled_from([
    "", " ", ":", ",", "%", ".", "-", "+", "e", "E", "nan", "NaN", "inf", "Infinity", "0x1", "٣", "１", "1_0",
    "\t", "\x00", "\u200b", "\udcff", "\ud800", "critical", "critcal", "total", "TOTAL", "high", "100", "101",
    "99.5", "0", "00", "1e2", "-1", "json", "term", "term-missing", "markdown", "html", "xml", "adir", "afile",
    "/", "\\", "é", "a" * 300, "é" * 130])
HOSTILE = st.one_of(st.text(max_size=30), st.lists(HOSTILE_PIECES, max_size=6).map("".join))


# -- the oracle: the documented grammar, written again ----------------------------------

_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?%?")


def fail_under_ok(text: str) -> bool:
    if "\x00" in text or not text.strip():
        return False
    seen = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            return False
        scope, sep, value = part.rpartition(":")
        scope = scope.strip() if sep else "total"
        value = value.strip()
        if scope not in SCOPES or scope in seen or not _NUMBER.fullmatch(value):
            return False
        if Decimal(value.rstrip("%")) > 100:
            return False
        seen.add(scope)
    return True


def path_ok(text: str, base: Path) -> bool:
    if "\x00" in text or not text.strip():
        return False
    try:
        os.fsencode(text)
    except UnicodeError:
        return False
    full = Path(os.path.normpath(base / text.strip()))
    if any(len(os.fsencode(part)) > 255 for part in full.parts) or len(os.fsencode(str(full))) >= 4096:
        return False
    if full.is_dir():
        return False
    return not any(a.exists() and not a.is_dir() for a in full.parents)


def outputs_ok(reports: list[str], data: str | None, base: Path) -> bool:
    targets: list[tuple[str, str | None]] = []
    for v in reports:
        if "\x00" in v:
            return False
        kind, sep, path = v.strip().partition(":")
        if kind in TERM and not sep:
            target: tuple[str, str | None] = (kind, None)
        elif kind in FILES and path.strip():
            target = (kind, path.strip())
        else:
            return False
        if target not in targets:
            targets.append(target)
    if sum(k in TERM for k, _ in targets) > 1:
        return False
    files = [p for _, p in targets if p is not None] + [data if data is not None else ".kindling-signals"]
    if not all(path_ok(p, base) for p in files):
        return False
    keys = [os.path.normpath(base / p.strip()) for p in files]
    return len(set(keys)) == len(keys)


# -- strategies near the grammar ----------------------------------------------------------

def _safe(path: str) -> bool:
    """Paths that stay in the sandbox (the probe creates a file in the nearest existing folder)."""
    stripped = path.strip()
    return not (stripped.startswith(("/", "~")) or ".." in re.split(r"[/]", stripped))


SEGMENT = st.one_of(st.text(alphabet=st.characters(blacklist_characters="/", blacklist_categories=("Cs",)),
                            min_size=1, max_size=12),
                    st.sampled_from([SANDBOX_DIR, SANDBOX_FILE, "a" * 256, "é" * 130, ".", " x ", "r.json"]))
PATHS = st.one_of(st.lists(SEGMENT, min_size=1, max_size=3).map("/".join), HOSTILE).filter(_safe)
REPORT_VALUE = st.one_of(
    st.builds(lambda k, sep, p: f"{k}{sep}{p}", st.sampled_from([*TERM, *FILES, "xml", "JSON", "", " json"]),
              st.sampled_from(["", ":"]), st.one_of(st.just(""), PATHS)),
    HOSTILE).filter(_safe)
NUMBER = st.one_of(st.integers(-5, 120).map(str), st.decimals(0, 110, places=2).map(str),
                   st.sampled_from(["100%", "99.50", "1e2", "NaN", "+5", ".5", "5.", " 95 ", "95 %", "1_0"]))
GATE = st.lists(st.builds(lambda s, n: n if s is None else f"{s}:{n}",
                          st.one_of(st.none(), st.sampled_from([*SCOPES, "critcal", "", " high ", "TOTAL", "a:b"])),
                          NUMBER), min_size=1, max_size=4).map(",".join)


# -- the judge --------------------------------------------------------------------------------

def judge(group: str, valid: bool, attempt: Callable[[], object], labels: list[str], shown: list[str]) -> None:
    FIGURES[f"{group}: cases"] += 1
    try:
        attempt()
    except ValueError as exc:
        message = str(exc)
        assert not valid, f"a valid value was refused: {shown!r}: {message}"
        named = {form for v in shown for form in (repr(v), repr(v.strip()), v.strip().partition(":")[2].strip(),
                                                  v.strip()) if form}
        clear = any(message.startswith(label) or f" and {label}" in message for label in labels) and any(
            form in message for form in named) and any(w in message for w in FIX_WORDS)
        assert clear, f"an unclear error for {shown!r}: {message}"
        FIGURES[f"{group}: clear usage errors"] += 1
        return
    except Exception as exc:  # noqa: BLE001 - any other exception is the crash this test hunts
        FIGURES[f"{group}: crashes"] += 1
        raise AssertionError(f"{shown!r} crashed: {type(exc).__name__}: {exc}") from exc
    assert valid, f"an invalid value was silently accepted: {shown!r}"
    FIGURES[f"{group}: accepted (valid)"] += 1


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fuzz")
    (base / SANDBOX_DIR).mkdir()
    (base / SANDBOX_FILE).write_text("a file", encoding="utf-8")
    return base


def _settle(base: Path, *, reports: Raw, fail_under: Raw | None = None, data: Raw | None = None) -> None:
    settings_ = parse_settings(
        enabled=Raw(True, "--kindling-signals"), reports=reports,
        fail_under=fail_under or Raw(None, "--kindling-signals-fail-under"),
        data=data or Raw(None, "--kindling-signals-data"), invocation_dir=base, ini_dir=base, rootdir=base,
        tiers=TIERS)
    check_outputs(settings_.outputs)


FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("label, from_cli", [("--kindling-signals-report", True),
                                             ("ini key kindling_signals_report", False)])
@FUZZ
@given(values=st.lists(REPORT_VALUE, min_size=1, max_size=3))
def test_report_values(sandbox: Path, label: str, from_cli: bool, values: list[str]) -> None:
    group = "report (command line)" if from_cli else "report (ini)"
    judge(group, outputs_ok(values, None, sandbox),
          lambda: _settle(sandbox, reports=Raw(values, label, from_cli)), [label], values)


@pytest.mark.parametrize("label", ["--kindling-signals-fail-under", "ini key kindling_signals_fail_under"])
@FUZZ
@given(text=st.one_of(GATE, HOSTILE))
def test_fail_under_values(sandbox: Path, label: str, text: str) -> None:
    assume(text.strip())  # empty means "no gate"
    group = "fail-under (command line)" if label.startswith("--") else "fail-under (ini)"
    judge(group, fail_under_ok(text),
          lambda: _settle(sandbox, reports=Raw(["term"], "--kindling-signals-report", True),
                          fail_under=Raw(text, label)), [label], [text])


@pytest.mark.parametrize("label, from_cli", [("--kindling-signals-data", True), ("ini key kindling_signals_data", False)])
@FUZZ
@given(path=PATHS, report=st.one_of(st.none(), PATHS))
def test_data_values(sandbox: Path, label: str, from_cli: bool, path: str, report: str | None) -> None:
    reports = ["term"] if report is None else [f"json:{report}"]
    group = "data (command line)" if from_cli else "data (ini)"
    judge(group, outputs_ok(reports, path, sandbox),
          lambda: _settle(sandbox, reports=Raw(reports, "--kindling-signals-report", True),
                          data=Raw(path, label, from_cli)), [label, "--kindling-signals-report"], [path, *reports])


# -- the same values through pytest ---------------------------------------------------------------

THROUGH_PYTEST = [
    ("--kindling-signals-report=xml:r.xml", None), ("--kindling-signals-report=json:", None),
    ("--kindling-signals-report=json:adir", None), ("--kindling-signals-report=json:afile/r.json", None),
    ("--kindling-signals-report=html:/proc/kindling/r.html", None), ("--kindling-signals-report=json:r\x00.json", None),
    ("--kindling-signals-report=json:" + "a" * 300, None), ("--kindling-signals-report=json:\ud800.json", None),
    ("--kindling-signals-report=term-missing:x", None), ("--kindling-signals-report= json :x", None),
    ("--kindling-signals-fail-under=abc", None), ("--kindling-signals-fail-under=1e2", None),
    ("--kindling-signals-fail-under=٣", None), ("--kindling-signals-fail-under=critcal:100", None),
    ("--kindling-signals-fail-under=critical:100,,", None), ("--kindling-signals-fail-under=100.0001%", None),
    ("--kindling-signals-fail-under=\x00", None), ("--kindling-signals-data=", None),
    ("--kindling-signals-data=adir", None), ("--kindling-signals-data=afile/x", None),
    ("--kindling-signals-data=/proc/kindling/d", None),
    (None, "kindling_signals = maybe"), (None, "kindling_signals_strict = 2"),
    (None, "kindling_signals_gate_partial = yes please"), (None, "kindling_signals_report = xml:r"),
    (None, "kindling_signals_fail_under = NaN"), (None, "kindling_signals_data = adir"),
    (None, "kindling_signals_framework = kindlin"),
]
GOOD_THROUGH_PYTEST = [
    ("--kindling-signals-report=json:adir/r.json", None), ("--kindling-signals-fail-under= critical:0 ,high:0.00%", None),
    ("--kindling-signals-data=adir/x.data", None), (None, "kindling_signals_strict = yes"),
]


@pytest.mark.parametrize("option, ini", THROUGH_PYTEST + GOOD_THROUGH_PYTEST)
def test_through_pytest(pytester: pytest.Pytester, option: str | None, ini: str | None) -> None:
    (pytester.path / SANDBOX_DIR).mkdir()
    (pytester.path / SANDBOX_FILE).write_text("a file", encoding="utf-8")
    pytester.makeini("[pytest]\n" + (ini or "") + "\n")
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    args = ["--kindling-signals", "-p", "no:cacheprovider"] + ([option] if option else [])
    result = pytester.runpytest_inprocess(*args)
    out = result.stdout.str() + result.stderr.str()
    FIGURES["through pytest: cases"] += 1
    assert "INTERNALERROR" not in out and "Traceback" not in out
    if (option, ini) in GOOD_THROUGH_PYTEST:
        assert result.ret == pytest.ExitCode.OK, out
        FIGURES["through pytest: accepted (valid)"] += 1
        return
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert len(errors) == 1 and any(w in errors[0] for w in FIX_WORDS), errors
    FIGURES["through pytest: clear usage errors"] += 1


def test_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this module: no crash, no silent accept; prints the figures."""
    if not FIGURES:
        pytest.skip("run with the rest of this module to get the figures")
    assert not [k for k, n in FIGURES.items() if k.endswith("crashes") and n]
    with capsys.disabled():
        print("\nhostile option values:", dict(sorted(FIGURES.items())))

"""Hostile input for the CI path: ``kindling-signals`` combine, report, compare, catalog validate,
export and scan, and the data file, as a careful and a careless user would feed them.

Every case is judged into one outcome class:

- **clear error**: exit 1 or 2, one ``kindling-signals: error`` / ``ERROR`` / usage line naming
  the file or option, no traceback;
- **correct**: done, and the output agrees with an oracle written from the documented rules;
- **crash**: an exception escaped ``main()`` (a traceback);
- **silent**: exit 0 for input that must be refused;
- **wrong**: a result the oracle disagrees with (or a valid input refused);
- **input destroyed**: an input file's bytes changed;
- **hang**: the case did not end within its timeout (a SIGALRM per case, so a hang is detected,
  not suffered; the concrete bombs run in a subprocess with a memory limit too).

Generated families (Hypothesis, fixed seed): data files (hostile names, corruptions), combine
argument lists, catalogs, output paths against inputs, and source trees to scan; then the
review's concrete cases. ``python -m pytest tests/hostile/test_hostile_cli.py -p no:cacheprovider
-s`` prints the figures that docs/reliability.md shows.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import html.parser
import io
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_kindling_signals.cli import main
from pytest_kindling_signals.escape import printable
from pytest_kindling_signals.report import CatalogFile, Finding, RunData, SessionData

pytestmark = [pytest.mark.kindling_signals_ignore, pytest.mark.slow]

OUTCOMES = ("clear error", "correct", "crash", "silent", "wrong", "input destroyed", "hang")
BAD = ("crash", "silent", "wrong", "input destroyed", "hang")
#: Every case's outcome, per family: the figures of docs/reliability.md.
FIGURES: dict[str, Counter[str]] = {}
CASE_TIMEOUT = 20.0
SETTINGS = settings(derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from report_project import SHOP_CATALOG  # noqa: E402

#: The shop project's catalog, standalone (its own common field), as a framework's catalog is.
CATALOG = SHOP_CATALOG.replace("tiers: [shop]\n", "tiers: [shop]\ncommon_fields:\n  operation_id: {type: string, format: uuid}\n")
SIGNALS = ["shop.pre_checkout", "shop.post_checkout", "shop.checkout_failed", "shop.refunded"]
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


# -- the harness ----------------------------------------------------------------------------

class _Hang(BaseException):
    pass


@dataclass
class Run:
    code: int | None
    out: str
    err: str
    crash: BaseException | None = None
    hang: bool = False
    destroyed: list[str] = field(default_factory=list)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        return None


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise _Hang()

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def cli(argv: Sequence[str], cwd: Path, inputs: Sequence[Path] = (), timeout: float = CASE_TIMEOUT) -> Run:
    """``kindling-signals argv`` in this process, in ``cwd``, with a timeout; inputs hashed before and after."""
    before = {p: _digest(cwd / p) for p in inputs}
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    run = Run(None, "", "")
    try:
        with _alarm(timeout), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            run.code = main(list(argv))
    except _Hang:
        run.hang = True
    except BaseException as exc:  # noqa: BLE001 - anything escaping main() is a crash
        run.crash = exc
    finally:
        os.chdir(old)
    run.out, run.err = out.getvalue(), err.getvalue()
    run.destroyed = [str(p) for p, h in before.items() if h is not None and _digest(cwd / p) != h]
    return run


def judge(run: Run, *, refuse: bool, names: Sequence[str] = (), check: Callable[[Run], bool] | None = None,
          ok_codes: Sequence[int] = (0,)) -> str:
    """The outcome class of one case; ``refuse``: the input must be refused; ``names``: what a clear
    error must name; ``check``: the oracle of a correct result."""
    if run.hang:
        return "hang"
    if run.crash is not None or "Traceback (most recent call last)" in run.err:
        return "crash"
    if run.destroyed:
        return "input destroyed"
    if refuse:
        if run.code in (1, 2):
            text = run.err + run.out
            clear = ("kindling-signals: error:" in text or "kindling-signals: ERROR" in text
                     or text.startswith("usage:") or "FAILED" in text)
            return "clear error" if clear and all(printable(n) in text for n in names) else "wrong"
        return "silent"
    if run.code not in ok_codes:
        return "wrong"
    return "correct" if check is None or check(run) else "wrong"


def count(family: str, outcome: str, detail: Any = None) -> str:
    FIGURES.setdefault(family, Counter())[outcome] += 1
    assert outcome not in BAD, f"{family}: {outcome}: {detail!r}"
    return outcome


@pytest.fixture(scope="module", autouse=True)
def _print_figures() -> Iterator[None]:
    yield
    total: Counter[str] = Counter()
    print("\nkindling-signals CLI hostile suite: outcome per family")
    for family, c in FIGURES.items():
        total.update(c)
        print(f"  {family}: {sum(c.values())} cases: " + ", ".join(f"{o} {c[o]}" for o in OUTCOMES if c[o]))
    print(f"  ALL: {sum(total.values())} cases: " + ", ".join(f"{o} {total[o]}" for o in OUTCOMES))


# -- data files ---------------------------------------------------------------------------------

def session(tests: Sequence[str], emits: dict[str, list[str]], *, collected: Sequence[str] | None = None,
            deselected: Sequence[str] = (), narrowed: Sequence[str] = ()) -> SessionData:
    coll = list(collected if collected is not None else tests)
    data = SessionData(collected=coll, deselected=set(deselected), narrowed=list(narrowed))
    data.tests = {t: coll.index(t) for t in tests}
    for name, who in emits.items():
        data.counts[name] = len(who) + 1
        data.emitters[name] = set(who)
    return data


def run_data(data: SessionData) -> RunData:
    return RunData(data, [CatalogFile("catalogs/shop.yaml", "framework", CATALOG)], plugin_version="0.2.0")


def write(path: Path, run: RunData) -> Path:
    run.save(path)
    return path


# names as tests and code make them: any text, heavy on what breaks documents and terminals
HOSTILE_CHARS = list("`|<>&*_[]()#!~$\\\n\r\t\x1b\x00\x7f\u202e\u2028 :;'\"@") + ["\ud800", "\udcff", "é", "中"]
hostile_text = st.one_of(
    st.text(st.sampled_from(HOSTILE_CHARS + list("abc.")), min_size=1, max_size=24),
    st.text(min_size=1, max_size=16),
    st.sampled_from(["<script>alert(1)</script>", "x\n## All gates passed", "`` ` ``", "a|b|c", "\x1b[2J\x1b[31m",
                     "<!-- x", "&lt;b&gt;", "[link](javascript:alert(1))", "**bold**", "<details>", "\ud83d"]),
)


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


MD_TAGS = {"h2", "h3", "p", "strong", "code", "table", "thead", "tbody", "tr", "th", "td", "details", "summary",
           "ul", "li", "blockquote", "br", "g-emoji", "img", "a"}


def _markdown_html(text: str) -> str:
    cmarkgfm = pytest.importorskip("cmarkgfm")
    from cmarkgfm.cmark import Options

    return str(cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE))


def _report_ok(tmp: Path, names: Sequence[str], signal_names: Sequence[str]) -> Callable[[Run], bool]:
    """The oracle of a report of hostile names: terminal lines safe, the Markdown's structure intact
    with every name shown as itself, the JSON exact, the HTML with no tag of the names'."""
    def check(run: Run) -> bool:
        if any(_UNSAFE.search(line) for line in run.out.splitlines()):
            return False
        rendered = _markdown_html((tmp / "r.md").read_text(encoding="utf-8"))
        page = _Tags()
        page.feed(rendered)
        if set(page.tags) - MD_TAGS or "script" in page.tags:
            return False
        shown = "".join(page.text)
        if not all(printable(n).strip() in shown for n in [*names, *signal_names] if printable(n).strip()):
            return False
        report = json.loads((tmp / "r.json").read_text(encoding="utf-8"))
        if set(report["signals"]["shop.refunded"]["tests"]) != set(names):
            return False
        page_source = (tmp / "r.html").read_text(encoding="utf-8")  # every name escaped: none of its tags
        return not any(n in page_source for n in [*names, *signal_names] if "<" in n)
    return check


@settings(SETTINGS, max_examples=150)
@given(names=st.lists(hostile_text, min_size=1, max_size=4, unique=True),
       stray=st.lists(hostile_text, max_size=2, unique=True))
def test_hostile_names_in_a_data_file_are_rendered_as_themselves(tmp_path_factory: pytest.TempPathFactory,
                                                                names: list[str], stray: list[str]) -> None:
    tmp = tmp_path_factory.mktemp("names")
    signal_names = [f"x.{s}" for s in stray]  # undocumented signals with hostile names
    data = session(names, {"shop.refunded": names, **{s: names[:1] for s in signal_names}})
    data.add_finding(Finding("payload", "shop.refunded", f"shop.refunded: {names[0]}", 1, names[0], 0,
                             "amount", "number", f"string {names[-1]!r}"))
    write(tmp / "run.data", run_data(data))
    run = cli(["report", "run.data", "--format", "term-missing", "--format", "markdown:r.md",
               "--format", "json:r.json", "--format", "html:r.html"], tmp, ["run.data"])
    count("data files: hostile names", judge(run, refuse=False, check=_report_ok(tmp, names, signal_names)),
          (names, stray, run.out[-500:], run.err))


def _valid_text() -> str:
    data = session(["t.py::a", "t.py::b", "t.py::c"], {"shop.pre_checkout": ["t.py::a"], "shop.refunded": ["t.py::b"]},
                   collected=["t.py::a", "t.py::b", "t.py::c", "t.py::d"], deselected=["t.py::d"])
    return json.dumps(run_data(data).to_json())


def _set(obj: Any, path: list[Any], value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


# (what breaks, how, whether the result must be refused)
CORRUPTIONS: list[tuple[str, Callable[[dict[str, Any], random.Random], str | None], bool]] = []


def corruption(refuse: bool) -> Callable[[Callable[[dict[str, Any], random.Random], str | None]], Any]:
    def add(fn: Callable[[dict[str, Any], random.Random], str | None]) -> Any:
        CORRUPTIONS.append((fn.__name__, fn, refuse))
        return fn
    return add


def _paths(obj: Any, prefix: list[Any] | None = None) -> list[list[Any]]:
    prefix = prefix or []
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in ("text", "sha256"):
                out += _paths(v, prefix + [k])
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + [i])
    return out


@corruption(refuse=True)
def wrong_type(obj: dict[str, Any], rnd: random.Random) -> str | None:
    path = rnd.choice([["data", "tests"], ["data", "signals", "shop.refunded", "count"], ["gates"], ["catalogs"],
                       ["data", "collected"], ["data", "stopped"], ["format_version"], ["data", "signals"]])
    _set(obj, path, rnd.choice(["x", 1.5, [1], {"a": None}, True, -3]))
    return None


@corruption(refuse=True)
def stray_emitter(obj: dict[str, Any], rnd: random.Random) -> str | None:
    obj["data"]["signals"]["shop.refunded"]["tests"].append(rnd.choice(["t.py::nobody", "t.py::d", "<fixturex>"]))
    obj["data"]["signals"]["shop.refunded"]["count"] += 1
    return None


@corruption(refuse=True)
def finding_of_nobody(obj: dict[str, Any], rnd: random.Random) -> str | None:
    obj["data"]["findings"].append({"kind": "payload", "signal": "shop.refunded", "message": "m", "count": 1,
                                    "first_test": "t.py::ghost", "first_index": 0})
    return None


@corruption(refuse=True)
def huge_number(obj: dict[str, Any], rnd: random.Random) -> str | None:
    return json.dumps(obj, separators=(",", ":")).replace('"count":2', '"count":' + "9" * rnd.choice([19, 400, 5000]), 1)


@corruption(refuse=True)
def not_a_number(obj: dict[str, Any], rnd: random.Random) -> str | None:
    return json.dumps(obj, separators=(",", ":")).replace(
        '"count":2', '"count":' + rnd.choice(["NaN", "Infinity", "-Infinity", "1e999"]), 1)


@corruption(refuse=True)
def deep_nesting(obj: dict[str, Any], rnd: random.Random) -> str | None:
    depth = rnd.choice([200, 5_000, 100_000])
    return json.dumps(obj, separators=(",", ":")).replace('"notes":[]', '"notes":' + "[" * depth + "]" * depth, 1)


@corruption(refuse=True)
def truncated(obj: dict[str, Any], rnd: random.Random) -> str | None:
    text = json.dumps(obj)
    return text[:rnd.randrange(0, len(text) - 1)]


@corruption(refuse=True)
def garbage_bytes(obj: dict[str, Any], rnd: random.Random) -> str | None:
    return "\x00" * 3 + "".join(chr(rnd.randrange(1, 0xD7FF)) for _ in range(rnd.randrange(1, 50)))


@corruption(refuse=True)
def edited_catalog(obj: dict[str, Any], rnd: random.Random) -> str | None:
    obj["catalogs"][0]["text"] += rnd.choice(["\n# edited", "\nproviders: {}", "\n&a [*a]"])
    return None


@corruption(refuse=True)
def deleted_key(obj: dict[str, Any], rnd: random.Random) -> str | None:
    top = ["format", "format_version", "plugin_version", "framework", "gates", "catalogs", "conformance", "data"]
    inner = ["version", "collected", "tests", "ignored", "deselected", "signals", "findings", "narrowed",
             "selection", "stopped", "lost", "workers", "notes"]
    key = rnd.choice(top + inner)
    del (obj if key in top else obj["data"])[key]
    return None


@corruption(refuse=False)
def an_unknown_key(obj: dict[str, Any], rnd: random.Random) -> str | None:
    obj[rnd.choice(["x-ci-job", "comment", "run_by"])] = rnd.choice(["build 7", 7, None])
    return None


@corruption(refuse=False)
def written_before_run_ids(obj: dict[str, Any], rnd: random.Random) -> str | None:
    obj.pop("runs", None)
    return None


@settings(SETTINGS, max_examples=300)
@given(which=st.sampled_from(CORRUPTIONS), seed=st.integers(0, 2**32 - 1),
       command=st.sampled_from(["report", "combine", "compare"]))
def test_corrupted_data_files_are_refused_or_read_exactly(tmp_path_factory: pytest.TempPathFactory,
                                                          which: Any, seed: int, command: str) -> None:
    name, corrupt, refuse = which
    tmp = tmp_path_factory.mktemp("corrupt")
    obj = json.loads(_valid_text())
    text = corrupt(obj, random.Random(seed))
    (tmp / "bad.data").write_text(text if text is not None else json.dumps(obj), encoding="utf-8",
                                  errors="surrogatepass")
    (tmp / "good.data").write_text(_valid_text(), encoding="utf-8")
    argv = {"report": ["report", "bad.data", "--format", "json:r.json"],
            "combine": ["combine", "good.data", "bad.data", "-o", "out.data"],
            "compare": ["compare", "good.data", "bad.data", "--format", "json:c.json"]}[command]

    def exact(run: Run) -> bool:  # the corruption changed nothing the report reads
        if command == "report":
            report = json.loads((tmp / "r.json").read_text(encoding="utf-8"))
            return (report["totals"]["emitted"], report["meta"]["tests"]) == (2, 3)
        if command == "combine":
            combined = json.loads((tmp / "out.data").read_text(encoding="utf-8"))
            return combined["data"]["signals"]["shop.refunded"]["count"] in (2, 4)
        return json.loads((tmp / "c.json").read_text(encoding="utf-8"))["regressions"] == []

    run = cli(argv, tmp, ["bad.data", "good.data"])
    count("data files: corrupted", judge(run, refuse=refuse, names=["bad.data"], check=exact),
          (name, seed, command, run.code, run.err[-400:], run.crash))


# -- combine --------------------------------------------------------------------------------------

@st.composite
def split_suite(draw: st.DrawFn) -> tuple[list[str], list[SessionData], list[bool]]:
    """A suite of tests, split into runs the way CI jobs split one: by selection (-m, -k), by file
    arguments (narrowed), with a test nobody ran at times."""
    n = draw(st.integers(2, 8))
    suite = [f"tests/test_{i}.py::test_{i}" for i in range(n)]
    k = draw(st.integers(1, 4))
    runs, narrowed = [], []
    for _ in range(k):
        ran = draw(st.lists(st.sampled_from(suite), min_size=1, unique=True))
        ran.sort(key=suite.index)
        narrow = draw(st.booleans())
        emits = {SIGNALS[i % 4]: [t] for i, t in enumerate(ran)}
        if narrow:
            runs.append(session(ran, emits, narrowed=["file or folder arguments (tests/x.py)"]))
        else:
            runs.append(session(ran, emits, collected=suite, deselected=[t for t in suite if t not in ran]))
        narrowed.append(narrow)
    return suite, runs, narrowed


@settings(SETTINGS, max_examples=120)
@given(split=split_suite(), order=st.randoms(use_true_random=False), copies=st.integers(0, 2))
def test_combine_is_exact_in_any_order_and_counts_each_run_once(tmp_path_factory: pytest.TempPathFactory,
                                                                split: Any, order: random.Random,
                                                                copies: int) -> None:
    suite, parts, narrowed = split
    tmp = tmp_path_factory.mktemp("combine")
    files = [write(tmp / f"run{i}.data", run_data(p)).name for i, p in enumerate(parts)]
    given_files = files + [order.choice(files) for _ in range(copies)]  # a file twice
    if copies:  # and a stray copy, as in a downloaded artifacts folder
        (tmp / "copy.data").write_bytes((tmp / files[0]).read_bytes())
        given_files.append("copy.data")
    shuffled = list(given_files)
    order.shuffle(shuffled)
    ran = set().union(*(p.tests for p in parts))
    whole = not all(narrowed) and all(t in ran for t in suite)
    expected_counts = Counter[str]()
    for p in parts:
        expected_counts.update(p.counts)

    def exact(run: Run) -> bool:
        combined = json.loads((tmp / "all.data").read_text(encoding="utf-8"))
        counts = {n: s["count"] for n, s in combined["data"]["signals"].items()}
        said_whole = run.out.rstrip().endswith("(whole suite)")
        duplicates_said = (len(given_files) == len(files)) or "counted once" in run.err
        return counts == dict(expected_counts) and said_whole == whole and duplicates_said

    run1 = cli(["combine", *given_files, "-o", "all.data"], tmp, given_files)
    outcome = judge(run1, refuse=False, check=exact)
    if outcome == "correct":  # the same bytes in another order
        first = (tmp / "all.data").read_bytes()
        run2 = cli(["combine", *reversed(shuffled), "-o", "all2.data"], tmp, given_files)
        outcome = judge(run2, refuse=False, check=lambda r: (tmp / "all2.data").read_bytes() == first)
    count("combine: split suites", outcome, (suite, [sorted(p.tests) for p in parts], narrowed, given_files,
                                             run1.out, run1.err))


def test_a_combined_file_and_its_own_inputs_together_are_refused(tmp_path: Path) -> None:
    a = write(tmp_path / "a.data", run_data(session(["t::a"], {"shop.refunded": ["t::a"]})))
    b = write(tmp_path / "b.data", run_data(session(["t::b"], {"shop.refunded": ["t::b"]})))
    assert cli(["combine", a.name, b.name, "-o", "ab.data"], tmp_path, [a.name, b.name]).code == 0
    run = cli(["combine", "ab.data", a.name, "-o", "again.data"], tmp_path, ["ab.data", a.name])
    count("combine: split suites", judge(run, refuse=True, names=["ab.data", "a.data"]), run.err)
    assert "hold some of the same runs" in run.err


# -- output paths against inputs --------------------------------------------------------------------

@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], list[str], list[str]]:
    """(argv, the inputs, the outputs) of a command, its outputs drawn from a pool that holds the
    inputs under other spellings (./x, an absolute path, a symlink, a hard link)."""
    command = draw(st.sampled_from(["combine", "report", "compare", "export", "scan"]))
    spellings = {"run.data": ["run.data", "./run.data", "{abs}/run.data", "link.data", "hard.data"],
                 "base.data": ["base.data", "sub/../base.data"],
                 "shop.yaml": ["shop.yaml", "./shop.yaml", "link.yaml"],
                 "pkg/emitters.py": ["pkg/emitters.py", "pkg/./emitters.py"]}
    fresh = ["out/a.json", "out/b.md", "new.data", "r.html", "x.yaml"]
    n = draw(st.integers(1, 3))
    if command == "combine":
        inputs = ["run.data", "base.data"]
    elif command == "report":
        inputs = draw(st.sampled_from([["run.data"], ["run.data", "base.data"]]))
    elif command == "compare":
        inputs = ["base.data", "run.data"]
    elif command == "export":
        inputs = ["shop.yaml"]
    else:
        inputs = ["pkg/emitters.py"]
    pool = fresh + [s for i in inputs for s in spellings[i]]
    outs = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=1 if command in ("combine", "export", "scan")
                         else n))
    kinds = draw(st.lists(st.sampled_from(["json", "markdown", "html"] if command == "report"
                                          else ["json", "markdown"]), min_size=len(outs), max_size=len(outs)))
    if command == "combine":
        argv = ["combine", *inputs, "-o", outs[0]]
    elif command == "report":
        argv = ["report", "run.data", *(["--base", "base.data"] if len(inputs) == 2 else [])]
        argv += [a for k, o in zip(kinds, outs) for a in ("--format", f"{k}:{o}")]
    elif command == "compare":
        argv = ["compare", "base.data", "run.data", *[a for k, o in zip(kinds, outs) for a in ("--format", f"{k}:{o}")]]
    elif command == "export":
        argv = ["catalog", "export", "shop.yaml", "--alone", "--format", "jsonschema", "-o", outs[0]]
    else:
        argv = ["catalog", "scan", "pkg", "-o", outs[0]]
    return argv, inputs, outs


def _target_of(path: str, tmp: Path) -> Path:
    p = Path(path.replace("{abs}", str(tmp)))
    return Path(os.path.realpath(tmp / p))


@settings(SETTINGS, max_examples=200)
@given(case=command_lines())
def test_no_command_writes_over_its_inputs_or_twice_on_one_file(tmp_path_factory: pytest.TempPathFactory,
                                                               case: Any) -> None:
    argv, inputs, outs = case
    tmp = tmp_path_factory.mktemp("clash")
    write(tmp / "run.data", run_data(session(["t::a"], {"shop.refunded": ["t::a"]})))
    write(tmp / "base.data", run_data(session(["t::a"], {})))
    (tmp / "sub").mkdir()
    (tmp / "link.data").symlink_to("run.data")
    os.link(tmp / "run.data", tmp / "hard.data")
    (tmp / "shop.yaml").write_text(CATALOG, encoding="utf-8")
    (tmp / "link.yaml").symlink_to("shop.yaml")
    (tmp / "pkg").mkdir()
    (tmp / "pkg" / "emitters.py").write_text("class A:\n    EMITS = ['shop.pre_checkout']\n", encoding="utf-8")
    argv = [a.replace("{abs}", str(tmp)) for a in argv]
    kinds = [a.split(":", 1)[0] for a in argv if ":" in a and not a.startswith("/")] or ["one"] * len(outs)
    distinct = list(dict.fromkeys(zip(kinds, outs)))  # a target given twice as written is one target
    targets = [_target_of(o, tmp) for _, o in distinct]

    def same(a: Path, b: Path) -> bool:
        return a == b or (a.exists() and b.exists() and os.path.samefile(a, b))

    clash = any(same(t, _target_of(i, tmp)) for t in targets for i in inputs) or any(
        same(a, b) for i, a in enumerate(targets) for b in targets[:i])
    run = cli(argv, tmp, inputs)

    def written(r: Run) -> bool:
        return all(t.is_file() and t.stat().st_size > 0 for t in targets)

    count("argument lists: outputs vs inputs", judge(run, refuse=clash, check=written, ok_codes=(0, 1)),
          (argv, run.code, run.err))


# -- catalogs ---------------------------------------------------------------------------------------

FIELD_BREACHES = [
    ("minimum: .nan", True), ("maximum: .inf", True), ("minimum: -.inf", True), ("minimum: 10, maximum: 1", True),
    ("enum: [2024-01-01]", True), ("enum: [2024-01-01 10:00:00]", True), ("enum: [.nan]", True),
    ("enum: [a, !!binary aGk=]", True), ("minimum: 0, maximum: 0", False), ("minimum: -1.5, maximum: 2.0e+3", False),
    ("enum: [a, '2024-01-01', 3, null]", False), ("minimum: " + "9" * 5000, True),
]


@settings(SETTINGS, max_examples=120)
@given(breach=st.sampled_from(FIELD_BREACHES), where=st.sampled_from(["common", "signal"]),
       fmt=st.sampled_from(["jsonschema", "asyncapi", "markdown"]))
def test_catalog_values_that_no_payload_can_meet_are_refused_with_the_key_path(
        tmp_path_factory: pytest.TempPathFactory, breach: tuple[str, bool], where: str, fmt: str) -> None:
    rule, refuse = breach
    tmp = tmp_path_factory.mktemp("catalog")
    field_spec = f"{{type: [number, string], nullable: true, {rule}}}"
    text = CATALOG.replace("operation_id: {type: string, format: uuid}",
                           f"operation_id: {{type: string, format: uuid}}\n  level: {field_spec}") \
        if where == "common" else CATALOG.replace("fields: {cart_id: string}\n",
                                                  f"fields: {{cart_id: string, level: {field_spec}}}\n", 1)
    (tmp / "c.yaml").write_text(text, encoding="utf-8")
    key = "common_fields.level" if where == "common" else "providers.shop.signals.pre_checkout.fields.level"

    def exported(run: Run) -> bool:
        out = (tmp / "out").read_text(encoding="utf-8")
        if fmt == "jsonschema":
            json.loads(out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))  # strict JSON
        return True

    run = cli(["catalog", "validate", "c.yaml"], tmp, ["c.yaml"])
    names = ["c.yaml", key] if "9999" not in rule else ["c.yaml"]
    count("catalogs: field values", judge(run, refuse=refuse, names=names), (rule, where, run.err))
    run = cli(["catalog", "export", "c.yaml", "--alone", "--format", fmt, "-o", "out"], tmp, ["c.yaml"])
    count("catalogs: field values", judge(run, refuse=refuse, names=names, check=exported), (rule, where, fmt, run.err))


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    """955 bytes that expand past 5 GB: refused before anything is built (a subprocess with a
    memory limit, in case it isn't)."""
    lines = ["format: kindling-signal-catalog/1", "a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(9)]
    lines += ["providers: {shop: {class: S, tier: high, signals: {x: {when: j}}}}"]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for argv in (["catalog", "validate", "bomb.yaml"], ["catalog", "export", "bomb.yaml", "--alone", "--format",
                                                        "markdown"]):
        run = subprocess_cli(argv, tmp_path)
        outcome = judge(run, refuse=True, names=["bomb.yaml", "alias"])
        count("concrete review cases", outcome, run.err)


# -- source trees to scan ------------------------------------------------------------------------------

SOURCES: dict[str, tuple[bytes, bool]] = {  # file content, whether its signal is found
    "good": (b"class A:\n    EMITS = ['shop.pre_checkout']\n", True),
    "syntax": (b"def broken(:\n    pass\n", False),
    "nul": (b"x = 1\x00\n", False),
    "deep": (b"x = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n", False),
    "deep_list": (b"x = " + b"[" * 180 + b"]" * 180 + b"\n", True),
    "latin1": ("# -*- coding: latin-1 -*-\nclass B:\n    EMITS = ['shop.refunded']  # caf\xe9\n".encode("latin-1"), True),
    "bom": (b"\xef\xbb\xbfclass C:\n    EMITS = ['shop.post_checkout']\n", True),
    "bogus_coding": (b"# coding: no-such-codec\nx = 1\n", False),
    "not_utf8": (b"x = '\xff\xfe'\n", False),
    "huge_line": (b"x = '" + b"a" * 200_000 + b"'\n", True),
}


@settings(SETTINGS, max_examples=80)
@given(kinds=st.lists(st.sampled_from(sorted(SOURCES)), min_size=1, max_size=5),
       loop=st.booleans(), fifo=st.booleans())
def test_scan_survives_any_source_and_names_what_it_skipped(tmp_path_factory: pytest.TempPathFactory,
                                                           kinds: list[str], loop: bool, fifo: bool) -> None:
    tmp = tmp_path_factory.mktemp("scan")
    pkg = tmp / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    for i, kind in enumerate(kinds):
        (pkg / f"m{i}_{kind}.py").write_bytes(SOURCES[kind][0])
    if loop:  # a symlink loop of folders and one of files
        (pkg / "sub").mkdir()
        (pkg / "sub" / "back").symlink_to(pkg, target_is_directory=True)
        (pkg / "self.py").symlink_to(pkg / "self.py")
    if fifo:
        os.mkfifo(pkg / "pipe.py")
    expect = {n for kind in kinds if SOURCES[kind][1] for n in re.findall(r"shop\.\w+", SOURCES[kind][0].decode("latin-1"))}
    skipped = [f"m{i}_{k}.py" for i, k in enumerate(kinds) if not SOURCES[k][1] and k != "good"]

    def found(run: Run) -> bool:
        text = (tmp / "out.yaml").read_text(encoding="utf-8")
        named = all(name in run.err for name in skipped) and (not loop or "self.py" in run.err) and (
            not fifo or "pipe.py" in run.err)
        return named and all(n.split(".")[1] + ":" in text for n in expect)

    run = cli(["catalog", "scan", str(pkg), "-o", "out.yaml"], tmp, [f"pkg/m{i}_{k}.py" for i, k in enumerate(kinds)])
    # no signal anywhere: "nothing to catalog", a clear error that still names what it skipped
    outcome = judge(run, refuse=not expect, names=skipped, check=found)
    count("catalog scan: source trees", outcome, (kinds, loop, fifo, run.err[-600:]))


# -- the review's concrete cases ---------------------------------------------------------------------------

def subprocess_cli(argv: Sequence[str], cwd: Path, timeout: float = 60) -> Run:
    """``kindling-signals`` in a process of its own, limited to 2 GiB of memory (a bomb that gets
    through fails there, not on this machine)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    try:
        done = subprocess.run([sys.executable, "-m", "pytest_kindling_signals", *argv], cwd=cwd, capture_output=True,
                              text=True, timeout=timeout, preexec_fn=limit, check=False)
    except subprocess.TimeoutExpired:
        return Run(None, "", "", hang=True)
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "fast.data", run_data(session(
        ["t.py::a", "t.py::b"], {"shop.pre_checkout": ["t.py::a"]},
        collected=["t.py::a", "t.py::b", "t.py::c"], deselected=["t.py::c"])))
    write(tmp_path / "spark.data", run_data(session(
        ["t.py::c"], {"shop.refunded": ["t.py::c"]},
        collected=["t.py::a", "t.py::b", "t.py::c"], deselected=["t.py::a", "t.py::b"])))
    (tmp_path / "shop.yaml").write_text(CATALOG, encoding="utf-8")
    # a user's catalog as pytest merges it: the framework's common fields inherited
    (tmp_path / "user.yaml").write_text(SHOP_CATALOG, encoding="utf-8")
    return tmp_path


def _partial_combined(run: Run) -> bool:
    return "(partial: " in run.out


CONCRETE: list[tuple[str, list[str], bool, list[str], Callable[[Run, Path], bool] | None]] = [
    # combine
    ("two partial jobs stay partial", ["combine", "fast.data", "-o", "c.data"], False, [],
     lambda r, p: _partial_combined(r)),
    ("the same file twice counts once", ["combine", "fast.data", "fast.data", "-o", "c.data"], False, [],
     lambda r, p: "counted once" in r.err and json.loads((p / "c.data").read_text())["data"]["signals"][
         "shop.pre_checkout"]["count"] == 2),
    ("split jobs combine whole", ["combine", "spark.data", "fast.data", "-o", "c.data"], False, [],
     lambda r, p: r.out.rstrip().endswith("(whole suite)")),
    ("combine onto an input", ["combine", "fast.data", "spark.data", "-o", "fast.data"], True, ["fast.data"], None),
    ("combine's default output is an input", ["combine", ".kindling-signals", "spark.data"], True,
     [".kindling-signals"], None),
    ("combine into a new folder", ["combine", "fast.data", "spark.data", "-o", "new/dir/all.data"], False, [],
     lambda r, p: (p / "new" / "dir" / "all.data").is_file()),
    # report
    ("report onto its data", ["report", "fast.data", "--format", "html:fast.data"], True, ["fast.data"], None),
    ("report onto its base", ["report", "fast.data", "--base", "spark.data", "--format", "json:spark.data"], True,
     ["spark.data"], None),
    ("two outputs on one file", ["report", "fast.data", "--format", "json:r.out", "--format", "markdown:./r.out"],
     True, ["r.out"], None),
    ("one unwritable output, the others written", ["report", "fast.data", "--format", "json:fast.data/x.json",
                                                   "--format", "markdown:r.md", "--fail-under", "100"], True,
     ["fast.data/x.json"], lambda r, p: False),
    ("a typed gate applies to partial data", ["report", "fast.data", "--fail-under", "100"], True, ["FAILED"], None),
    ("the data file is a FIFO", ["report", "fifo.data"], True, ["fifo.data", "FIFO"], None),
    ("the data file is a folder", ["report", "."], True, ["folder"], None),
    ("the data file is /dev/zero", ["report", "/dev/zero"], True, ["/dev/zero"], None),
    # compare
    ("compare onto its base", ["compare", "fast.data", "spark.data", "--format", "json:fast.data"], True,
     ["fast.data"], None),
    ("compare onto its head", ["compare", "fast.data", "spark.data", "--format", "markdown:./spark.data"], True,
     ["spark.data"], None),
    # export and scan
    ("export onto its catalog", ["catalog", "export", "shop.yaml", "--alone", "--format", "jsonschema", "-o",
                                 "shop.yaml"], True, ["shop.yaml"], None),
    ("export merges the framework's catalog", ["catalog", "export", "user.yaml", "--format", "jsonschema", "-o",
                                               "s.json"], False, [],
     lambda r, p: "entity.post_merge" in json.loads((p / "s.json").read_text())["$defs"]
     and "timestamp" in json.loads((p / "s.json").read_text())["$defs"]["shop.refunded"]["required"]),
    ("export alone is the file alone", ["catalog", "export", "user.yaml", "--alone", "--format", "jsonschema", "-o",
                                        "s.json"], False, [],
     lambda r, p: list(json.loads((p / "s.json").read_text())["$defs"]) == SIGNALS
     and "timestamp" not in json.loads((p / "s.json").read_text())["$defs"]["shop.refunded"]["required"]),
    ("scan onto a scanned module", ["catalog", "scan", "pkg", "-o", "pkg/m.py"], True, ["pkg/m.py"], None),
    ("scan onto its only file", ["catalog", "scan", "pkg/m.py", "-o", "pkg/m.py"], True, ["pkg/m.py"], None),
]


@pytest.mark.parametrize("name, argv, refuse, names, check", CONCRETE, ids=[c[0] for c in CONCRETE])
def test_the_reviews_concrete_cases(project: Path, name: str, argv: list[str], refuse: bool, names: list[str],
                                    check: Callable[[Run, Path], bool] | None) -> None:
    os.mkfifo(project / "fifo.data")
    write(project / ".kindling-signals", run_data(session(["t.py::x"], {})))
    (project / "pkg").mkdir()
    (project / "pkg" / "m.py").write_text("class A:\n    EMITS = ['shop.pre_checkout']\n", encoding="utf-8")
    inputs = ["fast.data", "spark.data", "shop.yaml", ".kindling-signals", "pkg/m.py"]
    run = cli(argv, project, inputs, timeout=30)
    if name == "one unwritable output, the others written":  # refused for the unwritable one, r.md written, verdict last
        outcome = judge(run, refuse=True, names=names)
        if outcome == "clear error" and not ((project / "r.md").is_file()
                                             and run.out.splitlines()[-1].startswith("kindling-signals: FAILED")):
            outcome = "wrong"
    else:
        outcome = judge(run, refuse=refuse, names=names, check=None if check is None else lambda r: check(r, project))
    count("concrete review cases", outcome, (name, run.code, run.out[-300:], run.err[-300:]))


def test_a_concurrent_writer_of_one_data_file_fails_clearly(project: Path) -> None:
    from pytest_kindling_signals.report import DataLock

    with DataLock(project / "all.data"):  # another run is making all.data
        run = cli(["combine", "fast.data", "spark.data", "-o", "all.data"], project, ["fast.data", "spark.data"])
    outcome = judge(run, refuse=True, names=["all.data", "another run"])
    count("concrete review cases", outcome, run.err)
    assert not (project / "all.data").exists()


def test_a_symlinked_data_file_stays_a_symlink(project: Path) -> None:
    (project / "kept").mkdir()
    (project / "latest.data").symlink_to(project / "kept" / "all.data")
    run = cli(["combine", "fast.data", "spark.data", "-o", "latest.data"], project, ["fast.data", "spark.data"])
    outcome = judge(run, refuse=False, check=lambda r: (project / "latest.data").is_symlink()
                    and (project / "kept" / "all.data").is_file())
    count("concrete review cases", outcome, run.err)


def test_plugin_versions_compare_as_versions(project: Path) -> None:
    for name, version in (("old.data", "0.9.1"), ("new.data", "0.10.0")):
        run = run_data(session(["t.py::" + name], {}))
        run.plugin_version = version
        write(project / name, run)
    run = cli(["combine", "old.data", "new.data", "-o", "c.data"], project, ["old.data", "new.data"])
    outcome = judge(run, refuse=False, check=lambda r: json.loads((project / "c.data").read_text())[
        "plugin_version"] == "0.10.0")
    count("concrete review cases", outcome, run.err)


@pytest.mark.parametrize("depth, digits", [(100_000, 0), (0, 5_000)])
def test_a_bomb_of_a_data_file_is_refused_in_bounded_time_and_memory(project: Path, depth: int, digits: int) -> None:
    text = (project / "fast.data").read_text(encoding="utf-8")
    if depth:
        text = text.replace('"notes":[]', '"notes":' + "[" * depth + "]" * depth, 1)
    else:
        text = text.replace('"count":2', '"count":' + "7" * digits, 1)
    (project / "bomb.data").write_text(text, encoding="utf-8")
    run = subprocess_cli(["report", "bomb.data"], project)
    count("concrete review cases", judge(run, refuse=True, names=["bomb.data"]), run.err[-300:])


def test_a_payload_that_cannot_be_validated_is_a_finding_with_the_reason() -> None:
    from pytest_kindling_signals.catalog import parse_catalog
    import yaml

    catalog = parse_catalog(yaml.safe_load(CATALOG), "shop.yaml")
    looped: list[Any] = []
    looped.append(looped)
    deep: Any = []
    for _ in range(5_000):
        deep = [deep]
    for value, reason in ((looped, "contains itself"), (deep, "nested more than 100 levels")):
        violations = catalog.validate("shop.refunded", {"operation_id": "0b6f9d3e-4d1c-4a57-9d33-2f1f0e7c1a10",
                                                        "amount": value})
        outcome = "correct" if [v.field.split("[")[0] for v in violations] == ["amount"] and reason in str(
            violations[0]) else "silent"
        count("concrete review cases", outcome, violations)


def test_a_payload_that_cannot_be_validated_fails_a_strict_run_with_the_reason(pytester: pytest.Pytester) -> None:
    """The report's collector (``--kindling-signals-strict``) and ``check_contract`` (what
    ``assert_contract()`` runs) report it; neither drops it nor crashes."""
    from report_project import SHOP_MODULE

    pytester.makefile(".yaml", shop_catalog=SHOP_CATALOG)
    pytester.makepyfile(shop=SHOP_MODULE, test_loop=(
        "from shop import new_shop\n\n\ndef test_loop():\n    looped = []\n    looped.append(looped)\n"
        "    new_shop().emit('shop.refunded', amount=looped)\n"))
    pytester.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\n")
    result = pytester.runpytest("--kindling-signals", "--kindling-signals-strict", "-p", "no:randomly")
    text = result.stdout.str()
    outcome = "correct" if (result.ret == pytest.ExitCode.TESTS_FAILED and "contains itself" in text
                            and "1 payload violations (shop.refunded)" in text) else "silent"
    count("concrete review cases", outcome, text[-1500:])

    from pytest_kindling_signals.catalog import check_contract, load_catalog

    catalog = load_catalog(pytester.path / "shop_catalog.yaml", inherit_from=None)
    looped: list[Any] = []
    looped.append(looped)

    @dataclass
    class Record:
        name: str
        payload: dict[str, Any]

    findings = check_contract([Record("shop.refunded", {"amount": looped})], catalog)
    outcome = "correct" if any("contains itself" in str(f) for f in findings) else "silent"
    count("concrete review cases", outcome, findings)


def test_a_second_pytest_run_on_one_data_file_fails_at_its_start(pytester: pytest.Pytester) -> None:
    from pytest_kindling_signals.report import DataLock

    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    with DataLock(pytester.path / "shared.data"):  # a run in progress, making shared.data
        result = pytester.runpytest_subprocess("--kindling-signals", "--kindling-signals-data=shared.data")
    text = result.stderr.str()
    outcome = "clear error" if (result.ret == pytest.ExitCode.USAGE_ERROR and "another run is writing this data file"
                                in text and "shared.data" in text) else "silent"
    count("concrete review cases", outcome, (result.ret, text))
    assert not (pytester.path / "shared.data").exists()
    result = pytester.runpytest_subprocess("--kindling-signals", "--kindling-signals-data=shared.data")
    assert result.ret == pytest.ExitCode.OK and (pytester.path / "shared.data").is_file()  # free again


@pytest.mark.parametrize("option", ["--kindling-signals-report=json:shop_catalog.yaml",
                                    "--kindling-signals-data=./shop_catalog.yaml"])
def test_pytest_never_writes_a_report_or_its_data_over_a_catalog(pytester: pytest.Pytester, option: str) -> None:
    from report_project import SHOP_MODULE, SHOP_TESTS

    pytester.makefile(".yaml", shop_catalog=SHOP_CATALOG)
    pytester.makepyfile(shop=SHOP_MODULE, test_shop=SHOP_TESTS)
    pytester.makeini("[pytest]\nkindling_signals_catalogs = shop_catalog.yaml\n")
    before = (pytester.path / "shop_catalog.yaml").read_bytes()
    result = pytester.runpytest("--kindling-signals", option)
    text = result.stderr.str()
    outcome = "clear error" if (result.ret == pytest.ExitCode.USAGE_ERROR and "would write over the catalog"
                                in text) else "silent"
    if (pytester.path / "shop_catalog.yaml").read_bytes() != before:
        outcome = "input destroyed"
    count("concrete review cases", outcome, (result.ret, text))

"""Where users wait (issue 22), as ratios measured side by side in one run, with the load at each figure.

Run from the repository root::

    python bench/bench_parallel.py                           # every part below
    python bench/bench_parallel.py --only start,fixture      # some of them
    python bench/bench_parallel.py --spark-kindling-python /path/to/skvenv/bin/python

Parts (each prints its lines as ``name: ... ratio (target) OK|MISSED``):

``contract``
    ``pytest tests/contract --kindling-signals`` serially, then with ``-n 2``
    (pytest-xdist, ``--dist loadfile``), each in a fresh interpreter (a cold JVM
    per process, Delta's jars from the shared cache); the wall-time ratio
    (target <= 0.65x) and whether the two JSON reports agree (workers, each
    test's timeline and how often a session started aside).
``start``
    a Delta session in a fresh interpreter as the first test got it before
    (``configure_spark_with_delta_pip``: Ivy resolves Delta's jars at every
    start), from the jar cache, with the run's JVM options, and as a test run
    starts it now (also the driver's class archive, made first by one untimed
    run if the machine has none), each followed by the first Delta table;
    interleaved, medians, wall and CPU (the Python process and its JVM).
    Target: the warm start <= 0.5x the old first-test setup (start + first table).
``fixture``
    a generated project that declares 300 entities and 300 pipes at import,
    tests of ``spark`` alone (a bare session test), ``spark`` +
    ``signal_recorder``, the same declaring one entity, and no fixture at all;
    each test's whole protocol (setup, call, teardown), medians, the plugin's
    per-test registry restore on and off (target: the restore 0 for a test
    that changes nothing, <= 1 ms with 300 + 300 declared).
``report``
    ``bench/bench_report_heavy.py`` (report on vs off on 100,000 emissions;
    targets <= 1.5x valid, <= 2x invalid).
``spark-kindling``
    with ``--spark-kindling-python``, the spark-kindling scripts
    (``bench/bench_spark_kindling*.py``) run with that interpreter, then the
    spark-kindling suite (``tests/spark_kindling``, in a copy) serially and under
    ``-n 2 --dist loadscope``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("contract", "start", "fixture", "report", "spark-kindling")


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


class TreeCPU(threading.Thread):
    """The CPU time of the processes under a process, read from /proc twice a second: pyspark
    never waits for its JVM, so ``RUSAGE_CHILDREN`` misses the JVMs; and, per direct child
    (a pytest-xdist worker), what its subtree used."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.done = root, threading.Event()
        # pid -> (parent, own CPU, CPU of the children it waited for, a JVM?)
        self.seen: dict[int, tuple[int, float, float, bool]] = {}
        self.tick = os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        stats: dict[int, tuple[int, float, float, bool]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    name, rest = (entry / "stat").read_text().rsplit(")", 1)
                except (OSError, ValueError):
                    continue
                f = rest.split()
                stats[int(entry.name)] = (int(f[1]), (int(f[11]) + int(f[12])) / self.tick,
                                          (int(f[13]) + int(f[14])) / self.tick, name.endswith("(java"))
        mine = {self.root} | set(self.seen)
        for _ in range(8):  # parents before children, a few levels deep
            mine |= {pid for pid, st in stats.items() if st[0] in mine}
        for pid in mine & stats.keys():
            parent = self.seen[pid][0] if pid in self.seen else stats[pid][0]  # not init's, once orphaned
            self.seen[pid] = (parent, *stats[pid][1:])

    def run(self) -> None:
        while not self.done.wait(0.5):
            self._sample()

    def jvms(self) -> float:
        """What the JVMs used (never waited for by their Python process)."""
        self.done.set()
        self.join()
        return sum(cpu for _, cpu, _, java in self.seen.values() if java)

    def workers(self) -> list[float]:
        """Each direct child's subtree: its own CPU, what it waited for, its JVMs'."""
        def under(pid: int) -> float:
            ppid, cpu, waited, java = self.seen[pid]
            kids = [p for p, st in self.seen.items() if st[0] == pid]
            return cpu + waited + sum(under(k) for k in kids if self.seen[k][3] or not waited)
        return [under(p) for p, st in self.seen.items() if st[0] == self.root and not st[3]]


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
          timeout: float = 3600) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall s, CPU s of the process and every process under it, the result)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cpu = TreeCPU(popen.pid)
    cpu.start()
    try:
        stdout, stderr = popen.communicate(timeout=timeout)
    finally:
        if popen.poll() is None:
            popen.kill()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the process and what it waited for
    waited = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    total = waited + cpu.jvms()
    LAST_WORKERS[:] = cpu.workers()
    return wall, total, subprocess.CompletedProcess(cmd, popen.returncode, stdout, stderr)


#: The CPU of each xdist worker's subtree in the last :func:`timed` run (empty when serial).
LAST_WORKERS: list[float] = []


def verdict(ratio: float, target: float) -> str:
    return f"(target <= {target:g}x) {'OK' if ratio <= target else 'MISSED'}"


# -- the contract suite, serial vs -n 2 -------------------------------------------------

def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A JSON report without what differs between any two runs (the workers, each test's
    timeline: its clock and ids) or between one process and one per worker: how many times
    a session- or module-scoped fixture emitted (it runs in each worker that needs it: the
    Spark session's ``session.created``, a module's built wheels)."""
    report = json.loads(json.dumps(report))
    report["meta"].pop("workers", None)
    for signal in report["signals"].values():
        if any(t.startswith("<fixture ") for t in signal.get("tests", ())):
            report["meta"]["emissions"] = report["meta"].get("emissions", 0) - signal.pop("count")
    for test in report.get("tests", {}).values():
        test.pop("timeline", None)
    return report


def differences(a: Any, b: Any, where: str = "") -> list[tuple[str, Any, Any]]:
    """Where two JSON values differ: (path, one, other), at most 20."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            found += differences(a.get(key), b.get(key), f"{where}.{key}")
        return found[:20]
    return [] if a == b else [(where or ".", a, b)]


def part_contract(args: argparse.Namespace, out: Callable[[str], None]) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        base = [sys.executable, "-m", "pytest", "tests/contract", "-q", "-p", "no:randomly",
                "-p", "no:cacheprovider", "--kindling-signals"]
        times: dict[str, list[tuple[float, float]]] = {"serial": [], "-n 2": []}
        reports: dict[str, dict[str, Any]] = {}
        kinds: tuple[tuple[str, list[str]], ...] = (("serial", []), ("-n 2", ["-n", "2", "--dist", args.dist]))
        for r in range(args.contract_rounds):
            for name, extra in (kinds if r % 2 == 0 else kinds[::-1]):
                path = Path(tmp) / f"{name.replace(' ', '')}.json"
                before = load()
                env = dict(os.environ)
                if extra and args.parallel_master:
                    env["KINDLING_SPARK_MASTER"] = args.parallel_master
                wall, cpu, proc = timed([*base, *extra, f"--kindling-signals-report=json:{path}"], ROOT, env)
                tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
                workers = [w for w in LAST_WORKERS if w > 1.0]
                per = f" (workers: {', '.join(f'{w:.0f}' for w in workers)} s cpu)" if len(workers) > 1 else ""
                out(f"contract {name:6}: {wall:7.1f} s wall, {cpu:7.1f} s cpu{per}, exit {proc.returncode} ({tail}); "
                    f"{before} -> {load()}")
                if proc.returncode != 0 or not path.is_file():
                    out(f"contract {name}: failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
                    return False
                times[name].append((wall, cpu))
                reports[name] = json.loads(path.read_text(encoding="utf-8"))
    runs = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    ratio = runs["-n 2"][0] / runs["serial"][0]
    same = comparable(reports["serial"]) == comparable(reports["-n 2"])
    for where, a, b in differences(comparable(reports["serial"]), comparable(reports["-n 2"])):
        out(f"contract: the reports differ at {where}: serial {a!r:.200} | -n 2 {b!r:.200}")
    out(f"contract: -n 2 / serial {ratio:.2f}x wall on the medians ({runs['-n 2'][1] / runs['serial'][1]:.2f}x cpu) "
        f"{verdict(ratio, 0.65)}; reports {'equal' if same else 'DIFFER'}")
    return ratio <= 0.65 and same


# -- a cold session start vs a warm one --------------------------------------------------

START = r'''
import json, os, sys, tempfile, time
t0 = time.perf_counter()
from kindling.spark_session import SparkSessionProvider
provider = SparkSessionProvider()
if sys.argv[1] == "cold":  # as the first test got it before: Ivy resolves Delta's jars at every start
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession
    builder = SparkSession.builder.appName("kindling").master("local[*]")
    for key, value in provider._settings().items():
        builder = builder.config(key, value)
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
else:  # now: from the resolved jars' local paths
    spark = provider.get_session()
t1 = time.perf_counter()
jvm = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()

def cpu():  # this process and its JVM: what they used of the cores, whatever else ran
    fields = open(f"/proc/{jvm}/stat").read().rsplit(")", 1)[1].split()
    return time.process_time() + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

c1 = cpu()
spark.range(3).write.format("delta").save(tempfile.mkdtemp() + "/first")
t2 = time.perf_counter()
print("START " + json.dumps({"start": t1 - t0, "table": t2 - t1, "cpu_start": c1, "cpu_table": cpu() - c1,
                             "jars": spark.sparkContext.getConf().get("spark.jars.packages", None)}))
if len(sys.argv) > 2:  # the run that dumps the class archive: its JVM exits normally, and is waited for
    from pytest_kindling_signals.spark.class_sharing import shut_down_gateway
    print("JVM_EXIT", shut_down_gateway(sys.argv[2]))
'''


START_KINDS = {"cold": "as the first test got it before (Ivy resolves at every start)",
               "cache": "from the jar cache",
               "now": "from the jar cache, with the test run's JVM options (no class archive)",
               "cds": "as the plugin starts it: the jar cache, the run's JVM options and the class archive"}


def class_archive_options(env: dict[str, str], out: Callable[[str], None]) -> str | None:
    """The JVM options that map this machine's class archive, made first (one untimed run) if there is none."""
    from pytest_kindling_signals.spark import ENV_DRIVER_JAVA_OPTIONS, TEST_JAVA_OPTIONS, ClassArchive

    archive = ClassArchive()
    options = archive.java_options()
    if archive.dumping is not None:
        dump_env = {**env, ENV_DRIVER_JAVA_OPTIONS: f"{TEST_JAVA_OPTIONS} {options}"}
        _, _, proc = timed([sys.executable, "-c", START, "warm", str(archive.dumping)], ROOT, dump_env, timeout=900)
        code = next((ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("JVM_EXIT ")), "None")
        made = archive.finish(int(code) if code.lstrip("-").isdigit() else None)
        out(f"start: made the class archive {made} (its JVM exited {code})")
        options = archive.java_options()
    archive.finish(None)
    return options if "SharedArchiveFile" in options else None


def part_start(args: argparse.Namespace, out: Callable[[str], None]) -> bool:
    from pytest_kindling_signals.spark import ENV_DRIVER_JAVA_OPTIONS, TEST_JAVA_OPTIONS

    got: dict[str, list[dict[str, float]]] = {k: [] for k in START_KINDS}
    base_env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    base_env.pop(ENV_DRIVER_JAVA_OPTIONS, None)
    shared = class_archive_options(base_env, out)
    if shared is None:
        out("start: no class archive (no Java or Spark found, or another process is making one)")
        return False
    for r in range(args.rounds):
        for kind in (list(START_KINDS) if r % 2 == 0 else list(reversed(START_KINDS))):
            env = dict(base_env)
            if kind == "now":
                env[ENV_DRIVER_JAVA_OPTIONS] = TEST_JAVA_OPTIONS
            if kind == "cds":
                env[ENV_DRIVER_JAVA_OPTIONS] = f"{TEST_JAVA_OPTIONS} {shared}"
            before = load()
            _, _, proc = timed([sys.executable, "-c", START, "cold" if kind == "cold" else "warm"], ROOT, env,
                               timeout=900)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("START ")), None)
            if line is None:
                out(f"start {kind}: failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
                return False
            d = json.loads(line[6:])
            got[kind].append(d)
            out(f"start {kind:5} round {r + 1}: session {d['start']:.2f} s ({d['cpu_start']:.2f} s cpu), first "
                f"table {d['table']:.2f} s ({d['cpu_table']:.2f} s cpu); {before}")
    fields = ("start", "table", "cpu_start", "cpu_table")
    med = {k: {f: statistics.median(d[f] for d in v) for f in fields} for k, v in got.items()}
    for kind, what in START_KINDS.items():
        m = med[kind]
        out(f"start: {kind:5} {what}: session {m['start']:.2f} s + first table {m['table']:.2f} s wall; "
            f"{m['cpu_start']:.2f} s + {m['cpu_table']:.2f} s cpu (medians)")
    ok = True
    for unit, start, table in (("wall", "start", "table"), ("cpu", "cpu_start", "cpu_table")):
        cold, now, cache = med["cold"], med["now"], med["cache"]
        cold_setup = cold[start] + cold[table]
        ratio = now[start] / cold_setup
        out(f"start ({unit}): the session now / the old first-test setup = {ratio:.2f}x {verdict(ratio, 0.5)}; "
            f"session alone now / before {now[start] / cold[start]:.2f}x (the jar cache alone "
            f"{cache[start] / cold[start]:.2f}x); first-test setup now / before "
            f"{(now[start] + now[table]) / cold_setup:.2f}x")
        ok &= ratio <= 0.5
        archived = med["cds"]
        ratio = archived[start] / cold_setup
        out(f"start ({unit}): the session with the class archive / the old first-test setup = {ratio:.2f}x "
            f"{verdict(ratio, 0.5)}; with / without the archive: session {archived[start] / now[start]:.2f}x, "
            f"first-test setup {(archived[start] + archived[table]) / (now[start] + now[table]):.2f}x")
    return ok


# -- the plugin fixture's per-test cost ---------------------------------------------------

FIXTURE_CONFTEST = '''
import contextlib, json, os, time
import pytest
from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes

for i in range(300):
    DataEntities.entity(entityid=f"bronze.e{i}", name=f"bronze_e{i}", merge_columns=["id"], schema="id INT")
    DataPipes.pipe(pipeid=f"p{i}", name=f"P {i}", tags={}, input_entity_ids=[f"bronze.e{i}"],
                   output_entity_id=f"bronze.e{(i + 1) % 300}", output_type="table")(lambda **inputs: inputs)

if os.environ.get("BENCH_NO_RESET"):  # the plugin's per-test restore taken out
    from kindling.pytest_framework import KindlingFramework
    KindlingFramework.isolation = lambda self: contextlib.nullcontext()

TIMES = {}

def pytest_collection_modifyitems(items):
    # interleaved (bare 0, recorder 0, declares 0, no fixture 0, bare 1...): the load drifts alike on all
    items.sort(key=lambda item: (item.callspec.params["i"], item.originalname))

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        TIMES[item.nodeid] = time.perf_counter() - start

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_OUT"], "w") as f:
        json.dump(TIMES, f)
'''
FIXTURE_TESTS = '''
import pytest
from kindling.data_entities import DataEntities

N = int(__import__("os").environ["BENCH_TESTS"])

@pytest.mark.parametrize("i", range(N))
def test_bare(spark, i):
    pass

@pytest.mark.parametrize("i", range(N))
def test_recorder(spark, signal_recorder, i):
    pass

@pytest.mark.parametrize("i", range(N))
def test_declares(spark, signal_recorder, i):
    DataEntities.entity(entityid="silver.mine", name="silver_mine", merge_columns=["id"], schema="id INT")

@pytest.mark.parametrize("i", range(N))
def test_no_fixture(i):
    pass
'''
VARIANTS = {"test_bare": "spark (a bare session test)", "test_recorder": "spark + signal_recorder",
            "test_declares": "spark + signal_recorder, declares an entity", "test_no_fixture": "no fixture"}


def _isolation_micro(rounds: int) -> dict[str, float]:
    """The restore itself, in process, with 300 entities and 300 pipes declared: before (a full
    snapshot and restore) and now (what the test changed), around a test that declares nothing
    and one that declares an entity. Microseconds per test."""
    from kindling import registries
    from kindling.data_entities import DataEntities
    from kindling.data_pipes import DataPipes

    for i in range(300):  # declared for good: this process ends with the bench
        DataEntities.entity(entityid=f"bronze.m{i}", name=f"bronze_m{i}", merge_columns=["id"], schema="id INT")
        DataPipes.pipe(pipeid=f"m{i}", name=f"M {i}", tags={}, input_entity_ids=[f"bronze.m{i}"],
                       output_entity_id=f"bronze.m{(i + 1) % 300}", output_type="table")(lambda **inputs: inputs)

    def declare() -> None:
        DataEntities.entity(entityid="silver.x", name="silver_x", merge_columns=["id"], schema="id INT")

    def old(body: Callable[[], None]) -> None:
        saved = registries.snapshot()
        body()
        registries.restore(saved)

    def new(body: Callable[[], None]) -> None:
        with registries.isolated():
            body()

    def nothing() -> None:
        pass

    def timing(f: Callable[[], None]) -> float:
        best = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(rounds):
                f()
            best.append(time.perf_counter() - t)
        return min(best) / rounds * 1e6

    return {"the declaration alone (no restore)": timing(declare),
            "snapshot+restore, declares nothing": timing(lambda: old(nothing)),
            "isolated(), declares nothing": timing(lambda: new(nothing)),
            "snapshot+restore, declares an entity": timing(lambda: old(declare)),
            "isolated(), declares an entity": timing(lambda: new(declare))}


def part_fixture(args: argparse.Namespace, out: Callable[[str], None]) -> bool:
    micro = _isolation_micro(2000)
    before = load()
    for what, us in micro.items():
        out(f"fixture: in process, 300 + 300 declared: {what}: {us:8.2f} us per test")
    medians: dict[bool, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "pytest.ini").write_text("[pytest]\n")
        (project / "conftest.py").write_text(FIXTURE_CONFTEST)
        (project / "test_fixture_cost.py").write_text(FIXTURE_TESTS)
        for reset in (True, False):
            env = {**os.environ, "BENCH_OUT": str(project / "times.json"), "BENCH_TESTS": str(args.tests),
                   "SPARK_LOCAL_IP": "127.0.0.1"}
            if not reset:
                env["BENCH_NO_RESET"] = "1"
            _, _, proc = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p",
                                "no:cacheprovider", "test_fixture_cost.py"], project, env, timeout=1800)
            if proc.returncode != 0:
                out(f"fixture: the project failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
                return False
            times = json.loads((project / "times.json").read_text())
            medians[reset] = {}
            for variant in VARIANTS:
                mine = [t for node, t in times.items() if f"::{variant}[" in node][1:]  # the first starts fixtures
                medians[reset][variant] = statistics.median(mine) * 1e3
    for variant, label in VARIANTS.items():
        on, off = medians[True][variant], medians[False][variant]
        out(f"fixture: {label:45} {on:6.3f} ms per test ({off:6.3f} ms without the restore: "
            f"{(on - off) * 1e3:+7.1f} us)")
    bare = medians[True]["test_bare"]
    out(f"fixture: spark + signal_recorder vs a bare session test: {medians[True]['test_recorder'] - bare:+.3f} ms "
        f"per test ({medians[True]['test_recorder'] / bare:.2f}x); {before} -> {load()}")
    restore_idle = micro["isolated(), declares nothing"]
    restore_declares = micro["isolated(), declares an entity"] - micro["the declaration alone (no restore)"]
    ok = restore_declares <= 1000
    out(f"fixture: the restore: {restore_idle:.2f} us for a test that changes nothing (it restores nothing: "
        f"the block's bookkeeping), ~{max(restore_declares, 0):.1f} us more for one that declares an entity "
        f"(target <= 1 ms) {'OK' if ok else 'MISSED'}")
    return ok


# -- report on vs off; spark-kindling's lines -------------------------------------------

def part_report(args: argparse.Namespace, out: Callable[[str], None]) -> bool:
    spec = importlib.util.spec_from_file_location("bench_report_heavy", ROOT / "bench" / "bench_report_heavy.py")
    assert spec is not None and spec.loader is not None
    heavy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(heavy)
    out(f"report: bench/bench_report_heavy.py --pairs {args.pairs}; {load()}")
    return int(heavy.main(["--pairs", str(args.pairs)])) == 0


def part_spark_kindling(args: argparse.Namespace, out: Callable[[str], None]) -> bool:
    if not args.spark_kindling_python:
        out("spark-kindling: skipped (give --spark-kindling-python: a spark-kindling virtualenv's Python "
            "with the plugin installed)")
        return True
    ok = True
    for script in sorted((ROOT / "bench").glob("bench_spark_kindling*.py")):
        before = load()
        with tempfile.TemporaryDirectory() as away:  # not the repository: its kindling is this project's
            wall, _, proc = timed([args.spark_kindling_python, str(script)], Path(away), timeout=7200)
        out(f"spark-kindling: {script.name} ({wall:.0f} s, exit {proc.returncode}; {before} -> {load()}):")
        for line in (proc.stdout + proc.stderr).strip().splitlines()[-40:]:
            out(f"  {line}")
        ok &= proc.returncode == 0
    return ok and suite_serial_vs_xdist(args, out)


def suite_serial_vs_xdist(args: argparse.Namespace, out: Callable[[str], None]) -> bool:
    """``tests/spark_kindling`` (a user's project: no conftest) serially, then under ``-n 2 --dist
    loadscope`` as spark-kindling-cli runs a project's tests, each in a copy of its own."""
    walls: dict[str, float] = {}
    for name, extra in (("serial", []), ("-n 2", ["-n", "2", "--dist", "loadscope"])):
        with tempfile.TemporaryDirectory() as away:
            project = Path(away) / "suite"
            shutil.copytree(ROOT / "tests" / "spark_kindling", project, ignore=shutil.ignore_patterns(
                "__pycache__", ".pytest_cache", ".hypothesis", ".kindling-signals*", "artifacts"))
            before = load()
            wall, cpu, proc = timed([args.spark_kindling_python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                     "--kindling-signals", *extra], project, timeout=3600)
        tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
        out(f"spark-kindling suite {name:6}: {wall:7.1f} s wall, {cpu:7.1f} s cpu, exit {proc.returncode} "
            f"({tail}); {before} -> {load()}")
        if proc.returncode != 0:
            out(proc.stdout[-3000:])
            return False
        walls[name] = wall
    out(f"spark-kindling suite: -n 2 --dist loadscope / serial {walls['-n 2'] / walls['serial']:.2f}x wall "
        f"(no target: a module stays on one worker)")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument("--dist", default="loadfile", help="xdist's --dist for the contract suite under -n 2")
    parser.add_argument("--parallel-master", default=None,
                        help="a master for the -n 2 run's sessions only (e.g. local[1]), to compare")
    parser.add_argument("--contract-rounds", type=int, default=1,
                        help="serial / -n 2 pairs of the contract suite (alternating which goes first)")
    parser.add_argument("--rounds", type=int, default=3, help="cold/warm session starts of each kind")
    parser.add_argument("--tests", type=int, default=150, help="tests of each variant in the fixture part")
    parser.add_argument("--pairs", type=int, default=3, help="report off/on pairs per variant")
    parser.add_argument("--spark-kindling-python", default=None)
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PARTS]
    if unknown:
        parser.error(f"--only {','.join(unknown)}: not a part; choose from {', '.join(PARTS)}")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    out: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    out(f"bench_parallel: {len(os.sched_getaffinity(0))} cores; {load()}; {time.strftime('%Y-%m-%d %H:%M')}")
    results = {}
    for part in chosen:
        results[part] = globals()["part_" + part.replace("-", "_")](args, out)
    out("summary: " + ", ".join(f"{p} {'OK' if ok else 'MISSED'}" for p, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

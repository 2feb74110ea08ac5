"""The driver JVM's class archive (AppCDS): keyed by what the JVM checks, made by one process, put in
place only after its JVM exited normally, and used by the next run.

The key and the lock are tested without a JVM; the dump and the promotion with a real ``java``
(``-version`` dumps a small archive in a fraction of a second) behind a stand-in for pyspark's
gateway (a process that waits for its stdin to close, as Spark's gateway does); the last test runs
a project of one Spark test twice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from pytest_kindling_signals.spark import (
    ENV_CLASS_SHARING,
    ENV_DRIVER_JAVA_OPTIONS,
    TEST_JAVA_OPTIONS,
    ClassArchive,
    SparkEngine,
    archive_key,
    driver_java_options,
)
from pytest_kindling_signals.spark.class_sharing import (
    QUIET_OPTION,
    java_home,
    shut_down_gateway,
    spark_jars_dir,
)

JAVA = shutil.which("java")
needs_java = pytest.mark.skipif(JAVA is None, reason="no java on PATH")


def fake_install(root: Path) -> tuple[Path, Path]:
    java, jars = root / "java", root / "spark" / "jars"
    (java / "lib" / "server").mkdir(parents=True)
    (java / "release").write_text('JAVA_VERSION="17.0.15"\n')
    (java / "lib" / "server" / "libjvm.so").write_bytes(b"jvm")
    jars.mkdir(parents=True)
    for name in ("spark-core_2.12-3.5.5.jar", "scala-library-2.12.18.jar"):
        (jars / name).write_bytes(name.encode())
    return java, jars


def test_the_key_changes_with_anything_the_jvm_checks(tmp_path: Path) -> None:
    java, jars = fake_install(tmp_path)
    delta = tmp_path / "delta.jar"
    delta.write_bytes(b"delta")
    key = archive_key(java, jars, [delta])
    assert key == archive_key(java, jars, [delta]) and len(key) == 24
    seen = {key, archive_key(java, jars)}
    (java / "release").write_text('JAVA_VERSION="17.0.16"\n')
    seen.add(archive_key(java, jars, [delta]))
    (jars / "spark-core_2.12-3.5.5.jar").write_bytes(b"rebuilt, another size")
    seen.add(archive_key(java, jars, [delta]))
    (jars / "extra.jar").write_bytes(b"x")
    seen.add(archive_key(java, jars, [delta]))
    moved = shutil.copytree(jars, tmp_path / "other-venv" / "jars")
    seen.add(archive_key(java, moved, [delta]))  # another venv: another class path, even with the same jars
    assert len(seen) == 6


def test_this_machines_java_and_spark_are_found() -> None:
    assert spark_jars_dir() is not None and any(spark_jars_dir().glob("spark-core_*.jar"))  # type: ignore[union-attr]
    if JAVA is not None:
        assert (java_home() / "bin" / "java").exists()  # type: ignore[operator]


def test_one_process_dumps_the_others_start_without_and_the_archive_is_used_once_in_place(tmp_path: Path) -> None:
    first, second = ClassArchive(tmp_path, key=lambda: "k1"), ClassArchive(tmp_path, key=lambda: "k1")
    dumping = first.java_options()
    assert dumping == f"-XX:ArchiveClassesAtExit={first.dumping} {QUIET_OPTION}"
    assert first.dumping is not None and first.dumping.parent == tmp_path and not first.dumping.name.endswith(".jsa")
    assert second.java_options() == ""  # the lock is taken: this one neither waits nor dumps
    first.dumping.write_bytes(b"archive")
    assert first.finish(0) == tmp_path / "k1.jsa"
    assert [p.name for p in tmp_path.iterdir() if p.name != ".lock"] == ["k1.jsa"]
    assert second.java_options() == f"-XX:SharedArchiveFile={tmp_path / 'k1.jsa'} {QUIET_OPTION}"
    assert second.dumping is None


def test_a_jvm_that_did_not_exit_normally_leaves_no_archive_and_the_next_process_dumps(tmp_path: Path) -> None:
    archive = ClassArchive(tmp_path, key=lambda: "k1")
    archive.java_options()
    assert archive.dumping is not None
    archive.dumping.write_bytes(b"half an archive")
    assert archive.finish(1) is None
    assert archive.finish(None) is None  # twice: nothing left to do
    assert [p.name for p in tmp_path.iterdir()] == [".lock"]
    assert ClassArchive(tmp_path, key=lambda: "k1").java_options().startswith("-XX:ArchiveClassesAtExit=")


def test_the_archive_is_filed_under_the_key_at_the_end_and_stale_temporary_files_go(tmp_path: Path) -> None:
    keys = iter(["before", "after"])  # the first run resolves Delta's jars: the key changes during the run
    stale = tmp_path / ".k0.999.tmp"
    stale.write_bytes(b"from a killed run")
    archive = ClassArchive(tmp_path, key=lambda: next(keys))
    archive.java_options()
    assert not stale.exists()
    archive.dumping.write_bytes(b"archive")  # type: ignore[union-attr]
    assert archive.finish(0) == tmp_path / "after.jsa"


def test_no_java_or_spark_means_no_options(tmp_path: Path) -> None:
    assert ClassArchive(tmp_path, key=lambda: None).java_options() == ""
    assert not (tmp_path / ".lock").exists()


GATEWAY = '''
import subprocess, sys
sys.stdin.read()  # as Spark's gateway: it exits when its stdin closes
sys.exit(subprocess.call(["java", *sys.argv[1].split(), "-version"], stderr=subprocess.DEVNULL))
'''


@pytest.fixture
def fake_pyspark(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """``pyspark.SparkContext`` as far as :func:`shut_down_gateway` reads it (the gateway's Popen)."""
    context = types.SimpleNamespace(_gateway=None, _jvm="jvm", _active_spark_context=None)
    monkeypatch.setitem(sys.modules, "pyspark", types.SimpleNamespace(SparkContext=context))
    return context


def start_gateway(context: types.SimpleNamespace, options: str, script: str = GATEWAY) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", script, options], stdin=subprocess.PIPE)
    context._gateway = types.SimpleNamespace(proc=proc, close=lambda: None)
    return proc


@needs_java
def test_the_gateway_is_shut_down_and_its_real_archive_put_in_place_where_java_maps_it(
        tmp_path: Path, fake_pyspark: types.SimpleNamespace) -> None:
    archive = ClassArchive(tmp_path, key=lambda: "k1")
    options = archive.java_options()
    start_gateway(fake_pyspark, options)
    path = archive.finish(shut_down_gateway(str(archive.dumping)))
    assert path == tmp_path / "k1.jsa" and fake_pyspark._gateway is None and fake_pyspark._jvm is None
    used = subprocess.run([JAVA, f"-XX:SharedArchiveFile={path}", "-Xshare:on", QUIET_OPTION, "-version"],  # type: ignore[list-item]
                          capture_output=True, text=True, check=False)
    assert used.returncode == 0, used.stderr  # -Xshare:on: the JVM fails if it can't map the archive
    assert "cds" not in used.stdout + used.stderr


def test_a_gateway_that_does_not_exit_is_killed_and_its_archive_dropped(
        tmp_path: Path, fake_pyspark: types.SimpleNamespace) -> None:
    archive = ClassArchive(tmp_path, key=lambda: "k1")
    proc = start_gateway(fake_pyspark, archive.java_options(), "import time; time.sleep(60)")
    archive.dumping.write_bytes(b"being written")  # type: ignore[union-attr]
    assert archive.finish(shut_down_gateway(str(archive.dumping), timeout=1)) is None
    assert proc.returncode is not None and [p.name for p in tmp_path.iterdir()] == [".lock"]


def test_a_gateway_started_without_the_dump_option_is_left_alone(fake_pyspark: types.SimpleNamespace) -> None:
    proc = start_gateway(fake_pyspark, TEST_JAVA_OPTIONS)
    try:
        assert shut_down_gateway("-XX:ArchiveClassesAtExit=/elsewhere") is None
        assert proc.poll() is None and fake_pyspark._gateway is not None
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.kill()
        proc.wait()


@pytest.fixture
def engine_env(clean_env: None) -> None:
    """The engine's variables unset (``clean_env``, tests/spark/conftest.py), the class archive on."""
    os.environ.pop(ENV_CLASS_SHARING, None)


@pytest.mark.usefixtures("engine_env")
def test_the_engine_adds_the_archive_to_the_run_options_unless_turned_off_or_the_user_chose(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "pyspark", raising=False)  # no JVM runs yet in this process
    (tmp_path / "cds").mkdir()
    (tmp_path / "cds" / "k1.jsa").write_bytes(b"archive")
    engine = SparkEngine(class_archive=ClassArchive(tmp_path / "cds", key=lambda: "k1"))
    exported = engine.prepare_sessions(1, tmp_path)
    assert exported[ENV_DRIVER_JAVA_OPTIONS] == (
        f"{TEST_JAVA_OPTIONS} -XX:SharedArchiveFile={tmp_path / 'cds' / 'k1.jsa'} {QUIET_OPTION}")
    engine.close()
    monkeypatch.setenv(ENV_CLASS_SHARING, "0")
    engine = SparkEngine(class_archive=ClassArchive(tmp_path / "cds", key=lambda: "k1"))
    assert engine.prepare_sessions(1, tmp_path)[ENV_DRIVER_JAVA_OPTIONS] == TEST_JAVA_OPTIONS
    engine.close()
    monkeypatch.delenv(ENV_CLASS_SHARING)
    monkeypatch.setenv(ENV_DRIVER_JAVA_OPTIONS, "-Xss4m")
    assert ENV_DRIVER_JAVA_OPTIONS not in SparkEngine().prepare_sessions(1, tmp_path)
    assert os.environ[ENV_DRIVER_JAVA_OPTIONS] == "-Xss4m"


@pytest.mark.usefixtures("engine_env")
def test_a_dump_that_never_finished_is_deleted_when_the_run_ends(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "pyspark", raising=False)
    engine = SparkEngine(class_archive=ClassArchive(tmp_path / "cds", key=lambda: "k1"))
    assert "-XX:ArchiveClassesAtExit=" in engine.prepare_sessions(1, tmp_path)[ENV_DRIVER_JAVA_OPTIONS]
    engine.class_archive.dumping.write_bytes(b"half")  # type: ignore[union-attr]
    assert engine.finish_sessions() is None  # no gateway JVM ran in this process
    engine.close()
    assert sorted(p.name for p in (tmp_path / "cds").iterdir()) == [".lock"]


RUN_TESTS = '''
import json, os
from pathlib import Path

def test_records_its_jvm(spark):
    jvm = spark.sparkContext._jvm
    args = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    Path(os.environ["RECORDS"], os.environ["RUN"] + ".json").write_text(json.dumps(args))
    spark.range(3).write.format("delta").save(os.environ["RECORDS"] + "/table-" + os.environ["RUN"])
'''


@pytest.mark.slow
@pytest.mark.spark
@needs_java
def test_the_first_run_dumps_the_archive_and_the_second_runs_jvm_starts_from_it(
        pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = tmp_path / "records"
    records.mkdir()
    monkeypatch.setenv("RECORDS", str(records))
    monkeypatch.setenv("KINDLING_SPARK_JARS_DIR", str(tmp_path / "jars"))  # the user's cache is left alone
    monkeypatch.delenv(ENV_CLASS_SHARING, raising=False)
    pytester.makepyfile(test_run=RUN_TESTS)
    cds = tmp_path / "jars" / "cds"
    for run in ("first", "second"):
        monkeypatch.setenv("RUN", run)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        assert "[warning][cds" not in result.stdout.str() + result.stderr.str()
    first, second = (json.loads((records / f"{run}.json").read_text()) for run in ("first", "second"))
    (archive,) = cds.glob("*.jsa")
    assert not list(cds.glob(".*.tmp")), list(cds.iterdir())  # the temporary archive was moved, not copied
    assert TEST_JAVA_OPTIONS in first and QUIET_OPTION in first
    assert any(a.startswith(f"-XX:ArchiveClassesAtExit={cds}/.") for a in first), first
    assert f"-XX:SharedArchiveFile={archive}" in second and QUIET_OPTION in second, second
    spark_home = spark_jars_dir().parent  # type: ignore[union-attr]
    mapped = subprocess.run([JAVA, f"-XX:SharedArchiveFile={archive}", "-Xshare:on", QUIET_OPTION,  # type: ignore[list-item]
                             "-cp", f"{spark_home}/conf/:{spark_home}/jars/*", "-version"], capture_output=True, text=True, check=False)
    assert mapped.returncode == 0, mapped.stderr  # it matches Spark's class path: a driver JVM maps it


@pytest.mark.usefixtures("engine_env")
def test_a_process_the_run_starts_gets_the_archive_but_never_the_dump_option(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "pyspark", raising=False)
    engine = SparkEngine(class_archive=ClassArchive(tmp_path / "cds", key=lambda: "k1"))
    engine.prepare_sessions(1, tmp_path)
    assert driver_java_options() == os.environ[ENV_DRIVER_JAVA_OPTIONS]  # this process's JVM dumps
    script = "from pytest_kindling_signals.spark import driver_java_options; print(driver_java_options())"
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert child.stdout.split() == [TEST_JAVA_OPTIONS, QUIET_OPTION]  # a script a test runs writes no archive
    engine.close()

"""Spark under ``pytest -n N``: Delta's jars resolved once and shared, each worker its share and its folders.

The jar cache and the engine's share are tested without a JVM; the last test
runs a project of Spark tests on two xdist workers (``--dist each``: both
workers run every test), each worker with its own session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_kindling_signals.spark import (
    ENV_DRIVER_JAVA_OPTIONS,
    ENV_DRIVER_MEMORY,
    ENV_TEMP_DIR,
    JarCache,
    JarCacheError,
    TEST_JAVA_OPTIONS,
    SparkEngine,
    driver_memory_mb,
)

PACKAGES = ["io.delta:delta-spark_2.12:3.3.2"]


def fake_jars(folder: Path, *names: str) -> str:
    """Jars where a resolution left them, as Spark lists them in ``spark.jars``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(name.encode() * 100)
    return ",".join(f"file://{folder / n}" for n in names)


def test_the_first_session_resolves_and_every_later_one_starts_from_the_cached_jars(tmp_path: Path) -> None:
    ivy = fake_jars(tmp_path / "ivy" / "jars", "io.delta_delta-spark_2.12-3.3.2.jar", "io.delta_delta-storage-3.3.2.jar")
    asked: list[dict[str, str]] = []
    first = JarCache(PACKAGES, tmp_path / "cache").start(lambda s: asked.append(s) or "session", lambda _: ivy)
    second = JarCache(PACKAGES, tmp_path / "cache").start(lambda s: asked.append(s) or "session", lambda _: ivy)
    assert (first, second) == ("session", "session")
    folder = JarCache(PACKAGES, tmp_path / "cache").folder
    assert asked[0] == {"spark.jars.packages": PACKAGES[0], "spark.jars.ivy": str(folder / "ivy")}
    cached = [folder / "jars" / "io.delta_delta-spark_2.12-3.3.2.jar", folder / "jars" / "io.delta_delta-storage-3.3.2.jar"]
    assert asked[1] == {"spark.jars": ",".join(map(str, cached))}
    assert [p.read_bytes() for p in cached] == [p.name.encode() * 100 for p in cached]  # copies: Ivy may rewrite its own


def test_a_missing_or_changed_jar_resolves_again(tmp_path: Path) -> None:
    cache = JarCache(PACKAGES, tmp_path)
    (jar,) = cache.record(fake_jars(tmp_path / "ivy", "a.jar"))
    assert "spark.jars" in cache.settings()
    jar.write_bytes(b"truncated")
    assert cache.cached() is None and "spark.jars.packages" in cache.settings()
    jar.unlink()
    assert cache.cached() is None


def test_other_packages_are_another_cache(tmp_path: Path) -> None:
    JarCache(PACKAGES, tmp_path).record(fake_jars(tmp_path / "ivy", "a.jar"))
    other = JarCache([*PACKAGES, "org.example:extra_2.12:1.0"], tmp_path)
    assert other.cached() is None and other.settings()["spark.jars.packages"] == (
        "io.delta:delta-spark_2.12:3.3.2,org.example:extra_2.12:1.0")


def test_bad_packages_and_a_resolution_without_jars_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"JarCache\(packages='io.delta:delta-spark_2.12:3.3.2'\) needs Maven "
                                         r"coordinates 'group:artifact:version'"):
        JarCache(PACKAGES[0], tmp_path)  # type: ignore[arg-type]
    cache = JarCache(PACKAGES, tmp_path)
    with pytest.raises(JarCacheError, match=r"gave no local jar \(spark.jars='hdfs://x/a.jar'\); delete .* and try again"):
        cache.record("hdfs://x/a.jar")


HOLDER = '''
import sys, time
from pathlib import Path
from pytest_kindling_signals.spark import JarCache

root, ivy, started = sys.argv[1], sys.argv[2], Path(sys.argv[3])
def start(settings):
    started.write_text(repr(settings))  # the lock is held from here until the jars are recorded
    time.sleep(2)
    return "session"
JarCache(["io.delta:delta-spark_2.12:3.3.2"], root).start(start, lambda _: ivy)
'''


@pytest.mark.slow
def test_a_second_process_waits_for_the_first_resolution_and_resolves_nothing(tmp_path: Path) -> None:
    ivy = fake_jars(tmp_path / "ivy", "io.delta_delta-spark_2.12-3.3.2.jar")
    started = tmp_path / "started"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "cache"), ivy, str(started)])
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the first process never resolved"
            time.sleep(0.05)
        asked: list[dict[str, str]] = []
        JarCache(PACKAGES, tmp_path / "cache").start(lambda s: asked.append(s) or "mine", lambda _: "")
    finally:
        assert holder.wait(timeout=60) == 0
    assert "spark.jars.packages" in started.read_text()
    assert list(asked[0]) == ["spark.jars"]  # it waited for the lock, then found the recorded jars


def test_each_of_n_workers_gets_a_share_of_the_memory() -> None:
    assert driver_memory_mb(1, available_mb=24_000) == 2048  # the serial default
    assert driver_memory_mb(2, available_mb=24_000) == 2048
    assert driver_memory_mb(4, available_mb=8_000) == 1000  # half of the available, shared
    assert driver_memory_mb(8, available_mb=4_000) == 768  # never below what Delta needs


@pytest.mark.usefixtures("clean_env")
def test_sessions_of_a_worker_get_their_share_and_folders_of_their_own(tmp_path: Path) -> None:
    engine = SparkEngine()
    exported = engine.prepare_sessions(2, tmp_path)
    assert exported == {ENV_DRIVER_MEMORY: f"{driver_memory_mb(2)}m", ENV_DRIVER_JAVA_OPTIONS: TEST_JAVA_OPTIONS,
                        ENV_TEMP_DIR: str(tmp_path / "spark-temp"), "SPARK_LOCAL_DIRS": str(tmp_path / "spark-local")}
    assert all(os.environ[k] == v for k, v in exported.items())
    assert (tmp_path / "spark-temp").is_dir() and (tmp_path / "spark-local").is_dir()
    engine.close()
    assert not any(k in os.environ for k in exported)


@pytest.mark.usefixtures("clean_env")
def test_the_users_settings_win_but_an_outer_runs_do_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DRIVER_MEMORY, "3g")
    monkeypatch.setenv(ENV_TEMP_DIR, "/outer/run/spark-temp")
    monkeypatch.setenv("KINDLING_SPARK_EXPORTED", f"{os.getppid()} {ENV_TEMP_DIR}")  # a pytest that ran this one
    exported = SparkEngine().prepare_sessions(1, tmp_path)
    assert os.environ[ENV_DRIVER_MEMORY] == "3g" and ENV_DRIVER_MEMORY not in exported
    assert os.environ[ENV_TEMP_DIR] == str(tmp_path / "spark-temp")


@pytest.mark.usefixtures("clean_env")
def test_a_spark_connect_session_gets_nothing(tmp_path: Path) -> None:
    assert SparkEngine(remote="sc://127.0.0.1:15002").prepare_sessions(2, tmp_path) == {}


WORKER_TESTS = '''
import json, os
from pathlib import Path

def test_records_its_session(spark, tmp_path_factory):
    conf = spark.sparkContext.getConf()
    out = Path(os.environ["RECORDS"]) / (os.environ.get("PYTEST_XDIST_WORKER", "serial") + ".json")
    out.write_text(json.dumps({
        "basetemp": str(tmp_path_factory.getbasetemp()),
        "warehouse": spark.conf.get("spark.sql.warehouse.dir"),
        "jars": conf.get("spark.jars", ""), "packages": conf.get("spark.jars.packages", None),
        "memory": conf.get("spark.driver.memory"), "memory_env": os.environ.get("KINDLING_SPARK_DRIVER_MEMORY"),
        "local_dirs": os.environ.get("SPARK_LOCAL_DIRS"), "java": conf.get("spark.driver.extraJavaOptions", ""),
    }))
    spark.range(3).write.format("delta").save(str(tmp_path_factory.mktemp("t") / "table"))
'''


@pytest.mark.slow
@pytest.mark.spark
def test_each_xdist_worker_starts_its_own_session_from_the_cached_jars(
        pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = tmp_path / "records"
    records.mkdir()
    monkeypatch.setenv("RECORDS", str(records))
    monkeypatch.setenv("KINDLING_SPARK_JARS_DIR", str(tmp_path / "jars"))  # a machine that never resolved
    pytester.makepyfile(test_worker=WORKER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--dist", "each")
    result.assert_outcomes(passed=2)
    seen = {p.stem: json.loads(p.read_text()) for p in records.glob("*.json")}
    assert sorted(seen) == ["gw0", "gw1"]
    cache = JarCache.for_delta(root=tmp_path / "jars").folder
    resolved, started = sorted(seen.values(), key=lambda got: got["packages"] is None)
    # one worker resolved (into the cache's own Ivy folder), the other waited and started from the copies
    assert resolved["packages"] == "io.delta:delta-spark_2.12:3.3.2", seen
    assert {Path(j.removeprefix("file://")).parent for j in resolved["jars"].split(",")} == {cache / "ivy" / "jars"}
    assert started["packages"] is None, seen
    assert {Path(j).parent for j in started["jars"].split(",")} == {cache / "jars"}
    assert cache.joinpath("manifest.json").is_file()
    for got in seen.values():
        base = Path(got["basetemp"])
        assert Path(got["warehouse"].removeprefix("file:")).is_relative_to(base / "spark-temp"), got
        assert got["local_dirs"] == str(base / "spark-local")
        assert "-XX:TieredStopAtLevel=1" in got["java"], got
        assert got["memory"] == got["memory_env"] and 768 <= int(got["memory"].removesuffix("m")) <= 2048, got
    assert seen["gw0"]["basetemp"] != seen["gw1"]["basetemp"]

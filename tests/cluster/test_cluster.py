"""The throwaway cluster (``python -m pytest_kindling_signals.spark.cluster``) and the pytest options that choose the engine.

The JVM tests start a real standalone master with one worker, and a real
Spark Connect server, on 127.0.0.1; they check that every socket those
processes (and their children) listen on is on the loopback address, that a
session in another process works through them, and that ``stop`` leaves
nothing behind. The contract suite's own run on a 2-worker cluster is CI's
(``.ci/run``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_kindling_signals.spark import ClusterError, ClusterSpec, LocalCluster
from pytest_kindling_signals.spark.cluster import main

ROOT = Path(__file__).resolve().parents[2]


# -- sockets ------------------------------------------------------------------------------------

def _group(leader: int) -> list[int]:
    """The running pids of ``leader``'s process group (the JVM and what it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == leader and fields[0] != "Z":  # pgrp; a zombie is gone, unreaped
                found.append(int(entry.name))
    return found


def _listening(pids: list[int]) -> list[str]:
    """Local addresses (hex, as /proc/net shows them) of the TCP sockets ``pids`` listen on."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                addresses.append(cols[1].split(":")[0])
    return addresses


def _is_loopback(hex_address: str) -> bool:
    if len(hex_address) == 8:  # IPv4, little-endian: 127.x.x.x ends in 7F
        return hex_address.endswith("7F")
    mapped = hex_address.startswith("0000000000000000FFFF0000") and hex_address.endswith("7F")
    return mapped or hex_address == "00000000000000000000000001000000"  # ::1


def _assert_loopback_only(cluster: LocalCluster) -> None:
    pids = [p for leader in cluster.pids for p in _group(leader)]
    addresses = _listening(pids)
    assert addresses, f"no listening socket found for pids {pids}"
    assert all(_is_loopback(a) for a in addresses), addresses


def _run_client(env: dict[str, str], work: Path) -> dict[str, Any]:
    """A Kindling session in its own process on the given engine: a merge, and a Python UDF."""
    script = textwrap.dedent(f"""
        import json
        from pyspark.sql.functions import udf
        from kindling.data_entities import DataEntities
        from kindling.entity_manager import DataEntityManager
        from kindling.lakehouse import use_lakehouse
        from kindling.spark_session import get_or_create_spark_session, stop_spark_session

        spark = get_or_create_spark_session()
        DataEntities.entity(entityid="silver.t", name="silver_t", merge_columns=["id"], schema="id INT, v INT")
        with use_lakehouse({str(work)!r}):
            m = DataEntityManager()
            first = m.merge_to_entity(spark.createDataFrame([(1, 1), (2, 2)], "id INT, v INT"), "silver.t")
            second = m.merge_to_entity(spark.createDataFrame([(2, 20), (3, 3)], "id INT, v INT"), "silver.t")
        double = udf(lambda x: x * 2, "int")
        doubled = sorted(r[0] for r in spark.range(4).repartition(2).select(double("id")).collect())
        stop_spark_session()
        print("RESULT " + json.dumps({{"first": list(first.__dict__.values()),
                                      "second": list(second.__dict__.values()), "doubled": doubled}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    return json.loads(lines[-1][len("RESULT "):])


def _client_env(**engine: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("KINDLING_SPARK_MASTER", "KINDLING_SPARK_REMOTE", "KINDLING_LAKEHOUSE_DIR")}
    env.update(engine, SPARK_LOCAL_IP="127.0.0.1", PYTHONUNBUFFERED="1")
    return env


# -- real clusters ------------------------------------------------------------------------------

@pytest.mark.spark
def test_a_standalone_cluster_runs_a_session_on_loopback_and_stops(tmp_path: Path) -> None:
    spec = ClusterSpec(workers=1, master_port=0, name="test-standalone", state_dir=str(tmp_path / "state"))
    cluster = LocalCluster(spec).start()
    try:
        assert cluster.master_url and cluster.master_url.startswith("spark://127.0.0.1:")
        assert cluster.status()["running"] is True and len(cluster.pids) == 2
        _assert_loopback_only(cluster)
        result = _run_client(_client_env(KINDLING_SPARK_MASTER=cluster.master_url), tmp_path / "lh")
        assert result == {"first": [2, 0, 0, 1], "second": [1, 1, 0, 2], "doubled": [0, 2, 4, 6]}
    finally:
        pids = cluster.pids
        stopped = cluster.stop()
    assert sorted(stopped) == sorted(pids)
    assert not any(_group(pid) for pid in pids)  # the executors went with their workers
    assert LocalCluster.attach(spec).status()["processes"] == []  # type: ignore[union-attr]


@pytest.mark.spark
def test_a_spark_connect_server_serves_kindling_on_loopback(tmp_path: Path) -> None:
    spec = ClusterSpec(workers=0, connect=True, connect_port=0, name="test-connect",
                       state_dir=str(tmp_path / "state"))
    with LocalCluster(spec) as cluster:
        assert cluster.remote_url and cluster.remote_url.startswith("sc://127.0.0.1:")
        _assert_loopback_only(cluster)
        result = _run_client(_client_env(KINDLING_SPARK_REMOTE=cluster.remote_url), tmp_path / "lh")
        assert result == {"first": [2, 0, 0, 1], "second": [1, 1, 0, 2], "doubled": [0, 2, 4, 6]}
        pids = cluster.pids
    assert not any(_group(pid) for pid in pids)


# -- no JVM ----------------------------------------------------------------------------------------

def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        spec = ClusterSpec(workers=1, master_port=port, name="taken", state_dir=str(tmp_path))
        with pytest.raises(ClusterError) as excinfo:
            LocalCluster(spec).start()
    assert str(excinfo.value).startswith(f"port {port} on 127.0.0.1 is taken, so the standalone master can't listen there")
    assert "--master-port 0 for any free port" in str(excinfo.value)


def test_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ClusterError, match=r"Java is missing: Spark needs Java 17 on PATH or in JAVA_HOME"):
        LocalCluster(ClusterSpec(workers=1, state_dir=str(tmp_path))).start()


def test_stop_signals_only_processes_that_are_still_ours(tmp_path: Path) -> None:
    # A recorded pid now running something else (the pid was reused) must not be signalled.
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        spec = ClusterSpec(workers=1, name="stale", state_dir=str(tmp_path))
        spec.folder().mkdir(parents=True)
        (spec.folder() / "state.json").write_text(json.dumps({
            "name": "stale", "token": "0123456789abcdef", "folder": str(spec.folder()),
            "master_url": "spark://127.0.0.1:7077", "processes": [
                {"role": "master", "pid": stranger.pid, "log": "master.log"}]}))
        found = LocalCluster.attach(spec)
        assert found is not None and found.status()["processes"][0]["alive"] is False
        assert found.stop() == []
        time.sleep(0.2)
        assert stranger.poll() is None  # still running
    finally:
        os.kill(stranger.pid, signal.SIGKILL)
        stranger.wait()


def test_the_spec_refuses_what_starts_nothing_or_cannot_run() -> None:
    with pytest.raises(ValueError, match=r"ClusterSpec\(workers=0, connect=False\) starts nothing"):
        ClusterSpec(workers=0)
    with pytest.raises(ValueError, match=r"ClusterSpec\(workers=-1\) must be an int >= 0"):
        ClusterSpec(workers=-1)
    with pytest.raises(ValueError, match=r"ClusterSpec\(name='a/b'\)"):
        ClusterSpec(name="a/b")


def test_the_command_line_reports_a_cluster_that_is_not_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--state-dir", str(tmp_path)]) == 1
    assert json.loads(capsys.readouterr().out) == {"name": "default", "running": False, "processes": []}
    assert main(["stop", "--state-dir", str(tmp_path)]) == 0
    assert "nothing to stop" in capsys.readouterr().out
    assert main(["start", "--workers", "0", "--state-dir", str(tmp_path)]) == 2
    assert "starts nothing" in capsys.readouterr().err


# -- pytest options ---------------------------------------------------------------------------------

ENGINE_TEST = """
import os
from kindling.spark_session import get_spark_session_provider

def test_engine():
    print("MASTER", os.environ.get("KINDLING_SPARK_MASTER"), get_spark_session_provider().config.master)
    print("REMOTE", os.environ.get("KINDLING_SPARK_REMOTE"), get_spark_session_provider().config.remote)
    print("LOCAL_IP", os.environ.get("SPARK_LOCAL_IP"))
"""


def _shows(result: pytest.RunResult, *expected: str) -> None:
    out = result.stdout.str()
    missing = [line for line in expected if line not in out]
    assert not missing, f"missing {missing} in:\n{out}"


def _engine_env() -> dict[str, str | None]:
    return {"KINDLING_SPARK_MASTER": None, "KINDLING_SPARK_REMOTE": None, "SPARK_LOCAL_IP": None}


@pytest.fixture
def engine_pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for key in _engine_env():
        monkeypatch.delenv(key, raising=False)
    pytester.makepyfile(test_engine=ENGINE_TEST)
    return pytester


def test_the_master_option_sets_the_engine_for_the_run(engine_pytester: pytest.Pytester) -> None:
    result = engine_pytester.runpytest_subprocess("-s", "--kindling-spark-master", "spark://127.0.0.1:7077")
    result.assert_outcomes(passed=1)
    _shows(result, "kindling spark engine: spark://127.0.0.1:7077",
           "MASTER spark://127.0.0.1:7077 spark://127.0.0.1:7077", "REMOTE None None", "LOCAL_IP 127.0.0.1")


def test_the_ini_keys_set_the_engine_and_the_command_line_wins(engine_pytester: pytest.Pytester) -> None:
    engine_pytester.makeini("[pytest]\nkindling_spark_remote = sc://127.0.0.1:15002\n")
    result = engine_pytester.runpytest_subprocess("-s")
    _shows(result, "kindling spark engine: sc://127.0.0.1:15002",
           "REMOTE sc://127.0.0.1:15002 sc://127.0.0.1:15002")
    result = engine_pytester.runpytest_subprocess("-s", "--kindling-spark-remote", "sc://127.0.0.1:15003")
    _shows(result, "REMOTE sc://127.0.0.1:15003 sc://127.0.0.1:15003")


def test_a_throwaway_cluster_and_a_fixed_master_are_a_usage_error(engine_pytester: pytest.Pytester) -> None:
    result = engine_pytester.runpytest_subprocess("--kindling-spark-cluster", "2",
                                                  "--kindling-spark-master", "local[2]")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*start their own engine; drop --kindling-spark-master*"])
    result = engine_pytester.runpytest_subprocess("--kindling-spark-cluster", "two")
    result.stderr.fnmatch_lines(["*--kindling-spark-cluster='two' must be a number of workers*"])


def test_without_options_the_environment_decides(engine_pytester: pytest.Pytester,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDLING_SPARK_MASTER", "local[1]")
    result = engine_pytester.runpytest_subprocess("-s")
    _shows(result, "kindling spark engine: local[1]", "MASTER local[1] None")

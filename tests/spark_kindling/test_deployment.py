"""spark-kindling's DataAppDeployer on this machine: apps deployed to a folder, jobs run as
``spark-submit`` processes, their status read and a run cancelled by its process id.

The ``standalone`` platform service implements none of the deployer's calls, so the
tests bind the plugin's ``LocalPlatformService`` through spark-kindling's dependency
injection (``spark_kindling.local_platform()``); the deployer's own code then runs its
success, failure and cancel paths, and emits its ``app.*`` and ``job.*`` signals.
"""

import textwrap

import pytest

from kindling.job_deployment import DataAppDeployer

COUNTING_APP = {
    "app.yaml": "name: nightly-counts\nentry_point: main.py\n",
    "main.py": textwrap.dedent("""\
        import argparse
        from pyspark.sql import SparkSession

        parser = argparse.ArgumentParser()
        parser.add_argument("--rows", type=int, required=True)
        rows = parser.parse_args().rows
        spark = SparkSession.builder.appName("nightly-counts").getOrCreate()
        print(f"counted {spark.range(rows).count()} rows", flush=True)
        spark.stop()
        """),
}
FAILING_APP = {"main.py": "raise SystemExit('the upstream export is missing')\n"}
WAITING_APP = {"main.py": "import threading\nprint('ready', flush=True)\nthreading.Event().wait()\n"}


def write_app(folder, files):
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_an_app_is_deployed_and_its_job_runs_to_completion(spark_kindling, signal_recorder, tmp_path):
    platform = spark_kindling.local_platform()
    deployer = spark_kindling.get(DataAppDeployer)
    app = write_app(tmp_path / "nightly_counts", {**COUNTING_APP, "settings.local.yaml": "secret: no\n"})

    deployed = deployer.deploy_app(str(app), "nightly-counts")
    job = deployer.create_job({"job_name": "nightly", "app_name": "nightly-counts"})
    run_id = deployer.run_job(job["job_id"], {"rows": 42})
    assert deployer.get_job_status(run_id)["status"] in ("RUNNING", "COMPLETED")
    platform.wait(run_id)
    status = deployer.get_job_status(run_id)

    assert status["status"] == "COMPLETED", status["logs"]
    assert "counted 42 rows" in status["logs"]
    assert sorted(p.name for p in platform.app_path("nightly-counts").iterdir()) == ["app.yaml", "main.py"]
    after = signal_recorder.assert_emitted_once("app.after_deploy", app_name="nightly-counts", platform="standalone")
    assert after["storage_path"] == deployed == str(platform.app_path("nightly-counts"))
    signal_recorder.assert_emitted_once("job.after_create", job_name="nightly", job_id=job["job_id"])
    signal_recorder.assert_emitted_once("job.after_run", job_id=job["job_id"], run_id=run_id,
                                        parameters={"rows": 42})
    last = signal_recorder.of("job.status_checked")[-1]
    assert (last["run_id"], last["status"], last["is_complete"]) == (run_id, "COMPLETED", True)
    assert signal_recorder.names()[:6] == ["app.before_deploy", "app.after_deploy", "job.before_create",
                                           "job.after_create", "job.before_run", "job.after_run"]
    signal_recorder.assert_contract()


def test_deploying_creating_and_running_fail_with_their_signals(spark_kindling, signal_recorder, tmp_path):
    platform = spark_kindling.local_platform()
    deployer = spark_kindling.get(DataAppDeployer)

    with pytest.raises(ValueError, match="Invalid app path"):
        deployer.deploy_app(str(tmp_path / "no_such_app"), "ghost")
    with pytest.raises(ValueError, match="job_name"):
        deployer.create_job({"app_name": "ghost"})
    with pytest.raises(FileNotFoundError, match="app 'ghost' is not deployed"):
        deployer.create_job({"job_name": "ghost-job", "app_name": "ghost"})
    with pytest.raises(KeyError, match="no job 'ghost-1'"):
        deployer.run_job("ghost-1")

    deployer.deploy_app(str(write_app(tmp_path / "broken", FAILING_APP)), "broken")
    job = deployer.create_job({"job_name": "broken", "app_name": "broken"})
    run_id = deployer.run_job(job["job_id"])
    platform.wait(run_id)
    status = deployer.get_job_status(run_id)

    assert status["status"] == "FAILED" and "the upstream export is missing" in status["logs"]
    signal_recorder.assert_emitted_once("app.deploy_failed", app_name="ghost", error_type="ValueError")
    assert [(r["job_name"], r["error_type"]) for r in signal_recorder.of("job.create_failed")] == [
        ("unknown", "ValueError"), ("ghost-job", "FileNotFoundError")]
    signal_recorder.assert_emitted_once("job.run_failed", job_id="ghost-1", error_type="KeyError")
    signal_recorder.assert_emitted_once("job.status_checked", run_id=run_id, status="FAILED", is_complete=True)
    signal_recorder.assert_contract()


def test_a_running_job_is_cancelled_by_its_process_id(spark_kindling, signal_recorder, tmp_path):
    platform = spark_kindling.local_platform()
    deployer = spark_kindling.get(DataAppDeployer)
    deployer.deploy_app(str(write_app(tmp_path / "waiting", WAITING_APP)), "waiting")
    job = deployer.create_job({"job_name": "waiting", "app_name": "waiting"})
    run_id = deployer.run_job(job["job_id"])
    platform.wait_for_output(run_id, "ready")
    pid = deployer.get_job_status(run_id)["pid"]

    assert deployer.cancel_job(run_id) is True
    assert deployer.cancel_job(run_id) is False                    # it has ended: the platform says no
    with pytest.raises(KeyError, match="no run 'waiting-9-run-9'"):
        deployer.cancel_job("waiting-9-run-9")

    assert deployer.get_job_status(run_id)["status"] == "CANCELLED"
    assert platform.run(run_id).pid == pid and platform.run(run_id).process.returncode != 0
    signal_recorder.assert_emitted_once("job.after_cancel", run_id=run_id, success=True)
    assert [(r["run_id"], r["error_type"]) for r in signal_recorder.of("job.cancel_failed")] == [
        (run_id, "CancelFailed"), ("waiting-9-run-9", "KeyError")]
    assert len(signal_recorder.of("job.before_cancel")) == 3
    signal_recorder.assert_contract()

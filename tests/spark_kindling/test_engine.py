"""The session runs where the plugin's engine options say: local[2] by default, a throwaway
cluster with --kindling-spark-cluster N, a Spark Connect server with --kindling-spark-remote
or --kindling-spark-connect-server."""

import os


def test_the_session_runs_on_the_chosen_engine(spark_kindling, kindling_spark_engine):
    remote = kindling_spark_engine.remote or os.environ.get("KINDLING_SPARK_REMOTE")
    master = kindling_spark_engine.master or os.environ.get("KINDLING_SPARK_MASTER") or "local[2]"

    assert spark_kindling.session.is_connect == bool(remote)
    if not remote:
        assert spark_kindling.spark.sparkContext.master == master
    assert spark_kindling.spark.range(3).count() == 3

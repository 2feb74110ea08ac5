"""Run by tests/spark/test_session.py in its own process (its own JVM).

Drives a :class:`SparkSessionProvider` through a whole life: start, change a
runtime setting, create a Delta table, merge into it, read its history, stop.
It runs on whatever engine the environment names (``KINDLING_SPARK_MASTER``,
``KINDLING_SPARK_REMOTE``), as the test run does.
Prints one JSON document: every emission a tap recorded, and what Spark and
Delta reported.

    python tests/spark/session_lifecycle.py WORK_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kindling.signaling import BlinkerSignalProvider, Emission
from kindling.spark_session import SparkConfig, SparkSessionProvider


def main(work: Path) -> dict[str, Any]:
    provider = BlinkerSignalProvider(name="session-lifecycle")
    emissions: list[dict[str, Any]] = []

    def record(e: Emission) -> None:
        emissions.append({"name": e.name, "sender": e.sender, "payload": e.payload})

    provider.add_tap(record)
    sessions = SparkSessionProvider(
        SparkConfig(app_name="kindling-session-test", warehouse_dir=str(work / "warehouse")),
        signal_provider=provider)
    spark = sessions.get_session()
    same_session = sessions.get_session() is spark

    changed = sessions.set_config({"spark.sql.shuffle.partitions": "3"})
    unchanged = sessions.set_config({"spark.sql.shuffle.partitions": 3})  # same value: no signal
    partitions = spark.conf.get("spark.sql.shuffle.partitions")

    # SQL, not DeltaTable: the same statements run on a classic session and over Spark Connect.
    path = str(work / "lakehouse" / "orders")
    spark.createDataFrame([(1, "a"), (2, "b")], "id INT, item STRING").write.format("delta").save(path)
    spark.createDataFrame([(2, "B"), (3, "c")], "id INT, item STRING").createOrReplaceTempView("source")
    spark.sql(f"MERGE INTO delta.`{path}` AS t USING source AS s ON t.id = s.id "
              "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    history = [
        {"version": r["version"], "operation": r["operation"],
         "metrics": dict(r["operationMetrics"] or {})}
        for r in spark.sql(f"DESCRIBE HISTORY delta.`{path}`").orderBy("version").collect()
    ]
    rows = sorted((r["id"], r["item"]) for r in spark.read.format("delta").load(path).collect())

    sessions.stop()
    sessions.stop()  # already stopped: no second signal
    return {
        "emissions": emissions,
        "same_session": same_session,
        "changed": changed,
        "unchanged": unchanged,
        "partitions": partitions,
        "history": history,
        "rows": rows,
        "is_started_after_stop": sessions.is_started,
        "receiver_errors": provider.error_count,
    }


if __name__ == "__main__":
    result = main(Path(sys.argv[1]))
    print("KINDLING-RESULT " + json.dumps(result))

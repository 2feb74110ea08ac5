"""The waits against a real Structured Streaming query on local Spark, with this repository's
framework: a ``foreachBatch`` that appends each micro-batch to a Delta entity emits its signals
from Spark's streaming thread. And a real DataFrame in a payload: kept by reference, shown by
its class, no Spark job started by a failure message.

The streaming test is docs/recorder.md's example (``# file: test_streaming.py``), run as written
with this test's fixtures.
"""

from __future__ import annotations

import re

import pytest

from pytest_kindling_signals import SignalRecorder

DOC_FILE = "test_streaming.py"


def doc_example() -> dict[str, object]:
    """The namespace of the docs' ``test_streaming.py`` block."""
    from test_docs_recorder import doc_parts

    files, _ = doc_parts()
    code = files[DOC_FILE]
    namespace: dict[str, object] = {"__name__": "docs_test_streaming"}
    exec(compile(code, f"docs/recorder.md:{DOC_FILE}", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


def test_the_docs_streaming_example_runs(spark, lakehouse, signal_recorder):
    test = doc_example()["test_a_stream_appends_each_batch_from_sparks_thread"]
    test(spark, signal_recorder)  # type: ignore[operator]
    batches = signal_recorder.of("entity.post_append", entity_id="silver.ticks")
    assert [r["rows_appended"] for r in batches] == [2, 2, 2]
    assert {r.thread_name for r in batches} != {"MainThread"}


@pytest.mark.kindling_signals_ignore  # a hand-made signal outside the catalog
def test_a_dataframe_in_a_payload_is_kept_and_never_looked_into(spark, signal_provider):
    df = spark.range(3)
    tracker = spark.sparkContext.statusTracker()
    with SignalRecorder(signal_provider) as rec:
        signal_provider.signal("myteam.frame_ready").send("myteam.frame_ready", frame=df, frames=[df])
    record = rec.records[0]
    assert record["frame"] is df and record["frames"][0] is df
    jobs = tracker.getJobIdsForGroup()
    with pytest.raises(AssertionError) as info:
        rec.wait_for("myteam.frame_ready", frame=3, timeout=0)
    assert tracker.getJobIdsForGroup() == jobs          # rendering started no Spark job
    shown = "<pyspark.sql.dataframe.DataFrame object>"
    assert str(info.value).splitlines()[-1] == f"  frame: expected 3, got {shown}"
    assert re.search(rf"> #0  myteam.frame_ready  frame={re.escape(shown)}$", str(info.value), re.M)

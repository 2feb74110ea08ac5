"""SparkTraceProvider spans, tracing of provider operations, and the silent SparkLoggerProvider.

Fast, except the one test that asks for ``spark`` (auto-marked).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from kindling.platform import PlatformService
from kindling.signal_catalog import load_catalog
from kindling.signaling import SignalEmitter, current_operation
from kindling.spark_logger import SparkLoggerProvider
from kindling.tracing import (
    SparkTraceProvider,
    current_span,
    disable_tracing,
    enable_tracing,
    tracing,
    tracing_enabled,
)
from pytest_kindling_signals.catalog import check_contract

pytestmark = pytest.mark.contract

# A user provider declared in its own catalog file, as users extend the catalog.
ARCHIVE_CATALOG = """
format: kindling-signal-catalog/1
providers:
  archive:
    class: Archiver
    tier: moderate
    operations:
      archive.store: {pre: pre_store, post: [post_store], failed: store_failed}
    signals:
      pre_store: {when: Before a file is archived, fields: {name: string}}
      post_store: {when: After, fields: {name: string, archived_path: string}}
      store_failed: {when: Archiving fails, fields: {name: string}}
"""


class Archiver(SignalEmitter):
    """Archives a JSON file after checking it parses, through the platform service."""

    EMITS = ("archive.pre_store", "archive.post_store", "archive.store_failed")

    def __init__(self, fs: PlatformService, root: Path) -> None:
        super().__init__(fs._signal_provider)
        self.fs, self.root = fs, root

    def store(self, path: Path) -> str:
        with self.operation("archive.store", name=path.name) as op:
            json.loads(self.fs.read_text(path))  # a corrupt file raises here
            dest = self.fs.move(path, self.root / path.name)
            op.set(archived_path=dest)
            return dest

    def store_all(self, paths: list[Path]) -> list[str]:
        with self.operation("archive.store", name="batch") as op:
            done = [self.store(p) for p in paths]
            op.set(archived_path=str(self.root))
            return done


@pytest.fixture
def catalog(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("catalog") / "archive.yaml"
    path.write_text(ARCHIVE_CATALOG)
    return load_catalog(path)


@pytest.fixture(autouse=True)
def _tracing_off():  # type: ignore[no-untyped-def]
    yield
    disable_tracing()


def _no_findings(records: Any, catalog: Any) -> None:
    findings = check_contract(records, catalog)
    assert not findings, "\n".join(map(str, findings))


# -- spans ----------------------------------------------------------------------------

def test_a_span_emits_started_then_ended(signal_provider, signal_recorder, signal_catalog):
    tracer = SparkTraceProvider(signal_provider)

    with tracer.span("load", "MyPipeline", {"source": "s3"}) as span:
        assert current_span() is span

    started, ended = signal_recorder.records
    assert (started.name, ended.name) == ("trace.span_started", "trace.span_ended")
    assert started["span_id"] == ended["span_id"] == span.span_id
    assert (started["component"], started["operation"]) == ("MyPipeline", "load")
    assert started["parent_span_id"] is None and started["details"] == {"source": "s3"}
    assert started["operation_id"] == ended["operation_id"]
    assert ended["duration_seconds"] == span.duration_seconds >= 0
    assert current_span() is None
    _no_findings(signal_recorder.records, signal_catalog)


def test_nested_spans_carry_their_parent_span_id(signal_provider, signal_recorder, signal_catalog):
    tracer = SparkTraceProvider(signal_provider)

    with tracer.span("run", "App") as root:
        with tracer.span("pipe", "App") as child:
            with tracer.span("merge", "App") as grandchild:
                pass
        with tracer.span("pipe", "App") as sibling:
            pass

    started = {r["span_id"]: r["parent_span_id"] for r in signal_recorder.of("trace.span_started")}
    assert started == {root.span_id: None, child.span_id: root.span_id,
                       grandchild.span_id: child.span_id, sibling.span_id: root.span_id}
    assert len({root.span_id, child.span_id, grandchild.span_id, sibling.span_id}) == 4
    ended = [r["span_id"] for r in signal_recorder.of("trace.span_ended")]
    assert ended == [grandchild.span_id, child.span_id, sibling.span_id, root.span_id]
    _no_findings(signal_recorder.records, signal_catalog)


def test_a_failing_span_emits_span_failed_and_the_error_propagates(
        signal_provider, signal_recorder, signal_catalog, tmp_path):
    tracer = SparkTraceProvider(signal_provider)
    fs = PlatformService(signal_provider)
    (tmp_path / "corrupt.json").write_text('{"id": 1,')

    with pytest.raises(json.JSONDecodeError):
        with tracer.span("parse", "Loader") as outer:
            with tracer.span("decode", "Loader"):
                json.loads(fs.read_text(tmp_path / "corrupt.json"))

    failed = signal_recorder.of("trace.span_failed")
    assert len(failed) == 2  # the error crosses both spans
    assert failed[0]["error_type"] == failed[1]["error_type"] == "JSONDecodeError"
    assert "Expecting" in failed[0]["error"]
    assert failed[1]["span_id"] == outer.span_id
    assert signal_recorder.of("trace.span_ended") == []
    assert current_span() is None
    assert (tmp_path / "corrupt.json").read_text() == '{"id": 1,'
    _no_findings(signal_recorder.records, signal_catalog)


def test_spans_in_threads_do_not_share_parents(signal_provider, signal_recorder):
    tracer = SparkTraceProvider(signal_provider)

    def work() -> None:
        with tracer.span("thread-root", "Worker"):
            with tracer.span("step", "Worker"):
                pass

    with tracer.span("main", "App"):
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    roots = [r for r in signal_recorder.of("trace.span_started") if r["operation"] == "thread-root"]
    assert len(roots) == 4 and all(r["parent_span_id"] is None for r in roots)
    steps = {r["parent_span_id"] for r in signal_recorder.of("trace.span_started") if r["operation"] == "step"}
    assert steps == {r["span_id"] for r in roots}


def test_span_arguments_are_checked():
    tracer = SparkTraceProvider()
    with pytest.raises(ValueError, match="component=''"):
        with tracer.span("x", ""):
            pass
    with pytest.raises(TypeError, match="details must be a mapping"):
        with tracer.span("x", "y", ["a"]):  # type: ignore[arg-type]
            pass
    with pytest.raises(TypeError, match="takes a SparkTraceProvider"):
        enable_tracing(object())  # type: ignore[arg-type]


# -- every provider operation in a span ---------------------------------------------------

@pytest.mark.kindling_signals_ignore
def test_tracing_is_off_by_default(signal_provider, signal_recorder, tmp_path):
    assert not tracing_enabled()
    (tmp_path / "a.json").write_text("{}")

    Archiver(PlatformService(signal_provider), tmp_path / "archive").store(tmp_path / "a.json")

    assert signal_recorder.of("trace.*") == []


@pytest.mark.kindling_signals_ignore
def test_tracing_wraps_each_operation_in_a_span(signal_provider, signal_recorder, catalog, tmp_path):
    fs = PlatformService(signal_provider)
    (tmp_path / "a.json").write_text('{"a": 1}')

    with tracing(SparkTraceProvider(signal_provider)):
        dest = Archiver(fs, tmp_path / "archive").store(tmp_path / "a.json")

    assert Path(dest).read_text() == '{"a": 1}'
    assert signal_recorder.names() == [
        "trace.span_started", "archive.pre_store", "platform.file_read",
        "platform.file_written", "platform.file_deleted", "archive.post_store", "trace.span_ended"]
    started = signal_recorder.first("trace.span_started")
    pre = signal_recorder.first("archive.pre_store")
    assert (started["component"], started["operation"]) == ("Archiver", "archive.store")
    assert started["details"] == {"operation_id": pre["operation_id"]}
    # the platform's events belong to the traced operation
    assert {r["operation_id"] for r in signal_recorder.of("platform.*")} == {pre["operation_id"]}
    assert not tracing_enabled() and current_span() is None and current_operation() is None
    _no_findings(signal_recorder.records, catalog)


@pytest.mark.kindling_signals_ignore
def test_nested_operations_give_nested_spans(signal_provider, signal_recorder, catalog, tmp_path):
    fs = PlatformService(signal_provider)
    files = []
    for i in range(2):
        files.append(tmp_path / f"f{i}.json")
        files[-1].write_text("[]")

    with tracing(SparkTraceProvider(signal_provider)):
        Archiver(fs, tmp_path / "archive").store_all(files)

    spans = signal_recorder.of("trace.span_started")
    assert len(spans) == 3  # one per operation: no span for a span's own operation
    batch, first, second = spans
    assert batch["parent_span_id"] is None
    assert first["parent_span_id"] == second["parent_span_id"] == batch["span_id"]
    assert len(signal_recorder.of("trace.span_ended")) == 3
    _no_findings(signal_recorder.records, catalog)


@pytest.mark.kindling_signals_ignore
def test_a_failing_operation_fails_its_span(signal_provider, signal_recorder, catalog, tmp_path):
    fs = PlatformService(signal_provider)
    (tmp_path / "bad.json").write_text("not json")

    with tracing(SparkTraceProvider(signal_provider)):
        with pytest.raises(json.JSONDecodeError):
            Archiver(fs, tmp_path / "archive").store(tmp_path / "bad.json")

    assert signal_recorder.names()[-2:] == ["archive.store_failed", "trace.span_failed"]
    assert signal_recorder.last("trace.span_failed")["error_type"] == "JSONDecodeError"
    assert (tmp_path / "bad.json").read_text() == "not json"  # not moved
    assert not (tmp_path / "archive").exists()
    _no_findings(signal_recorder.records, catalog)


@pytest.mark.kindling_signals_ignore
def test_enable_and_disable_tracing(signal_provider, signal_recorder, tmp_path):
    (tmp_path / "a.json").write_text("{}")
    tracer = enable_tracing()  # follows the default provider: the test's
    assert tracing_enabled() and isinstance(tracer, SparkTraceProvider)
    Archiver(PlatformService(signal_provider), tmp_path / "x").store(tmp_path / "a.json")
    disable_tracing()
    (tmp_path / "b.json").write_text("{}")
    Archiver(PlatformService(signal_provider), tmp_path / "x").store(tmp_path / "b.json")

    assert len(signal_recorder.of("trace.span_started")) == 1


def test_span_sets_the_spark_job_description(spark, signal_provider, signal_recorder):
    sc = spark.sparkContext
    sc.setJobDescription("before")

    with SparkTraceProvider(signal_provider).span("count", "Report"):
        inside = sc.getLocalProperty("spark.job.description")
        assert spark.range(3).count() == 3

    assert inside == "Report: count"
    assert sc.getLocalProperty("spark.job.description") == "before"
    sc.setJobDescription(None)


# -- the silent logger -----------------------------------------------------------------

def test_spark_logger_emits_no_signals(signal_recorder, caplog):
    log = SparkLoggerProvider().get_logger("pipes")
    with caplog.at_level(logging.INFO, logger="kindling"):
        log.info("loaded %d rows", 3)
        log.error("failed")

    assert log.name == "kindling.pipes"
    assert SparkLoggerProvider().get_logger("kindling.pipes") is log
    assert [r.getMessage() for r in caplog.records] == ["loaded 3 rows", "failed"]
    assert signal_recorder.records == []
    assert "SparkLoggerProvider" in load_catalog().silent_providers
    with pytest.raises(ValueError, match="name=''"):
        SparkLoggerProvider().get_logger("")

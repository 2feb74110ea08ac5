"""The catalog's own "Testing Patterns" and "Observer Pattern Examples", run as written.

``setup_method`` (the fixture the patterns' signatures ask for) declares the
only pipes they run, ``pipe1`` and ``pipe2``, over real Delta tables on local
Spark. The helper functions the observer examples call (``send_alert``,
``log_error``, ``get_current_user``) are defined here; everything between the
``--- as written`` markers is copied from ``signal_quick_reference.md``.
"""

from __future__ import annotations

import builtins
import getpass
import json
import re
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, Mock  # the Testing Patterns' own import

import pytest

from kindling.data_entities import DataEntities
from kindling.data_pipes import DataPipes, DataPipesExecuter, PipeExecutionError
from kindling.entity_manager import DataEntityManager
from kindling.signaling import BlinkerSignalProvider
from pytest_kindling_signals.record import SignalRecorder

pytestmark = pytest.mark.contract

ORDERS = "order_id INT, customer STRING, amount DOUBLE"

# -- the helpers the observer examples call ----------------------------------------

alerts: list[str] = []
logged_errors: list[tuple[str, str, str]] = []


def send_alert(message: str) -> None:
    alerts.append(message)


def log_error(operation: str, error_type: str, error: str) -> None:
    logged_errors.append((operation, error_type, error))


def get_current_user() -> str:
    return getpass.getuser()


@pytest.fixture(autouse=True)
def _fresh_helpers() -> None:
    alerts.clear()
    logged_errors.clear()


# What each pattern's run must have left in the tables (checked after the test).
EXPECTED_TABLES: dict[str, dict[str, list[tuple[Any, ...]] | None]] = {
    "test_pipeline_emits_signals": {
        "patterns.clean_orders": [(1, "ann", 10.0), (2, "bob", 5.0), (3, "ann", 2.5)],
        "patterns.customer_totals": [("ann", 12.5), ("bob", 5.0)]},
    "test_pipeline_signals_integration": {
        "patterns.clean_orders": [(1, "ann", 10.0), (2, "bob", 5.0), (3, "ann", 2.5)],
        "patterns.customer_totals": None},  # pipe1 only: no table yet
}


def rows(df: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in df.collect())


@pytest.fixture
def setup_method(spark: Any, lakehouse: Path, request: pytest.FixtureRequest) -> Any:
    """Registers ``pipe1`` (dedupe orders, merged) and ``pipe2`` (totals per customer, appended)."""
    from pyspark.sql import functions as F

    DataEntities.entity(entityid="patterns.orders", name="patterns_orders", schema=ORDERS)
    DataEntities.entity(entityid="patterns.clean_orders", name="patterns_clean_orders",
                        merge_columns=["order_id"], schema=ORDERS)
    DataEntities.entity(entityid="patterns.customer_totals", name="patterns_customer_totals")

    @DataPipes.pipe(pipeid="pipe1", name="Pipe 1: clean orders",
                    input_entity_ids=["patterns.orders"], output_entity_id="patterns.clean_orders")
    def pipe1(patterns_orders):
        return patterns_orders.dropDuplicates(["order_id"])

    @DataPipes.pipe(pipeid="pipe2", name="Pipe 2: customer totals",
                    input_entity_ids=["patterns.clean_orders"],
                    output_entity_id="patterns.customer_totals")
    def pipe2(patterns_clean_orders):
        return patterns_clean_orders.groupBy("customer").agg(F.sum("amount").alias("total"))

    # Its own provider: the setup's write is not part of what the patterns observe.
    manager = DataEntityManager(signal_provider=BlinkerSignalProvider(name="setup"))
    manager.write_to_entity(spark.createDataFrame(
        [(1, "ann", 10.0), (1, "ann", 10.0), (2, "bob", 5.0), (3, "ann", 2.5)], ORDERS), "patterns.orders")
    yield manager

    # The patterns assert on signals only; prove their runs really wrote the tables.
    for entity_id, expected in EXPECTED_TABLES.get(request.node.name, {}).items():
        if expected is None:
            assert manager.get_entity_version(entity_id) is None, f"{entity_id} was written"
        else:
            assert rows(manager.read_entity(entity_id)) == expected, entity_id


# -- Testing Patterns ----------------------------------------------------------------

def test_pipeline_emits_signals(setup_method):
    # --- as written
    # Setup
    mock_signal_provider = Mock()
    mock_pre_run = MagicMock()
    mock_post_run = MagicMock()

    mock_signal_provider.signal.side_effect = lambda name: {
        'datapipes.pre_run': mock_pre_run,
        'datapipes.post_run': mock_post_run
    }[name]

    # Exercise
    executer = DataPipesExecuter(signal_provider=mock_signal_provider)
    executer.run_datapipes(['pipe1', 'pipe2'])

    # Verify
    mock_pre_run.send.assert_called_once()
    mock_post_run.send.assert_called_once()

    # Check payload
    post_call_kwargs = mock_post_run.send.call_args[1]
    assert post_call_kwargs['pipe_count'] == 2
    assert 'duration_seconds' in post_call_kwargs


def test_pipeline_signals_integration(setup_method):
    # --- as written
    # Setup
    signal_provider = BlinkerSignalProvider()
    received_signals = []

    def record_signal(sender, **kwargs):
        received_signals.append((sender, kwargs))

    signal_provider.connect('datapipes.pre_run', record_signal)
    signal_provider.connect('datapipes.post_run', record_signal)

    # Exercise
    executer = DataPipesExecuter(signal_provider=signal_provider)
    executer.run_datapipes(['pipe1'])

    # Verify
    assert len(received_signals) == 2
    assert received_signals[0][0] == 'datapipes.pre_run'
    assert received_signals[1][0] == 'datapipes.post_run'


# -- Observer Pattern Examples ---------------------------------------------------------

def test_basic_observer(setup_method: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # --- as written
    from kindling.signaling import SignalProvider

    signal_provider = SignalProvider()

    def on_pipeline_complete(sender, **kwargs):
        pipe_count = kwargs.get('pipe_count', 0)
        duration = kwargs.get('duration_seconds', 0)
        print(f"Pipeline completed: {pipe_count} pipes in {duration}s")

    signal_provider.connect('datapipes.post_run', on_pipeline_complete)
    # --- end as written

    recorder = SignalRecorder(signal_provider).start()
    DataPipesExecuter(signal_provider=signal_provider).run_datapipes(['pipe1', 'pipe2'])

    duration = recorder.last('datapipes.post_run')['duration_seconds']
    assert capsys.readouterr().out == f"Pipeline completed: 2 pipes in {duration}s\n"
    assert duration > 0


def test_error_monitoring_observer(setup_method: DataEntityManager, spark: Any, tmp_path: Path) -> None:
    from kindling.file_ingestion import FileIngestionProcessor
    from kindling.signaling import SignalProvider

    signal_provider = SignalProvider()

    # --- as written
    def on_operation_failed(sender, **kwargs):
        operation = kwargs.get('operation', 'unknown')
        error = kwargs.get('error', 'Unknown error')
        error_type = kwargs.get('error_type', 'Exception')

        # Send alert
        send_alert(f"{operation} failed: {error_type} - {error}")

        # Log to monitoring system
        log_error(operation, error_type, error)

    # Subscribe to all failure signals
    signal_provider.connect('datapipes.run_failed', on_operation_failed)
    signal_provider.connect('entity.merge_failed', on_operation_failed)
    signal_provider.connect('file_ingestion.process_failed', on_operation_failed)
    # --- end as written

    recorder = SignalRecorder(signal_provider).start()

    # 1. A pipe that raises fails the run.
    @DataPipes.pipe(pipeid="pipe_raises", name="Raises", input_entity_ids=["patterns.orders"],
                    output_entity_id="patterns.clean_orders")
    def pipe_raises(patterns_orders):
        raise ValueError("orders feed is empty for today")

    with pytest.raises(PipeExecutionError):
        DataPipesExecuter(signal_provider=signal_provider).run_datapipes(['pipe1', 'pipe_raises'])

    # 2. A merge of values Delta cannot cast into the table's types.
    manager = DataEntityManager(signal_provider=signal_provider)
    version = manager.get_entity_version("patterns.clean_orders")
    not_a_number = spark.createDataFrame([(1, "ann", "lots")], "order_id INT, customer STRING, amount STRING")
    with pytest.raises(Exception):
        manager.merge_to_entity(not_a_number, "patterns.clean_orders")
    assert manager.get_entity_version("patterns.clean_orders") == version

    # 3. File ingestion of a folder that is not there.
    with pytest.raises(OSError):
        FileIngestionProcessor(signal_provider=signal_provider).process_path(tmp_path / "no_such_folder")

    failures = [r for r in recorder.records if r.name in (
        'datapipes.run_failed', 'entity.merge_failed', 'file_ingestion.process_failed')]
    assert [r.name for r in failures] == [
        'datapipes.run_failed', 'entity.merge_failed', 'file_ingestion.process_failed']
    # Every lifecycle payload names its operation, so the alert says what failed.
    operations = ['datapipes.run', 'entity.merge', 'file_ingestion.process']
    assert [r['operation'] for r in failures] == operations
    assert alerts == [f"{op} failed: {r['error_type']} - {r['error']}" for op, r in zip(operations, failures)]
    assert logged_errors == [(op, r['error_type'], r['error']) for op, r in zip(operations, failures)]
    assert failures[0]['error_type'] == "ValueError" and failures[0]['failed_pipe'] == "pipe_raises"
    assert failures[2]['error_type'] == "FileNotFoundError"
    assert signal_provider.errors == []  # no observer raised


def test_performance_monitoring_observer(setup_method: DataEntityManager, tmp_path: Path) -> None:
    from kindling.file_ingestion import FileIngestionEntries, FileIngestionProcessor
    from kindling.signaling import SignalProvider

    signal_provider = SignalProvider()

    # --- as written
    from collections import defaultdict

    performance_stats = defaultdict(list)

    def track_performance(sender, **kwargs):
        operation = sender  # Signal name
        duration = kwargs.get('duration_seconds', 0)
        performance_stats[operation].append(duration)

        # Calculate rolling average
        avg_duration = sum(performance_stats[operation]) / len(performance_stats[operation])

        if duration > avg_duration * 2:
            send_alert(f"{operation} took {duration}s (avg: {avg_duration}s)")

    # Track all post-operations
    signal_provider.connect('datapipes.post_run', track_performance)
    signal_provider.connect('entity.post_merge', track_performance)
    signal_provider.connect('file_ingestion.post_process', track_performance)
    # --- end as written

    recorder = SignalRecorder(signal_provider).start()
    DataPipesExecuter(signal_provider=signal_provider).run_datapipes(['pipe1', 'pipe2'])

    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "orders_20250120.csv").write_text("order_id,customer,amount\n4,dan,3.0\n5,eve,4.5\n")
    DataEntities.entity(entityid="patterns.landed_orders", name="patterns_landed_orders", schema=ORDERS)
    FileIngestionEntries.entry(entry_id="landed_orders", name="Landed orders",
                               patterns=[r"orders_\d{8}\.csv"],
                               dest_entity_id="patterns.landed_orders", filetype="csv")
    FileIngestionProcessor(signal_provider=signal_provider).process_path(
        landing, move_to=tmp_path / "processed")

    # Keyed by the sender, which is the signal's name; one duration per emission.
    tracked = ('datapipes.post_run', 'entity.post_merge', 'file_ingestion.post_process')
    assert set(performance_stats) == set(tracked)
    for name in tracked:
        assert performance_stats[name] == [r['duration_seconds'] for r in recorder.of(name)]
        assert len(performance_stats[name]) == 1 and performance_stats[name][0] > 0
    assert alerts == []  # one sample each: never above twice its own average
    assert (tmp_path / "processed" / "orders_20250120.csv").exists()


def test_audit_trail_observer(setup_method: DataEntityManager, spark: Any, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    from kindling.signaling import SignalProvider

    # The example appends to '/logs/audit.jsonl'. A test must not write outside its
    # tmp folder (nor need root for /logs), so open() sends that one path to
    # tmp_path; every other open() is untouched, and the example's code is unchanged.
    audit_file = tmp_path / "audit.jsonl"
    real_open = builtins.open

    def open_redirecting_audit_log(file: Any, *args: Any, **kwargs: Any) -> Any:
        if file == '/logs/audit.jsonl':
            file = audit_file
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_redirecting_audit_log)

    signal_provider = SignalProvider()

    # --- as written
    import json
    from datetime import datetime

    def audit_log(sender, **kwargs):
        log_entry = {
            'signal': sender,
            'timestamp': kwargs.get('timestamp', datetime.utcnow().isoformat()),
            'user': get_current_user(),
            'payload': kwargs
        }

        # Write to audit log
        with open('/logs/audit.jsonl', 'a') as f:
            f.write(json.dumps(log_entry) + '\n')

    # Audit all entity write operations
    signal_provider.connect('entity.post_merge', audit_log)
    signal_provider.connect('entity.post_append', audit_log)
    signal_provider.connect('entity.post_write', audit_log)
    # --- end as written

    recorder = SignalRecorder(signal_provider).start()
    DataPipesExecuter(signal_provider=signal_provider).run_datapipes(['pipe1', 'pipe2'])
    DataEntityManager(signal_provider=signal_provider).write_to_entity(
        spark.createDataFrame([(9, "zed", 1.0)], ORDERS), "patterns.orders")
    monkeypatch.undo()

    entries = [json.loads(line) for line in audit_file.read_text().splitlines()]
    audited = recorder.of('entity.post_*')
    audited = [r for r in audited if r.name in ('entity.post_merge', 'entity.post_append', 'entity.post_write')]
    assert [e['signal'] for e in entries] == ['entity.post_merge', 'entity.post_append', 'entity.post_write']
    assert [e['signal'] for e in entries] == [r.name for r in audited]
    for entry, record in zip(entries, audited):
        assert entry['payload'] == json.loads(json.dumps(record.payload))
        assert entry['timestamp'] == record['timestamp']
        assert entry['user'] == getpass.getuser()
    assert [e['payload'].get('entity_id') for e in entries] == [
        'patterns.clean_orders', 'patterns.customer_totals', 'patterns.orders']
    assert entries[0]['payload']['rows_inserted'] == 3
    assert re.fullmatch(r"\d{4}-.*\+00:00", entries[0]['timestamp'])

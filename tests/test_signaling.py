"""The signalling core: providers, signals, the emitter, the operation helper, taps.

Fast tests: no JVM. Each builds its own :class:`BlinkerSignalProvider` unless
it is about the framework default.
"""

from __future__ import annotations

import gc
import json
import logging
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest.mock import MagicMock, Mock

import pytest

import kindling
from kindling.signal_catalog import UUID_PATTERN, load_catalog
from kindling.signaling import (
    BlinkerSignalProvider,
    Emission,
    KindlingSignal,
    SignalEmitter,
    SignalProvider,
    add_global_tap,
    current_operation,
    describe_error,
    get_default_provider,
    lazy,
    new_operation_id,
    reset_default_provider,
    set_default_provider,
    use_default_provider,
    utc_timestamp,
)

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


class Merger(SignalEmitter):
    """A tiny provider: merges dicts into a 'table' (a dict), emitting entity.* signals."""

    EMITS = ("entity.pre_merge", "entity.post_merge", "entity.merge_failed",
             "entity.pre_ensure_table", "entity.post_ensure_table", "entity.ensure_failed",
             "entity.schema_changed")

    def __init__(self, signal_provider: SignalProvider | None = None) -> None:
        super().__init__(signal_provider)
        self.table: dict[int, str] = {}

    def merge(self, rows: dict[int, str], entity_id: str = "silver.orders") -> dict[str, int]:
        with self.operation("entity.merge", entity_id=entity_id, merge_keys=["id"],
                            source_row_count=len(rows)) as op:
            inserted = sum(1 for k in rows if k not in self.table)
            updated = len(rows) - inserted
            if any(not isinstance(v, str) for v in rows.values()):
                raise TypeError(f"{entity_id}: values must be str")
            self.table.update(rows)
            op.set(rows_inserted=inserted, rows_updated=updated, rows_deleted=0)
        return {"inserted": inserted, "updated": updated}


class Recorder:
    """A receiver that keeps (sender, payload) pairs."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    def __call__(self, sender: Any, **payload: Any) -> None:
        self.calls.append((sender, payload))


@pytest.fixture
def provider() -> BlinkerSignalProvider:
    return BlinkerSignalProvider(name="unit")


def tap_into(provider: BlinkerSignalProvider) -> list[Emission]:
    seen: list[Emission] = []
    provider.add_tap(seen.append)
    return seen


# -- providers and the signal API -------------------------------------------

def test_signal_provider_constructor_gives_a_blinker_provider() -> None:
    provider = SignalProvider()  # type: ignore[abstract]  # Kindling API: gives the blinker provider
    assert isinstance(provider, BlinkerSignalProvider)
    assert provider.receiver_errors == "log"


def test_signal_provider_is_abstract_for_subclasses() -> None:
    class Incomplete(SignalProvider):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


def test_signal_send_connect_disconnect_and_has_receivers_for(provider: BlinkerSignalProvider) -> None:
    sig = provider.signal("entity.post_merge")
    assert isinstance(sig, KindlingSignal)
    assert provider.signal("entity.post_merge") is sig
    assert not sig.has_receivers_for("entity.post_merge")
    rec = Recorder()
    sig.connect(rec)
    assert sig.has_receivers_for("entity.post_merge")
    results = sig.send("entity.post_merge", rows_inserted=3)
    assert rec.calls == [("entity.post_merge", {"rows_inserted": 3})]
    assert results == [(rec, None)]
    sig.disconnect(rec)
    assert not sig.has_receivers_for("entity.post_merge")
    sig.send("entity.post_merge", rows_inserted=4)
    assert len(rec.calls) == 1


def test_signal_send_rejects_positional_payload(provider: BlinkerSignalProvider) -> None:
    with pytest.raises(TypeError, match="keyword payload fields only"):
        provider.signal("entity.post_merge").send("entity.post_merge", {"rows_inserted": 3})


def test_weak_receivers_are_dropped_strong_ones_kept(provider: BlinkerSignalProvider) -> None:
    calls: list[str] = []
    sig = provider.signal("app.installed")
    sig.connect(lambda sender, **kw: calls.append("weak"), weak=True)
    sig.connect(lambda sender, **kw: calls.append("strong"), weak=False)
    gc.collect()
    sig.send("app.installed", app_name="a", version="1")
    assert calls == ["strong"]


def test_provider_connect_and_disconnect_by_name(provider: BlinkerSignalProvider) -> None:
    rec = Recorder()
    assert provider.connect("datapipes.post_run", rec) is rec
    provider.signal("datapipes.post_run").send("datapipes.post_run", pipe_count=2)
    provider.disconnect("datapipes.post_run", rec)
    provider.signal("datapipes.post_run").send("datapipes.post_run", pipe_count=5)
    provider.disconnect("never.created", rec)  # a no-op, not an error
    assert rec.calls == [("datapipes.post_run", {"pipe_count": 2})]


def test_create_signal_and_get_signal(provider: BlinkerSignalProvider) -> None:
    assert provider.get_signal("stage.pre_execute") is None
    sig = provider.create_signal("stage.pre_execute", doc="Before stage execution")
    assert provider.get_signal("stage.pre_execute") is sig
    assert provider.create_signal("stage.pre_execute") is sig
    assert sig.name == "stage.pre_execute"
    assert sig.__doc__ == "Before stage execution"
    assert "stage.pre_execute" in provider.signal_names()
    with pytest.raises(TypeError, match="non-empty str"):
        provider.create_signal("")


def test_sender_is_the_signal_name(provider: BlinkerSignalProvider) -> None:
    rec = Recorder()
    provider.connect("entity.pre_merge", rec)
    provider.connect("entity.post_merge", rec)
    Merger(provider).merge({1: "a"})
    assert [sender for sender, _ in rec.calls] == ["entity.pre_merge", "entity.post_merge"]
    assert all(type(sender) is str for sender, _ in rec.calls)


# -- fail-safety and receiver policies ---------------------------------------

def _explode(sender: Any, **payload: Any) -> None:
    raise RuntimeError(f"observer broke on {sender}")


def test_raising_receiver_under_log_policy_leaves_the_operation_alone(
        provider: BlinkerSignalProvider, caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    provider.connect("entity.post_merge", _explode)
    provider.connect("entity.post_merge", rec)
    merger = Merger(provider)
    with caplog.at_level(logging.ERROR, logger="kindling.signaling"):
        result = merger.merge({1: "a", 2: "b"})
    assert result == {"inserted": 2, "updated": 0}
    assert merger.table == {1: "a", 2: "b"}
    assert len(rec.calls) == 1  # the other observer still ran
    assert provider.error_count == 1
    [error] = provider.errors
    assert error.signal == "entity.post_merge"
    assert error.receiver.endswith("_explode")
    assert isinstance(error.exception, RuntimeError)
    assert "observer broke on entity.post_merge" in str(error)
    assert "Traceback" in error.traceback and "_explode" in error.traceback
    assert "observer broke on entity.post_merge" in caplog.text
    provider.clear_errors()
    assert provider.errors == [] and provider.error_count == 0


def test_error_listeners_hear_each_receiver_error(provider: BlinkerSignalProvider) -> None:
    heard: list[str] = []
    remove = provider.add_error_listener(lambda err: heard.append(err.signal))
    provider.connect("entity.pre_merge", _explode)
    Merger(provider).merge({1: "a"})
    remove()
    Merger(provider).merge({2: "b"})
    assert heard == ["entity.pre_merge"]
    assert provider.error_count == 2


def test_raise_policy_propagates_the_receiver_error() -> None:
    provider = BlinkerSignalProvider(receiver_errors="raise")
    provider.connect("entity.post_merge", _explode)
    merger = Merger(provider)
    with pytest.raises(RuntimeError, match="observer broke on entity.post_merge"):
        merger.merge({1: "a"})
    assert provider.error_count == 1  # counted even though it propagated


def test_raise_policy_on_pre_signal_closes_the_operation_and_leaves_none_open() -> None:
    provider = BlinkerSignalProvider(receiver_errors="raise")
    seen = tap_into(provider)
    provider.connect("entity.pre_merge", _explode)
    with pytest.raises(RuntimeError):
        Merger(provider).merge({1: "a"})
    assert current_operation() is None
    assert [e.name for e in seen] == ["entity.pre_merge", "entity.merge_failed"]
    failed = seen[1].payload
    assert (failed["error_type"], failed["duration_seconds"]) == ("RuntimeError", 0.0)
    assert failed["operation_id"] == seen[0].payload["operation_id"]


def test_receiver_error_policy_can_change_at_runtime(provider: BlinkerSignalProvider) -> None:
    provider.connect("entity.post_merge", _explode)
    provider.receiver_errors = "raise"
    with pytest.raises(RuntimeError):
        Merger(provider).merge({1: "a"})
    provider.receiver_errors = "log"
    assert Merger(provider).merge({1: "a"}) == {"inserted": 1, "updated": 0}


@pytest.mark.parametrize("policy", ["ignore", "RAISE", ""])
def test_invalid_receiver_policy_is_a_clear_value_error(policy: str, provider: BlinkerSignalProvider) -> None:
    expected = rf"receiver_errors={policy!r} is not a policy; use one of 'log', 'raise'"
    with pytest.raises(ValueError, match=re.escape(expected)):
        BlinkerSignalProvider(receiver_errors=policy)
    with pytest.raises(ValueError, match=re.escape(expected)):
        provider.receiver_errors = policy


def test_raising_tap_is_recorded_and_receivers_still_run(provider: BlinkerSignalProvider) -> None:
    def bad_tap(emission: Emission) -> None:
        raise ValueError("tap broke")

    rec = Recorder()
    provider.add_tap(bad_tap)
    provider.connect("entity.post_merge", rec)
    assert Merger(provider).merge({1: "a"}) == {"inserted": 1, "updated": 0}
    assert len(rec.calls) == 1
    assert [e.receiver.rsplit(".", 1)[-1] for e in provider.errors] == ["bad_tap", "bad_tap"]


# -- observers raising BaseException ---------------------------------------------------------

class _Halt(BaseException):
    """A BaseException of the user's own: neither an interrupt nor an exit."""


def _raiser(exc_type: type[BaseException]) -> Any:
    def observer(*args: Any, **kwargs: Any) -> None:
        raise exc_type("observer stopped")
    return observer


_BASE_EXCEPTIONS = [KeyboardInterrupt, SystemExit, _Halt]


@pytest.mark.parametrize("exc_type", _BASE_EXCEPTIONS)
@pytest.mark.parametrize("stage", ["pre", "post"])
def test_a_receiver_raising_a_base_exception_is_recorded_and_the_others_still_receive(
        exc_type: type[BaseException], stage: str, provider: BlinkerSignalProvider,
        caplog: pytest.LogCaptureFixture) -> None:
    seen = tap_into(provider)
    before, after = Recorder(), Recorder()
    raising = _raiser(exc_type)
    for receiver in (before, raising, after):
        provider.connect(f"entity.{stage}_merge", receiver)
    merger = Merger(provider)
    interrupts = exc_type is not _Halt

    with caplog.at_level(logging.ERROR, logger="kindling.signaling"):
        if interrupts:
            with pytest.raises(exc_type):  # KeyboardInterrupt and SystemExit still stop the program
                merger.merge({1: "a"})
        else:
            assert merger.merge({1: "a"}) == {"inserted": 1, "updated": 0}

    assert len(before.calls) == len(after.calls) == 1  # every receiver got the signal
    assert provider.error_count == 1 and type(provider.errors[0].exception) is exc_type
    assert "observer stopped" in caplog.text
    assert current_operation() is None
    if interrupts and stage == "pre":  # aborted before the work: closed as failed, nothing done
        assert [e.name for e in seen] == ["entity.pre_merge", "entity.merge_failed"]
        assert seen[1].payload["error_type"] == exc_type.__name__
        assert seen[1].payload["operation_id"] == seen[0].payload["operation_id"]
        assert merger.table == {}
    else:
        assert [e.name for e in seen] == ["entity.pre_merge", "entity.post_merge"]
        assert merger.table == {1: "a"}


@pytest.mark.parametrize("exc_type", _BASE_EXCEPTIONS)
def test_a_tap_raising_a_base_exception_never_hides_the_signal_from_receivers(
        exc_type: type[BaseException], provider: BlinkerSignalProvider) -> None:
    def tap(emission: Emission) -> None:
        if emission.name == "entity.post_merge":
            raise exc_type("tap stopped")

    rec = Recorder()
    provider.add_tap(tap)
    provider.connect("entity.post_merge", rec)
    merger = Merger(provider)
    if exc_type is _Halt:
        merger.merge({1: "a"})
    else:
        with pytest.raises(exc_type):
            merger.merge({1: "a"})
    assert [sender for sender, _ in rec.calls] == ["entity.post_merge"]
    assert [type(e.exception) for e in provider.errors] == [exc_type]
    assert merger.table == {1: "a"}


@pytest.mark.parametrize("exc_type", _BASE_EXCEPTIONS)
def test_an_error_listener_raising_a_base_exception_is_recorded_and_the_others_still_hear(
        exc_type: type[BaseException], provider: BlinkerSignalProvider,
        caplog: pytest.LogCaptureFixture) -> None:
    heard: list[str] = []
    provider.add_error_listener(_raiser(exc_type))
    provider.add_error_listener(lambda err: heard.append(err.receiver))
    rec = Recorder()
    provider.connect("entity.post_merge", _explode)
    provider.connect("entity.post_merge", rec)
    merger = Merger(provider)
    with caplog.at_level(logging.ERROR, logger="kindling.signaling"):
        if exc_type is _Halt:
            merger.merge({1: "a"})
        else:
            with pytest.raises(exc_type):
                merger.merge({1: "a"})
    assert len(heard) == 1 and heard[0].endswith("_explode")
    assert len(rec.calls) == 1
    # the receiver's error and the listener's, both kept, counted and logged
    assert [type(e.exception) for e in provider.errors] == [RuntimeError, exc_type]
    assert provider.error_count == 2
    assert "observer stopped" in caplog.text


@pytest.mark.parametrize("exc_type", _BASE_EXCEPTIONS)
def test_a_lazy_value_raising_a_base_exception_still_sends_and_closes_the_operation(
        exc_type: type[BaseException], provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    merger = Merger(provider)

    def count() -> int:
        raise exc_type("count interrupted")

    def merge() -> None:
        with merger.operation("entity.merge", entity_id="e", merge_keys=["id"],
                              source_row_count=lazy(count)) as op:
            op.set(rows_inserted=0, rows_updated=0, rows_deleted=0)

    if exc_type is _Halt:
        merge()
        assert [e.name for e in seen] == ["entity.pre_merge", "entity.post_merge"]
    else:
        with pytest.raises(exc_type):
            merge()
        assert [e.name for e in seen] == ["entity.pre_merge", "entity.merge_failed"]
        assert seen[1].payload["error_type"] == exc_type.__name__
    assert seen[0].payload["source_row_count"] is None
    assert {type(e) for _, e in merger.emission_errors} == {exc_type}
    assert current_operation() is None


class _BrokenProvider:
    """Not a Kindling provider: every call to .signal() fails."""

    def signal(self, name: str) -> Any:
        raise ConnectionError(f"signal backend down ({name})")


def test_broken_provider_never_breaks_the_operation() -> None:
    merger = Merger(_BrokenProvider())  # type: ignore[arg-type]
    assert merger.merge({1: "a"}) == {"inserted": 1, "updated": 0}
    assert merger.table == {1: "a"}
    assert [(name, type(exc)) for name, exc in merger.emission_errors] == [
        ("entity.pre_merge", ConnectionError), ("entity.post_merge", ConnectionError)]
    assert not merger.is_observed("entity.post_merge")


def test_provider_whose_send_raises_is_recorded_not_raised() -> None:
    provider = Mock()
    provider.signal.return_value.send.side_effect = OSError("socket closed")
    merger = Merger(provider)
    assert merger.merge({1: "a"}) == {"inserted": 1, "updated": 0}
    assert [name for name, _ in merger.emission_errors] == ["entity.pre_merge", "entity.post_merge"]
    assert all(isinstance(exc, OSError) for _, exc in merger.emission_errors)


def test_catalog_mock_pattern_sees_its_signals_and_the_rest_is_recorded() -> None:
    # The catalog's "Unit Test with Mock Signals": .signal is a dict lookup, so
    # names it doesn't list raise KeyError inside the provider.
    mock_signal_provider = Mock()
    mock_pre = MagicMock()
    mock_post = MagicMock()
    mock_signal_provider.signal.side_effect = lambda name: {
        "entity.pre_merge": mock_pre, "entity.post_merge": mock_post}[name]
    merger = Merger(signal_provider=mock_signal_provider)
    merger.merge({1: "a"})
    mock_pre.send.assert_called_once()
    mock_post.send.assert_called_once()
    args, kwargs = mock_post.send.call_args
    assert args == ("entity.post_merge",)
    assert kwargs["rows_inserted"] == 1 and "duration_seconds" in kwargs
    with pytest.raises(TypeError):
        merger.merge({2: 2})  # type: ignore[dict-item]
    # merge_failed is not in the mock's dict: recorded, and the TypeError is the one raised
    assert [(n, type(e)) for n, e in merger.emission_errors] == [("entity.merge_failed", KeyError)]


def test_failing_payload_builder_is_recorded_not_raised(provider: BlinkerSignalProvider) -> None:
    provider.connect("entity.schema_changed", Recorder(), weak=False)
    merger = Merger(provider)

    def build() -> dict[str, Any]:
        raise ZeroDivisionError("bad estimate")

    merger.emit_lazy("entity.schema_changed", build)
    merger.emit("entity.schema_changed", added_columns=lazy(lambda: 1 / 0))
    assert [(n, type(e)) for n, e in merger.emission_errors] == [
        ("entity.schema_changed", ZeroDivisionError)] * 2


def test_emitter_subclass_that_skips_init_still_emits(provider: BlinkerSignalProvider) -> None:
    class NoInit(SignalEmitter):
        def __init__(self) -> None:  # forgot super().__init__()
            pass

    seen = tap_into(provider)
    emitter = NoInit()
    with use_default_provider(provider):
        emitter.emit("app.uninstalled", app_name="x")
    assert [e.name for e in seen] == ["app.uninstalled"]
    assert emitter.emission_errors == []


# -- laziness ------------------------------------------------------------------

class Counter:
    def __init__(self, value: Any = 7) -> None:
        self.calls = 0
        self.value = value

    def __call__(self) -> Any:
        self.calls += 1
        return self.value


def test_lazy_builder_and_values_are_never_called_without_observers(provider: BlinkerSignalProvider) -> None:
    merger = Merger(provider)
    build = Counter({"added_columns": ["x"], "removed_columns": [], "modified_columns": []})
    value = Counter()
    merger.emit_lazy("entity.schema_changed", build)
    merger.emit("entity.schema_changed", added_columns=lazy(value))
    with merger.operation("entity.merge", entity_id="e", merge_keys=["id"],
                          source_row_count=lazy(value)) as op:
        op.set(rows_inserted=lazy(value), rows_updated=0, rows_deleted=0)
    assert (build.calls, value.calls) == (0, 0)
    assert not merger.is_observed("entity.schema_changed")


def test_lazy_builder_runs_once_when_a_receiver_observes(provider: BlinkerSignalProvider) -> None:
    rec = Recorder()
    provider.connect("entity.schema_changed", rec)
    merger = Merger(provider)
    build = Counter({"added_columns": ["x"], "removed_columns": [], "modified_columns": []})
    merger.emit_lazy("entity.schema_changed", build)
    assert build.calls == 1
    assert rec.calls[0][1]["added_columns"] == ["x"]
    assert merger.is_observed("entity.schema_changed")


def test_lazy_value_shared_by_pre_and_post_is_computed_once(provider: BlinkerSignalProvider) -> None:
    rec = Recorder()
    provider.connect("entity.pre_merge", rec)
    provider.connect("entity.post_merge", rec)
    count = Counter(42)
    with Merger(provider).operation("entity.merge", entity_id="e", merge_keys=["id"],
                                    source_row_count=lazy(count)) as op:
        op.set(rows_inserted=1, rows_updated=0, rows_deleted=0)
    assert count.calls == 1
    assert [p["source_row_count"] for _, p in rec.calls] == [42, 42]


@pytest.mark.parametrize("observer", ["tap", "global_tap"])
def test_taps_count_as_observers(provider: BlinkerSignalProvider, observer: str) -> None:
    seen: list[Emission] = []
    remove = provider.add_tap(seen.append) if observer == "tap" else add_global_tap(seen.append)
    try:
        build = Counter({"added_columns": [], "removed_columns": [], "modified_columns": ["c"]})
        value = Counter(5)
        merger = Merger(provider)
        assert merger.is_observed("entity.schema_changed")
        assert provider.signal("entity.schema_changed").has_receivers_for("entity.schema_changed")
        merger.emit_lazy("entity.schema_changed", build)
        merger.emit("entity.pre_merge", entity_id="e", merge_keys=[], source_row_count=lazy(value))
    finally:
        remove()
    assert (build.calls, value.calls) == (1, 1)
    assert seen[0].payload["modified_columns"] == ["c"]
    assert seen[1].payload["source_row_count"] == 5
    assert not Merger(provider).is_observed("entity.schema_changed")


def test_lazy_rejects_a_non_callable() -> None:
    with pytest.raises(TypeError, match="zero-argument callable"):
        lazy(3)  # type: ignore[arg-type]


# -- the operation helper -----------------------------------------------------------

def test_operation_emits_pre_then_post_with_a_shared_id(provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    Merger(provider).merge({1: "a", 2: "b"})
    pre, post = seen
    assert (pre.name, post.name) == ("entity.pre_merge", "entity.post_merge")
    assert pre.payload["operation_id"] == post.payload["operation_id"]
    assert re.match(UUID_PATTERN, pre.payload["operation_id"])
    assert pre.payload["parent_operation_id"] is None
    assert pre.payload["source_row_count"] == 2 and "rows_inserted" not in pre.payload
    assert post.payload["rows_inserted"] == 2 and post.payload["entity_id"] == "silver.orders"
    assert isinstance(post.payload["duration_seconds"], float) and post.payload["duration_seconds"] >= 0
    assert "duration_seconds" not in pre.payload


def test_operation_duration_measures_the_work(provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    with Merger(provider).operation("entity.merge", entity_id="e", merge_keys=[], source_row_count=0) as op:
        time.sleep(0.05)
    assert seen[-1].payload["duration_seconds"] >= 0.05
    assert op.duration_seconds == seen[-1].payload["duration_seconds"]


def test_operation_failure_emits_failed_and_reraises_the_same_exception(provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    merger = Merger(provider)
    merger.merge({1: "a"})
    seen.clear()
    with pytest.raises(TypeError, match="values must be str") as excinfo:
        merger.merge({2: 5})  # type: ignore[dict-item]
    pre, failed = seen
    assert (pre.name, failed.name) == ("entity.pre_merge", "entity.merge_failed")
    assert failed.payload["operation_id"] == pre.payload["operation_id"]
    assert failed.payload["error"] == str(excinfo.value)
    assert failed.payload["error_type"] == "TypeError"
    assert failed.payload["duration_seconds"] >= 0
    assert failed.payload["entity_id"] == "silver.orders"
    assert merger.table == {1: "a"}  # nothing written by the failed merge
    # the very exception object the work raised, not a wrapper
    assert excinfo.value.__traceback__ is not None
    assert "merge" in [f.name for f in excinfo.traceback]


def test_operation_close_as_another_outcome(provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    emitter = Merger(provider)
    with emitter.operation("datapipes.pipe", pipe_id="p1", pipe_name="P1", pipe_index=0) as op:
        op.close_as("datapipes.pipe_skipped", skip_reason="no new data")
    assert [e.name for e in seen] == ["datapipes.pre_pipe", "datapipes.pipe_skipped"]
    assert seen[1].payload["skip_reason"] == "no new data"
    assert seen[1].payload["operation_id"] == seen[0].payload["operation_id"]
    with pytest.raises(ValueError, match=r"'datapipes.post_run' does not close operation 'datapipes.pipe'; "
                                         r"its outcomes are datapipes.post_pipe, datapipes.pipe_skipped"):
        op.close_as("datapipes.post_run")


def test_operation_irregular_names_come_from_the_catalog(provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    emitter = Merger(provider)
    with emitter.operation("entity.ensure_table", entity_id="e", entity_name="E") as op:
        op.set(table_exists=False)
    with pytest.raises(PermissionError):
        with emitter.operation("entity.ensure_table", entity_id="e", entity_name="E"):
            raise PermissionError("read-only lakehouse")
    assert [e.name for e in seen] == ["entity.pre_ensure_table", "entity.post_ensure_table",
                                      "entity.pre_ensure_table", "entity.ensure_failed"]


def test_operation_name_without_namespace_is_rejected(provider: BlinkerSignalProvider) -> None:
    with pytest.raises(ValueError, match="needs a namespace, like 'entity.merge'"):
        Merger(provider).operation("merge")


def test_nested_operations_carry_parent_operation_id(provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    emitter = Merger(provider)
    with emitter.operation("datapipes.run", pipe_ids=["p"], pipe_count=1, run_id="r1") as run:
        assert current_operation() is run
        with emitter.operation("datapipes.pipe", pipe_id="p", pipe_name="P", pipe_index=0) as pipe:
            assert current_operation() is pipe
            emitter.merge({1: "a"})
            pipe.set(rows_processed=1)
        run.set(success_count=1, failed_count=0, pipe_count=1)
    assert current_operation() is None
    by_name = {e.name: e.payload for e in seen}
    run_id, pipe_id = run.operation_id, pipe.operation_id
    assert by_name["datapipes.pre_run"]["parent_operation_id"] is None
    assert by_name["datapipes.post_run"]["parent_operation_id"] is None
    assert by_name["datapipes.pre_pipe"]["parent_operation_id"] == run_id
    assert by_name["datapipes.post_pipe"]["parent_operation_id"] == run_id
    assert by_name["entity.pre_merge"]["parent_operation_id"] == pipe_id
    assert by_name["entity.post_merge"]["parent_operation_id"] == pipe_id
    assert len({run_id, pipe_id, by_name["entity.post_merge"]["operation_id"]}) == 3


def test_events_inside_an_operation_carry_its_operation_id(provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    emitter = Merger(provider)
    with emitter.operation("entity.merge", entity_id="e", merge_keys=["id"], source_row_count=1) as op:
        emitter.emit("entity.schema_changed", added_columns=["c"], removed_columns=[], modified_columns=[])
        op.set(rows_inserted=1, rows_updated=0, rows_deleted=0)
    emitter.emit("entity.schema_changed", added_columns=[], removed_columns=["c"], modified_columns=[])
    inside, outside = [e.payload for e in seen if e.name == "entity.schema_changed"]
    assert inside["operation_id"] == op.operation_id
    assert outside["operation_id"] != op.operation_id
    assert outside["parent_operation_id"] is None


def test_operation_ids_are_unique_across_threads(provider: BlinkerSignalProvider) -> None:
    ids: list[list[str]] = [[] for _ in range(8)]
    emitter = Merger(provider)

    def work(slot: int) -> None:
        for _ in range(500):
            with emitter.operation("trace.span", span_id="s", component="c", operation="o") as op:
                ids[slot].append(op.operation_id)
            ids[slot].append(new_operation_id())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for slot in ids for i in slot]
    assert len(flat) == 8 * 1000
    assert len(set(flat)) == len(flat)
    assert all(re.match(UUID_PATTERN, i) for i in flat)


# -- payloads: JSON and the catalog --------------------------------------------

def test_payloads_are_json_and_valid_against_the_catalog(provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    emitter = Merger(provider)
    emitter.merge({1: "a"})
    with pytest.raises(TypeError):
        emitter.merge({2: 2})  # type: ignore[dict-item]
    with emitter.operation("entity.ensure_table", entity_id="e", entity_name="E") as op:
        op.set(table_exists=True)
    emitter.emit("entity.schema_changed", added_columns=["c"], removed_columns=[], modified_columns=[])
    catalog = load_catalog()
    assert len(seen) == 7
    for e in seen:
        assert json.loads(json.dumps(e.payload)) == e.payload
        assert catalog.validate(e.name, e.payload) == [], e.name


def test_timestamps_are_iso_8601_utc_with_offset(provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    before = datetime.now(timezone.utc)
    Merger(provider).merge({1: "a"})
    after = datetime.now(timezone.utc)
    for e in seen:
        ts = e.payload["timestamp"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", ts), ts
        parsed = datetime.fromisoformat(ts)
        assert parsed.utcoffset() == timedelta(0)
        assert before - timedelta(milliseconds=1) <= parsed <= after + timedelta(milliseconds=1)


def test_utc_timestamp_of_a_given_time() -> None:
    assert utc_timestamp(0.5) == "1970-01-01T00:00:00.500000+00:00"
    assert utc_timestamp(1737367245.123456)[:26] == "2025-01-20T10:00:45.123456"


# -- taps ---------------------------------------------------------------------------

def test_tap_sees_emit_and_direct_send_alike(provider: BlinkerSignalProvider) -> None:
    seen = tap_into(provider)
    Merger(provider).emit("app.installed", app_name="a", version="1")
    provider.signal("app.installed").send("app.installed", app_name="b", version="2")
    assert [(e.name, e.sender, e.payload["app_name"]) for e in seen] == [
        ("app.installed", "app.installed", "a"), ("app.installed", "app.installed", "b")]
    assert seen[0].thread_name == threading.current_thread().name
    assert seen[0].thread_id == threading.get_ident()
    assert abs(seen[0].time - time.time()) < 5


def test_tap_does_not_change_what_receivers_get(provider: BlinkerSignalProvider) -> None:
    rec = Recorder()
    provider.connect("app.installed", rec)
    sig = provider.signal("app.installed")
    sig.send("app.installed", app_name="a", version="1", extra={"k": [1]})
    remove = provider.add_tap(lambda e: None)
    sig.send("app.installed", app_name="a", version="1", extra={"k": [1]})
    remove()
    assert rec.calls[0] == rec.calls[1]
    assert rec.calls[0] == ("app.installed", {"app_name": "a", "version": "1", "extra": {"k": [1]}})


def test_removed_tap_sees_nothing_more(provider: BlinkerSignalProvider) -> None:
    seen: list[Emission] = []
    with provider.tapped(seen.append):
        provider.signal("app.uninstalled").send("app.uninstalled", app_name="a")
    provider.signal("app.uninstalled").send("app.uninstalled", app_name="b")
    assert len(seen) == 1


def test_tap_loses_nothing_under_8_threads(provider: BlinkerSignalProvider) -> None:
    n = 2000
    seen: list[Emission] = []
    lock = threading.Lock()

    def tap(e: Emission) -> None:
        with lock:
            seen.append(e)

    provider.add_tap(tap)
    emitter = Merger(provider)
    start = threading.Barrier(8)

    def work(slot: int) -> None:
        start.wait()
        sig = provider.signal("platform.file_read")
        for i in range(n):
            if i % 2:
                sig.send("platform.file_read", platform="local", file_path=f"{slot}/{i}",
                         file_size_bytes=i, seq=i)
            else:
                emitter.emit("platform.file_read", platform="local", file_path=f"{slot}/{i}",
                             file_size_bytes=i, seq=i)

    threads = [threading.Thread(target=work, args=(slot,), name=f"worker-{slot}") for slot in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 * n
    for slot in range(8):
        mine = [e.payload["seq"] for e in seen if e.thread_name == f"worker-{slot}"]
        assert mine == list(range(n)), f"worker-{slot} lost or reordered emissions"
    assert provider.error_count == 0


def test_global_tap_sees_every_provider() -> None:
    first, second = BlinkerSignalProvider(name="one"), BlinkerSignalProvider(name="two")
    seen: list[Emission] = []
    remove = add_global_tap(seen.append)
    try:
        Merger(first).emit("app.uninstalled", app_name="a")
        second.signal("app.uninstalled").send("app.uninstalled", app_name="b")
    finally:
        remove()
    Merger(first).emit("app.uninstalled", app_name="c")
    assert [e.payload["app_name"] for e in seen] == ["a", "b"]


# -- the default provider ---------------------------------------------------------------

def test_use_default_provider_swaps_and_restores() -> None:
    before = get_default_provider()
    mine = BlinkerSignalProvider(name="mine")
    with use_default_provider(mine) as installed:
        assert installed is mine and get_default_provider() is mine
    assert get_default_provider() is before


def test_emitter_without_provider_follows_the_current_default() -> None:
    emitter = Merger()  # built before the swap
    assert emitter.signal_provider is get_default_provider()
    first, second = BlinkerSignalProvider(name="first"), BlinkerSignalProvider(name="second")
    seen_first, seen_second = tap_into(first), tap_into(second)
    with use_default_provider(first):
        emitter.merge({1: "a"})
    with use_default_provider(second):
        emitter.merge({2: "b"})
    assert [e.name for e in seen_first] == ["entity.pre_merge", "entity.post_merge"]
    assert [e.name for e in seen_second] == ["entity.pre_merge", "entity.post_merge"]
    pinned = Merger(first)
    with use_default_provider(second):
        pinned.emit("app.uninstalled", app_name="x")
    assert seen_first[-1].name == "app.uninstalled" and len(seen_second) == 2


def test_set_default_provider_rejects_non_providers() -> None:
    with pytest.raises(TypeError, match=r"needs an object with \.signal\(name\), got 42"):
        set_default_provider(42)  # type: ignore[arg-type]


def test_reset_installs_a_fresh_default() -> None:
    original = get_default_provider()
    try:
        fresh = reset_default_provider()
        assert fresh is get_default_provider() and fresh is not original
        kindling.reset()
        assert get_default_provider() is not fresh
        assert isinstance(get_default_provider(), BlinkerSignalProvider)
    finally:
        set_default_provider(original)


# -- describe_error -------------------------------------------------------------------

def test_describe_error_trims_jvm_stack_traces() -> None:
    py4j_style = RuntimeError(
        "An error occurred while calling o57.save.\n"
        ": org.apache.spark.sql.AnalysisException: [DELTA_FAILED_TO_MERGE_FIELDS] Failed to merge fields 'id'\n"
        "\tat org.apache.spark.sql.delta.DeltaErrors$.failedMergeFields(DeltaErrors.scala:123)\n"
        "\tat java.base/java.lang.Thread.run(Thread.java:840)\n")
    connect_style = ValueError(
        "[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found.\n\n"
        "JVM stacktrace:\norg.apache.spark.sql.AnalysisException\n\tat org.apache.Foo.bar(Foo.scala:1)")
    pyspark_style = ValueError(
        "[DELTA_MISSING_TABLE] t is not a Delta table.\nJVM stacktrace:\n\tat a.b(C.scala:1)")
    assert describe_error(py4j_style) == (
        "An error occurred while calling o57.save.\n"
        ": org.apache.spark.sql.AnalysisException: [DELTA_FAILED_TO_MERGE_FIELDS] Failed to merge fields 'id'")
    assert describe_error(connect_style) == "[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found."
    assert describe_error(pyspark_style) == "[DELTA_MISSING_TABLE] t is not a Delta table."


class _JavaStandIn:
    """The part of a Py4J ``JavaObject`` for a Java exception that describe_error reads."""

    def __init__(self, cls: str, message: str | None, cause: _JavaStandIn | None = None) -> None:
        self.cls, self.message, self.cause = cls, message, cause

    def getCause(self) -> _JavaStandIn | None:  # noqa: N802 - the Java API's name
        return self.cause

    def getMessage(self) -> str | None:  # noqa: N802
        return self.message

    def getClass(self) -> Any:  # noqa: N802
        return type("Class", (), {"getSimpleName": lambda _: self.cls})()


class _Py4JStyleError(Exception):
    def __init__(self, java: Any) -> None:
        super().__init__("An error occurred while calling o173.collectToPython.\n: org.apache.spark."
                         "SparkException: Job aborted due to stage failure\n\tat org.apache.X.y(X.scala:1)")
        self.java_exception = java


def test_describe_error_gives_a_jvm_errors_root_cause() -> None:
    missing = _JavaStandIn("SparkFileNotFoundException", "File file:/t/part-0.parquet does not exist\n"
                           "It is possible the underlying files have been updated.")
    job = _JavaStandIn("SparkException", "Job aborted due to stage failure: ...", missing)
    assert describe_error(_Py4JStyleError(job)) == (
        "SparkFileNotFoundException: File file:/t/part-0.parquet does not exist")
    worker = _JavaStandIn("PythonException", "Traceback (most recent call last):\n  File \"x.py\", "
                          "line 1\nValueError: poisoned row\n")
    assert describe_error(_Py4JStyleError(_JavaStandIn("SparkException", "Job aborted", worker))) == (
        "ValueError: poisoned row")

    class GatewayGone:
        def getCause(self) -> None:  # noqa: N802
            raise ConnectionError("Answer from Java side is empty")

    # the JVM can't be asked: the message's own first line, without the stack
    assert describe_error(_Py4JStyleError(GatewayGone())) == (
        "An error occurred while calling o173.collectToPython.\n: org.apache.spark."
        "SparkException: Job aborted due to stage failure")


def test_describe_error_names_empty_errors_and_shortens_long_ones() -> None:
    assert describe_error(KeyError()) == "KeyError"
    long = describe_error(ValueError("x" * 2000))
    assert len(long) == 500 and long.endswith("...")


def test_a_lazy_value_that_raises_still_sends_the_signal_with_a_null() -> None:
    provider = BlinkerSignalProvider()
    seen: list[tuple[str, dict[str, Any]]] = []
    provider.add_tap(lambda e: seen.append((e.name, e.payload)))

    class Merger(SignalEmitter):
        EMITS = ("entity.pre_merge", "entity.post_merge", "entity.merge_failed")

    def broken_count() -> int:
        raise RuntimeError("source is unreadable")

    merger = Merger(provider)
    with pytest.raises(ValueError):
        with merger.operation("entity.merge", entity_id="e", merge_keys=["id"],
                              source_row_count=lazy(broken_count)):
            raise ValueError("merge failed")
    assert [name for name, _ in seen] == ["entity.pre_merge", "entity.merge_failed"]
    assert seen[0][1]["source_row_count"] is None
    assert seen[0][1]["operation_id"] == seen[1][1]["operation_id"]
    assert [name for name, _ in merger.emission_errors] == ["entity.pre_merge", "entity.merge_failed"]


def test_an_exception_whose_str_raises_is_still_reported_by_its_type() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    provider = BlinkerSignalProvider()
    seen: list[dict[str, Any]] = []
    provider.add_tap(lambda e: seen.append(e.payload))

    class Merger(SignalEmitter):
        EMITS = ("entity.pre_merge", "entity.merge_failed")

    with pytest.raises(Unprintable):  # the operation's own exception, not the __str__ failure
        with Merger(provider).operation("entity.merge", entity_id="e", merge_keys=["id"],
                                        source_row_count=1):
            raise Unprintable()
    assert (seen[-1]["error"], seen[-1]["error_type"]) == ("Unprintable", "Unprintable")

"""spark-kindling's streaming stack under test, driven by the signals its threads send.

spark-kindling runs a streaming pipe through its ``StreamingOrchestrator``: the
``StreamingQueryManager`` starts the query, the ``KindlingStreamingListener``
turns Spark's listener events into signals on a consumer thread, the
``StreamingHealthMonitor`` judges each query (and a stall checker thread looks
for stalls), and the ``StreamingRecoveryManager`` restarts what failed on a
thread of its own. A test can't sleep its way through that. Here every wait
sleeps on a condition that the signals notify::

    stream = spark_kindling.streaming.start("events.to_silver")
    spark_kindling.write("bronze.events", rows, mode="append")
    stream.query().wait_for_rows(3)          # streaming.spark_query_progress, 3 rows in all
    stream.query().stop()                    # ... and its streaming.spark_query_terminated
    spark_kindling.streaming.await_termination()   # streaming.orchestrator_completed

and a :class:`StreamGate` puts a switch in a pipe's path to make its query fail
or stall on purpose::

    gate = spark_kindling.streaming.gate("events.to_silver")   # before start()
    gate.fail("poisoned batch")      # the next rows raise in the query: it terminates with it
    gate.hold(); ...; gate.wait_held(); stream.query().stall()   # the monitor reports a stall

The gate is a small server on 127.0.0.1 in the test process, asked by a Python
UDF in the query for each row: it answers *pass*, *fail* or, while held, keeps
the task waiting until released. It works wherever the executors run on this
machine (local, a throwaway standalone cluster, a local Spark Connect server).

Nothing here imports ``kindling`` or ``pyspark`` at import time.
"""

from __future__ import annotations

import dataclasses
import importlib
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_kindling_signals.frameworks.emission import Emission
from pytest_kindling_signals.frameworks.spark_kindling.adapter import add_global_tap

__all__ = ["DEFAULT_STREAMING_TIMEOUT", "SparkKindlingStreaming", "StreamGate", "StreamingQuery", "StreamingRun",
           "StreamingTimeout"]

#: Seconds a streaming wait gives up after: a first micro-batch on a busy 2-core machine takes 15 s.
DEFAULT_STREAMING_TIMEOUT = 180.0
#: How often spark-kindling's own loops look (its stall checker, its recovery loop) under test.
TEST_CHECK_INTERVAL = 0.05
IDLE_PROGRESS_CONF = "spark.sql.streaming.noDataProgressEventInterval"


def _kindling(module: str) -> Any:
    return importlib.import_module(f"kindling.{module}")


class StreamingTimeout(AssertionError):
    """A streaming wait ran out of time; the message lists what arrived instead."""


# -- the gate -------------------------------------------------------------------

class StreamGate:
    """A switch in a streaming query's path: each row asks it to pass, fail or wait.

    ``fail(message)`` makes every row ask fail with ``message`` until
    ``heal()``; ``hold()`` keeps every asking task waiting until ``release()``
    (``wait_held()`` returns once one waits: the batch is in flight and stuck).
    Calls are thread-safe, so a receiver of a signal may heal or release the
    gate at the exact moment that signal is sent::

        gate = StreamGate("orders")
        frame = gate.apply(frame)          # or SparkKindlingStreaming.gate(pipe_id)
        gate.fail("poisoned batch")
    """

    PASS, FAIL, HOLD = "pass", "fail", "hold"

    def __init__(self, name: str = "gate") -> None:
        self.name = name
        self._cond = threading.Condition()
        self._mode = self.PASS
        self._message = ""
        self._waiting = 0
        #: rows asked, rows failed, tasks that waited while held
        self.asked = self.failed = self.held = 0
        self._closed = False
        gate = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.rfile.readline()
                answer = gate._answer()
                try:
                    self.wfile.write(answer.encode("utf-8") + b"\n")
                except OSError:  # the asking task was killed while it waited
                    pass

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.address: tuple[str, int] = self._server.server_address[:2]  # type: ignore[assignment]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"StreamGate[{name}]",
                                        daemon=True)
        self._thread.start()

    # -- the switch -----------------------------------------------------------
    def _answer(self) -> str:
        with self._cond:
            self.asked += 1
            if self._mode == self.HOLD:
                self.held += 1
                self._waiting += 1
                self._cond.notify_all()
                try:
                    while self._mode == self.HOLD and not self._closed:
                        self._cond.wait()
                finally:
                    self._waiting -= 1
            if self._mode == self.FAIL:
                self.failed += 1
                return f"fail {self._message}"
            return "pass"

    def _set(self, mode: str, message: str = "") -> StreamGate:
        with self._cond:
            self._mode, self._message = mode, message
            self._cond.notify_all()
        return self

    @property
    def mode(self) -> str:
        return self._mode

    def fail(self, message: str = "failed on purpose by StreamGate") -> StreamGate:
        """Every row asking from now on fails its task (``RuntimeError: StreamGate '<name>': message``)."""
        return self._set(self.FAIL, f"StreamGate {self.name!r}: {message}")

    def heal(self) -> StreamGate:
        """Rows pass again (and tasks held wait no more)."""
        return self._set(self.PASS)

    def hold(self) -> StreamGate:
        """Every task asking from now on waits until :meth:`release` (or :meth:`fail`)."""
        return self._set(self.HOLD)

    def release(self) -> StreamGate:
        """Let held tasks go on (the same as :meth:`heal`)."""
        return self._set(self.PASS)

    @property
    def waiting(self) -> int:
        """Tasks waiting at the gate now."""
        with self._cond:
            return self._waiting

    def wait_held(self, timeout: float = DEFAULT_STREAMING_TIMEOUT) -> int:
        """Block until a task waits at the held gate; returns how many do."""
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._mode != self.HOLD:
                raise RuntimeError(f"StreamGate {self.name!r} is not held (mode {self._mode!r}): "
                                   "call hold() first, then start the batch that should wait")
            while not self._waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StreamingTimeout(
                        f"no task reached StreamGate {self.name!r} within {timeout:g} s (rows asked so far: "
                        f"{self.asked}); is new data reaching the query?")
                self._cond.wait(remaining)
            return self._waiting

    # -- in the query ---------------------------------------------------------
    def check(self) -> Any:
        """A zero-argument, non-deterministic Python UDF that asks the gate (``True`` or raises)."""
        functions: Any = importlib.import_module("pyspark.sql.functions")
        types: Any = importlib.import_module("pyspark.sql.types")
        host, port = self.address
        name = self.name

        def ask() -> bool:  # runs in a Python worker: plain values only in its closure
            import socket as _socket

            try:
                with _socket.create_connection((host, port)) as conn:
                    conn.sendall(b"?\n")
                    answer = conn.makefile("r", encoding="utf-8").readline().strip()
            except OSError as exc:
                raise RuntimeError(f"StreamGate {name!r} at {host}:{port} is gone ({exc}): the test that "
                                   "owned it has ended; stop the query before the test ends") from None
            if answer.startswith("fail"):
                raise RuntimeError(answer[5:] or f"StreamGate {name!r} failed the row")
            return True

        return functions.udf(ask, types.BooleanType()).asNondeterministic()

    def apply(self, frame: Any) -> Any:
        """``frame`` with every row asking the gate (a filter that keeps them all)."""
        return frame.filter(self.check()())

    def close(self) -> None:
        """Release what waits and stop answering."""
        with self._cond:
            self._closed = True
            self._mode = self.PASS
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __repr__(self) -> str:
        return (f"<StreamGate {self.name!r} {self._mode} at {self.address[0]}:{self.address[1]}: "
                f"asked {self.asked}, failed {self.failed}, held {self.held}>")


# -- watching the streaming signals ------------------------------------------------

class _Watch:
    """Every ``streaming.*`` emission of the process while it is on, and a condition that they notify."""

    def __init__(self) -> None:
        self.events: list[Emission] = []
        self.cond = threading.Condition()
        self._remove: Callable[[], None] | None = add_global_tap(self._tap)

    def _tap(self, emission: Emission) -> None:
        if emission.name.startswith("streaming."):
            with self.cond:
                self.events.append(emission)
                self.cond.notify_all()

    def wait(self, done: Callable[[list[Emission]], Any], timeout: float, expected: str) -> Any:
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = done(self.events)
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(remaining)
            seen = list(self.events)
        raise StreamingTimeout(f"waited {timeout:g} s for {expected}; streaming signals that arrived "
                               f"({len(seen)}):\n{_describe(seen)}")

    def close(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None


_SHOWN = ("query_id", "pipe_ids", "batch_id", "num_input_rows", "health_status", "retry_count", "error",
          "exception", "failure_reason")


def _describe(events: list[Emission], limit: int = 40) -> str:
    lines = []
    start = events[0].time if events else 0.0
    for e in events[-limit:]:
        shown = ", ".join(f"{k}={_short(e.payload[k])}" for k in _SHOWN if k in e.payload)
        lines.append(f"  +{e.time - start:6.2f} s [{e.thread_name}] {e.name}({shown})")
    if len(events) > limit:
        lines.insert(0, f"  ... {len(events) - limit} earlier")
    return "\n".join(lines) or "  (none)"


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, (str, int, float, bool, type(None), list)) else type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- queries, runs, the runtime ------------------------------------------------------

class StreamingQuery:
    """One pipe's query in a streaming run: its ids, its progress, and waits on its signals.

    ``query_id`` is the query manager's id (``<run id>:<pipe id>``); ``spark_query_id``
    is Spark's, which the listener, the health monitor and the recovery manager
    use (it stays the same across restarts, which reuse the checkpoint).
    """

    def __init__(self, runtime: SparkKindlingStreaming, pipe_id: str, query_id: str) -> None:
        self.runtime = runtime
        self.pipe_id = pipe_id
        self.query_id = query_id

    @property
    def info(self) -> Any:
        """The query manager's ``StreamingQueryInfo`` (state, restart count, the Spark query)."""
        return self.runtime.query_manager.get_query_status(self.query_id)

    @property
    def spark_query_id(self) -> str:
        return str(self.info.spark_query_id)

    @property
    def spark_query(self) -> Any:
        return self.info.spark_query

    def _mine(self, e: Emission) -> bool:
        return e.payload.get("query_id") in (self.query_id, self.spark_query_id)

    def signals(self, name: str = "streaming.*") -> list[Emission]:
        """This query's streaming emissions so far (``name`` may end in ``*``)."""
        prefix = name[:-1] if name.endswith("*") else None
        with self.runtime.watch.cond:
            return [e for e in self.runtime.watch.events if self._mine(e)
                    and (e.name.startswith(prefix) if prefix is not None else e.name == name)]

    def progress(self) -> list[dict[str, Any]]:
        """The payloads of this query's ``streaming.spark_query_progress`` so far."""
        return [e.payload for e in self.signals("streaming.spark_query_progress")]

    @property
    def rows(self) -> int:
        """Input rows of every micro-batch so far (across restarts)."""
        return sum(int(p.get("num_input_rows") or 0) for p in self.progress())

    def _progress_of(self, events: list[Emission], spark_id: str) -> list[dict[str, Any]]:
        return [e.payload for e in events
                if e.name == "streaming.spark_query_progress" and e.payload.get("query_id") == spark_id]

    def wait_for_rows(self, n: int, *, timeout: float | None = None) -> list[dict[str, Any]]:
        """Block until this query's micro-batches have read ``n`` rows in all; returns their progress payloads."""
        __tracebackhide__ = True
        spark_id = self.spark_query_id

        def done(events: list[Emission]) -> list[dict[str, Any]] | None:
            progress = self._progress_of(events, spark_id)
            return progress if sum(int(p.get("num_input_rows") or 0) for p in progress) >= n else None

        return self.runtime.watch.wait(done, self.runtime.timeout_for(timeout),
                                       f"{n} rows through {self.pipe_id!r} (spark query {spark_id})")

    def wait_for_batches(self, k: int, *, timeout: float | None = None) -> list[dict[str, Any]]:
        """Block until ``k`` micro-batches of this query have read rows; returns their progress payloads."""
        __tracebackhide__ = True
        spark_id = self.spark_query_id

        def done(events: list[Emission]) -> list[dict[str, Any]] | None:
            batches = [p for p in self._progress_of(events, spark_id) if int(p.get("num_input_rows") or 0)]
            return batches if len(batches) >= k else None

        return self.runtime.watch.wait(done, self.runtime.timeout_for(timeout),
                                       f"{k} micro-batches with rows through {self.pipe_id!r} (spark query {spark_id})")

    def wait_for(self, name: str, *, timeout: float | None = None, **subset: Any) -> dict[str, Any]:
        """Block until this query's signal ``name`` arrives with ``subset`` in its payload; returns the payload."""
        __tracebackhide__ = True
        spark_id = self.spark_query_id

        def done(events: list[Emission]) -> dict[str, Any] | None:
            for e in events:
                if (e.name == name and e.payload.get("query_id") in (self.query_id, spark_id)
                        and all(e.payload.get(k) == v for k, v in subset.items())):
                    return e.payload
            return None

        wanted = ", ".join([repr(name), *(f"{k}={v!r}" for k, v in subset.items())])
        return self.runtime.watch.wait(done, self.runtime.timeout_for(timeout), f"{wanted} of {self.pipe_id!r}")

    def stop(self, *, timeout: float | None = None) -> dict[str, Any]:
        """Stop the query through the query manager (``streaming.query_stopped``), then wait for the
        listener's ``streaming.spark_query_terminated`` of the run it stopped; returns that payload."""
        __tracebackhide__ = True
        info = self.info
        run_id = str(info.spark_run_id)
        self.runtime.query_manager.stop_query(self.query_id, await_termination=True)
        return self.wait_for("streaming.spark_query_terminated", timeout=timeout, run_id=run_id)

    def stall(self, *, timeout: float | None = None) -> dict[str, Any]:
        """Have the health monitor report this query stalled (``streaming.query_stalled``); returns that payload.

        For a query that can't progress (held at a :class:`StreamGate`, say) after at
        least one micro-batch: its stall threshold is lowered to zero until the stall
        checker reports it, then put back, so the monitor's own check decides, at the
        moment the test chose instead of after minutes.
        """
        __tracebackhide__ = True
        monitor = self.runtime.health_monitor
        spark_id = self.spark_query_id
        state = monitor.get_health_status(spark_id)
        if state is None or state.last_progress_time is None:
            raise RuntimeError(
                f"stall(): the health monitor has no progress of {self.pipe_id!r} (spark query {spark_id}) yet, "
                "and spark-kindling only reports a stall after a first micro-batch: wait_for_batches(1) first")
        before = len(self.signals("streaming.query_stalled"))

        def stalled(events: list[Emission]) -> dict[str, Any] | None:
            found = [e.payload for e in events
                     if e.name == "streaming.query_stalled" and e.payload.get("query_id") == spark_id]
            return found[before] if len(found) > before else None

        threshold = state.stall_threshold
        state.stall_threshold = 0.0
        try:
            return self.runtime.watch.wait(stalled, self.runtime.timeout_for(timeout),
                                           f"streaming.query_stalled of {self.pipe_id!r}")
        finally:
            state.stall_threshold = threshold

    def __repr__(self) -> str:
        return f"<StreamingQuery {self.pipe_id!r} query_id={self.query_id!r}>"


class StreamingRun:
    """What ``SparkKindlingStreaming.start`` started: the orchestrator's result and a query per pipe."""

    def __init__(self, runtime: SparkKindlingStreaming, result: Any, queries: Mapping[str, StreamingQuery]) -> None:
        self.runtime = runtime
        #: spark-kindling's ``ExecutionResult``
        self.result = result
        self.run_id: str = result.run_id
        self.queries = dict(queries)

    def query(self, pipe_id: str | None = None) -> StreamingQuery:
        """The query of ``pipe_id`` (may be left out when the run has one pipe)."""
        __tracebackhide__ = True
        if pipe_id is None:
            if len(self.queries) != 1:
                raise ValueError(f"the run has {len(self.queries)} queries ({', '.join(self.queries)}): "
                                 "name the pipe, e.g. query('events.to_silver')")
            return next(iter(self.queries.values()))
        if pipe_id not in self.queries:
            raise KeyError(f"no query for pipe {pipe_id!r} in this run; it has {', '.join(self.queries) or 'none'}")
        return self.queries[pipe_id]

    def __repr__(self) -> str:
        return f"<StreamingRun {self.run_id} pipes={list(self.queries)}>"


@dataclasses.dataclass
class _Tuning:
    """spark-kindling's loop intervals and recovery policy for a test (set on its singletons)."""

    stall_check_interval: float = TEST_CHECK_INTERVAL
    recovery_check_interval: float = TEST_CHECK_INTERVAL
    max_retries: int = 3
    initial_backoff: float = 0.0
    max_backoff: float = 0.0


class SparkKindlingStreaming:
    """spark-kindling's streaming runtime for one test (``spark_kindling.streaming``).

    Made lazily by the harness; :meth:`close` (the fixture calls it) stops what
    is still running, so no query, listener or monitor thread outlives the test.
    ``get`` resolves spark-kindling services (``GlobalInjector.get``).
    """

    def __init__(self, get: Callable[[type[Any]], Any], checkpoint_root: Path, *,
                 timeout: float = DEFAULT_STREAMING_TIMEOUT) -> None:
        self._get = get
        self.checkpoint_root = checkpoint_root
        self.timeout = timeout
        self.tuning = _Tuning()
        self.gates: list[StreamGate] = []
        self.runs: list[StreamingRun] = []
        self.watch = _Watch()
        self._conf_before: dict[str, str | None] = {}
        config = get(_kindling("spark_config").ConfigService)
        config.set("kindling.storage.checkpoint_root", str(checkpoint_root))

    def timeout_for(self, timeout: float | None) -> float:
        return self.timeout if timeout is None else timeout

    # -- spark-kindling's services ------------------------------------------------
    @property
    def orchestrator(self) -> Any:
        return self._get(_kindling("streaming_orchestrator").StreamingOrchestrator)

    @property
    def query_manager(self) -> Any:
        return self._get(_kindling("streaming_query_manager").StreamingQueryManager)

    @property
    def health_monitor(self) -> Any:
        return self._get(_kindling("streaming_health_monitor").StreamingHealthMonitor)

    @property
    def recovery_manager(self) -> Any:
        return self._get(_kindling("streaming_recovery_manager").StreamingRecoveryManager)

    # -- setting up ------------------------------------------------------------------
    def configure(self, *, max_retries: int | None = None, initial_backoff: float | None = None,
                  max_backoff: float | None = None, stall_check_interval: float | None = None,
                  recovery_check_interval: float | None = None,
                  idle_progress_interval: float | None = None) -> SparkKindlingStreaming:
        """The recovery policy and loop intervals for the next :meth:`start` (defaults: 3 retries, no backoff,
        both loops looking every 50 ms instead of spark-kindling's 5 s and 60 s). Returns ``self``.

        ``idle_progress_interval``: seconds between the progress events Spark reports for a query
        with no new data (``spark.sql.streaming.noDataProgressEventInterval``, 10 s by default; each
        one is a ``streaming.spark_query_progress`` with no rows, judged by the health monitor). Set
        for the session until the test ends."""
        if idle_progress_interval is not None:
            if isinstance(idle_progress_interval, bool) or not isinstance(idle_progress_interval, (int, float)) \
                    or idle_progress_interval < 0:
                raise ValueError(f"configure(idle_progress_interval={idle_progress_interval!r}): use seconds >= 0")
            self._set_conf(IDLE_PROGRESS_CONF, str(int(idle_progress_interval * 1000)))
        given = {"max_retries": max_retries, "initial_backoff": initial_backoff, "max_backoff": max_backoff,
                 "stall_check_interval": stall_check_interval, "recovery_check_interval": recovery_check_interval}
        for key, value in given.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"configure({key}={value!r}): use a number >= 0")
            if key == "max_retries" and not isinstance(value, int):
                raise ValueError(f"configure(max_retries={value!r}): use a whole number of retries")
            setattr(self.tuning, key, value)
        return self

    def _set_conf(self, key: str, value: str) -> None:
        spark = self.query_manager.spark
        if key not in self._conf_before:
            self._conf_before[key] = spark.conf.get(key, None)
        spark.conf.set(key, value)

    def _apply_tuning(self) -> None:
        monitor, recovery, t = self.health_monitor, self.recovery_manager, self.tuning
        monitor.stall_check_interval = t.stall_check_interval
        recovery.check_interval = t.recovery_check_interval
        recovery.max_retries = t.max_retries
        recovery.initial_backoff = t.initial_backoff
        recovery.max_backoff = max(t.max_backoff, t.initial_backoff)

    def gate(self, pipe_id: str, name: str | None = None) -> StreamGate:
        """A :class:`StreamGate` in the path of ``pipe_id``: its transform's output asks the gate for each
        row. Call it before :meth:`start` (the pipe's declaration is replaced for this test only)."""
        __tracebackhide__ = True
        registry = self._get(_kindling("data_pipes").DataPipesRegistry)
        pipe = registry.get_pipe_definition(pipe_id)
        if pipe is None:
            raise KeyError(f"gate({pipe_id!r}): no such pipe; declared pipes: "
                           f"{', '.join(map(repr, registry.get_pipe_ids())) or 'none'}")
        gate = StreamGate(name or pipe_id)
        self.gates.append(gate)
        transform = pipe.execute

        def gated(*args: Any, **kwargs: Any) -> Any:
            return gate.apply(transform(*args, **kwargs))

        registry.registry[pipe_id] = dataclasses.replace(pipe, execute=gated)
        return gate

    # -- running ------------------------------------------------------------------
    def start(self, *pipe_ids: str, streaming_options: Mapping[str, Any] | None = None,
              error_strategy: str | None = None, timeout: float | None = None) -> StreamingRun:
        """Start ``pipe_ids`` through spark-kindling's ``StreamingOrchestrator`` (its streaming plan,
        ``streaming.orchestrator_started``) and return once each query's ``spark_query_started`` arrived."""
        __tracebackhide__ = True
        if not pipe_ids:
            raise ValueError("start() needs at least one pipe id, e.g. start('events.to_silver')")
        generator = self._get(_kindling("execution_strategy").ExecutionPlanGenerator)
        plan = generator.generate_plan(list(pipe_ids), strategy=generator.streaming_strategy)
        self._apply_tuning()
        options: dict[str, Any] = {"streaming_options": dict(streaming_options) if streaming_options else None}
        if error_strategy is not None:
            options["error_strategy"] = _kindling("generation_executor").ErrorStrategy(error_strategy)
        result = self.orchestrator.start(plan, **options)
        status = self.orchestrator.get_status()
        queries = {pipe: StreamingQuery(self, pipe, qid) for pipe, qid in status.query_ids_by_pipe.items()}
        run = StreamingRun(self, result, queries)
        self.runs.append(run)
        for query in queries.values():
            query.wait_for("streaming.spark_query_started", timeout=timeout, run_id=str(query.info.spark_run_id))
        return run

    def await_termination(self, *, timeout: float | None = None, poll_interval: float = TEST_CHECK_INTERVAL) -> Any:
        """``StreamingOrchestrator.await_termination``: returns once every query has ended
        (``streaming.orchestrator_completed``), raises when one failed (``orchestrator_failed``)."""
        return self.orchestrator.await_termination(timeout=self.timeout_for(timeout), poll_interval=poll_interval)

    def stop(self) -> None:
        """``StreamingOrchestrator.stop``: stop what still runs, then the listener, monitor and recovery
        threads (``streaming.orchestrator_stopped``)."""
        self.orchestrator.stop()

    def close(self) -> None:
        """Release the gates, stop what is still running, stop watching (the fixture's teardown)."""
        for gate in self.gates:
            gate.release()
        try:
            status = self.orchestrator.get_status()
            if status.listener_registered or status.active_query_count:
                self.orchestrator.stop()
        finally:
            for gate in self.gates:
                gate.close()
            self.watch.close()
            spark: Any = self.query_manager.spark if self._conf_before else None
            for key, value in self._conf_before.items():
                if value is None:
                    spark.conf.unset(key)
                else:
                    spark.conf.set(key, value)

    def __repr__(self) -> str:
        return f"<SparkKindlingStreaming checkpoints={str(self.checkpoint_root)!r} runs={len(self.runs)}>"


def stop_active_queries(spark: Any, names: Iterable[str] = ()) -> list[str]:
    """Stop every streaming query still active on ``spark``; returns their names (or ids)."""
    stopped = []
    for query in list(spark.streams.active):
        stopped.append(str(query.name or query.id))
        try:
            query.stop()
        except Exception:  # it ended on its own meanwhile
            pass
    return stopped

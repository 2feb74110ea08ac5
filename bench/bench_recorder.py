"""Cost of one recorded emission, and memory per record, next to pytest's caplog.

Measures in ONE run, interleaved so machine noise hits all alike:

* recorded: ``SignalEmitter.emit`` of a catalog signal whose full payload has
  6 fields (3 given + ``operation_id``, ``timestamp``, ``parent_operation_id``),
  with only a :class:`SignalRecorder` attached to the provider;
* baseline: a bare ``blinker.Signal().send(sender, **payload)`` of the same
  6-field payload to one no-op receiver;
* peer: one log record captured the way pytest's ``caplog`` captures it
  (``logger.info`` with 3 ``extra`` fields into pytest's own
  ``LogCaptureHandler``).

Then the memory one record holds, at 1M records (``tracemalloc``): the
recorder's as recorded and after ``recorder.records`` has materialised them,
and caplog's per log record.

    python bench/bench_recorder.py            # full run (a minute or more; tracemalloc is slow)
    python bench/bench_recorder.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import gc
import statistics
import logging
import time
import tracemalloc

import blinker

from _pytest.logging import LogCaptureHandler

from kindling.signaling import BlinkerSignalProvider, SignalEmitter
from pytest_kindling_signals.record import SignalRecorder

SIGNAL = "entity.post_merge"
TARGET_RATIO = 3.0


class _Merger(SignalEmitter):
    EMITS = (SIGNAL,)


def _noop(sender: object, **payload: object) -> None:
    return None


def _time_batch(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _caplog() -> tuple[logging.Logger, LogCaptureHandler]:
    handler = LogCaptureHandler()
    logger = logging.getLogger("bench.caplog")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, handler


def measure_caplog(n: int, rounds: int) -> float:
    logger, handler = _caplog()
    extra = {"entity_id": "customers", "rows_inserted": 3, "duration_seconds": 0.25}

    def logged() -> None:
        logger.info("merged %s", "customers", extra=extra)

    times = []
    for _ in range(rounds):
        times.append(_time_batch(logged, n))
        handler.reset()
    return min(times)


def measure_caplog_memory(records: int) -> float:
    logger, handler = _caplog()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(records):
        logger.info("merged %s", "customers", extra={"entity_id": "customers", "rows_inserted": i,
                                                      "duration_seconds": 0.25})
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(handler.records) == records
    handler.reset()
    return (after - before) / records


def measure_cost(n: int, rounds: int) -> tuple[float, float, float]:
    provider = BlinkerSignalProvider(name="bench")
    recorder = SignalRecorder(provider).start()
    emitter = _Merger(provider)
    emitted = {"entity_id": "customers", "rows_inserted": 3, "duration_seconds": 0.25}

    def recorded() -> None:
        emitter.emit(SIGNAL, **emitted)

    bare = blinker.Signal()
    bare.connect(_noop)
    payload = {"operation_id": "0a1b2c3d-0000-4000-8000-000000000001",
               "timestamp": "2025-01-20T10:00:45.123456+00:00", "parent_operation_id": None,
               **emitted}
    assert len(payload) == 6

    def baseline() -> None:
        bare.send(SIGNAL, **payload)

    recorded()
    assert len(recorder.records[-1].payload) == 6, recorder.records[-1].payload
    rec_times, base_times = [], []
    for _ in range(rounds):
        base_times.append(_time_batch(baseline, n))
        rec_times.append(_time_batch(recorded, n))
        recorder.clear()
    ratios = [r / b for r, b in zip(rec_times, base_times)]
    return min(rec_times), min(base_times), statistics.median(ratios)


def measure_memory(records: int) -> tuple[float, float]:
    provider = BlinkerSignalProvider(name="bench-mem")
    emitter = _Merger(provider)
    recorder = SignalRecorder(provider).start()
    emitter.emit(SIGNAL, entity_id="warm", rows_inserted=0, duration_seconds=0.0)
    recorder.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(records):
        emitter.emit(SIGNAL, entity_id="customers", rows_inserted=i, duration_seconds=0.25)
    recorded = tracemalloc.get_traced_memory()[0]
    materialised = recorder.records
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(materialised) == records
    return (recorded - before) / records, (after - before) / records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="emissions per timed batch")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved batches of each")
    parser.add_argument("--records", type=int, default=1_000_000, help="records for the memory figure")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds, args.records = 5_000, 3, 20_000

    rec, base, ratio = measure_cost(args.n, args.rounds)
    caplog = measure_caplog(args.n, args.rounds)
    per_record, per_materialised = measure_memory(args.records)
    per_log_record = measure_caplog_memory(args.records)
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"recorded emission (emit, 6-field payload, recorder only): {rec * 1e6:.2f} us")
    print(f"bare blinker send (6-field payload, one no-op receiver):  {base * 1e6:.2f} us")
    print(f"ratio (median of {args.rounds} interleaved rounds):               {ratio:.2f}x "
          f"({verdict} the {TARGET_RATIO:g}x target)")
    print(f"caplog record (logger.info, 3 extra fields, LogCaptureHandler): {caplog * 1e6:.2f} us; "
          f"recorded emission / caplog record: {rec / caplog:.2f}x (target <= 0.5x)")
    print(f"memory per record at {args.records:,} records: {per_record:.0f} B as recorded "
          f"(target <= 300 B), {per_materialised:.0f} B once .records is read; "
          f"caplog: {per_log_record:.0f} B per log record")


if __name__ == "__main__":
    main()

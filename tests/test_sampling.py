"""Sampling and summaries (kindling.sampling) through real providers. Fast: no JVM."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from kindling.platform import PlatformService
from kindling.sampling import SAMPLING_FIELDS, SamplingPolicy, SamplingStats
from kindling.signaling import BlinkerSignalProvider, SignalEmitter, lazy
from kindling.tracing import SparkTraceProvider
from pytest_kindling_signals.catalog import check_contract
from docs_examples import code_blocks, run_blocks

pytestmark = pytest.mark.kindling_signals_ignore  # synthetic emissions (hand-made, often broken payloads): the report leaves them out


@pytest.fixture
def fs(signal_provider: BlinkerSignalProvider) -> PlatformService:
    return PlatformService(signal_provider)


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "f.txt"
    path.write_text("abc")
    return path


def _valid(recorder, catalog) -> None:  # type: ignore[no-untyped-def]
    findings = check_contract(recorder.records, catalog)
    assert not findings, "\n".join(map(str, findings))


# -- off by default ----------------------------------------------------------------------

def test_sampling_is_off_by_default(fs, signal_provider, signal_recorder, small_file):
    assert signal_provider.sampling is None
    for _ in range(25):
        fs.read(small_file)

    assert len(signal_recorder.records) == 25
    assert not any(set(SAMPLING_FIELDS) & set(r.payload) for r in signal_recorder.records)


# -- every nth -------------------------------------------------------------------------------

def test_every_n_sends_the_first_of_each_n_with_exact_counts(
        fs, signal_provider, signal_recorder, signal_catalog, tmp_path):
    signal_provider.sampling = SamplingPolicy().every("platform.file_read", 10)
    files = []
    for i in range(25):
        files.append(tmp_path / f"{i:02d}.csv")
        files[-1].write_text("x" * i)

    for f in files:
        fs.read(f)

    sent = signal_recorder.of("platform.file_read")
    assert [r["file_path"] for r in sent] == [str(files[i]) for i in (0, 10, 20)]
    assert [r["file_size_bytes"] for r in sent] == [0, 10, 20]  # each payload is its own emission's
    assert [r["sampled_count"] for r in sent] == [1, 10, 10]
    assert {r["sample_rate"] for r in sent} == {0.1}
    assert signal_provider.sampling.stats() == {
        "platform.file_read": SamplingStats(seen=25, sent=3, suppressed=22, pending=4)}
    _valid(signal_recorder, signal_catalog)


def test_only_matching_signals_are_sampled(fs, signal_provider, signal_recorder, tmp_path):
    signal_provider.sampling = SamplingPolicy().every("platform.file_written", 5)
    for i in range(10):
        fs.read(fs.write(tmp_path / f"{i}.txt", "x"))

    assert len(signal_recorder.of("platform.file_written")) == 2
    assert len(signal_recorder.of("platform.file_read")) == 10


def test_a_namespace_pattern_covers_the_provider_and_the_first_rule_wins(
        fs, signal_provider, signal_recorder, tmp_path):
    signal_provider.sampling = SamplingPolicy().every("platform.file_read", 2).every("platform", 3)
    for i in range(6):
        fs.read(fs.write(tmp_path / f"{i}.txt", "x"))

    assert len(signal_recorder.of("platform.file_read")) == 3     # 1 in 2
    assert len(signal_recorder.of("platform.file_written")) == 2  # 1 in 3, from "platform"


def test_a_sampled_out_emission_builds_no_payload(signal_provider, signal_recorder):
    signal_provider.sampling = SamplingPolicy().every("platform.file_read", 4)
    built = []

    class Reader(SignalEmitter):
        pass

    reader = Reader(signal_provider)
    for i in range(8):
        reader.emit("platform.file_read", platform="standalone", file_path=f"/f{i}",
                    file_size_bytes=lazy(lambda i=i: built.append(i) or i))

    assert built == [0, 4]
    assert [r["file_size_bytes"] for r in signal_recorder.records] == [0, 4]


# -- rate --------------------------------------------------------------------------------

def _kept_by_rate(seed: int, tmp_path: Path) -> tuple[list[str], list[int]]:
    provider = BlinkerSignalProvider()
    provider.sampling = SamplingPolicy().rate("platform.file_read", 0.25, seed=seed)
    seen: list[tuple[str, int]] = []
    provider.add_tap(lambda e: seen.append((e.payload["file_path"], e.payload["sampled_count"])))
    fs = PlatformService(provider)
    path = tmp_path / "r.txt"
    path.write_text("x")
    for _ in range(400):
        fs.read(path)
    pending = provider.sampling.stats()["platform.file_read"].pending
    return [p for p, _ in seen], [c for _, c in seen] + [pending]


def test_rate_is_seeded_and_its_counts_add_up(tmp_path):
    kept, counts = _kept_by_rate(7, tmp_path)
    again, counts_again = _kept_by_rate(7, tmp_path)
    other, counts_other = _kept_by_rate(8, tmp_path)

    assert sum(counts) == sum(counts_other) == 400   # sent stand-ins + pending = all
    assert counts == counts_again                     # same seed, same choices
    assert counts != counts_other
    assert 60 <= len(kept) <= 140                     # about a quarter of 400


# -- summaries ---------------------------------------------------------------------------

def test_summaries_every_n_account_for_every_suppressed_emission(
        fs, signal_provider, signal_recorder, signal_catalog, tmp_path):
    signal_provider.sampling = SamplingPolicy().summarize("platform.file_written", every_n=4)
    paths = [fs.write(tmp_path / f"{i}.txt", "x") for i in range(10)]

    summaries = signal_recorder.of("platform.file_written")
    assert [(r["summarized_count"], r["file_path"]) for r in summaries] == [
        (4, paths[3]), (4, paths[7])]
    assert signal_provider.sampling.flush() == 1
    assert signal_provider.sampling.flush() == 0  # nothing left open
    summaries = signal_recorder.of("platform.file_written")
    assert summaries[-1]["file_path"] == paths[9]
    assert sum(r["summarized_count"] for r in summaries) == 10
    for r in summaries:
        assert r["summary"] is True and r["window_start"] <= r["window_end"]
    _valid(signal_recorder, signal_catalog)


def test_summaries_by_interval_close_at_the_first_emission_after_it(
        fs, signal_provider, signal_recorder, small_file):
    signal_provider.sampling = SamplingPolicy().summarize("platform.*", interval_seconds=0.5)
    for _ in range(3):
        fs.read(small_file)
    assert signal_recorder.records == []
    time.sleep(0.6)
    fs.read(small_file)

    (summary,) = signal_recorder.records
    assert summary["summarized_count"] == 4 and summary["file_size_bytes"] == 3


# -- operations are sampled whole; failures never -----------------------------------------

def test_operations_are_sampled_whole_and_failures_always_sent(
        signal_provider, signal_recorder, signal_catalog):
    signal_provider.sampling = SamplingPolicy().every("trace.span_started", 3)
    tracer = SparkTraceProvider(signal_provider)

    for i in range(7):
        try:
            with tracer.span(f"step{i}", "Job"):
                if i == 4:
                    raise KeyError("missing column")
        except KeyError:
            pass

    started = signal_recorder.of("trace.span_started")
    assert [r["operation"] for r in started] == ["step0", "step3", "step4", "step6"]
    # step4 was not a sample: it is sent because it failed, and stands for itself
    assert [r.payload.get("sampled_count") for r in started] == [1, 3, None, 2]
    assert len(signal_recorder.of("trace.span_ended")) == 3
    assert signal_recorder.of("trace.span_failed")[0]["error_type"] == "KeyError"
    assert signal_recorder.names().index("trace.span_failed") == 1 + signal_recorder.names().index(
        "trace.span_started", 4)
    _valid(signal_recorder, signal_catalog)  # every pre_X closed, payloads valid


def test_summarize_never_applies_to_operations(signal_provider, signal_recorder, signal_catalog):
    signal_provider.sampling = SamplingPolicy().summarize("trace.*", every_n=2)
    tracer = SparkTraceProvider(signal_provider)
    for i in range(3):
        with tracer.span(f"s{i}", "Job"):
            pass

    assert len(signal_recorder.records) == 6
    _valid(signal_recorder, signal_catalog)


# -- threads ---------------------------------------------------------------------------------

def _in_threads(threads: int, calls: int, fn) -> None:  # type: ignore[no-untyped-def]
    """``fn()`` ``calls`` times in each of ``threads`` threads, all started together."""
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(calls):
            fn()

    running = [threading.Thread(target=work) for _ in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()


def test_every_n_is_exact_across_threads(fs, signal_provider, signal_recorder, small_file):
    signal_provider.sampling = SamplingPolicy().every("platform.file_read", 7)
    _in_threads(8, 500, lambda: fs.read(small_file))

    sent = signal_recorder.of("platform.file_read")
    assert len(sent) == -(-4000 // 7)  # ceil: the 1st, 8th, ... of 4000
    stats = signal_provider.sampling.stats()["platform.file_read"]
    assert sum(r["sampled_count"] for r in sent) + stats.pending == 4000


def test_summaries_are_exact_across_threads(fs, signal_provider, signal_recorder, small_file):
    signal_provider.sampling = SamplingPolicy().summarize("platform.file_read", every_n=64)
    _in_threads(6, 300, lambda: fs.read(small_file))
    signal_provider.sampling.flush()

    assert sum(r["summarized_count"] for r in signal_recorder.records) == 1800
    assert len(signal_recorder.records) == -(-1800 // 64)


# -- robustness and arguments ---------------------------------------------------------------

def test_a_broken_policy_loses_no_emission(fs, signal_provider, signal_recorder, small_file):
    class Broken:
        def admit(self, *args: object) -> None:
            raise RuntimeError("policy bug")

    signal_provider.sampling = Broken()
    fs.read(small_file)

    assert signal_recorder.names() == ["platform.file_read"]
    assert [(n, str(e)) for n, e in fs.emission_errors] == [("platform.file_read", "policy bug")]


def test_reset_forgets_counters_but_keeps_rules(fs, signal_provider, signal_recorder, small_file):
    policy = signal_provider.sampling = SamplingPolicy().every("platform.*", 3)
    fs.read(small_file)
    fs.read(small_file)
    policy.reset()
    fs.read(small_file)

    assert len(signal_recorder.records) == 2 and len(policy.rules) == 1


@pytest.mark.parametrize(("build", "message"), [
    (lambda p: p.every("platform.*", 0), r"every\('platform.\*', n=0\): n must be an int >= 1"),
    (lambda p: p.every("platform.*", 2.5), "n must be an int"),
    (lambda p: p.rate("platform.*", 0), r"r=0\): r must be a number with 0 < r <= 1"),
    (lambda p: p.rate("platform.*", 1.5), "0 < r <= 1"),
    (lambda p: p.summarize("platform.*"), "exactly one of interval_seconds"),
    (lambda p: p.summarize("platform.*", every_n=2, interval_seconds=1), "exactly one of"),
    (lambda p: p.summarize("platform.*", interval_seconds=0), "interval_seconds must be a number > 0"),
    (lambda p: p.every("", 2), "pass a signal name, a glob"),
])
def test_bad_rules_say_what_to_pass(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build(SamplingPolicy())


def test_the_catalog_declares_the_sampling_fields_as_optional(signal_catalog):
    spec = signal_catalog["platform.file_read"]
    for name in SAMPLING_FIELDS:
        assert name in spec.fields and not spec.fields[name].required


# -- the docs pages of issue 8 run and print what they show ------------------------------------

@pytest.mark.parametrize("page", ["sampling.md", "providers/platform.md", "providers/tracing.md"])
def test_doc_page_prints_what_it_shows(page, capsys):
    shown = [text for _, text in code_blocks(page, "text")]

    assert run_blocks(page, spark=False) >= 1

    assert capsys.readouterr().out == "".join(shown)

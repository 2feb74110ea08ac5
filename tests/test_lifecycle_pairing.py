"""Lifecycle pairing: by ``operation_id``, or by the fields a catalog's ``pair_by`` names
(frameworks whose payloads carry no id, like spark-kindling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest

from pytest_kindling_signals.catalog import CatalogError, SignalCatalog, load_catalog
from pytest_kindling_signals.catalog import check_lifecycles

CATALOG = """
format: kindling-signal-catalog/1
json_payloads: false
providers:
  pipes:
    class: Runner
    tier: critical
    operations:
      pipes.pipe: {pre: before_pipe, post: [after_pipe], failed: pipe_failed, pair_by: [run_id, pipe_id]}
      pipes.step: {pre: before_step, post: [after_step]}
    signals:
      before_pipe: {when: a pipe starts, kind: pre, fields: {run_id: string, pipe_id: string}}
      after_pipe: {when: a pipe ends, kind: post, fields: {run_id: string, pipe_id: string}}
      pipe_failed: {when: a pipe fails, kind: failed, fields: {run_id: string, pipe_id: string}}
      before_step: {when: a step starts, kind: pre}
      after_step: {when: a step ends, kind: post}
"""


class Rec(NamedTuple):
    name: str
    payload: dict[str, Any]


@pytest.fixture
def catalog(tmp_path: Path) -> SignalCatalog:
    path = tmp_path / "pipes.yaml"
    path.write_text(CATALOG)
    return load_catalog(path)


def pipe(name: str, run: str, pipe_id: str) -> Rec:
    return Rec(f"pipes.{name}", {"run_id": run, "pipe_id": pipe_id})


def messages(records: list[Rec], catalog: SignalCatalog) -> list[str]:
    return [f.message for f in check_lifecycles(records, catalog)]


def test_pair_by_is_parsed_and_defaults_to_operation_id(catalog: SignalCatalog) -> None:
    assert catalog.operation("pipes.pipe").pair_by == ("run_id", "pipe_id")
    assert catalog.operation("pipes.step").pair_by == ("operation_id",)


def test_fields_pair_interleaved_operations(catalog: SignalCatalog) -> None:
    records = [pipe("before_pipe", "r1", "a"), pipe("before_pipe", "r1", "b"),
               pipe("after_pipe", "r1", "a"), pipe("pipe_failed", "r1", "b")]
    assert messages(records, catalog) == []


def test_a_key_may_be_reused_once_closed(catalog: SignalCatalog) -> None:
    records = [pipe("before_pipe", "r1", "a"), pipe("after_pipe", "r1", "a"),
               pipe("before_pipe", "r1", "a"), pipe("after_pipe", "r1", "a")]
    assert messages(records, catalog) == []


def test_field_pairing_still_finds_unclosed_and_unopened(catalog: SignalCatalog) -> None:
    records = [pipe("before_pipe", "r1", "a"), pipe("after_pipe", "r1", "b")]
    assert messages(records, catalog) == [
        "pipes.after_pipe closed operation (run_id='r1', pipe_id='b'), which no pipes.before_pipe opened",
        "pipes.before_pipe (operation (run_id='r1', pipe_id='a')) was never closed by "
        "pipes.after_pipe or pipes.pipe_failed",
    ]


def test_operation_ids_stay_strict(catalog: SignalCatalog) -> None:
    records = [Rec("pipes.before_step", {"operation_id": "x"}), Rec("pipes.after_step", {"operation_id": "x"}),
               Rec("pipes.after_step", {"operation_id": "x"})]
    assert messages(records, catalog) == ["pipes.after_step closed operation x, which was already closed"]


def test_pair_by_must_be_a_list_of_names(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CATALOG.replace("pair_by: [run_id, pipe_id]", "pair_by: run_id"))
    with pytest.raises(CatalogError, match=r"operations\.pipes\.pipe\.pair_by: must be an array \(payload fields"):
        load_catalog(path)

"""Stages: run every pipe of a stage, after making sure the layer's watermark table exists.

A stage is a named group of declared pipes. A pipe belongs to stage ``S``
when its id starts with ``S`` (``silver_clean_orders`` is in stage
``silver``) or when its tags say ``{"stage": "S"}``; pipes run in declaration
order through the :class:`~kindling.data_pipes.DataPipesExecuter`::

    >>> from kindling.stages import StageProcessor
    >>> StageProcessor().execute("silver", "Bronze to silver",
    ...                          {"owner": "data-eng"}, layer="silver")  # doctest: +SKIP
    RunResult(run_id='...', pipe_count=2, success_count=2, skipped_count=0, failed_count=0)

The stage's signals wrap the run's: ``stage.pre_execute``, then
``stage.watermark_ensured`` (after ``<layer>.watermarks`` is ensured), then
``stage.pipes_started``, the run's ``datapipes.*`` and ``entity.*`` signals,
``stage.pipes_completed``, and ``stage.post_execute`` or
``stage.execute_failed``. Every nested operation's ``parent_operation_id``
chain leads back to the stage's ``operation_id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kindling.data_pipes import PipeExecutionError, RunResult, get_pipe_definition, get_pipe_ids
from kindling.signaling import SignalEmitter, SignalProvider

if TYPE_CHECKING:
    from kindling.data_pipes import DataPipesExecuter
    from kindling.watermarks import WatermarkManager

__all__ = ["STAGE_TAG", "StageNotFoundError", "StageProcessor", "stage_pipe_ids"]

#: The pipe tag that puts a pipe in a stage whatever its id.
STAGE_TAG = "stage"


class StageNotFoundError(LookupError):
    """No declared pipe belongs to the stage; the message lists the pipe ids and stage tags there are."""

    def __init__(self, stage: str) -> None:
        ids = get_pipe_ids()
        tags = sorted({str(get_pipe_definition(p).tags[STAGE_TAG]) for p in ids
                       if STAGE_TAG in get_pipe_definition(p).tags})
        self.stage = stage
        shown = ", ".join(map(repr, ids[:20])) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
        super().__init__(
            f"stage {stage!r} has no pipes: no declared pipe id starts with {stage!r} and no pipe "
            f"has tags {{'{STAGE_TAG}': {stage!r}}}. "
            + (f"Declared pipes: {shown}. " if ids else "No pipes are declared. ")
            + (f"Stage tags in use: {', '.join(map(repr, tags))}. " if tags else "")
            + f"Declare pipes with @DataPipes.pipe(pipeid='{stage}_...') or "
              f"tags={{'{STAGE_TAG}': {stage!r}}}")

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0])


def stage_pipe_ids(stage: str) -> list[str]:
    """The ids of the stage's pipes, in declaration order: id prefix ``stage`` or tag ``stage: <stage>``."""
    return [p for p in get_pipe_ids()
            if p.startswith(stage) or get_pipe_definition(p).tags.get(STAGE_TAG) == stage]


def _json_ready(value: Any) -> Any:
    """Payloads are JSON: anything else in the stage details is shown as its string."""
    return json.loads(json.dumps(value, default=str))


class StageProcessor(SignalEmitter):
    """Runs a stage's pipes through the executer, after ensuring the layer's watermark entity.

    ``executer`` runs the pipes (default: a
    :class:`~kindling.data_pipes.DataPipesExecuter` sharing this provider);
    ``watermark_manager`` provides the layer's watermark entity
    (:meth:`WatermarkManager.for_layer
    <kindling.watermarks.WatermarkManager.for_layer>`, ``<layer>.watermarks``),
    by default one over the executer's entity manager.

    Signals Emitted:
        stage.pre_execute (before anything runs):
            - stage (str), layer (str)
            - pipe_count (int): Pipes selected for the stage
            - stage_description (str), stage_details (dict): As given (details made JSON-ready)

        stage.watermark_ensured (the layer's watermark table exists):
            - layer (str)
            - watermark_entity_id (str): ``<layer>.watermarks``
            - created (bool): Whether this call created the table

        stage.pipes_started (before the executer runs the pipes):
            - pipe_ids (list[str]): The stage's pipes, in run order

        stage.pipes_completed (the run ended, also when a pipe failed):
            - pipe_count (int): Pipes that ran to an outcome (succeeded, skipped or failed)
            - pipe_ids (list[str]), success_count, skipped_count, failed_count (int),
              run_id (str), duration_seconds (float)

        stage.post_execute (every pipe succeeded or was skipped):
            - pipes_executed (int): Pipes that ran and wrote (post_pipe)
            - stage (str), layer (str), pipe_count (int), skipped_count (int), run_id (str),
              duration_seconds (float)

        stage.execute_failed (the watermark table or a pipe failed):
            - stage (str), layer (str), pipe_count (int), error (str), error_type (str),
              duration_seconds (float); failed_pipe (str) when a pipe failed

    Usage:
        >>> processor = StageProcessor(signal_provider)                          # doctest: +SKIP
        >>> signal_provider.connect("stage.execute_failed", page_on_call)        # doctest: +SKIP
        >>> processor.execute("silver", "Bronze to silver", {}, layer="silver")  # doctest: +SKIP
    """

    EMITS = (
        "stage.pre_execute", "stage.post_execute", "stage.execute_failed",
        "stage.watermark_ensured", "stage.pipes_started", "stage.pipes_completed",
    )

    def __init__(self, signal_provider: SignalProvider | None = None,
                 executer: DataPipesExecuter | None = None,
                 watermark_manager: WatermarkManager | None = None) -> None:
        super().__init__(signal_provider)
        self._executer = executer
        self._watermark_manager = watermark_manager

    @property
    def executer(self) -> DataPipesExecuter:
        if self._executer is None:
            from kindling.data_pipes import DataPipesExecuter

            self._executer = DataPipesExecuter(signal_provider=self._signal_provider)
        return self._executer

    @property
    def watermark_manager(self) -> WatermarkManager:
        if self._watermark_manager is None:
            from kindling.watermarks import WatermarkManager

            self._watermark_manager = WatermarkManager(self._signal_provider,
                                                       self.executer.entity_manager)
        return self._watermark_manager

    def execute(self, stage: str, stage_description: str, stage_details: Mapping[str, Any] | None,
                layer: str) -> RunResult:
        """Run the stage's pipes (see :func:`stage_pipe_ids`); returns the executer's result.

        An unknown stage raises :class:`StageNotFoundError` before anything
        runs. A failing pipe stops the stage: ``stage.execute_failed``, then
        the executer's :class:`~kindling.data_pipes.PipeExecutionError`.

        >>> StageProcessor().execute("gold", "Daily totals", {}, layer="gold").ok  # doctest: +SKIP
        True
        """
        for what, value in (("stage", stage), ("layer", layer)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"execute({what}={value!r}): {what} must be a non-empty string")
        if stage_details is not None and not isinstance(stage_details, Mapping):
            raise TypeError(f"execute(stage_details={stage_details!r}) must be a dict or None")
        pipe_ids = stage_pipe_ids(stage)
        if not pipe_ids:
            raise StageNotFoundError(stage)
        layer_marks = self.watermark_manager.for_layer(layer)
        with self.operation("stage.execute", stage=stage, layer=layer, pipe_count=len(pipe_ids),
                            stage_description=str(stage_description or ""),
                            stage_details=_json_ready(dict(stage_details or {}))) as op:
            existed = layer_marks.ensure_watermark_table()
            self.emit("stage.watermark_ensured", layer=layer,
                      watermark_entity_id=layer_marks.watermark_entity_id, created=not existed)
            result = self._run_pipes(pipe_ids, op)
            op.set(pipes_executed=result.success_count, skipped_count=result.skipped_count,
                   run_id=result.run_id)
        return result

    def _run_pipes(self, pipe_ids: list[str], stage_op: Any) -> RunResult:
        # stage.pipes has no failed outcome in the catalog: a failed run still
        # closes it with pipes_completed (failed_count says so), then the
        # stage fails with the run's error.
        failure: Exception | None = None
        result: RunResult | None = None
        with self.operation("stage.pipes", pipe_ids=pipe_ids) as pipes_op:
            try:
                result = self.executer.run_datapipes(pipe_ids)
            except PipeExecutionError as exc:
                failure, result = exc, exc.result
                stage_op.set(failed_pipe=exc.pipe_id)
            except Exception as exc:  # refused before any pipe ran (e.g. an undeclared entity)
                failure = exc
            if result is None:
                pipes_op.set(pipe_count=0, success_count=0, skipped_count=0, failed_count=0)
            else:
                pipes_op.set(pipe_count=len(result.outcomes), run_id=result.run_id, **result.counts())
                stage_op.set(run_id=result.run_id)
        if failure is not None:
            raise failure
        assert result is not None
        return result


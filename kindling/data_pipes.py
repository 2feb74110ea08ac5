"""Data pipes: declared transformations between entities, and the executer that runs them.

A pipe reads its input entities, transforms them, and returns the rows for
its output entity. Declare one with the decorator Kindling users already
write; inputs arrive as keyword arguments named by entity id with ``.``
replaced by ``_``::

    >>> from kindling.data_pipes import DataPipes, DataPipesExecuter
    >>> @DataPipes.pipe(
    ...     pipeid="bronze_to_silver_orders", name="Bronze to Silver Orders",
    ...     tags={"layer": "silver"}, input_entity_ids=["bronze.orders"],
    ...     output_entity_id="silver.orders", output_type="table",
    ... )
    ... def bronze_to_silver_orders(bronze_orders):
    ...     return bronze_orders.dropDuplicates(["order_id"])
    >>> DataPipesExecuter().run_datapipes(["bronze_to_silver_orders"])  # doctest: +SKIP
    RunResult(run_id='...', pipe_count=1, success_count=1, skipped_count=0, failed_count=0)

How a run behaves (documented in ``docs/providers/data_pipes.md``):

* Every pipe id, and every entity id the pipes name, is checked before
  anything runs; a bad id raises (:class:`UnknownPipeError`, or the entity
  layer's ``UnknownEntityError``) and no signal is emitted.
* By default the run stops at the first failed pipe: ``pipe_failed``, then
  ``run_failed`` with ``failed_pipe``, then :class:`PipeExecutionError` is
  raised, chained to the pipe's exception. Pipes that finished before keep
  their committed writes; the failed pipe's write is not committed (Delta
  commits atomically). With ``continue_on_error=True`` the run goes on and
  ``post_run`` reports ``failed_count``.
* A pipe is skipped (``pipe_skipped``) when an input entity has no table yet,
  when an input has no rows, or when the pipe returns ``None``.
"""

from __future__ import annotations

import inspect
import keyword
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pytest_kindling_signals.names import close_matches, declared_names, did_you_mean
from kindling.registries import register_registry
from kindling.signaling import SignalEmitter, SignalProvider, describe_error, new_operation_id

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from kindling.entity_manager import DataEntityManager

__all__ = [
    "DataPipes",
    "DataPipesExecuter",
    "OUTPUT_TYPES",
    "PipeDefinition",
    "PipeDeclarationError",
    "PipeExecutionError",
    "PipeOutcome",
    "RunResult",
    "UnknownPipeError",
    "get_pipe_definition",
    "get_pipe_ids",
    "input_parameter_name",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Output types the executer knows how to write.
OUTPUT_TYPES = ("table",)

_pipes: dict[str, PipeDefinition] = register_registry("pipes", {})


# -- declarations ------------------------------------------------------------------

class PipeDeclarationError(ValueError):
    """A pipe declaration that cannot work: names the pipe, the value and the fix."""


class UnknownPipeError(LookupError):
    """Pipe ids that were never declared; the message suggests close matches.

    ``pipe_ids`` holds every unknown id, ``suggestions`` maps each to its close matches.
    """

    def __init__(self, pipe_ids: Sequence[str], known: Iterable[str]) -> None:
        known = sorted(known)
        self.pipe_ids = tuple(pipe_ids)
        self.suggestions = {p: close_matches(p, known) for p in self.pipe_ids}
        shown = ", ".join(f"{p!r}{did_you_mean(self.suggestions[p])}" for p in self.pipe_ids)
        noun = "pipe id" if len(self.pipe_ids) == 1 else "pipe ids"
        super().__init__(f"Unknown {noun} {shown}: declare it with "
                         f"@DataPipes.pipe(pipeid=...) before running. {declared_names(known, 'pipes')}")

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0])


def input_parameter_name(entity_id: str) -> str:
    """The keyword a pipe function receives an input entity under: ``bronze.orders`` -> ``bronze_orders``."""
    return entity_id.replace(".", "_")


@dataclass(frozen=True)
class PipeDefinition:
    """A declared pipe, as :func:`get_pipe_definition` returns it.

    ``execute`` is the decorated function; call it with the inputs as keyword
    arguments (see :func:`input_parameter_name`).
    """

    pipeid: str
    name: str
    tags: dict[str, Any] = field(hash=False)
    input_entity_ids: tuple[str, ...]
    output_entity_id: str | None
    output_type: str
    execute: Callable[..., Any] = field(compare=False)

    @property
    def input_parameters(self) -> dict[str, str]:
        """Keyword name -> input entity id, in declaration order."""
        return {input_parameter_name(e): e for e in self.input_entity_ids}


def _require_str(pipeid: str, what: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, str) or not value.strip():
        raise PipeDeclarationError(
            f"pipe {pipeid!r}: {what}={value!r} must be a non-empty string"
            + (" or None" if allow_none else ""))


def _check_pipeid(pipeid: Any) -> None:
    if not isinstance(pipeid, str) or not pipeid.strip():
        raise PipeDeclarationError(
            f"DataPipes.pipe: pipeid={pipeid!r} must be a non-empty string, "
            f"e.g. pipeid='bronze_to_silver_orders'")


def _entity_ids(pipeid: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise PipeDeclarationError(
            f"pipe {pipeid!r}: input_entity_ids={value!r} is a single string; "
            f"pass a list of entity ids, e.g. input_entity_ids=[{value!r}]")
    try:
        ids = tuple(value)
    except TypeError:
        raise PipeDeclarationError(
            f"pipe {pipeid!r}: input_entity_ids={value!r} must be a list of entity ids") from None
    for eid in ids:
        _require_str(pipeid, "input_entity_ids entry", eid)
    names: dict[str, str] = {}
    for eid in ids:
        param = input_parameter_name(eid)
        if param in names:
            raise PipeDeclarationError(
                f"pipe {pipeid!r}: input_entity_ids {names[param]!r} and {eid!r} both arrive as "
                f"parameter {param!r}; list each entity once, under ids that differ beyond '.' vs '_'")
        if not param.isidentifier() or keyword.iskeyword(param):
            raise PipeDeclarationError(
                f"pipe {pipeid!r}: input entity id {eid!r} would arrive as parameter {param!r}, "
                f"which is not a Python identifier; use an id of letters, digits, '_' and '.'")
        names[param] = eid
    return ids


def _check_signature(pipeid: str, fn: Callable[..., Any], expected: Sequence[str]) -> None:
    """The function must accept exactly the input parameters, by keyword."""
    if not callable(fn):
        raise PipeDeclarationError(f"pipe {pipeid!r}: @DataPipes.pipe decorates a function, got {fn!r}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # builtins and some C callables have no signature to check
    params = list(sig.parameters.values())
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    named = {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    positional_only = [p.name for p in params
                       if p.kind is p.POSITIONAL_ONLY and p.default is p.empty]
    missing = [n for n in expected if n not in named and not takes_kwargs]
    unexpected = [n for n, p in named.items() if n not in expected and p.default is p.empty]
    if missing or unexpected or positional_only:
        fn_name = getattr(fn, "__name__", repr(fn))
        problems = []
        if missing:
            problems.append(f"no parameter for {', '.join(missing)}")
        if unexpected:
            problems.append(f"parameter(s) {', '.join(unexpected)} match no input entity")
        if positional_only:
            problems.append(f"positional-only parameter(s) {', '.join(positional_only)} "
                            f"cannot receive inputs by keyword")
        raise PipeDeclarationError(
            f"pipe {pipeid!r}: function {fn_name}{sig} does not match its inputs "
            f"({'; '.join(problems)}). Inputs arrive by keyword, entity id with '.' -> '_'; "
            f"expected: def {fn_name}({', '.join(expected)})")


def _declare(pipeid: str, name: str, tags: Mapping[str, Any] | None, input_entity_ids: Any,
             output_entity_id: str | None, output_type: str, fn: Callable[..., Any]) -> PipeDefinition:
    _check_pipeid(pipeid)
    _require_str(pipeid, "name", name)
    if tags is not None and not isinstance(tags, Mapping):
        raise PipeDeclarationError(f"pipe {pipeid!r}: tags={tags!r} must be a dict or None")
    inputs = _entity_ids(pipeid, input_entity_ids)
    _require_str(pipeid, "output_entity_id", output_entity_id, allow_none=True)
    if output_type not in OUTPUT_TYPES:
        raise PipeDeclarationError(
            f"pipe {pipeid!r}: output_type={output_type!r} is not supported; use one of "
            f"{', '.join(map(repr, OUTPUT_TYPES))}")
    _check_signature(pipeid, fn, [input_parameter_name(e) for e in inputs])
    definition = PipeDefinition(pipeid=pipeid, name=name, tags=dict(tags or {}),
                                input_entity_ids=inputs, output_entity_id=output_entity_id,
                                output_type=output_type, execute=fn)
    _pipes[pipeid] = definition  # declaring again replaces: notebook cells get re-run
    return definition


def get_pipe_ids() -> list[str]:
    """The ids of every declared pipe, in declaration order."""
    return list(_pipes)


def get_pipe_definition(pipeid: str) -> PipeDefinition:
    """The declaration of ``pipeid``; :class:`UnknownPipeError` (with close matches) if none."""
    try:
        return _pipes[pipeid]
    except (KeyError, TypeError):
        raise UnknownPipeError([pipeid], _pipes) from None


class DataPipes:
    """The pipe registry, under the names Kindling users write.

    >>> @DataPipes.pipe(pipeid="copy_orders", name="Copy orders",
    ...                 input_entity_ids=["bronze.orders"], output_entity_id="silver.orders")
    ... def copy_orders(bronze_orders):
    ...     return bronze_orders
    >>> DataPipes.get_pipe_definition("copy_orders").input_entity_ids
    ('bronze.orders',)
    """

    @staticmethod
    def pipe(pipeid: str, name: str, tags: Mapping[str, Any] | None = None,
             input_entity_ids: Sequence[str] = (), output_entity_id: str | None = None,
             output_type: str = "table") -> Callable[[F], F]:
        """Declare the decorated function as pipe ``pipeid``; the function is returned unchanged.

        The function receives each input entity as a DataFrame, by keyword
        (``bronze.orders`` -> ``bronze_orders``), and returns the DataFrame to
        write to ``output_entity_id``, or ``None`` to skip the write.
        Declaring the same id again replaces the earlier declaration.
        """
        # Check what can be checked before the function is seen, so a bad id
        # is reported at the decorator line.
        _check_pipeid(pipeid)

        def decorate(fn: F) -> F:
            _declare(pipeid, name, tags, input_entity_ids, output_entity_id, output_type, fn)
            return fn

        return decorate

    get_pipe_ids = staticmethod(get_pipe_ids)
    get_pipe_definition = staticmethod(get_pipe_definition)


# -- running -----------------------------------------------------------------------

@dataclass(frozen=True)
class PipeOutcome:
    """How one pipe of a run ended: ``status`` is ``succeeded``, ``skipped`` or ``failed``."""

    pipe_id: str
    status: str
    duration_seconds: float
    rows_processed: int = 0
    skip_reason: str | None = None
    error: BaseException | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RunResult:
    """What :meth:`DataPipesExecuter.run_datapipes` did, pipe by pipe, in run order.

    Its counts are the ones ``datapipes.post_run`` (or ``run_failed``) carries.
    """

    run_id: str
    pipe_ids: tuple[str, ...]
    outcomes: tuple[PipeOutcome, ...]

    def _ids(self, status: str) -> list[str]:
        return [o.pipe_id for o in self.outcomes if o.status == status]

    @property
    def succeeded(self) -> list[str]:
        return self._ids("succeeded")

    @property
    def skipped(self) -> list[str]:
        return self._ids("skipped")

    @property
    def failed(self) -> list[str]:
        return self._ids("failed")

    @property
    def pipe_count(self) -> int:
        return len(self.pipe_ids)

    @property
    def success_count(self) -> int:
        return len(self.succeeded)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def failed_count(self) -> int:
        return len(self.failed)

    @property
    def ok(self) -> bool:
        """True when every pipe ran or was skipped, none failed."""
        return not self.failed and len(self.outcomes) == len(self.pipe_ids)

    def counts(self) -> dict[str, int]:
        return {"success_count": self.success_count, "failed_count": self.failed_count,
                "skipped_count": self.skipped_count}

    def __repr__(self) -> str:
        return (f"RunResult(run_id={self.run_id!r}, pipe_count={self.pipe_count}, "
                f"success_count={self.success_count}, skipped_count={self.skipped_count}, "
                f"failed_count={self.failed_count})")


class PipeExecutionError(RuntimeError):
    """A pipe failed and stopped the run; ``__cause__`` is the pipe's own exception.

    ``pipe_id`` names the pipe; ``result`` is the run so far (the failed pipe last).
    """

    def __init__(self, pipe_id: str, cause: BaseException, result: RunResult) -> None:
        self.pipe_id = pipe_id
        self.result = result
        done = ", ".join(result.succeeded) or "none"
        not_run = result.pipe_ids[len(result.outcomes):]
        super().__init__(
            f"pipe {pipe_id!r} failed with {type(cause).__name__}: {describe_error(cause)}\n"
            f"The run stopped there (pipes that succeeded before it: {done}; "
            f"not run: {', '.join(not_run) or 'none'}). Pass continue_on_error=True "
            f"to run the remaining pipes after a failure.")


class _Skip(Exception):
    """Internal: the pipe is skipped for ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DataPipesExecuter(SignalEmitter):
    """Runs declared pipes: reads inputs, calls the pipe, writes its output entity.

    Inputs are read and outputs written through a
    :class:`~kindling.entity_manager.DataEntityManager` (merge when the output
    entity has merge columns, otherwise append), so a pipe's entity signals
    nest inside its ``pre_pipe``/``post_pipe``.

    Signals Emitted:
        datapipes.pre_run (before run_datapipes() runs any pipe):
            - pipe_ids (list[str]): Pipes of the run, in run order
            - pipe_count (int): How many
            - run_id (str): Id of this run

        datapipes.post_run (after the run, every pipe attempted):
            - success_count (int): Pipes that ended with post_pipe
            - failed_count (int): Pipes that ended with pipe_failed (only with continue_on_error)
            - skipped_count (int): Pipes that ended with pipe_skipped
            - pipe_count (int): Pipes of the run
            - duration_seconds (float): Run duration

        datapipes.run_failed (a pipe failed and stopped the run):
            - failed_pipe (str): The pipe that failed
            - error (str): Its error message
            - error_type (str): Its exception class name

        datapipes.pre_pipe (before each pipe):
            - pipe_id (str), pipe_name (str), pipe_index (int): Position in the run

        datapipes.post_pipe (after a pipe wrote its output):
            - pipe_id (str): The pipe
            - rows_processed (int): Rows the output write inserted, updated or appended
            - duration_seconds (float): Pipe duration

        datapipes.pipe_failed (the pipe, or its write, raised):
            - pipe_id (str), error (str), error_type (str)

        datapipes.pipe_skipped (an input has no table or no rows, or the pipe returned None):
            - pipe_id (str), skip_reason (str)

    Usage (the quick reference's; needs Spark and a declared pipe)::

        >>> signal_provider = BlinkerSignalProvider()                   # doctest: +SKIP
        >>> signal_provider.connect('datapipes.post_run', my_callback)  # doctest: +SKIP
        >>> executer = DataPipesExecuter(signal_provider)               # doctest: +SKIP
        >>> executer.run_datapipes(['bronze_to_silver_orders'])  # Emits signals  # doctest: +SKIP
    """

    EMITS: ClassVar[tuple[str, ...]] = (
        "datapipes.pre_run", "datapipes.post_run", "datapipes.run_failed",
        "datapipes.pre_pipe", "datapipes.post_pipe", "datapipes.pipe_failed",
        "datapipes.pipe_skipped",
    )

    def __init__(self, signal_provider: SignalProvider | None = None,
                 entity_manager: DataEntityManager | None = None) -> None:
        super().__init__(signal_provider)
        self._entity_manager = entity_manager

    @property
    def entity_manager(self) -> DataEntityManager:
        """The entity manager pipes read and write through (made on first use, sharing our provider)."""
        if self._entity_manager is None:
            from kindling.entity_manager import DataEntityManager

            self._entity_manager = DataEntityManager(signal_provider=self._signal_provider)
        return self._entity_manager

    def run_datapipes(self, pipe_ids: Sequence[str], *, continue_on_error: bool = False) -> RunResult:
        """Run ``pipe_ids`` in order; returns what each pipe did.

        Every id (and every entity its pipes name) is checked first: bad ids
        raise before any pipe runs or any signal is sent. A failed pipe stops
        the run with :class:`PipeExecutionError` unless ``continue_on_error``.
        """
        pipes = self._resolve(pipe_ids)
        ids = tuple(p.pipeid for p in pipes)
        run_id = new_operation_id()
        outcomes: list[PipeOutcome] = []

        def result() -> RunResult:
            return RunResult(run_id, ids, tuple(outcomes))

        try:
            with self.operation("datapipes.run", pipe_ids=list(ids), pipe_count=len(ids),
                                run_id=run_id) as run_op:
                for index, pipe in enumerate(pipes):
                    started = time.perf_counter()
                    try:
                        outcomes.append(self._run_pipe(pipe, index))
                    except BaseException as exc:
                        outcomes.append(PipeOutcome(pipe.pipeid, "failed",
                                                    time.perf_counter() - started, error=exc))
                        run_op.set(**result().counts())
                        if continue_on_error and isinstance(exc, Exception):
                            continue
                        run_op.set(failed_pipe=pipe.pipeid)
                        # Re-raised as is, so run_failed reports the pipe's own error type.
                        raise
                    run_op.set(**result().counts())
        except Exception as exc:
            failed = outcomes[-1] if outcomes and outcomes[-1].status == "failed" else None
            if failed is not None and failed.error is exc:
                raise PipeExecutionError(failed.pipe_id, exc, result()) from exc
            raise
        return result()

    # -- the steps
    def _resolve(self, pipe_ids: Sequence[str]) -> list[PipeDefinition]:
        if isinstance(pipe_ids, str) or not isinstance(pipe_ids, Iterable):
            raise TypeError(f"run_datapipes() takes a list of pipe ids, got {pipe_ids!r}; "
                            f"e.g. run_datapipes([{pipe_ids!r}])")
        ids = list(pipe_ids)
        unknown = [p for p in ids if not isinstance(p, str) or p not in _pipes]
        if unknown:
            raise UnknownPipeError(unknown, _pipes)
        pipes = [_pipes[p] for p in ids]
        from kindling.data_entities import get_entity_definition

        for pipe in pipes:
            for eid in (*pipe.input_entity_ids, *([pipe.output_entity_id] if pipe.output_entity_id else [])):
                get_entity_definition(eid)  # raises UnknownEntityError naming close matches
        return pipes

    def _run_pipe(self, pipe: PipeDefinition, index: int) -> PipeOutcome:
        with self.operation("datapipes.pipe", pipe_id=pipe.pipeid, pipe_name=pipe.name,
                            pipe_index=index) as op:
            try:
                inputs = {input_parameter_name(e): self._read_input(e) for e in pipe.input_entity_ids}
                output = pipe.execute(**inputs)
                if pipe.output_entity_id is None:
                    rows = 0  # a pipe without an output entity runs for its side effects
                elif output is None:
                    raise _Skip("the pipe returned None")
                else:
                    rows, mode = self._write(pipe, output)
                    op.set(output_entity_id=pipe.output_entity_id, write_mode=mode)
            except _Skip as skip:
                op.close_as("datapipes.pipe_skipped", skip_reason=skip.reason)
                return PipeOutcome(pipe.pipeid, "skipped", op.elapsed(), skip_reason=skip.reason)
            op.set(rows_processed=rows)
        return PipeOutcome(pipe.pipeid, "succeeded", op.duration_seconds or 0.0, rows_processed=rows)

    def _read_input(self, entity_id: str) -> DataFrame:
        from kindling.entity_manager import EntityTableNotFoundError

        try:
            df = self.entity_manager.read_entity(entity_id)
        except EntityTableNotFoundError:
            # Nothing upstream has written it yet: like an input with no rows, not a fault.
            raise _Skip(f"input {entity_id!r} has no table yet") from None
        if df.isEmpty():  # one cheap job (a limit(1)), not a count
            raise _Skip(f"input {entity_id!r} has no rows")
        return df

    def _write(self, pipe: PipeDefinition, output: Any) -> tuple[int, str]:
        from kindling.spark_session import is_dataframe  # a classic or a Spark Connect DataFrame

        if not is_dataframe(output):
            raise TypeError(
                f"pipe {pipe.pipeid!r} returned {type(output).__name__}; a pipe returns a Spark "
                f"DataFrame for {pipe.output_entity_id!r}, or None to skip the write")
        entity_id = pipe.output_entity_id
        assert entity_id is not None
        from kindling.data_entities import get_entity_definition

        if get_entity_definition(entity_id).merge_columns:
            merged = self.entity_manager.merge_to_entity(output, entity_id)
            return merged.rows_inserted + merged.rows_updated + merged.rows_deleted, "merge"
        return self.entity_manager.append_to_entity(output, entity_id), "append"


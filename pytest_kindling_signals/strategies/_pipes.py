"""Pipe graphs: acyclic sets of pipes over entities, some raising, with the run they should give.

A :class:`PipeGraph` is plain data (no Spark): source entities with their
rows, output entities (merged into on ``id``, or appended to), and pipes in
run order, each reading entities written before its output. It declares
itself with the real ``DataEntities``/``DataPipes`` registries, seeds its
sources as Delta tables, and predicts what :meth:`DataPipesExecuter.run_datapipes
<kindling.data_pipes.DataPipesExecuter.run_datapipes>` must do, pipe by pipe::

    graph = data.draw(pipe_graphs())
    run_ids = graph.declare()
    graph.seed(spark)
    expected = graph.expected(continue_on_error=True)
    result = DataPipesExecuter().run_datapipes(run_ids, continue_on_error=True)
    assert [o.status for o in result.outcomes] == expected.statuses
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from pytest_kindling_signals.strategies._inputs import EntitySchema, entity_schemas, rows
from pytest_kindling_signals.strategies._validation import check_int_range, require_framework

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from pytest_kindling_signals.frameworks import Framework

__all__ = ["BEHAVIOURS", "ExpectedRun", "PipeFailure", "PipeGraph", "PipeSpec", "pipe_graphs"]

#: What a generated pipe does with its inputs (the union of their rows, one row per key):
#: ``copy`` returns it, ``evens`` keeps even keys, ``none`` returns None (skipped), ``raise`` raises.
BEHAVIOURS = ("copy", "evens", "none", "raise")
KEY_SPACE = 8


class PipeFailure(RuntimeError):
    """What a ``raise`` pipe raises: a real exception from inside a pipe function."""


@dataclass(frozen=True)
class PipeSpec:
    pipeid: str
    inputs: tuple[str, ...]
    output: str
    behaviour: str


@dataclass
class ExpectedRun:
    """What the run must do: per pipe (run order) its status and rows_processed; tables' keys after."""

    statuses: list[str] = field(default_factory=list)
    rows_processed: dict[str, int] = field(default_factory=dict)
    merges: dict[str, tuple[int, int]] = field(default_factory=dict)  # pipe -> (inserted, updated)
    tables: dict[str, Counter[Any] | None] = field(default_factory=dict)  # entity -> key counts
    failed_pipe: str | None = None

    @property
    def success_count(self) -> int:
        return self.statuses.count("succeeded")


@dataclass(frozen=True)
class PipeGraph:
    """Sources (entity -> rows), outputs (entity -> merged?), and pipes in run order."""

    schema: EntitySchema
    sources: dict[str, list[tuple[Any, ...]]]
    outputs: dict[str, bool]
    pipes: tuple[PipeSpec, ...]

    @property
    def pipe_ids(self) -> list[str]:
        return [p.pipeid for p in self.pipes]

    def declare(self, framework: Framework | None = None) -> list[str]:
        """Declare every entity and pipe with the installed framework's registries (``framework``
        picks another); returns the pipe ids in run order."""
        fw = require_framework(framework, "PipeGraph.declare")
        for entity in self.sources:
            self.schema.declare(entity, merge=False, framework=fw)
        for entity, merge in self.outputs.items():
            self.schema.declare(entity, merge=merge, framework=fw)
        for spec in self.pipes:
            fw.declare_pipe(spec.pipeid, _pipe_function(spec, self.schema.key), name=f"{spec.behaviour} {spec.pipeid}",
                            input_entity_ids=list(spec.inputs), output_entity_id=spec.output)
        return self.pipe_ids

    def seed(self, spark: SparkSession, framework: Framework | None = None) -> None:
        """Write each source's rows as its Delta table, where the framework puts it (an empty
        source gets an empty table).

        Plain Delta writes, no signals: seeding is the test's set-up, not the run under test.
        """
        fw = require_framework(framework, "PipeGraph.seed")
        for entity, source_rows in self.sources.items():
            df = spark.createDataFrame(source_rows, self.schema.struct_type())
            df.write.format("delta").save(fw.table_path(entity))

    def expected(self, *, continue_on_error: bool) -> ExpectedRun:
        """Simulate the run on keys alone: statuses, rows processed, and each table's keys after."""
        key_counts: dict[str, Counter[Any] | None] = {
            e: Counter(r[0] for r in rs) for e, rs in self.sources.items()}
        key_counts.update({e: None for e in self.outputs})
        run = ExpectedRun()
        for spec in self.pipes:
            ins = [key_counts[e] for e in spec.inputs]
            if any(c is None or not c for c in ins) or spec.behaviour == "none":
                run.statuses.append("skipped")
                continue
            if spec.behaviour == "raise":
                run.statuses.append("failed")
                if not continue_on_error:
                    run.failed_pipe = spec.pipeid
                    break
                continue
            keys = set().union(*ins)  # type: ignore[arg-type]
            if spec.behaviour == "evens":
                keys = {k for k in keys if _even(k)}
            target = key_counts[spec.output] or Counter()
            if self.outputs[spec.output]:
                updated = len(keys & set(target))
                inserted = len(keys) - updated
                run.merges[spec.pipeid] = (inserted, updated)
                run.rows_processed[spec.pipeid] = inserted + updated
                key_counts[spec.output] = target + Counter(keys - set(target))
            else:
                run.rows_processed[spec.pipeid] = len(keys)
                key_counts[spec.output] = target + Counter(keys)
            run.statuses.append("succeeded")
        run.tables = key_counts
        return run


def _even(key: Any) -> bool:
    return int(str(key).lstrip("k")) % 2 == 0


def _pipe_function(spec: PipeSpec, key: str) -> Any:
    params = [e.replace(".", "_") for e in spec.inputs]

    def run(**inputs: DataFrame) -> DataFrame | None:
        if spec.behaviour == "raise":
            raise PipeFailure(f"pipe {spec.pipeid} raises on purpose")
        if spec.behaviour == "none":
            return None
        from pyspark.sql import functions as F

        frames = [inputs[p] for p in params]
        df = frames[0]
        for other in frames[1:]:
            df = df.unionByName(other)
        df = df.dropDuplicates([key])
        if spec.behaviour == "evens":
            number = F.regexp_replace(F.col(key).cast("string"), "^k", "").cast("int")
            df = df.where(number % 2 == 0)
        return df

    # The executer passes inputs by keyword and checks the signature: give it the real names.
    import inspect

    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY) for p in params])
    run.__name__ = spec.pipeid
    return run


def pipe_graphs(*, max_sources: int = 2, max_outputs: int = 2, max_pipes: int = 3,
                max_rows: int = 4, behaviours: Any = BEHAVIOURS) -> st.SearchStrategy[PipeGraph]:
    """Acyclic pipe graphs over small entities (key ``id`` from a space of 8 values, so rows overlap).

    Pipes are in run order; a pipe reads sources and outputs written before
    its own output, so the order is topological. Shrinks to one source, one
    output and one ``copy`` pipe.
    """
    fn = "pipe_graphs"
    check_int_range(fn, "max_sources", max_sources, 1, 5)
    check_int_range(fn, "max_outputs", max_outputs, 1, 5)
    check_int_range(fn, "max_pipes", max_pipes, 1, 10)
    check_int_range(fn, "max_rows", max_rows, 0, KEY_SPACE)
    from pytest_kindling_signals.strategies._validation import check_choices

    chosen = check_choices(fn, "behaviours", behaviours, BEHAVIOURS)

    @st.composite
    def build(draw: st.DrawFn) -> PipeGraph:
        schema = draw(entity_schemas(max_columns=3))
        sources = {f"src{i}": draw(rows(schema, min_size=0, max_size=max_rows, key_space=KEY_SPACE))
                   for i in range(draw(st.integers(1, max_sources)))}
        outputs = {f"out{i}": draw(st.booleans()) for i in range(draw(st.integers(1, max_outputs)))}
        out_names = list(outputs)
        specs = []
        for _ in range(draw(st.integers(1, max_pipes))):
            out = draw(st.integers(0, len(out_names) - 1))
            readable = list(sources) + out_names[:out]
            inputs = draw(st.lists(st.sampled_from(readable), min_size=1, max_size=2, unique=True))
            specs.append((out, tuple(inputs), draw(st.sampled_from(chosen))))
        specs.sort(key=lambda s: s[0])  # writers of out0 before readers of out0: topological
        pipes = tuple(PipeSpec(f"p{i}", inputs, out_names[out], behaviour)
                      for i, (out, inputs, behaviour) in enumerate(specs))
        return PipeGraph(schema, sources, outputs, pipes)

    return build()

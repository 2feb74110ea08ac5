"""Per-example isolation for the Spark property tests: a fresh lakehouse and registries.

The plugin isolates registries and the lakehouse per *test*; a Hypothesis
test runs many examples inside one test, so each example makes its own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

import kindling.registries
from kindling.lakehouse import use_lakehouse

# A few examples each: every Spark action costs about a second. The ci profile
# profile (200 examples) scales this to 20.
SPARK_EXAMPLES = 3 if settings.default.max_examples <= 20 else min(20, settings.default.max_examples // 10)
SPARK_SETTINGS = settings(max_examples=SPARK_EXAMPLES, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def fresh_world() -> Iterator[Path]:
    """A temporary lakehouse and the registries as they were, for one example."""
    saved = kindling.registries.snapshot()
    try:
        with tempfile.TemporaryDirectory(prefix="kindling-property-") as tmp, use_lakehouse(tmp) as path:
            yield path
    finally:
        kindling.registries.restore(saved)


def table_rows(spark: Any, path: Path) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in spark.read.format("delta").load(str(path)).collect()), key=repr)


def contract_ok(rec: Any) -> None:
    __tracebackhide__ = True
    rec.assert_contract()

"""How the pytest plugin serves this framework (the ``pytest_kindling_signals.frameworks``
entry point of the ``kindling-signals`` distribution).

The plugin (distribution ``pytest-kindling-signals``) knows no ``kindling``:
this class tells it where our catalog is, how to see every emission, which
provider a test records, and how to keep one test's declarations out of the
next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from pytest_kindling_signals.frameworks import Framework

from kindling import registries
from kindling.signal_catalog import BUILTIN_CATALOG_PATH
from kindling.signaling import BlinkerSignalProvider, add_global_tap, use_default_provider
from kindling.spark_session import get_spark_session_provider

__all__ = ["KindlingFramework"]


class KindlingFramework(Framework):
    """This project's providers: the quick reference's names, exactly."""

    name = "kindling"
    distribution = "kindling-signals"

    def catalog_paths(self) -> list[Path]:
        return [BUILTIN_CATALOG_PATH]

    def add_global_tap(self, tap: Callable[[Any], None]) -> Callable[[], None]:
        return add_global_tap(tap)

    @contextmanager
    def test_provider(self) -> Iterator[BlinkerSignalProvider]:
        provider = BlinkerSignalProvider(name="test")
        with use_default_provider(provider):
            yield provider

    def declare_entity(self, entity_id: str, *, schema: Any, merge_columns: Sequence[str] = (),
                       partition_columns: Sequence[str] = (), tags: Mapping[str, str] | None = None) -> Any:
        from kindling.data_entities import DataEntities

        return DataEntities.entity(entityid=entity_id, name=entity_id.replace(".", "_"),
                                   merge_columns=list(merge_columns), partition_columns=list(partition_columns),
                                   tags=dict(tags) if tags else None, schema=schema)

    def declare_pipe(self, pipe_id: str, function: Callable[..., Any], *, input_entity_ids: Sequence[str],
                     output_entity_id: str, name: str | None = None,
                     tags: Mapping[str, str] | None = None) -> Any:
        from kindling.data_pipes import DataPipes

        return DataPipes.pipe(pipeid=pipe_id, name=name or pipe_id, tags=dict(tags) if tags else None,
                              input_entity_ids=list(input_entity_ids), output_entity_id=output_entity_id,
                              output_type="table")(function)

    def table_path(self, entity_id: str) -> str:
        from kindling.entity_manager import DataEntityManager

        return str(DataEntityManager().table_path(entity_id))

    def use_engine(self, master: str | None, remote: str | None) -> None:
        provider = get_spark_session_provider()
        if not provider.is_started:
            provider.config.master = master or provider.config.master
            provider.config.remote = remote or provider.config.remote

    def isolation(self) -> AbstractContextManager[None]:
        # Costs what the test changed: nothing for a test that declares nothing.
        return registries.isolated()

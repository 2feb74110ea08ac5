"""A minimal catalog-conformant emitter: the code under test of the plugin's tests.

The pytester tests copy this file next to the test files they write, as a
user's own provider would sit next to their tests.
"""

from __future__ import annotations

from typing import Any

from kindling.signaling import SignalEmitter


class Merger(SignalEmitter):
    """Merges rows into an entity.

    Signals Emitted: entity.pre_merge, entity.post_merge, entity.merge_failed
    """

    EMITS = ("entity.pre_merge", "entity.post_merge", "entity.merge_failed")

    def merge(self, entity_id: str, rows: list[Any], fail: bool = False) -> int:
        with self.operation("entity.merge", entity_id=entity_id, merge_keys=["id"],
                            source_row_count=len(rows)) as op:
            if fail:
                raise ValueError(f"cannot merge {entity_id}")
            op.set(rows_inserted=len(rows), rows_updated=0, rows_deleted=0)
        return len(rows)

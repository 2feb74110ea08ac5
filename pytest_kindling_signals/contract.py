"""The contract check, independent of pytest: payloads, lifecycles, undocumented names.

Works on any sequence of records that have ``name`` and ``payload`` (the
recorder's :class:`~pytest_kindling_signals.recorder.SignalRecord`, or
``kindling.signaling.Emission``), in emission order::

    >>> findings = check_contract(recorder.records, load_catalog())   # doctest: +SKIP
    >>> [str(f) for f in findings]                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pytest_kindling_signals.catalog import SignalCatalog, Violation

__all__ = ["ContractFinding", "check_contract", "check_lifecycles", "check_payloads",
           "undocumented_names"]


class _Record(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ContractFinding:
    """One breach of the contract: ``kind`` is ``payload``, ``lifecycle`` or ``undocumented``."""

    kind: str
    signal: str
    message: str
    violation: Violation | None = None
    index: int | None = None

    def __str__(self) -> str:
        where = f" (record #{self.index})" if self.index is not None else ""
        return f"[{self.kind}] {self.message}{where}"


def undocumented_names(records: Iterable[_Record], catalog: SignalCatalog) -> list[str]:
    """Names emitted that the catalog does not declare, in first-seen order."""
    seen: dict[str, None] = {}
    for r in records:
        if r.name not in catalog:
            seen.setdefault(r.name, None)
    return list(seen)


def check_payloads(records: Iterable[_Record], catalog: SignalCatalog) -> list[ContractFinding]:
    findings = []
    for i, r in enumerate(records):
        if r.name not in catalog:
            continue
        for v in catalog.validate(r.name, r.payload):
            findings.append(ContractFinding("payload", r.name, str(v), v, i))
    return findings


def check_lifecycles(records: Sequence[_Record], catalog: SignalCatalog) -> list[ContractFinding]:
    """Every ``pre_X`` closed by exactly one of its outcomes with the same ``operation_id``."""
    findings: list[ContractFinding] = []
    open_ops: dict[tuple[str, Any], int] = {}
    closed: set[tuple[str, Any]] = set()
    for i, r in enumerate(records):
        opened = catalog.operation_opened_by(r.name)
        oid = r.payload.get("operation_id")
        if opened is not None:
            key = (opened.name, oid)
            if key in open_ops or key in closed:
                findings.append(ContractFinding(
                    "lifecycle", r.name,
                    f"{r.name} opened operation {oid} a second time", None, i))
            open_ops[key] = i
            continue
        closing = catalog.operation_closed_by(r.name)
        if closing is None:
            continue
        key = (closing.name, oid)
        if key in open_ops:
            del open_ops[key]
            closed.add(key)
        elif key in closed:
            findings.append(ContractFinding(
                "lifecycle", r.name,
                f"{r.name} closed operation {oid}, which was already closed", None, i))
        else:
            findings.append(ContractFinding(
                "lifecycle", r.name,
                f"{r.name} closed operation {oid}, which no {closing.pre} opened", None, i))
    for (op_name, oid), i in sorted(open_ops.items(), key=lambda kv: kv[1]):
        op = catalog.operation(op_name)
        outcomes = " or ".join(op.closers)
        findings.append(ContractFinding(
            "lifecycle", op.pre,
            f"{op.pre} (operation {oid}) was never closed by {outcomes}", None, i))
    return findings


def check_contract(records: Sequence[_Record], catalog: SignalCatalog) -> list[ContractFinding]:
    """All findings: undocumented signals, payload violations, lifecycle violations."""
    findings = [ContractFinding("undocumented", n, f"{n} is not in the signal catalog"
                                + (f" (did you mean {' or '.join(catalog.suggest(n))}?)" if catalog.suggest(n) else ""))
                for n in undocumented_names(records, catalog)]
    findings += check_payloads(records, catalog)
    findings += check_lifecycles(records, catalog)
    return findings

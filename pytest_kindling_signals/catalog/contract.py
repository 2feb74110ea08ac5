"""The contract check, independent of pytest: payloads, lifecycles, undocumented names.

Works on any sequence of records that have ``name`` and ``payload`` (the
recorder's :class:`~pytest_kindling_signals.record.recorder.SignalRecord`, or
``kindling.signaling.Emission``), in emission order::

    >>> findings = check_contract(recorder.records, load_catalog())   # doctest: +SKIP
    >>> [str(f) for f in findings]                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pytest_kindling_signals.catalog.known import KnownFinding
from pytest_kindling_signals.catalog.model import OperationSpec, SignalCatalog, Violation
from pytest_kindling_signals.catalog.values import safe_repr

__all__ = ["ContractFinding", "check_contract", "check_lifecycles", "check_payloads",
           "describe_key", "known_match", "mark_known", "operation_key", "undocumented_names",
           "unseen_known"]


class ValidationRecord(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ContractFinding:
    """One breach of the contract: ``kind`` is ``payload``, ``lifecycle`` or ``undocumented``.

    ``rule`` is the rule it breaks (see :data:`~pytest_kindling_signals.catalog.known.RULES`);
    ``known`` the :class:`KnownFinding` it matches, if any (see :func:`check_contract`).
    """

    kind: str
    signal: str
    message: str
    violation: Violation | None = None
    index: int | None = None
    rule: str = ""
    known: KnownFinding | None = None

    def __str__(self) -> str:
        where = f" (record #{self.index})" if self.index is not None else ""
        return f"[{'known: ' if self.known else ''}{self.kind}] {self.message}{where}"


def undocumented_names(records: Iterable[ValidationRecord], catalog: SignalCatalog) -> list[str]:
    """Names emitted that the catalog does not declare, in first-seen order."""
    seen: dict[str, None] = {}
    for r in records:
        if r.name not in catalog:
            seen.setdefault(r.name, None)
    return list(seen)


def check_payloads(records: Iterable[ValidationRecord], catalog: SignalCatalog) -> list[ContractFinding]:
    findings = []
    for i, r in enumerate(records):
        if r.name not in catalog:
            continue
        for v in catalog.validate(r.name, r.payload):
            findings.append(ContractFinding("payload", r.name, str(v), v, i, "invalid_payload"))
    return findings


def operation_key(op: OperationSpec, payload: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values of ``op.pair_by`` in ``payload``: what tells this operation from others."""
    return tuple(_hashable(payload.get(f)) for f in op.pair_by)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return safe_repr(value)
    return value


def describe_key(op: OperationSpec, key: tuple[Any, ...]) -> str:
    """``operation <id>``, or ``operation (run_id='r1', pipe_id='p')`` for field pairing."""
    if op.unique_ids:
        return f"operation {key[0]}"
    return "operation (" + ", ".join(f"{f}={v!r}" for f, v in zip(op.pair_by, key)) + ")"


def check_lifecycles(records: Sequence[ValidationRecord], catalog: SignalCatalog) -> list[ContractFinding]:
    """Every ``pre_X`` closed by exactly one of its outcomes with the same key.

    The key is the ``operation_id`` (or the operation's ``pair_by`` fields).
    With ids, an id opened twice or closed twice is a breach; with field
    pairing, a closer closes the latest open operation of its key, and a key
    may be reused once closed (the same pipe runs again).
    """
    findings: list[ContractFinding] = []
    open_ops: dict[tuple[str, Any], list[int]] = {}
    closed: set[tuple[str, Any]] = set()
    for i, r in enumerate(records):
        opened = catalog.operation_opened_by(r.name)
        if opened is not None:
            key = (opened.name, operation_key(opened, r.payload))
            if opened.unique_ids and (key in open_ops or key in closed):
                findings.append(ContractFinding(
                    "lifecycle", r.name,
                    f"{r.name} opened {describe_key(opened, key[1])} a second time", None, i,
                    "opened_twice"))
                open_ops[key] = [i]
            else:
                open_ops.setdefault(key, []).append(i)
            continue
        closing = catalog.operation_closed_by(r.name)
        if closing is None:
            continue
        key = (closing.name, operation_key(closing, r.payload))
        what = describe_key(closing, key[1])
        stack = open_ops.get(key)
        if stack:
            stack.pop()
            if not stack:
                del open_ops[key]
            closed.add(key)
        elif closing.unique_ids and key in closed:
            findings.append(ContractFinding(
                "lifecycle", r.name, f"{r.name} closed {what}, which was already closed", None, i,
                "closed_twice"))
        else:
            findings.append(ContractFinding(
                "lifecycle", r.name, f"{r.name} closed {what}, which no {closing.pre} opened", None, i,
                "not_opened"))
    never = sorted(((i, op_name, k) for (op_name, k), stack in open_ops.items() for i in stack))
    for i, op_name, k in never:
        op = catalog.operation(op_name)
        outcomes = " or ".join(op.closers)
        findings.append(ContractFinding(
            "lifecycle", op.pre, f"{op.pre} ({describe_key(op, k)}) was never closed by {outcomes}",
            None, i, "never_closed"))
    return findings


def check_contract(records: Sequence[ValidationRecord], catalog: SignalCatalog,
                   known: Sequence[KnownFinding] = ()) -> list[ContractFinding]:
    """All findings: undocumented signals, payload violations, lifecycle violations.

    Each finding that matches a known one (the catalog's ``known_findings``,
    then ``known``) carries it in ``finding.known``; the others have ``None``.
    """
    findings = [ContractFinding("undocumented", n, f"{n} is not in the signal catalog"
                                + (f" (did you mean {' or '.join(catalog.suggest(n))}?)" if catalog.suggest(n) else ""),
                                rule="undocumented")
                for n in undocumented_names(records, catalog)]
    findings += check_payloads(records, catalog)
    findings += check_lifecycles(records, catalog)
    return mark_known(findings, (*catalog.known_findings, *known))


def known_match(finding: ContractFinding, known: Sequence[KnownFinding]) -> KnownFinding | None:
    """The first of ``known`` that ``finding`` is, or None."""
    field = finding.violation.field if finding.violation is not None else None
    return next((k for k in known if k.matches(finding.signal, finding.rule, field)), None)


def mark_known(findings: Sequence[ContractFinding], known: Sequence[KnownFinding]) -> list[ContractFinding]:
    """``findings``, each matching one of ``known`` carrying it in ``known``."""
    if not known:
        return list(findings)
    return [replace(f, known=k) if (k := known_match(f, known)) is not None else f for f in findings]


def unseen_known(findings: Sequence[ContractFinding], expected: Sequence[KnownFinding]) -> list[KnownFinding]:
    """The known findings of ``expected`` that no finding matched (fixed, or not reached)."""
    field = [f.violation.field if f.violation is not None else None for f in findings]
    return [k for k in expected
            if not any(k.matches(f.signal, f.rule, fl) for f, fl in zip(findings, field))]

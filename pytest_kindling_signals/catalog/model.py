"""The signal catalog: every signal Kindling emits, read from one data file.

A framework ships its catalog as a file (Kindling's is ``pytest_kindling_signals/catalog/shipped/quick_reference.yaml``);
users add catalogs of their own for their own providers, merged after it::

    >>> from pytest_kindling_signals.catalog import QUICK_REFERENCE_PATH, load_catalog
    >>> catalog = load_catalog(QUICK_REFERENCE_PATH)
    >>> catalog["entity.post_merge"].tier
    'critical'
    >>> catalog.validate("entity.post_merge", {"rows_inserted": "3"})[0].field
    'rows_inserted'

Everything else about signals (JSON Schemas, docs tables, Hypothesis
strategies, the coverage report) is derived from a :class:`SignalCatalog`.
Reading the files is :mod:`pytest_kindling_signals.catalog.loading`'s.
This module is the contract engine's: it imports no pytest and no framework.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from pytest_kindling_signals.names import UnknownNameError, close_matches
from pytest_kindling_signals.catalog.known import KnownFinding
from pytest_kindling_signals.catalog.values import is_data, opaque_name, safe_repr

__all__ = [
    "CATALOGS_DIR",
    "QUICK_REFERENCE_PATH",
    "CatalogError",
    "FieldSpec",
    "OperationSpec",
    "ProviderInfo",
    "SignalCatalog",
    "SignalSpec",
    "UnknownSignalError",
    "Violation",
    "clip",
    "json_type_name",
    "short_repr",
    "signal_kind",
]

#: The catalogs shipped with the plugin: the users' quick reference (88 signals), and
#: the catalogs of other frameworks (spark-kindling's, made by the scanner).
CATALOGS_DIR = Path(__file__).with_name("shipped")
QUICK_REFERENCE_PATH = CATALOGS_DIR / "quick_reference.yaml"
FORMAT = "kindling-signal-catalog/1"
TIERS_DEFAULT = ("critical", "high", "moderate")
KINDS = ("pre", "post", "failed", "event")
FIELD_TYPES = ("string", "integer", "number", "boolean", "array", "object", "any")

# Enforced by pattern rather than jsonschema's optional "format" checkers, which
# silently pass when their extra packages are missing.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
DATETIME_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)
_FORMAT_PATTERNS = {"uuid": UUID_PATTERN, "date-time": DATETIME_PATTERN}


class CatalogError(ValueError):
    """A catalog file that cannot be used: names the file, the entry and the problem."""


class UnknownSignalError(UnknownNameError):
    """A signal name the catalog does not know; the message suggests close names."""

    def __init__(self, name: str, suggestions: list[str], where: str = "the signal catalog"):
        super().__init__("signal", name, (), f"it is not in {where}.", suggestions=suggestions, sentence=True)


# Shown (in a traceback, a failure) under the package users import them from, not this module.
CatalogError.__module__ = UnknownSignalError.__module__ = "pytest_kindling_signals.catalog"


def signal_kind(name: str) -> str:
    """The kind a signal's name implies: ``pre``, ``post``, ``failed`` or ``event``."""
    short = name.rsplit(".", 1)[-1]
    if short.startswith("pre_"):
        return "pre"
    if short.startswith("post_"):
        return "post"
    if short == "failed" or short.endswith("_failed"):
        return "failed"
    return "event"


@dataclass(frozen=True)
class FieldSpec:
    """One payload field: its JSON type(s), whether it is required, its constraints."""

    name: str
    types: tuple[str, ...]
    required: bool = True
    nullable: bool = False
    items: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[Any, ...] | None = None
    format: str | None = None
    description: str = ""

    @property
    def type(self) -> str:
        """The type as the docs show it, e.g. ``array[string]`` or ``string | null``."""
        shown = [f"array[{self.items}]" if t == "array" and self.items else t for t in self.types]
        if self.nullable:
            shown.append("null")
        return " | ".join(shown)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {}
        types = [t for t in self.types if t != "any"]
        if types:
            json_types = list(types) + (["null"] if self.nullable else [])
            schema["type"] = json_types[0] if len(json_types) == 1 else json_types
        if self.items:
            schema["items"] = {} if self.items == "any" else {"type": self.items}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.enum is not None:
            schema["enum"] = list(self.enum) + ([None] if self.nullable else [])
        if self.format:
            schema["format"] = self.format
            if self.format in _FORMAT_PATTERNS:
                schema["pattern"] = _FORMAT_PATTERNS[self.format]
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class SignalSpec:
    """A catalog signal: where it comes from, when it fires, what its payload holds."""

    name: str
    namespace: str
    provider: str
    tier: str
    when: str
    kind: str
    fields: Mapping[str, FieldSpec]
    key_fields: tuple[str, ...]
    operation: str | None = None
    source: str = ""
    #: A signal beyond the quick reference (e.g. ``watermark.get_failed``): reports list it apart.
    extension: bool = False
    #: Why no test can fire it where the catalog's tests run (e.g. a platform API): reports count it apart.
    unreachable: str | None = None
    #: Whether payload values must be JSON (``json_payloads`` of the catalog file; some
    #: frameworks send DataFrames).
    json_payload: bool = True

    @property
    def short_name(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(n for n, f in self.fields.items() if f.required)


@dataclass(frozen=True)
class OperationSpec:
    """A lifecycle: a ``pre`` signal closed by exactly one of ``post`` or ``failed``.

    ``pair_by`` names the payload fields that tell one operation from another:
    ``operation_id`` (a fresh id per operation) unless the catalog says
    otherwise; frameworks whose payloads carry no id pair by what they do
    carry (``[run_id, pipe_id]``), and may then reuse a key once it is closed.
    """

    name: str
    pre: str
    post: tuple[str, ...]
    failed: str | None
    pair_by: tuple[str, ...] = ("operation_id",)

    @property
    def unique_ids(self) -> bool:
        """Whether every operation has its own id (then a key opened twice is a breach)."""
        return self.pair_by == ("operation_id",)

    @property
    def closers(self) -> tuple[str, ...]:
        return self.post + ((self.failed,) if self.failed else ())


@dataclass(frozen=True)
class Violation:
    """One broken rule of one payload."""

    signal: str
    field: str
    expected: str
    actual: str
    message: str = ""

    def __str__(self) -> str:
        return f"{self.signal}: field {self.field!r}: expected {self.expected}, got {self.actual}"


@dataclass
class ProviderInfo:
    namespace: str
    cls: str
    tier: str
    use_cases: str = ""
    notes: tuple[str, ...] = ()
    source: str = ""


class SignalCatalog(Mapping[str, SignalSpec]):
    """An immutable, validated set of signal specs; a mapping from name to :class:`SignalSpec`."""

    def __init__(
        self,
        signals: Mapping[str, SignalSpec],
        operations: Mapping[str, OperationSpec],
        providers: Mapping[str, ProviderInfo],
        tiers: tuple[str, ...],
        sources: tuple[str, ...],
        silent_providers: Mapping[str, str] | None = None,
        known_findings: tuple[KnownFinding, ...] = (),
    ) -> None:
        self._signals = dict(signals)
        #: Breaches a release is known to have (``known_findings`` of the catalog files).
        self.known_findings = tuple(known_findings)
        self._operations = dict(operations)
        self._providers = dict(providers)
        self.tiers = tiers
        self.sources = sources
        self.silent_providers = dict(silent_providers or {})
        self._by_closer: dict[str, OperationSpec] = {}
        self._by_pre: dict[str, OperationSpec] = {}
        for op in self._operations.values():
            self._by_pre[op.pre] = op
            for closer in op.closers:
                self._by_closer[closer] = op
        self._schemas: dict[str, dict[str, Any]] = {}
        self._validators: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- mapping -----------------------------------------------------------
    def __getitem__(self, name: str) -> SignalSpec:
        try:
            return self._signals[name]
        except KeyError:
            raise UnknownSignalError(name, self.suggest(name)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._signals)

    def __len__(self) -> int:
        return len(self._signals)

    def __contains__(self, name: object) -> bool:
        return name in self._signals

    def __repr__(self) -> str:
        return f"<SignalCatalog {len(self)} signals, {len(self._providers)} providers>"

    # -- look-ups ----------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._signals)

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """The catalog names closest to ``name`` (for 'did you mean' messages)."""
        return close_matches(name, self._signals, n=n)

    def check_name(self, name: str) -> SignalSpec:
        """``catalog[name]``, spelled as a check."""
        return self[name]

    def providers(self) -> list[str]:
        """Provider class names, in catalog order."""
        return [p.cls for p in self._providers.values()]

    def namespaces(self) -> list[str]:
        return list(self._providers)

    def provider_info(self, provider: str) -> ProviderInfo:
        for info in self._providers.values():
            if provider in (info.cls, info.namespace):
                return info
        known = [p.cls for p in self._providers.values()] + list(self._providers)
        raise UnknownNameError("provider", provider, known, declared=f"Known: {', '.join(known)}",
                               sentence=True)

    def by_provider(self, provider: str) -> list[SignalSpec]:
        """Signals of one provider, by class name (``DataEntityManager``) or namespace (``entity``)."""
        info = self.provider_info(provider)
        return [s for s in self._signals.values() if s.namespace == info.namespace]

    def extensions(self) -> list[SignalSpec]:
        """Signals marked ``extension: true``: beyond the quick reference (reports list them apart)."""
        return [s for s in self._signals.values() if s.extension]

    def by_tier(self, tier: str) -> list[SignalSpec]:
        if tier not in self.tiers:
            raise LookupError(f"Unknown tier {tier!r}; the catalog's tiers are {', '.join(self.tiers)}")
        return [s for s in self._signals.values() if s.tier == tier]

    @property
    def operations(self) -> Mapping[str, OperationSpec]:
        return dict(self._operations)

    def operation(self, name: str) -> OperationSpec:
        """The lifecycle named ``name`` (``entity.merge``), or the one a signal opens or closes."""
        if name in self._operations:
            return self._operations[name]
        if name in self._by_pre:
            return self._by_pre[name]
        if name in self._by_closer:
            return self._by_closer[name]
        raise UnknownNameError("operation", name, self._operations, sentence=True)

    def operation_opened_by(self, name: str) -> OperationSpec | None:
        return self._by_pre.get(name)

    def operation_closed_by(self, name: str) -> OperationSpec | None:
        return self._by_closer.get(name)

    # -- schemas and validation -------------------------------------------
    def json_schema(self, name: str) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of one signal's payload."""
        spec = self[name]
        schema = self._schemas.get(name)
        if schema is None:
            schema = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": f"urn:kindling:signal:{name}",
                "title": name,
                "description": spec.when,
                "type": "object",
                "properties": {n: f.json_schema() for n, f in spec.fields.items()},
                "required": list(spec.required_fields),
                "additionalProperties": True,
            }
            self._schemas[name] = schema
        return json.loads(json.dumps(schema))  # a copy the caller may change

    def _validator(self, name: str) -> Any:
        validator = self._validators.get(name)
        if validator is None:
            from jsonschema import Draft202012Validator

            with self._lock:
                validator = Draft202012Validator(self.json_schema(name))
                self._validators[name] = validator
        return validator

    def validate(self, name: str, payload: Mapping[str, Any]) -> list[Violation]:
        """Every rule of the catalog that ``payload`` breaks; empty when it is valid.

        Unknown names raise :class:`UnknownSignalError`. Besides the schema,
        every value must be JSON-serialisable (str, int, float, bool, None,
        lists and dicts of those).
        """
        spec = self[name]  # raises with suggestions
        violations: list[Violation] = []
        skipped: set[str] = set()
        for key, value in (payload.items() if spec.json_payload else ()):
            try:
                bad = _first_non_json(value)
            except _Unvalidatable as exc:  # itself a finding, with the reason: never dropped
                skipped.add(key)
                where = key + (exc.path if len(exc.path) <= 40 else exc.path[:37] + "...")
                violations.append(Violation(
                    name, where, f"a JSON value nested at most {MAX_PAYLOAD_DEPTH} levels",
                    exc.problem, f"payload cannot be validated: {where} is {exc.problem}"))
                continue
            if bad is not None:
                path, obj = bad
                violations.append(Violation(
                    name, key + path, "a JSON value (str, int, float, bool, None, list, dict)",
                    f"{type(obj).__name__} {short_repr(obj)}", "payload is not JSON-serialisable"))
        # jsonschema puts repr(value) in its messages: a DataFrame goes in as a stand-in
        checked = {k: _stand_in(v) for k, v in payload.items() if k not in skipped}
        try:
            errors = sorted(self._validator(name).iter_errors(checked), key=_error_order)
        except (RecursionError, TypeError, ValueError) as exc:
            return violations + [Violation(
                name, "(payload)", "a payload the catalog can validate", f"{type(exc).__name__}",
                f"payload cannot be validated: {type(exc).__name__}: {clip(str(exc), 120)}")]
        for error in errors:
            if error.validator == "required" and any(f"'{k}'" in error.message for k in skipped):
                continue  # present, reported above
            violations.append(_violation_from_error(name, error))
        return violations

    def is_valid(self, name: str, payload: Mapping[str, Any]) -> bool:
        return not self.validate(name, payload)

    # -- combining ---------------------------------------------------------
    def merged(self, other: SignalCatalog) -> SignalCatalog:
        """This catalog plus ``other``'s signals; a name defined twice is a :class:`CatalogError`."""
        for name in other:
            if name in self._signals:
                raise CatalogError(
                    f"{other[name].source}: signal {name!r} is already defined in "
                    f"{self._signals[name].source}; give your provider its own namespace")
        for namespace, info in other._providers.items():
            # One namespace, one provider class: merging would silently replace
            # the built-in provider's info (and break by_provider lookups).
            if namespace in self._providers:
                mine = self._providers[namespace]
                raise CatalogError(
                    f"{info.source}: providers.{namespace}: namespace {namespace!r} is already "
                    f"declared by {mine.source} (class {mine.cls}); give your provider its own namespace")
        tiers = self.tiers + tuple(t for t in other.tiers if t not in self.tiers)
        return SignalCatalog(
            {**self._signals, **other._signals},
            {**self._operations, **other._operations},
            {**self._providers, **other._providers},
            tiers,
            self.sources + other.sources,
            {**self.silent_providers, **other.silent_providers},
            self.known_findings + other.known_findings,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of every signal (used by docs and reports)."""
        return {
            name: {
                "provider": s.provider, "namespace": s.namespace, "tier": s.tier,
                "when": s.when, "kind": s.kind, "operation": s.operation,
                "key_fields": list(s.key_fields),
                "fields": {n: {"type": f.type, "required": f.required} for n, f in s.fields.items()},
            }
            for name, s in self._signals.items()
        }


# -- validation helpers -------------------------------------------------------

def _error_order(error: Any) -> tuple[str, str]:
    return (str(list(error.absolute_path)), error.validator)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ``...`` marking the cut."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def short_repr(value: Any, limit: int = 60) -> str:
    return safe_repr(value, limit)


class _Opaque:
    """What validation sees in place of a value that isn't data: its class, nothing else."""

    __kindling_safe_repr__ = True

    def __init__(self, value: Any) -> None:
        self.name = opaque_name(value)
        self.type_name = type(value).__name__

    def __repr__(self) -> str:
        return self.name


def _stand_in(value: Any, depth: int = 0) -> Any:
    """``value`` with every part that isn't data replaced by an :class:`_Opaque`."""
    if is_data(value):
        return value
    if depth < 8 and type(value) in (list, tuple):
        return type(value)(_stand_in(v, depth + 1) for v in value)
    if depth < 8 and type(value) is dict:
        return {k: _stand_in(v, depth + 1) for k, v in value.items()}
    return _Opaque(value)


def json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, _Opaque):
        return value.type_name
    return type(value).__name__


def _violation_from_error(name: str, error: Any) -> Violation:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return Violation(name, ".".join(path + [missing]), "a value (required)", "missing",
                         error.message)
    field_name = ".".join(path) or "(payload)"
    expected = {
        "type": lambda v: " or ".join(v) if isinstance(v, list) else str(v),
        "minimum": lambda v: f">= {v}",
        "maximum": lambda v: f"<= {v}",
        "enum": lambda v: "one of " + ", ".join(map(repr, v)),
        "pattern": lambda v: {UUID_PATTERN: "a uuid",
                              DATETIME_PATTERN: "an ISO-8601 date-time with a UTC offset"}.get(v, f"to match {v}"),
    }.get(error.validator, lambda v: f"{error.validator} {v!r}")(error.validator_value)
    actual = f"{json_type_name(error.instance)} {short_repr(error.instance)}"
    return Violation(name, field_name, expected, actual, error.message)


#: How deep a payload value may nest and still be validated (JSON encoders stop near 1,000).
MAX_PAYLOAD_DEPTH = 100


class _Unvalidatable(Exception):
    """A value no validator can walk: it contains itself, or nests past :data:`MAX_PAYLOAD_DEPTH`."""

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem


def _first_non_json(value: Any, path: str = "", _depth: int = 0,
                    _inside: frozenset[int] = frozenset()) -> tuple[str, Any] | None:
    """Where ``value`` holds something that isn't JSON (path, the thing); :class:`_Unvalidatable`
    for a container that holds itself or nests too deep."""
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, (list, tuple, dict)):
        if id(value) in _inside:
            raise _Unvalidatable(path, f"a {type(value).__name__} that contains itself")
        if _depth >= MAX_PAYLOAD_DEPTH:
            raise _Unvalidatable(path, f"a value nested more than {MAX_PAYLOAD_DEPTH} levels deep")
        inside = _inside | {id(value)}
        if isinstance(value, dict):
            for k, item in value.items():
                if not isinstance(k, str):
                    return (f"{path}.{safe_repr(k, 40)}", k)
                bad = _first_non_json(item, f"{path}.{k}", _depth + 1, inside)
                if bad is not None:
                    return bad
            return None
        for i, item in enumerate(value):
            bad = _first_non_json(item, f"{path}[{i}]", _depth + 1, inside)
            if bad is not None:
                return bad
        return None
    return (path, value)

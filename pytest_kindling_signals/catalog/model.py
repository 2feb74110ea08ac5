"""The signal catalog: every signal Kindling emits, read from one data file.

A framework ships its catalog as a file (Kindling's is ``pytest_kindling_signals/catalog/shipped/quick_reference.yaml``);
users add catalogs of their own for their own providers, merged after it::

    >>> from pytest_kindling_signals.catalog.model import QUICK_REFERENCE_PATH, load_catalog
    >>> catalog = load_catalog(QUICK_REFERENCE_PATH)
    >>> catalog["entity.post_merge"].tier
    'critical'
    >>> catalog.validate("entity.post_merge", {"rows_inserted": "3"})[0].field
    'operation_id'

Everything else about signals (JSON Schemas, docs tables, Hypothesis
strategies, the coverage report) is derived from a :class:`SignalCatalog`.
This module is the contract engine's: it imports no pytest and no framework.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_kindling_signals.names import UnknownNameError, close_matches, did_you_mean
from pytest_kindling_signals.files import MAX_CATALOG_BYTES, FileRefused, read_text
from pytest_kindling_signals.catalog.known import KnownFinding, KnownFindingError, parse_known_findings
from pytest_kindling_signals.catalog.values import is_data, opaque_name, safe_repr

__all__ = [
    "CATALOGS_DIR",
    "CATALOG_SCHEMA_PATH",
    "QUICK_REFERENCE_PATH",
    "CatalogError",
    "FieldSpec",
    "OperationSpec",
    "SignalCatalog",
    "SignalSpec",
    "UnknownSignalError",
    "Violation",
    "catalog_schema",
    "load_catalog",
    "load_yaml_text",
    "parse_catalog",
    "read_catalog_file",
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
class _ProviderInfo:
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
        providers: Mapping[str, _ProviderInfo],
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

    def provider_info(self, provider: str) -> _ProviderInfo:
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
                    f"{type(obj).__name__} {_short_repr(obj)}", "payload is not JSON-serialisable"))
        # jsonschema puts repr(value) in its messages: a DataFrame goes in as a stand-in
        checked = {k: _stand_in(v) for k, v in payload.items() if k not in skipped}
        try:
            errors = sorted(self._validator(name).iter_errors(checked), key=_error_order)
        except (RecursionError, TypeError, ValueError) as exc:
            return violations + [Violation(
                name, "(payload)", "a payload the catalog can validate", f"{type(exc).__name__}",
                f"payload cannot be validated: {type(exc).__name__}: {_clip(str(exc), 120)}")]
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


def _short_repr(value: Any, limit: int = 60) -> str:
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


def _json_type_name(value: Any) -> str:
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
    actual = f"{_json_type_name(error.instance)} {_short_repr(error.instance)}"
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


# -- loading ----------------------------------------------------------------

def _fail(source: str, where: str, problem: str) -> CatalogError:
    return CatalogError(f"{source}: {where}: {problem}")


# -- the file's structure: a JSON Schema, shipped with the plugin ----------------------------

#: The JSON Schema of a catalog file (also usable by editors through yaml-language-server).
CATALOG_SCHEMA_PATH = CATALOGS_DIR / "catalog.schema.json"
_structure: Any = None


def catalog_schema() -> dict[str, Any]:
    """The JSON Schema of the catalog file format (a copy)."""
    return json.loads(CATALOG_SCHEMA_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _structure_validator() -> Any:
    global _structure
    if _structure is None:
        from jsonschema import Draft202012Validator

        _structure = Draft202012Validator(catalog_schema())
    return _structure


def _key_path(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path) or "top level"


def _subschema_description(error: Any, key: str) -> str:
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    sub = props.get(key, {})
    if isinstance(sub, dict) and "description" not in sub and "$ref" in sub:
        # a bare reference: the description is the referenced definition's
        sub = _structure_validator().schema["$defs"].get(sub["$ref"].rsplit("/", 1)[-1], {})
    return str(sub.get("description", "")) if isinstance(sub, dict) else ""


def _structure_problem(error: Any) -> tuple[str, str]:
    """(where, problem and fix) for one JSON Schema error, in the words of the catalog format."""
    where = _key_path(error.absolute_path)
    instance, schema, validator = error.instance, error.schema, error.validator
    if validator == "required":
        missing = next((k for k in error.validator_value if k not in instance), "?")
        why = _subschema_description(error, missing)
        return where, f"missing {missing!r}" + (f" ({why})" if why else "") + f"; add {missing}: ..."
    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in schema.get("properties", {}))
        first = extra[0] if extra else "?"
        hint = did_you_mean(close_matches(str(first), allowed, n=1))
        return where, (f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}{hint}; "
                       f"allowed: {', '.join(allowed)}")
    if validator == "pattern":
        return where, (f"name {instance!r} must be lower-case letters, digits and underscores, "
                       "like post_merge")
    if validator in ("minProperties", "minItems"):
        what = schema.get("description", "")
        return where, "must not be empty" + (f": {what}" if what else "")
    if validator == "uniqueItems":
        return where, f"lists an item twice: {_short_repr(instance)}"
    if validator == "minLength":
        return where, "must not be an empty string"
    if validator in ("enum", "const"):
        options = list(error.validator_value) if validator == "enum" else [error.validator_value]
        hint = did_you_mean(close_matches(str(instance), [str(o) for o in options], n=1))
        return where, (f"{_short_repr(instance)} is not allowed{hint}; use "
                       f"{'one of ' if len(options) > 1 else ''}{', '.join(map(str, options))}")
    if validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        what = schema.get("description", "")
        return where, (f"must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}"
                       f"{f' ({what})' if what else ''}, got {_json_type_name(instance)} {_short_repr(instance)}")
    if validator == "anyOf":
        # the branch of the instance's own type says what's wrong (an enum's close match)
        from jsonschema.exceptions import best_match

        relevant = [e for e in error.context if e.validator != "type"]
        if relevant:
            return _structure_problem(best_match(relevant))
        what = schema.get("description", "")
        return where, f"{_short_repr(instance)} is not valid here" + (f": use {what}" if what else "")
    return where, error.message


def _check_structure(data: Any, source: str) -> None:
    """Raise a :class:`CatalogError` naming the file, the key path and the fix, for the most
    relevant breach of the catalog schema (and say how many more there are)."""
    from jsonschema.exceptions import best_match

    errors = list(_structure_validator().iter_errors(data))
    if not errors:
        return
    error = best_match(errors)
    where, problem = _structure_problem(error)
    more = len(errors) - 1
    suffix = f" (and {more} more problem{'s' if more != 1 else ''} after this one)" if more else ""
    raise _fail(source, where, problem + suffix)


# -- reading files: YAML or JSON, duplicate keys refused ------------------------------------

class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int | None) -> None:
        self.key, self.line = key, line


def _no_duplicates(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: the schema says what's wrong with it
            continue
        if duplicate:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key, None)
        out[key] = value
    return out


#: How deep a catalog file may nest (the format needs 7 levels; YAML and JSON parsers recurse).
MAX_CATALOG_DEPTH = 64
#: The most items a YAML catalog may hold (a real one has a few thousand).
MAX_CATALOG_NODES = 200_000


def _yaml_events_checked(text: str, source: str) -> None:
    """Refuse, before anything is built, what YAML allows and a catalog never needs: aliases
    (``*name``: a few hundred bytes of nested aliases expand past gigabytes), nesting past
    :data:`MAX_CATALOG_DEPTH`, more than :data:`MAX_CATALOG_NODES` nodes."""
    depth = nodes = 0
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise CatalogError(f"{source}: line {line}: YAML alias *{event.anchor} refused: a catalog "
                               "writes each value out (aliases can expand without bound); copy the "
                               "anchored value here")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_CATALOG_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise CatalogError(f"{source}: line {line}: nested more than {MAX_CATALOG_DEPTH} levels "
                                   "deep; a catalog needs a few")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_CATALOG_NODES:
                raise CatalogError(f"{source}: more than {MAX_CATALOG_NODES:,} YAML values; is it the "
                                   "right file?")


def load_yaml_text(text: str, source: str) -> Any:
    """YAML text as the catalog loaders read it: safe, bounded (no aliases, nesting, size), a key
    given twice refused; :class:`CatalogError` names ``source``."""
    try:
        _yaml_events_checked(text, source)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except _DuplicateKey as dup:
        line = f"line {dup.line}: " if dup.line else ""
        raise CatalogError(
            f"{source}: {line}key {_short_repr(dup.key)} is given twice in one mapping (the second would "
            f"silently replace the first); keep one") from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        if isinstance(exc, CatalogError):
            raise
        raise CatalogError(f"{source}: is not valid YAML: {_clip(str(exc), 300)}") from None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_catalog_file(path: str | os.PathLike[str], what: str = "catalog") -> str:
    """A catalog (or alias) file's text: a regular file, at most
    :data:`~pytest_kindling_signals.files.MAX_CATALOG_BYTES`, UTF-8; :class:`CatalogError` otherwise."""
    source = os.fspath(path)
    try:
        return read_text(source, limit=MAX_CATALOG_BYTES, what=what)
    except FileRefused as exc:
        raise CatalogError(str(exc)) from None
    except FileNotFoundError:
        raise CatalogError(f"{source}: no such {what} file; check the path "
                           "(relative paths are taken from the current directory or the ini file's folder)") from None
    except OSError as exc:
        raise CatalogError(f"{source}: cannot be read: {exc.strerror or exc}") from None


def _json_depth_checked(text: str, source: str) -> None:
    if text.count("[") + text.count("{") <= MAX_CATALOG_DEPTH:
        return
    depth = 0
    in_string = escaped = False
    for ch in text:  # brackets outside strings
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_CATALOG_DEPTH:
                raise CatalogError(f"{source}: nested more than {MAX_CATALOG_DEPTH} levels deep; a catalog "
                                   "needs a few")
        elif ch in "]}":
            depth -= 1


def _bounded_json_int(text: str) -> int:
    if len(text) > 30:
        raise ValueError(f"the number {text[:20]}... has {len(text)} digits")
    return int(text)


def _no_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; give a finite number")


def _read(path: Path) -> dict[str, Any]:
    source = str(path)
    if path.is_dir():
        raise CatalogError(f"{source}: is a directory, not a catalog file; name a .yaml or .json file")
    text = read_catalog_file(path)
    kind = "JSON" if path.suffix == ".json" else "YAML"
    if kind == "YAML":
        data = load_yaml_text(text, source)
    else:
        _json_depth_checked(text, source)
        try:
            data = json.loads(text, object_pairs_hook=_json_pairs, parse_int=_bounded_json_int,
                              parse_constant=_no_json_constant)
        except _DuplicateKey as dup:
            raise CatalogError(
                f"{source}: key {_short_repr(dup.key)} is given twice in one mapping (the second would "
                f"silently replace the first); keep one") from None
        except (json.JSONDecodeError, RecursionError, ValueError) as exc:
            raise CatalogError(f"{source}: is not valid JSON: {_clip(str(exc), 300)}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: top level must be a mapping with 'providers', got "
                           f"{_json_type_name(data)}")
    return data


def _finite(value: Any) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _json_scalar(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is a JSON value (what a YAML date, a non-finite number or a set isn't)."""
    if value is None or type(value) in (str, bool) or _finite(value):
        return True
    if depth < 8 and type(value) is list:
        return all(_json_scalar(v, depth + 1) for v in value)
    if depth < 8 and type(value) is dict:
        return all(type(k) is str and _json_scalar(v, depth + 1) for k, v in value.items())
    return False


def _check_field_values(data: Mapping[str, Any], source: str) -> None:
    """What the file's schema can't say about fields: bounds that are finite numbers and leave
    room for a value, enum values that are JSON. The error names the key path."""
    places: list[tuple[str, Any]] = [(k, data.get(k)) for k in ("common_fields", "post_fields", "failed_fields")]
    for namespace, prov in (data.get("providers") or {}).items():
        for short, raw in ((prov or {}).get("signals") or {}).items():
            places.append((f"providers.{namespace}.signals.{short}.fields", (raw or {}).get("fields")))
    for where, fields in places:
        if not isinstance(fields, Mapping):
            continue
        for name, spec in fields.items():
            if not isinstance(spec, Mapping):
                continue
            at = f"{where}.{name}"
            for bound in ("minimum", "maximum"):
                value = spec.get(bound)
                if value is not None and not _finite(value):
                    raise _fail(source, f"{at}.{bound}", f"{_short_repr(value)} is not a finite number; give "
                                                          "a number like 0 or 1.5 (or leave the bound out)")
            low, high = spec.get("minimum"), spec.get("maximum")
            if low is not None and high is not None and low > high:
                raise _fail(source, f"{at}", f"minimum {low} is above maximum {high}: no value can pass; "
                                              "swap them or fix one")
            enum = spec.get("enum")
            if isinstance(enum, list):
                for i, value in enumerate(enum):
                    if not _json_scalar(value):
                        raise _fail(source, f"{at}.enum[{i}]",
                                    f"{_short_repr(value)} ({type(value).__name__}) is not a JSON value; "
                                    "quote it (a YAML date or timestamp, say, as '2024-01-01')")


def _parse_field(name: str, raw: Any) -> FieldSpec:
    if isinstance(raw, str):
        raw = {"type": raw}
    types = raw["type"] if isinstance(raw["type"], list) else [raw["type"]]
    enum = raw.get("enum")
    return FieldSpec(
        name=name, types=tuple(types), required=raw.get("required", True),
        nullable=raw.get("nullable", False), items=raw.get("items"), minimum=raw.get("minimum"),
        maximum=raw.get("maximum"), enum=tuple(enum) if enum is not None else None,
        format=raw.get("format"), description=str(raw.get("description", "")),
    )


def _parse_fields(raw: Any) -> dict[str, FieldSpec]:
    return {str(n): _parse_field(str(n), spec) for n, spec in (raw or {}).items()}


def parse_catalog(data: Mapping[str, Any], source: str = "<catalog>",
                  base: SignalCatalog | None = None) -> SignalCatalog:
    """Build a catalog from already-loaded data; ``base`` supplies the shared fields for user catalogs.

    The file's structure is checked against :func:`catalog_schema` first; what a
    schema can't say (tiers that exist, operations whose signals are declared)
    is checked here. Every problem is a :class:`CatalogError` naming ``source``,
    the key path and the fix.
    """
    fmt = data.get("format", FORMAT) if isinstance(data, Mapping) else FORMAT
    if fmt != FORMAT:
        raise _fail(source, "format", f"unsupported catalog format {fmt!r}; expected {FORMAT!r}")
    _check_structure(data, source)
    _check_field_values(data, source)

    base_fields = base._shared_fields if base is not None else ({}, {}, {})  # type: ignore[attr-defined]
    common = _parse_fields(data["common_fields"]) if "common_fields" in data else base_fields[0]
    post = _parse_fields(data["post_fields"]) if "post_fields" in data else base_fields[1]
    failed = _parse_fields(data["failed_fields"]) if "failed_fields" in data else base_fields[2]
    tiers = tuple(data.get("tiers", list(base.tiers) if base is not None else list(TIERS_DEFAULT)))
    json_payloads = data.get("json_payloads", True)

    signals: dict[str, SignalSpec] = {}
    operations: dict[str, OperationSpec] = {}
    providers: dict[str, _ProviderInfo] = {}
    for namespace, prov in data["providers"].items():
        where = f"providers.{namespace}"
        tier = prov["tier"]
        if tier not in tiers:
            raise _fail(source, f"{where}.tier", f"unknown tier {tier!r}; declared tiers are {', '.join(tiers)}")
        notes = tuple(str(prov[k]) for k in ("warning", "note") if k in prov)
        providers[namespace] = _ProviderInfo(namespace, str(prov["class"]), tier,
                                             str(prov.get("use_cases", "")), notes, source)
        op_of: dict[str, str] = {}
        for op_name, op in (prov.get("operations") or {}).items():
            owhere = f"{where}.operations.{op_name}"
            if "." not in str(op_name):  # SignalEmitter.operation() takes namespaced names
                op_name = f"{namespace}.{op_name}"
            if op_name.split(".", 1)[0] != namespace:
                raise _fail(source, owhere, f"operation {op_name!r} must be in its provider's "
                                            f"namespace, e.g. '{namespace}.{op_name.split('.', 1)[1]}'")
            full = lambda short: short if "." in short else f"{namespace}.{short}"  # noqa: E731
            post_names = op["post"] if isinstance(op["post"], list) else [op["post"]]
            spec_op = OperationSpec(op_name, full(op["pre"]), tuple(full(p) for p in post_names),
                                    full(op["failed"]) if op.get("failed") else None,
                                    tuple(op.get("pair_by", ["operation_id"])))
            for member in (spec_op.pre, *spec_op.closers):
                member_ns, member_short = member.split(".", 1)
                if member_ns != namespace or member_short not in prov["signals"]:
                    raise _fail(source, owhere, f"names {member!r}, which {where}.signals does not declare")
                if member in op_of and op_of[member] != op_name:
                    raise _fail(source, owhere, f"{member!r} already belongs to operation {op_of[member]!r}; "
                                                "a signal opens or closes one operation")
                op_of[member] = op_name
            operations[op_name] = spec_op
        for short, raw in prov["signals"].items():
            swhere = f"{where}.signals.{short}"
            name = f"{namespace}.{short}"
            kind = raw.get("kind", signal_kind(name))
            signal_tier = raw.get("tier", tier)
            if signal_tier not in tiers:
                raise _fail(source, f"{swhere}.tier",
                            f"unknown tier {signal_tier!r}; declared tiers are {', '.join(tiers)}")
            own = _parse_fields(raw.get("fields"))
            fields: dict[str, FieldSpec] = dict(common)
            if kind == "post":
                fields.update(post)
            elif kind == "failed":
                fields.update(failed)
            fields.update(own)
            signals[name] = SignalSpec(
                name=name, namespace=namespace, provider=str(prov["class"]), tier=str(signal_tier),
                when=str(raw["when"]), kind=kind, fields=fields,
                key_fields=tuple(own), operation=op_of.get(name), source=source,
                extension=raw.get("extension", False), json_payload=json_payloads,
                unreachable=raw.get("unreachable"),
            )
    silent = data.get("silent_providers") or {}
    try:
        known = parse_known_findings(data.get("known_findings") or [], source,
                                     {*signals, *(base or {})})
    except KnownFindingError as exc:
        raise _fail(source, exc.where, exc.problem) from None
    catalog = SignalCatalog(signals, operations, providers, tiers, (source,), silent, known)
    catalog._shared_fields = (common, post, failed)  # type: ignore[attr-defined]
    return catalog


_cache: dict[tuple[Any, ...], SignalCatalog] = {}
_cache_lock = threading.Lock()


def load_catalog(*paths: str | os.PathLike[str], inherit_from: SignalCatalog | None = None) -> SignalCatalog:
    """The catalog files ``paths`` (YAML or JSON), merged in order.

    The first file is the base: later files (and every file, when
    ``inherit_from`` is given) may omit ``common_fields``/``post_fields``/
    ``failed_fields`` and the tiers, and inherit them. A name defined twice is
    a :class:`CatalogError`. Results are cached per set of paths.
    """
    if not paths:
        raise CatalogError("load_catalog() needs at least one catalog file")
    resolved = tuple(str(Path(p).resolve()) for p in paths)
    key = (resolved, id(inherit_from) if inherit_from is not None else None)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        catalog: SignalCatalog | None = None
        base = inherit_from
        for p in resolved:
            one = parse_catalog(_read(Path(p)), p, base=base)
            base = base or one
            catalog = one if catalog is None else catalog.merged(one)
        assert catalog is not None
        _cache[key] = catalog
        return catalog

"""Reading catalog files: YAML or JSON, bounded, checked against the format's JSON Schema, then parsed.

:func:`load_catalog` is what everything calls (cached per set of files)::

    >>> from pytest_kindling_signals.catalog import QUICK_REFERENCE_PATH, load_catalog
    >>> len(load_catalog(QUICK_REFERENCE_PATH))   # the quick reference's 88 signals and 1 extension
    89

Every problem is a :class:`~pytest_kindling_signals.catalog.CatalogError` that
names the file, the key path and the fix. The model itself (signals, fields,
validation) is :mod:`pytest_kindling_signals.catalog.model`.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from pytest_kindling_signals.names import close_matches, did_you_mean
from pytest_kindling_signals.files import MAX_CATALOG_BYTES, FileRefused, read_text
from pytest_kindling_signals.catalog.known import KnownFindingError, parse_known_findings
from pytest_kindling_signals.catalog.model import (
    CATALOGS_DIR,
    FORMAT,
    TIERS_DEFAULT,
    CatalogError,
    FieldSpec,
    OperationSpec,
    ProviderInfo,
    SignalCatalog,
    SignalSpec,
    clip,
    json_type_name,
    short_repr,
    signal_kind,
)

__all__ = ["CATALOG_SCHEMA_PATH", "catalog_schema", "load_catalog", "load_yaml_text", "parse_catalog",
           "read_catalog_file"]

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
        return where, f"lists an item twice: {short_repr(instance)}"
    if validator == "minLength":
        return where, "must not be an empty string"
    if validator in ("enum", "const"):
        options = list(error.validator_value) if validator == "enum" else [error.validator_value]
        hint = did_you_mean(close_matches(str(instance), [str(o) for o in options], n=1))
        return where, (f"{short_repr(instance)} is not allowed{hint}; use "
                       f"{'one of ' if len(options) > 1 else ''}{', '.join(map(str, options))}")
    if validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        what = schema.get("description", "")
        return where, (f"must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}"
                       f"{f' ({what})' if what else ''}, got {json_type_name(instance)} {short_repr(instance)}")
    if validator == "anyOf":
        # the branch of the instance's own type says what's wrong (an enum's close match)
        from jsonschema.exceptions import best_match

        relevant = [e for e in error.context if e.validator != "type"]
        if relevant:
            return _structure_problem(best_match(relevant))
        what = schema.get("description", "")
        return where, f"{short_repr(instance)} is not valid here" + (f": use {what}" if what else "")
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
            f"{source}: {line}key {short_repr(dup.key)} is given twice in one mapping (the second would "
            f"silently replace the first); keep one") from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        if isinstance(exc, CatalogError):
            raise
        raise CatalogError(f"{source}: is not valid YAML: {clip(str(exc), 300)}") from None


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
                f"{source}: key {short_repr(dup.key)} is given twice in one mapping (the second would "
                f"silently replace the first); keep one") from None
        except (json.JSONDecodeError, RecursionError, ValueError) as exc:
            raise CatalogError(f"{source}: is not valid JSON: {clip(str(exc), 300)}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: top level must be a mapping with 'providers', got "
                           f"{json_type_name(data)}")
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
                    raise _fail(source, f"{at}.{bound}", f"{short_repr(value)} is not a finite number; give "
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
                                    f"{short_repr(value)} ({type(value).__name__}) is not a JSON value; "
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
    providers: dict[str, ProviderInfo] = {}
    for namespace, prov in data["providers"].items():
        where = f"providers.{namespace}"
        tier = prov["tier"]
        if tier not in tiers:
            raise _fail(source, f"{where}.tier", f"unknown tier {tier!r}; declared tiers are {', '.join(tiers)}")
        notes = tuple(str(prov[k]) for k in ("warning", "note") if k in prov)
        providers[namespace] = ProviderInfo(namespace, str(prov["class"]), tier,
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

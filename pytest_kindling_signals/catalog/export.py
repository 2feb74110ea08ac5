"""A signal catalog exported for readers and tools: Markdown, JSON Schema, AsyncAPI 3.0.

``kindling-signals catalog export --format markdown|jsonschema|asyncapi``
writes these; everything comes from the :class:`~pytest_kindling_signals.catalog.model.SignalCatalog`
(nothing about a signal is written twice)::

    >>> from pytest_kindling_signals.catalog import QUICK_REFERENCE_PATH, load_catalog
    >>> doc = asyncapi(load_catalog(QUICK_REFERENCE_PATH), title="Kindling signals")
    >>> doc["asyncapi"], doc["channels"]["entity.post_merge"]["address"]
    ('3.0.0', 'entity.post_merge')

No pytest in here.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_kindling_signals.escape import md_code, md_text
from pytest_kindling_signals.catalog.model import FieldSpec, SignalCatalog, SignalSpec

__all__ = ["EXPORT_FORMATS", "asyncapi", "export", "json_schema", "markdown"]

EXPORT_FORMATS = ("markdown", "jsonschema", "asyncapi")
ASYNCAPI_VERSION = "3.0.0"


def _payload_schema(catalog: SignalCatalog, name: str) -> dict[str, Any]:
    schema = catalog.json_schema(name)
    schema.pop("$schema", None)
    schema.pop("$id", None)
    return schema


def _md(text: str) -> str:
    return md_text(" ".join(str(text).splitlines()))  # free text may span lines: one line here


def _field(f: FieldSpec, table: bool = True) -> str:
    text = f"{md_code(f.name, table=table)} ({_md(f.type)})"
    return text if f.required else text + " optional"


def _shared_fields(catalog: SignalCatalog) -> list[FieldSpec]:
    """The fields every signal's payload carries (the catalog's common fields)."""
    specs = list(catalog.values())
    if not specs:
        return []
    names = [n for n in specs[0].fields if all(n in s.fields for s in specs)]
    return [specs[0].fields[n] for n in names]


def markdown(catalog: SignalCatalog, *, title: str = "Signal catalog") -> str:
    """The catalog as a Markdown reference: one table per provider, then the operations."""
    providers = catalog.providers()
    out = [f"# {_md(title)}", "",
           f"{len(catalog)} signals in {len(providers)} providers; tiers: {_md(', '.join(catalog.tiers))}. "
           "Every signal is sent with its name as the sender and a JSON payload.", ""]
    shared = _shared_fields(catalog)
    if shared:
        out += ["Every payload carries " + ", ".join(_field(f, table=False) for f in shared) + ".", ""]
    extensions = [s.name for s in catalog.values() if s.extension]
    if extensions:
        out += [f"Signals marked *extension* ({len(extensions)}) go beyond the quick reference.", ""]
    shared_names = {f.name for f in shared}
    for p in providers:
        info = catalog.provider_info(p)
        out += [f"## {_md(p)} ({md_code(info.namespace)}, {_md(info.tier)})", ""]
        if info.use_cases:
            out += [f"Use cases: {_md(info.use_cases)}.", ""]
        out += ["| Signal | Tier | When | Payload fields |", "|---|---|---|---|"]
        for spec in catalog.by_provider(p):
            fields = [f for n, f in spec.fields.items() if n not in shared_names]
            mark = " *(extension)*" if spec.extension else ""
            out.append(f"| {md_code(spec.name, table=True)}{mark} | {_md(spec.tier)} | {_md(spec.when)} | "
                       f"{', '.join(_field(f) for f in fields) or '–'} |")
        ops = [op for op in catalog.operations.values() if op.pre.split(".", 1)[0] == info.namespace]
        if ops:
            out.append("")
            out += [f"- Operation {md_code(op.name)}: {md_code(op.pre)} then {md_code(' | '.join(op.post))}"
                    + (f" or {md_code(op.failed)}" if op.failed else "") for op in ops]
        out.append("")
    return "\n".join(out)


def json_schema(catalog: SignalCatalog, *, title: str = "Signal catalog") -> dict[str, Any]:
    """One JSON Schema (draft 2020-12) for every signal: ``$defs`` holds each payload's schema by
    signal name, and the document itself validates an emission record ``{"signal", "payload"}``."""
    names = list(catalog)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:kindling-signals:schema:signals",
        "title": title,
        "description": "An emission: the signal's name and its payload. $defs holds each signal's "
                       "payload schema by name.",
        "type": "object",
        "required": ["signal", "payload"],
        "properties": {"signal": {"enum": names}, "payload": {"type": "object"}},
        "allOf": [{"if": {"properties": {"signal": {"const": n}}},
                   "then": {"properties": {"payload": {"$ref": f"#/$defs/{n}"}}}} for n in names],
        "$defs": {n: _payload_schema(catalog, n) for n in names},
    }


def _message(catalog: SignalCatalog, spec: SignalSpec) -> dict[str, Any]:
    tags = [{"name": spec.tier}, {"name": spec.provider}] + ([{"name": "extension"}] if spec.extension else [])
    message: dict[str, Any] = {
        "name": spec.name,
        "title": spec.name,
        "summary": spec.when,
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{spec.name}"},
        "tags": tags,
    }
    op = catalog.operation_opened_by(spec.name) or catalog.operation_closed_by(spec.name)
    if op is not None:
        closers = " | ".join(op.closers)
        message["description"] = (f"Part of the operation {op.name}: {op.pre}, then one of {closers}; "
                                  f"paired by {', '.join(op.pair_by)}.")
    return message


def asyncapi(catalog: SignalCatalog, *, title: str = "Kindling signals", version: str = "1.0.0") -> dict[str, Any]:
    """An AsyncAPI 3.0 document: a channel per signal (its address is the signal's name, the
    sender), the operation that sends it, and its payload schema from the catalog."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for name, spec in catalog.items():
        messages[name] = _message(catalog, spec)
        schemas[name] = _payload_schema(catalog, name)
        channels[name] = {
            "address": name,
            "title": name,
            "description": f"{spec.provider} ({spec.tier}): {spec.when}",
            "messages": {"emission": {"$ref": f"#/components/messages/{name}"}},
        }
        operations[name] = {
            "action": "send",
            "title": f"{spec.provider} emits {name}",
            "summary": spec.when,
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/emission"}],
            "tags": [{"name": spec.tier}],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": (f"{len(catalog)} signals in {len(catalog.providers())} providers, sent "
                            "in-process through blinker: the sender is the signal's name, the payload "
                            "its keyword arguments (JSON)."),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def export(catalog: SignalCatalog, fmt: str, *, title: str = "Kindling signals", version: str = "1.0.0") -> str:
    """The catalog in ``fmt`` (one of :data:`EXPORT_FORMATS`) as text: Markdown, JSON, or YAML (AsyncAPI)."""
    if fmt == "markdown":
        return markdown(catalog, title=title) + "\n"
    if fmt == "jsonschema":
        return json.dumps(json_schema(catalog, title=title), indent=2, allow_nan=False) + "\n"  # strict JSON
    if fmt == "asyncapi":
        import yaml

        return str(yaml.safe_dump(asyncapi(catalog, title=title, version=version), sort_keys=False,
                                  allow_unicode=True, width=100))
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")

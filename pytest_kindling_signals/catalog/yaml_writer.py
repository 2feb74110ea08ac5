"""The YAML writer for drafted catalogs: block style, short leaves in flow style, quotes only where YAML needs them."""


import json
import re
from collections.abc import Mapping
from typing import Any


__all__ = ["render_yaml"]


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .()/+\-]*$")  # no , [ ] { } : # (flow context)
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS and not text.endswith(" "):
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _is_leafy(value: Any) -> bool:
    """Short mappings/lists of scalars (a field spec, an operation) read best on one line."""
    if isinstance(value, Mapping):
        return all(not isinstance(v, Mapping) and (not isinstance(v, (list, tuple))
                   or all(not isinstance(i, (Mapping, list, tuple)) for i in v))
                   for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(not isinstance(i, (Mapping, list, tuple)) for i in value)
    return True


def _block(value: Mapping[str, Any], indent: int, out: list[str], *, flow_leaves: bool) -> None:
    pad = "  " * indent
    for key, item in value.items():
        if isinstance(item, Mapping) and item and not (flow_leaves and _is_leafy(item)):
            out.append(f"{pad}{_scalar(key)}:")
            _block(item, indent + 1, out, flow_leaves=flow_leaves or key in ("fields", "operations"))
        else:
            out.append(f"{pad}{_scalar(key)}: {_flow(item)}")


def render_yaml(d: Mapping[str, Any]) -> str:
    """A draft catalog as readable YAML: a header comment, one signal per block.

    >>> print(render_yaml({"format": "kindling-signal-catalog/1", "framework": "x 1"}).splitlines()[-1])
    framework: x 1
    """
    framework = d.get("framework", "the framework")
    out = [
        f"# Signal catalog of {framework}, drafted by `kindling-signals catalog scan`",
        "# from its source (nothing imported). Review before use: the tiers, the `when`",
        "# texts (drafted as the method that sends the signal) and each field's type",
        "# and `required` (a field is required when every call passes it; `any`",
        "# unless every call passes a literal that shows the type).",
        "# Kinds: before_* = pre, after_* = post, *_failed = failed, others = event;",
        "# `extension: true` marks a signal the reference catalog does not rate.",
    ]
    top = {k: v for k, v in d.items() if k != "providers"}
    for key, item in top.items():
        if isinstance(item, Mapping) and item:
            out.append(f"{_scalar(key)}:")
            _block(item, 1, out, flow_leaves=True)
        else:
            out.append(f"{_scalar(key)}: {_flow(item)}")
    providers = d.get("providers")
    if isinstance(providers, Mapping):
        out.append("")
        out.append("providers:")
        for namespace, prov in providers.items():
            out.append(f"  {_scalar(namespace)}:")
            for key, item in prov.items():
                if key == "signals":
                    out.append("    signals:")
                    for short, spec in item.items():
                        out.append(f"      {_scalar(short)}:")
                        _block(spec, 4, out, flow_leaves=False)
                elif isinstance(item, Mapping) and item:
                    out.append(f"    {_scalar(key)}:")
                    _block(item, 3, out, flow_leaves=True)
                else:
                    out.append(f"    {_scalar(key)}: {_flow(item)}")
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


"""Hostile ``.kda`` packages: every malformed package is an AppPackageError, never a crash and
never a silent accept; the previous deployment stays byte for byte as it was.

One generator, run with a fixed seed so the figures in docs/reliability.md repeat. From a
real package (``DataAppManager.package_app``) it makes one breach on purpose:

- *manifest*: a key missing, of the wrong type or an invalid value, the manifest not JSON
  or not an object, its files not matching the members;
- *members*: names that escape or clash (``x`` and ``x/y``, ``./main.py`` beside
  ``main.py``), a symlink, a device, a pipe, a socket, altered content, an encrypted or
  unknown-compression member;
- *bombs*: too many members, too many bytes, too high a compression ratio (against small
  limits set on the manager);
- *corruption*: sizes or CRCs in the central directory that lie, bytes of the archive
  flipped, the archive cut off. A flip may land where nothing reads it (a timestamp), a
  compressed size may be a lie too big that changes nothing: the package then deploys,
  and its files must be exactly the original ones.

No JVM, no subprocess.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import struct
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindling.data_apps import AppPackageError, DataAppManager
from kindling.signal_catalog import load_catalog
from kindling.signaling import BlinkerSignalProvider

EXAMPLES = 1000  # the figure in docs/reliability.md
LIMITS = {"max_unpacked_bytes": 4 << 20, "max_members": 40, "max_compression_ratio": 50}
APP = {
    "app.yaml": b"name: sales_report\nversion: 1.0.0\nentry_point: main.py\n",
    "main.py": b"from lib.report import render\nprint(render('ok'))\n",
    "lib/__init__.py": b"",
    "lib/report.py": b"def render(text):\n    return f'report: {text}'\n",
}
MANIFEST_KEYS = ("name", "version", "entry_point", "target_platform", "dependencies", "description",
                 "files", "format")
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=5)
NOT_STR = JSONISH.filter(lambda v: not isinstance(v, str))
WRONG = {  # manifest key -> values it must refuse
    "name": st.one_of(NOT_STR, st.text(max_size=12).filter(
        lambda n: not n[:1].isalnum() or not n.isascii() or not all(c.isalnum() or c in "._-" for c in n))),
    "version": st.one_of(NOT_STR, st.sampled_from(["", "  "])),
    "entry_point": st.one_of(NOT_STR, st.sampled_from(["", "main", "main.txt", "../main.py", "/main.py",
                                                       "C:/main.py", "lib/../../main.py", "absent.py"])),
    "target_platform": st.one_of(NOT_STR, st.text(max_size=10).filter(
        lambda t: t not in ("standalone", "fabric", "synapse", "databricks"))),
    "dependencies": st.one_of(JSONISH.filter(lambda v: v is not None and not isinstance(v, list)),
                              st.lists(st.one_of(NOT_STR, st.just(""), st.just(" ")), min_size=1, max_size=3)),
    "description": JSONISH.filter(lambda v: v is not None and not isinstance(v, str)),
    "files": st.one_of(JSONISH.filter(lambda v: not isinstance(v, dict) or v != {}),
                       st.just("dropped one"), st.just("added one"), st.just("bad digest")),
    "format": JSONISH.filter(lambda v: v != "kindling-app/1"),
}
SPECIAL_FILES = [stat.S_IFLNK, stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK]
HOSTILE_NAMES = ["../escaped.py", "../../escaped.py", "/tmp/kindling-hostile.py", "C:/x.py", "a/../../x.py",
                 "..\\escaped.py", ".", "./", "//", "main.py/inner.py", "lib/report.py/x", "./main.py",
                 "lib//report.py", "x" * 300 + ".py"]


def _manifest(members: dict[str, bytes]) -> dict[str, Any]:
    return {"format": "kindling-app/1", "name": "sales_report", "version": "1.0.0", "entry_point": "main.py",
            "target_platform": "standalone", "dependencies": [], "description": "",
            "files": {n: hashlib.sha256(b).hexdigest() for n, b in members.items()}}


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytearray:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return bytearray(buf.getvalue())


def _package(members: dict[str, bytes], manifest: Any = None, *, raw_manifest: bytes | None = None) -> bytearray:
    text = raw_manifest if raw_manifest is not None else json.dumps(
        _manifest(members) if manifest is None else manifest).encode()
    return _zip([*members.items(), ("manifest.json", text)])


def _central_entries(data: bytearray) -> list[int]:
    found, at = [], data.find(b"PK\x01\x02")
    while at >= 0:
        found.append(at)
        at = data.find(b"PK\x01\x02", at + 4)
    return found


@st.composite
def malformed_packages(draw: st.DrawFn) -> tuple[str, str, bytes, str | None]:
    """(family, breach, the .kda's bytes, a name the error must give, if any)."""
    members = dict(APP)
    family = draw(st.sampled_from(["manifest", "members", "bombs", "corruption"]))
    if family == "manifest":
        breach = draw(st.sampled_from(["wrong value", "missing key", "not json", "not an object"]))
        manifest = _manifest(members)
        if breach == "wrong value":
            key = draw(st.sampled_from(MANIFEST_KEYS))
            value = draw(WRONG[key])
            if value == "dropped one":
                del manifest["files"]["main.py"]
            elif value == "added one":
                manifest["files"]["extra.py"] = "0" * 64
            elif value == "bad digest":
                real = manifest["files"]["main.py"]
                manifest["files"]["main.py"] = draw(st.text(max_size=70).filter(lambda d: d != real))
            else:
                manifest[key] = value
            return family, f"{key}: {breach}", bytes(_package(members, manifest)), None
        if breach == "missing key":
            key = draw(st.sampled_from(["name", "version", "entry_point", "target_platform", "files"]))
            del manifest[key]
            return family, breach, bytes(_package(members, manifest)), key
        if breach == "not json":
            raw = draw(st.one_of(st.binary(max_size=40), st.text(max_size=40).map(str.encode))
                       .filter(lambda b: not _is_json(b)))
            return family, breach, bytes(_package(members, raw_manifest=raw)), None
        not_object = draw(JSONISH.filter(lambda v: not isinstance(v, dict)))
        return family, breach, bytes(_package(members, raw_manifest=json.dumps(not_object).encode())), None

    if family == "members":
        breach = draw(st.sampled_from(["hostile name", "file and folder", "special file", "altered",
                                       "encrypted", "unknown compression"]))
        if breach == "hostile name":
            name = draw(st.sampled_from(HOSTILE_NAMES))
            members[name] = b"x = 1\n"
            return family, f"{breach} {name[:20]!r}", bytes(_package(members)), None
        if breach == "file and folder":
            folder = draw(st.sampled_from(["lib", "main.py", "app.yaml"]))
            members[f"{folder}/inner.py" if folder != "lib" else "lib"] = b"x = 1\n"
            return family, breach, bytes(_package(members)), None
        if breach == "special file":
            kind = draw(st.sampled_from(SPECIAL_FILES))
            target = draw(st.sampled_from(["main.py", "linked", "lib"]))
            info = zipfile.ZipInfo(target)
            info.create_system, info.external_attr = 3, (kind | 0o777) << 16
            data = b"/etc/passwd"
            entries = [(n, b) for n, b in members.items() if n != target] + [(info, data)]
            listed = {**{n: b for n, b in entries if isinstance(n, str)}, target: data}
            return family, f"{breach} {stat.filemode(kind)[0]}", bytes(
                _zip([*entries, ("manifest.json", json.dumps(_manifest(listed)).encode())])), target
        if breach == "altered":
            name = draw(st.sampled_from(sorted(members)))
            manifest = _manifest(members)
            members[name] = draw(st.binary(max_size=30).filter(lambda b: b != APP[name]))
            return family, breach, bytes(_package(members, manifest)), name
        data = _package(members)
        at = _central_entries(data)[draw(st.integers(0, len(members)))]
        if breach == "encrypted":
            struct.pack_into("<H", data, at + 8, struct.unpack_from("<H", data, at + 8)[0] | 0x1)
        else:
            struct.pack_into("<H", data, at + 10, draw(st.sampled_from([1, 6, 7, 9, 10, 18, 97, 98, 99, 65535])))
        return family, breach, bytes(data), None

    if family == "bombs":
        breach = draw(st.sampled_from(["members", "bytes", "ratio"]))
        if breach == "members":
            for i in range(draw(st.integers(LIMITS["max_members"], 3 * LIMITS["max_members"]))):
                members[f"pad/{i}.txt"] = b"%d\n" % i
            return family, breach, bytes(_package(members)), "max_members"
        if breach == "bytes":
            count = draw(st.integers(1, 6))
            for i in range(count):
                members[f"data/{i}.bin"] = draw(st.binary(min_size=8, max_size=8)) * (
                    (LIMITS["max_unpacked_bytes"] // count) // 8 + 1)
            return family, breach, bytes(_package(members)), "max_unpacked_bytes"
        members["zeros.bin"] = bytes(draw(st.integers((1 << 20) + 1, 3 << 20)))
        return family, breach, bytes(_package(members)), "zeros.bin"

    data = _package(members)
    breach = draw(st.sampled_from(["lying sizes", "cut off", "bytes flipped"]))
    if breach == "lying sizes":  # the central directory's crc, compressed size or size
        at = _central_entries(data)[draw(st.integers(0, len(members)))]
        field = draw(st.sampled_from([16, 20, 24]))
        value = draw(st.integers(0, 2**32 - 1).filter(lambda v: v != struct.unpack_from("<I", data, at + field)[0]))
        struct.pack_into("<I", data, at + field, value)
        return family, f"{breach} @{field}", bytes(data), None
    if breach == "cut off":
        return family, breach, bytes(data[:draw(st.integers(0, len(data) - 1))]), None
    for at in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
        data[at] ^= draw(st.integers(1, 255))
    return family, "bytes flipped", bytes(data), None


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_malformed_package_is_refused_and_the_deployment_kept(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("kda")
    provider = BlinkerSignalProvider(name="hostile-packages")
    seen: list[tuple[str, dict[str, Any]]] = []
    provider.add_tap(lambda e: seen.append((e.name, e.payload)) if e.name.startswith("app.") else None)
    apps = DataAppManager(provider, deploy_root=tmp / "deployments", **LIMITS)
    good = tmp / "good.kda"
    good.write_bytes(_package(dict(APP)))
    deployed = Path(apps.deploy_app(good, "prod"))
    before = _hashes(deployed)
    catalog = load_catalog()
    outcomes: Counter[str] = Counter()
    families: Counter[str] = Counter()
    case = 0

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(malformed_packages())
    def run(drawn: tuple[str, str, bytes, str | None]) -> None:
        nonlocal case
        family, breach, data, named = drawn
        case += 1
        kda = tmp / f"case{case}.kda"
        kda.write_bytes(data)
        families[family] += 1
        seen.clear()
        try:
            path = apps.deploy_app(kda, "prod")
        except AppPackageError as exc:
            message = str(exc)
            assert message.startswith(str(kda)), message
            assert named is None or named in message, (breach, message)
            outcomes["clear error"] += 1
        except Exception as exc:  # noqa: BLE001 - the point: anything else is a crash
            outcomes["crash"] += 1
            raise AssertionError(f"{family}/{breach}: {type(exc).__name__}: {exc}") from exc
        else:
            # Only a flip nothing reads may deploy, and then exactly the original files.
            if family != "corruption" or Path(path) != deployed or _hashes(deployed) != before:
                outcomes["silent accept"] += 1
                raise AssertionError(f"{family}/{breach}: deployed {path}")
            outcomes["deployed intact"] += 1
            return
        assert _hashes(deployed) == before, f"{family}/{breach}: the previous deployment changed"
        assert sorted(p.name for p in deployed.parent.iterdir()) == ["sales_report"], "staging left behind"
        assert [name for name, _ in seen] == ["app.pre_deploy", "app.deploy_failed"], seen
        (_, pre), (_, failed) = seen
        assert pre["operation_id"] == failed["operation_id"] and failed["error_type"] == "AppPackageError"
        assert catalog.validate("app.pre_deploy", pre) == catalog.validate("app.deploy_failed", failed) == []

    run()
    print(f"packages: {dict(outcomes)} by family {dict(families)}")  # the figures in docs/reliability.md
    assert outcomes["crash"] == outcomes["silent accept"] == 0
    assert outcomes["clear error"] + outcomes["deployed intact"] == EXAMPLES
    assert outcomes["clear error"] >= EXAMPLES * 0.9
    assert set(families) == {"manifest", "members", "bombs", "corruption"}

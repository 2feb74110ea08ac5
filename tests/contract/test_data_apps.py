"""DataAppManager: every app signal from real .kda zips, real deployments and real runs.

No JVM. Apps are written into ``tmp_path``; deployments go to a per-test
deploy root. One test installs a dependency with the real pip, offline.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import struct
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from _kindling_local_wheels import local_wheels
from docs_examples import run_blocks

from kindling.data_apps import (
    MAX_UNPACKED_BYTES,
    AppDefinitionError,
    AppNotFoundError,
    AppPackageError,
    AppRunError,
    DataAppManager,
)
from kindling.platform import PlatformService
from kindling.signaling import BlinkerSignalProvider

pytestmark = pytest.mark.contract


@pytest.fixture
def apps(signal_provider: BlinkerSignalProvider, tmp_path: Path) -> DataAppManager:
    return DataAppManager(signal_provider, deploy_root=tmp_path / "deployments")


def _app(root: Path, *, name: str = "sales_report", version: str | None = "1.0.0",
         main: str | None = None, dependencies: list[str] | None = None, **extra: str) -> Path:
    """An app folder: app.yaml, main.py (writes argv[1] to the file argv[2]) and a helper module."""
    folder = root / name
    folder.mkdir(parents=True)
    definition: dict[str, object] = {"name": name, "entry_point": "main.py", **extra}
    if version is not None:
        definition["version"] = version
    if dependencies:
        definition["dependencies"] = dependencies
    (folder / "app.yaml").write_text(yaml.safe_dump(definition))
    (folder / "report_lib.py").write_text("def render(text):\n    return f'report: {text}'\n")
    (folder / "main.py").write_text(main or textwrap.dedent("""\
        import sys
        from pathlib import Path
        from report_lib import render
        Path(sys.argv[2]).write_text(render(sys.argv[1]))
        """))
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    return folder


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- package --------------------------------------------------------------------

def test_package_app_writes_a_kda_with_a_manifest_of_digests(apps, signal_recorder, tmp_path):
    kda = apps.package_app(_app(tmp_path / "src"), tmp_path / "dist")

    assert kda == str(tmp_path / "dist" / "sales_report-1.0.0.kda")
    with zipfile.ZipFile(kda) as zf:
        names = sorted(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        digest = hashlib.sha256(zf.read("main.py")).hexdigest()
    assert names == ["app.yaml", "main.py", "manifest.json", "report_lib.py"]  # no __pycache__
    assert {k: manifest[k] for k in ("name", "version", "entry_point", "dependencies", "target_platform")} == {
        "name": "sales_report", "version": "1.0.0", "entry_point": "main.py", "dependencies": [],
        "target_platform": "standalone"}
    assert manifest["files"]["main.py"] == digest
    app_signals = [r for r in signal_recorder.records if r.name.startswith("app.")]
    assert [r.name for r in app_signals] == ["app.pre_package", "app.post_package"]
    pre, post = app_signals
    assert (pre["app_name"], pre["version"], pre["target_platform"]) == ("sales_report", "1.0.0", "standalone")
    assert post["kda_file"] == kda and post["kda_size_bytes"] == Path(kda).stat().st_size
    assert "platform.file_read" in signal_recorder.names()  # files are read through the platform
    signal_recorder.assert_contract()


def test_version_and_target_platform_arguments_win(apps, signal_recorder, tmp_path):
    kda = apps.package_app(_app(tmp_path / "src", version=None), version="2.0.0", target_platform="fabric")
    assert kda == str(tmp_path / "src" / "sales_report-2.0.0.kda")  # next to the app folder
    with zipfile.ZipFile(kda) as zf:
        assert json.loads(zf.read("manifest.json"))["target_platform"] == "fabric"
    assert signal_recorder.first("app.pre_package")["version"] == "2.0.0"


@pytest.mark.parametrize("break_it, message", [
    (lambda d: (d / "app.yaml").unlink(), r"app\.yaml: no app\.yaml in the app folder"),
    (lambda d: (d / "app.yaml").write_text("name: sales_report\nversion: 1.0.0\n"), r"app\.yaml: missing key 'entry_point'"),
    (lambda d: (d / "app.yaml").write_text("name: [unclosed\n"), r"app\.yaml: invalid YAML at line 2"),
    (lambda d: (d / "main.py").unlink(), r"entry_point 'main\.py' is not a file"),
])
def test_a_missing_or_invalid_definition_fails_packaging_naming_the_file(
        apps, signal_recorder, tmp_path, break_it, message):
    app_dir = _app(tmp_path / "src")
    break_it(app_dir)

    with pytest.raises(AppDefinitionError, match=message):
        apps.package_app(app_dir, tmp_path / "dist")

    assert [n for n in signal_recorder.names() if n.startswith("app.")] == ["app.pre_package", "app.package_failed"]
    failed = signal_recorder.first("app.package_failed")
    assert failed["app_name"] == "sales_report" and failed["error_type"] == "AppDefinitionError"
    assert not (tmp_path / "dist").exists()  # no half-written package
    signal_recorder.assert_contract()


# -- deploy -----------------------------------------------------------------------

def test_deploy_unpacks_into_env_and_app_folder(apps, signal_recorder, tmp_path):
    kda = apps.package_app(_app(tmp_path / "src"), tmp_path / "dist")
    signal_recorder.clear()

    path = apps.deploy_app(kda, "dev")

    assert path == str(tmp_path / "deployments" / "dev" / "sales_report")
    assert sorted(_tree(Path(path))) == ["app.yaml", "main.py", "manifest.json", "report_lib.py"]
    app_signals = [r for r in signal_recorder.records if r.name.startswith("app.")]
    assert [r.name for r in app_signals] == ["app.pre_deploy", "app.post_deploy"]
    pre, post = app_signals
    assert (pre["app_name"], pre["kda_file"], pre["target_environment"]) == ("sales_report", kda, "dev")
    assert (post["deploy_path"], post["file_count"], post["version"]) == (path, 4, "1.0.0")
    assert sorted(p.name for p in (tmp_path / "deployments" / "dev").iterdir()) == ["sales_report"]
    signal_recorder.assert_contract()


def _repack(kda: str, out: Path, *, change: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None,
            fix_manifest: bool = False, manifest_keys: dict[str, Any] | None = None,
            symlinks: tuple[str, ...] = ()) -> Path:
    """A copy of ``kda`` with members changed or added; the manifest digests follow only if ``fix_manifest``.

    ``manifest_keys`` overwrite keys of the manifest; members named in ``symlinks`` are stored as
    symbolic links (their content is the link's target).
    """
    with zipfile.ZipFile(kda) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members.update(change or {})
    members.update(add or {})
    manifest = json.loads(members["manifest.json"])
    if fix_manifest:
        manifest["files"] = {n: hashlib.sha256(b).hexdigest() for n, b in members.items() if n != "manifest.json"}
    if fix_manifest or manifest_keys:
        members["manifest.json"] = json.dumps({**manifest, **(manifest_keys or {})}).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            if name in symlinks:
                info.create_system = 3  # unix
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
    out.write_bytes(buf.getvalue())
    return out


def _hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and its sha256: a deployment, byte for byte."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("spoil, message", [
    ("tampered", r"sha256 of \['main\.py'\] does not match the manifest"),
    ("truncated", r"not a valid \.kda package \(not a zip archive"),
    ("escaping", r"entries \['\.\./\.\./escaped\.py'\] would be written outside the deployment folder"),
    ("absolute", r"entries \['/tmp/kindling-absolute-escape\.py'\] would be written outside"),
    ("unlisted", r"files not listed: \['extra\.py'\]"),
    # digests made to match in all of these: the structure check alone must refuse them
    ("dependencies", r"manifest\.json key 'dependencies' must be a list of pip requirement strings, got 5"),
    ("bad name", r"manifest\.json key 'name' must be a name of letters, digits"),
    ("file and folder", r"member 'lib' is a file, but member 'lib/util\.py' needs it to be a folder"),
    ("twice", r"members 'main\.py' and '\./main\.py' are both written to 'main\.py'"),
    ("symlink", r"member 'linked' is a symbolic link; a package holds only files and folders"),
])
def test_a_bad_package_keeps_the_previous_deployment(apps, signal_recorder, tmp_path, spoil, message):
    kda = apps.package_app(_app(tmp_path / "src"), tmp_path / "dist")
    deployed = Path(apps.deploy_app(kda, "prod"))
    before = _hashes(deployed)
    bad = tmp_path / "bad.kda"
    if spoil == "tampered":
        _repack(kda, bad, change={"main.py": b"import os; os.system('echo pwned')\n"})
    elif spoil == "truncated":
        bad.write_bytes(Path(kda).read_bytes()[:200])
    elif spoil == "escaping":  # digests made to match: the path check alone must refuse it
        _repack(kda, bad, add={"../../escaped.py": b"x = 1\n"}, fix_manifest=True)
    elif spoil == "absolute":
        _repack(kda, bad, add={"/tmp/kindling-absolute-escape.py": b"x = 1\n"}, fix_manifest=True)
    elif spoil == "unlisted":
        _repack(kda, bad, add={"extra.py": b"x = 1\n"})
    elif spoil == "dependencies":  # was a bare TypeError
        _repack(kda, bad, manifest_keys={"dependencies": 5})
    elif spoil == "bad name":  # was reported as "not valid JSON"
        _repack(kda, bad, manifest_keys={"name": "../sales report"})
    elif spoil == "file and folder":  # was FileExistsError / IsADirectoryError
        _repack(kda, bad, add={"lib": b"x = 1\n", "lib/util.py": b"y = 2\n"}, fix_manifest=True)
    elif spoil == "twice":
        _repack(kda, bad, add={"./main.py": b"import os; os.system('echo pwned')\n"}, fix_manifest=True)
    else:  # a symlink entry pointing out of the deployment
        _repack(kda, bad, add={"linked": b"/etc"}, fix_manifest=True, symlinks=("linked",))
    signal_recorder.clear()

    with pytest.raises(AppPackageError, match=message):
        apps.deploy_app(bad, "prod")

    assert _hashes(deployed) == before  # the previous deployment, byte for byte
    assert sorted(p.name for p in deployed.parent.iterdir()) == ["sales_report"]  # no staging left
    assert not (tmp_path / "escaped.py").exists() and not Path("/tmp/kindling-absolute-escape.py").exists()
    assert [n for n in signal_recorder.names() if n.startswith("app.")] == ["app.pre_deploy", "app.deploy_failed"]
    failed = signal_recorder.first("app.deploy_failed")
    assert failed["error_type"] == "AppPackageError"
    assert failed["app_name"] == ("bad" if spoil in ("truncated", "bad name") else "sales_report")
    signal_recorder.assert_contract()


class _CountingPlatform(PlatformService):
    """The real platform service, counting the bytes it copies from streams into files."""

    streamed = 0

    def write(self, path: Any, data: Any, **kwargs: Any) -> str:
        if callable(getattr(data, "read", None)):
            data = _Counted(data, self)
        return super().write(path, data, **kwargs)


class _Counted:
    def __init__(self, source: Any, platform: _CountingPlatform) -> None:
        self.source, self.platform = source, platform

    def read(self, size: int = -1, /) -> bytes:
        chunk: bytes = self.source.read(size)
        self.platform.streamed += len(chunk)
        return chunk


def _bomb(tmp_path: Path, mib: int) -> tuple[Path, bytearray]:
    """An app package whose ``zeros.bin`` is ``mib`` MiB of zeros, listed with its real sha256."""
    buf, digest = io.BytesIO(), hashlib.sha256()
    main = b"print('hello')\n"
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("main.py", main)
        with zf.open("zeros.bin", "w", force_zip64=mib >= 4096) as f:
            chunk = bytes(1 << 20)
            for _ in range(mib):
                f.write(chunk)
                digest.update(chunk)
        zf.writestr("manifest.json", json.dumps({
            "format": "kindling-app/1", "name": "sales_report", "version": "9.9.9", "entry_point": "main.py",
            "target_platform": "standalone", "dependencies": [], "description": "",
            "files": {"main.py": hashlib.sha256(main).hexdigest(), "zeros.bin": digest.hexdigest()}}))
    return tmp_path / "bomb.kda", bytearray(buf.getvalue())


def _lie(data: bytearray, name: str, **sizes: int) -> bytearray:
    """``data`` with the central directory declaring other sizes for ``name`` (compress_size, file_size)."""
    offsets = {"compress_size": 20, "file_size": 24}
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46:at + 46 + length] == name.encode():
            for field, value in sizes.items():
                struct.pack_into("<I", data, at + offsets[field], value)
        at = data.find(b"PK\x01\x02", at + 4)
    return data


def test_a_zip_bomb_is_refused_before_anything_is_written(signal_provider, signal_recorder, tmp_path):
    platform = _CountingPlatform(signal_provider)
    apps = DataAppManager(signal_provider, deploy_root=tmp_path / "deployments", platform=platform)
    deployed = Path(apps.deploy_app(apps.package_app(_app(tmp_path / "src"), tmp_path / "dist"), "prod"))
    before = _hashes(deployed)
    kda, data = _bomb(tmp_path, 400)  # the review's bomb: 400 MiB of zeros in a ~400 KB package
    kda.write_bytes(data)
    assert kda.stat().st_size < 500_000
    platform.streamed = 0
    signal_recorder.clear()

    with pytest.raises(AppPackageError, match=r"member 'zeros\.bin' declares 419,430,400 bytes from [\d,]+ "
                                              r"compressed, more than max_compression_ratio=200 times"):
        apps.deploy_app(kda, "prod")

    assert platform.streamed == 0  # refused from what the zip declares: not a byte written
    assert _hashes(deployed) == before
    assert sorted(p.name for p in deployed.parent.iterdir()) == ["sales_report"]
    assert [n for n in signal_recorder.names() if n.startswith("app.")] == ["app.pre_deploy", "app.deploy_failed"]
    signal_recorder.assert_contract()


@pytest.mark.parametrize("lie, message", [
    # zipfile stops at the declared size; the CRC then gives it away
    ({"file_size": 1000}, r"member 'zeros\.bin' is corrupt \(Bad CRC-32"),
    # an honest-looking ratio from a compressed size the package doesn't hold
    ({"compress_size": 64 << 20}, r"member 'zeros\.bin' claims more compressed bytes than the package holds"),
])
def test_a_zip_whose_sizes_lie_writes_nothing_past_them(signal_provider, signal_recorder, tmp_path, lie, message):
    platform = _CountingPlatform(signal_provider)
    apps = DataAppManager(signal_provider, deploy_root=tmp_path / "deployments", platform=platform)
    deployed = Path(apps.deploy_app(apps.package_app(_app(tmp_path / "src"), tmp_path / "dist"), "prod"))
    before = _hashes(deployed)
    kda, data = _bomb(tmp_path, 64)
    kda.write_bytes(_lie(data, "zeros.bin", **lie))
    platform.streamed = 0

    with pytest.raises(AppPackageError, match=message):
        apps.deploy_app(kda, "prod")

    assert platform.streamed <= 1000 + len(b"print('hello')\n")
    assert _hashes(deployed) == before
    assert signal_recorder.last("app.deploy_failed")["error_type"] == "AppPackageError"


def test_the_unpack_limits_are_settable_and_checked(signal_provider, signal_recorder, tmp_path):
    apps = DataAppManager(signal_provider, deploy_root=tmp_path / "deployments")
    kda = apps.package_app(_app(tmp_path / "src"), tmp_path / "dist")
    assert (apps.max_unpacked_bytes, apps.max_members, apps.max_compression_ratio) == (MAX_UNPACKED_BYTES, 10_000, 200)

    with pytest.raises(AppPackageError, match=r"holds 4 entries, more than max_members=3; raise "
                                              r"DataAppManager\(max_members=\.\.\.\)"):
        DataAppManager(signal_provider, deploy_root=tmp_path / "deployments", max_members=3).deploy_app(kda, "dev")
    small = DataAppManager(signal_provider, deploy_root=tmp_path / "deployments", max_unpacked_bytes=100)
    with pytest.raises(AppPackageError, match=r"more than max_unpacked_bytes=100; raise"):
        small.deploy_app(kda, "dev")
    small.max_unpacked_bytes = 1 << 20  # an attribute: the next deploy uses it
    assert Path(small.deploy_app(kda, "dev")).is_dir()
    for bad in ({"max_members": 0}, {"max_unpacked_bytes": 1.5}, {"max_compression_ratio": "high"}):
        with pytest.raises(ValueError, match=rf"{next(iter(bad))}=.* must be a positive"):
            DataAppManager(signal_provider, **bad)


def test_redeploying_replaces_the_previous_version(apps, signal_recorder, tmp_path):
    apps.deploy_app(apps.package_app(_app(tmp_path / "v1"), tmp_path / "dist"), "prod")
    v2 = _app(tmp_path / "v2", version="2.0.0")
    (v2 / "report_lib.py").unlink()
    (v2 / "main.py").write_text("print('v2')\n")

    path = Path(apps.deploy_app(apps.package_app(v2, tmp_path / "dist"), "prod"))

    assert sorted(_tree(path)) == ["app.yaml", "main.py", "manifest.json"]  # v1's report_lib.py is gone
    assert json.loads((path / "manifest.json").read_text())["version"] == "2.0.0"
    assert sorted(p.name for p in path.parent.iterdir()) == ["sales_report"]


# -- run --------------------------------------------------------------------------

def test_run_app_runs_the_entry_point_in_process(apps, signal_recorder, tmp_path):
    apps.deploy_app(apps.package_app(_app(tmp_path / "src"), tmp_path / "dist"), "dev")
    out = tmp_path / "out.txt"
    signal_recorder.clear()

    result = apps.run_app("sales_report", target_environment="dev", args=["Q1", str(out)])

    assert out.read_text() == "report: Q1"
    assert (result.app_name, result.version, result.returncode) == ("sales_report", "1.0.0", 0)
    app_signals = [r for r in signal_recorder.records if r.name.startswith("app.")]
    assert [r.name for r in app_signals] == ["app.pre_run", "app.post_run"]
    assert app_signals[1]["app_name"] == "sales_report" and app_signals[1]["duration_seconds"] >= 0
    assert "report_lib" not in sys.modules  # the app's modules don't outlive the run
    signal_recorder.assert_contract()


def test_run_app_isolated_runs_a_subprocess(apps, signal_recorder, tmp_path):
    apps.deploy_app(apps.package_app(_app(tmp_path / "src"), tmp_path / "dist"), "dev")
    out = tmp_path / "out.txt"

    result = apps.run_app("sales_report", "dev", args=["Q2", str(out)], isolated=True)

    assert out.read_text() == "report: Q2" and result.returncode == 0
    assert signal_recorder.first("app.pre_run")["isolated"] is True


@pytest.mark.parametrize("isolated, error", [(False, ZeroDivisionError), (True, AppRunError)])
def test_a_raising_entry_point_fails_the_run(apps, signal_recorder, tmp_path, isolated, error):
    apps.deploy_app(apps.package_app(_app(tmp_path / "src", main="ratio = 1 / 0\n"), tmp_path / "dist"), "dev")
    signal_recorder.clear()

    with pytest.raises(error) as err:
        apps.run_app("sales_report", "dev", isolated=isolated)

    if isolated:
        assert "ZeroDivisionError: division by zero" in str(err.value)
    failed = signal_recorder.first("app.run_failed")
    assert failed["app_name"] == "sales_report" and failed["error_type"] == error.__name__
    assert [n for n in signal_recorder.names() if n.startswith("app.")] == ["app.pre_run", "app.run_failed"]
    signal_recorder.assert_contract()


def test_sys_exit_nonzero_fails_the_run(apps, signal_recorder, tmp_path):
    apps.deploy_app(apps.package_app(_app(tmp_path / "src", main="import sys\nsys.exit(3)\n"), tmp_path / "dist"), "dev")
    with pytest.raises(AppRunError, match="exited with status 3"):
        apps.run_app("sales_report", "dev")
    assert signal_recorder.last("app.*").name == "app.run_failed"


def test_running_an_unknown_app_suggests_close_names(apps, signal_recorder, tmp_path):
    apps.deploy_app(apps.package_app(_app(tmp_path / "src"), tmp_path / "dist"), "dev")
    with pytest.raises(AppNotFoundError, match="did you mean 'sales_report'"):
        apps.run_app("sales_reprot", "dev")
    assert signal_recorder.last("app.*").name == "app.run_failed"
    signal_recorder.assert_contract()


# -- install / uninstall ------------------------------------------------------------

@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # a fixture, as in the other modules: the report credits the one build to <fixture wheels>
    # whichever test of the process asks first (serial and pytest -n N alike)
    return local_wheels(tmp_path_factory)


@pytest.mark.slow
def test_install_deploys_installs_dependencies_and_runs_with_them(
        apps, signal_recorder, tmp_path, wheels):
    main = "import sys\nfrom pathlib import Path\nimport kdemo_lib\nPath(sys.argv[1]).write_text(str(kdemo_lib.answer()))\n"
    kda = apps.package_app(_app(tmp_path / "src", main=main, dependencies=["kdemo_lib"]), tmp_path / "dist")
    signal_recorder.clear()

    path = apps.install_app(kda, "prod", no_index=True, find_links=wheels)

    names = [n for n in signal_recorder.names() if not n.startswith("platform.")]
    # dependencies go into the staging folder, inside the deploy, before the swap
    assert names == ["app.pre_deploy", "pip.pre_install", "pip.package_installing",
                     "pip.package_installed", "pip.post_install", "app.post_deploy", "app.installed"]
    deploy = signal_recorder.first("app.pre_deploy")
    assert signal_recorder.first("pip.pre_install")["parent_operation_id"] == deploy["operation_id"]
    installed = signal_recorder.first("app.installed")
    assert (installed["app_name"], installed["version"], installed["deploy_path"]) == ("sales_report", "1.0.0", path)
    assert installed["dependencies"] == ["kdemo_lib"]
    out = tmp_path / "answer.txt"
    apps.run_app("sales_report", "prod", args=[str(out)])
    assert out.read_text() == "42"  # imported from the app's own .libs
    assert "kdemo_lib" not in sys.modules
    signal_recorder.assert_contract()


@pytest.mark.slow
def test_a_failed_dependency_install_keeps_the_previous_deployment(
        apps, signal_recorder, tmp_path, wheels):
    deployed = Path(apps.install_app(apps.package_app(_app(tmp_path / "v1"), tmp_path / "dist"), "prod"))
    before = _tree(deployed)
    v2 = apps.package_app(_app(tmp_path / "v2", version="2.0.0", dependencies=["kdemo_no_such_package"]),
                          tmp_path / "dist2")
    signal_recorder.clear()

    with pytest.raises(Exception, match="kdemo_no_such_package"):
        apps.install_app(v2, "prod", no_index=True, find_links=wheels)

    assert _tree(deployed) == before  # v1 still deployed, byte for byte
    assert sorted(p.name for p in deployed.parent.iterdir()) == ["sales_report"]  # no staging left
    names = [n for n in signal_recorder.names() if n.startswith(("app.", "pip."))]
    assert names[0] == "app.pre_deploy" and names[-1] == "app.deploy_failed"
    assert "pip.install_failed" in names and "app.installed" not in names
    signal_recorder.assert_contract()


def test_uninstall_removes_the_deployment(apps, signal_recorder, tmp_path):
    apps.install_app(apps.package_app(_app(tmp_path / "src"), tmp_path / "dist"), "prod")
    assert apps.list_apps("prod") == ["sales_report"]
    signal_recorder.clear()

    apps.uninstall_app("sales_report", "prod")

    assert apps.list_apps("prod") == []
    assert not (tmp_path / "deployments" / "prod" / "sales_report").exists()
    uninstalled = signal_recorder.first("app.uninstalled")
    assert (uninstalled["app_name"], uninstalled["target_environment"]) == ("sales_report", "prod")
    with pytest.raises(AppNotFoundError, match="deploy it first"):
        apps.uninstall_app("sales_report", "prod")
    signal_recorder.assert_contract()


def test_an_unsafe_environment_name_is_refused(apps, tmp_path):
    kda = apps.package_app(_app(tmp_path / "src"), tmp_path / "dist")
    with pytest.raises(ValueError, match=r"target_environment='\.\./x' is not a valid name"):
        apps.deploy_app(kda, "../x")


def test_the_docs_page_examples_run():
    assert run_blocks("providers/data_apps.md") == 1

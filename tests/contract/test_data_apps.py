"""DataAppManager: every app signal from real .kda zips, real deployments and real runs.

No JVM. Apps are written into ``tmp_path``; deployments go to a per-test
deploy root. One test installs a dependency with the real pip, offline.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import yaml
from _kindling_local_wheels import local_wheels
from docs_examples import run_blocks

from kindling.data_apps import (
    AppDefinitionError,
    AppNotFoundError,
    AppPackageError,
    AppRunError,
    DataAppManager,
)
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
            fix_manifest: bool = False) -> Path:
    """A copy of ``kda`` with members changed or added; the manifest digests follow only if ``fix_manifest``."""
    with zipfile.ZipFile(kda) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members.update(change or {})
    members.update(add or {})
    if fix_manifest:
        manifest = json.loads(members["manifest.json"])
        manifest["files"] = {n: hashlib.sha256(b).hexdigest() for n, b in members.items() if n != "manifest.json"}
        members["manifest.json"] = json.dumps(manifest).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    out.write_bytes(buf.getvalue())
    return out


@pytest.mark.parametrize("spoil, message", [
    ("tampered", r"sha256 of \['main\.py'\] does not match the manifest"),
    ("truncated", r"not a valid \.kda package \(not a zip archive"),
    ("escaping", r"entries \['\.\./\.\./escaped\.py'\] would be written outside the deployment folder"),
    ("absolute", r"entries \['/tmp/kindling-absolute-escape\.py'\] would be written outside"),
    ("unlisted", r"files not listed: \['extra\.py'\]"),
])
def test_a_bad_package_keeps_the_previous_deployment(apps, signal_recorder, tmp_path, spoil, message):
    kda = apps.package_app(_app(tmp_path / "src"), tmp_path / "dist")
    deployed = Path(apps.deploy_app(kda, "prod"))
    before = _tree(deployed)
    bad = tmp_path / "bad.kda"
    if spoil == "tampered":
        _repack(kda, bad, change={"main.py": b"import os; os.system('echo pwned')\n"})
    elif spoil == "truncated":
        bad.write_bytes(Path(kda).read_bytes()[:200])
    elif spoil == "escaping":  # digests made to match: the path check alone must refuse it
        _repack(kda, bad, add={"../../escaped.py": b"x = 1\n"}, fix_manifest=True)
    elif spoil == "absolute":
        _repack(kda, bad, add={"/tmp/kindling-absolute-escape.py": b"x = 1\n"}, fix_manifest=True)
    else:
        _repack(kda, bad, add={"extra.py": b"x = 1\n"})
    signal_recorder.clear()

    with pytest.raises(AppPackageError, match=message):
        apps.deploy_app(bad, "prod")

    assert _tree(deployed) == before  # the previous deployment, untouched
    assert sorted(p.name for p in deployed.parent.iterdir()) == ["sales_report"]  # no staging left
    assert not (tmp_path / "escaped.py").exists() and not Path("/tmp/kindling-absolute-escape.py").exists()
    assert [n for n in signal_recorder.names() if n.startswith("app.")] == ["app.pre_deploy", "app.deploy_failed"]
    failed = signal_recorder.first("app.deploy_failed")
    assert failed["error_type"] == "AppPackageError"
    assert failed["app_name"] == ("bad" if spoil == "truncated" else "sales_report")
    signal_recorder.assert_contract()


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

@pytest.mark.slow
def test_install_deploys_installs_dependencies_and_runs_with_them(
        apps, signal_recorder, tmp_path, tmp_path_factory):
    wheels = local_wheels(tmp_path_factory)
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
        apps, signal_recorder, tmp_path, tmp_path_factory):
    wheels = local_wheels(tmp_path_factory)
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

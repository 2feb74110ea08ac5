"""Bootstrap: every bootstrap signal from a real initialisation.

Settings are real YAML files with environment overlays; dependencies are
real wheels installed by the real pip into a temp folder, offline. Spark is
never started: the Spark version comes from pyspark (or a session another
test already started). No JVM of its own.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyspark
import pytest
from _kindling_local_wheels import local_wheels
from docs_examples import run_blocks

from kindling.bootstrap import (
    Bootstrap,
    ConfigError,
    detect_platform,
    initialize_framework,
    load_config,
)
from kindling.pip_manager import PipError

pytestmark = [pytest.mark.contract, pytest.mark.slow]

PLATFORM_MARKERS = ("DATABRICKS_RUNTIME_VERSION", "MSNOTEBOOKUTILS_RUNTIME_TYPE", "AZURE_SERVICE",
                    "KINDLING_ENVIRONMENT")


@pytest.fixture(autouse=True)
def _standalone(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in PLATFORM_MARKERS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return local_wheels(tmp_path_factory)


def _settings(folder: Path, base: str, **overlays: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.yaml").write_text(textwrap.dedent(base))
    for env, text in overlays.items():
        (folder / f"settings.{env}.yaml").write_text(textwrap.dedent(text))
    return folder


def _ours(recorder) -> list[str]:  # type: ignore[no-untyped-def]
    return [n for n in recorder.names() if n.startswith("bootstrap.")]


# -- the whole bootstrap -------------------------------------------------------------

def test_initialize_from_settings_files_installs_dependencies(
        signal_provider, signal_recorder, tmp_path, wheels):
    dep_wheel = next(p.name for p in wheels.iterdir() if p.name.startswith("kdemo_dep"))
    config = _settings(tmp_path / "config", f"""\
        app_name: sales
        environment: dev
        storage: {{container: raw, retries: 3}}
        dependencies:
          framework_wheels: [{dep_wheel}]
          lake_packages: [kdemo_lib]
          wheels_dir: {wheels}
        pip:
          target: ../libs
        """, dev="""\
        storage: {retries: 5}
        """)

    ctx = initialize_framework(config)

    assert _ours(signal_recorder) == ["bootstrap.started", "bootstrap.config_loaded", "bootstrap.platform_detected",
                                      "bootstrap.dependencies_installed", "bootstrap.framework_ready"]
    started = signal_recorder.first("bootstrap.started")
    assert (started["app_name"], started["environment"]) == ("sales", "dev")
    loaded = signal_recorder.first("bootstrap.config_loaded")
    assert loaded["config_files"] == [str(config / "settings.yaml"), str(config / "settings.dev.yaml")]
    assert loaded["config_count"] == 2
    platform = signal_recorder.first("bootstrap.platform_detected")
    assert (platform["platform"], platform["workspace_id"], platform["spark_version"]) == (
        "standalone", None, pyspark.__version__)
    deps = signal_recorder.first("bootstrap.dependencies_installed")
    assert (deps["framework_wheels"], deps["lake_packages"], deps["pypi_packages"]) == ([dep_wheel], ["kdemo_lib"], [])
    # the pip operations nest under the bootstrap's
    assert signal_recorder.first("pip.pre_install")["parent_operation_id"] == started["operation_id"]
    assert signal_recorder.first("bootstrap.framework_ready")["duration_seconds"] > 0
    # the overlay merged key by key
    assert ctx.config["storage"] == {"container": "raw", "retries": 5}
    assert (ctx.app_name, ctx.environment, ctx.platform) == ("sales", "dev", "standalone")
    assert sorted(p.name for p in (tmp_path / "libs").iterdir() if p.suffix != ".dist-info") == ["kdemo_dep", "kdemo_lib"]
    signal_recorder.assert_contract()


def test_initialize_from_a_dict_with_a_platform_setting(signal_provider, signal_recorder):
    ctx = initialize_framework({"app_name": "demo", "environment": "test", "platform": "fabric",
                                "workspace_id": "ws-123"})

    assert _ours(signal_recorder) == ["bootstrap.started", "bootstrap.config_loaded", "bootstrap.platform_detected",
                                      "bootstrap.dependencies_installed", "bootstrap.framework_ready"]
    assert signal_recorder.first("bootstrap.config_loaded")["config_files"] == []
    platform = signal_recorder.first("bootstrap.platform_detected")
    assert (platform["platform"], platform["workspace_id"], platform["detected_by"]) == (
        "fabric", "ws-123", "the 'platform' setting")
    deps = signal_recorder.first("bootstrap.dependencies_installed")
    assert (deps["framework_wheels"], deps["lake_packages"], deps["pypi_packages"]) == ([], [], [])
    assert (ctx.platform, ctx.workspace_id) == ("fabric", "ws-123")
    assert not signal_recorder.of("pip.*")  # nothing to install, no pip run
    signal_recorder.assert_contract()


def test_the_environment_variable_picks_the_overlay(signal_provider, signal_recorder, monkeypatch, tmp_path):
    config = _settings(tmp_path / "config", "app_name: sales\nlevel: base\n", prod="level: prod\n")
    monkeypatch.setenv("KINDLING_ENVIRONMENT", "prod")

    ctx = initialize_framework(config)

    assert (ctx.environment, ctx.config["level"]) == ("prod", "prod")
    assert signal_recorder.first("bootstrap.started")["environment"] == "prod"


def test_databricks_is_detected_from_its_runtime_variable(signal_provider, signal_recorder, monkeypatch):
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    assert initialize_framework({"app_name": "demo"}).platform == "databricks"
    assert signal_recorder.first("bootstrap.platform_detected")["detected_by"] == "DATABRICKS_RUNTIME_VERSION=15.4"


# -- platform detection ---------------------------------------------------------------

def test_detect_platform_tells_the_four_apart(tmp_path):
    context = tmp_path / ".trident-context"
    context.write_text("trident.artifact.workspace.id=6f0c-ws\ntrident.lakehouse.id=lh-1\n")
    nowhere = tmp_path / "missing-context"

    assert detect_platform({"DATABRICKS_RUNTIME_VERSION": "15.4"}, fabric_context_file=nowhere).platform == "databricks"
    fabric = detect_platform({"AZURE_SERVICE": "Microsoft.ProjectArcadia"}, fabric_context_file=context)
    assert (fabric.platform, fabric.workspace_id) == ("fabric", "6f0c-ws")  # Fabric sets AZURE_SERVICE too
    assert detect_platform({"MSNOTEBOOKUTILS_RUNTIME_TYPE": "jupyter"}, fabric_context_file=nowhere).platform == "fabric"
    assert detect_platform({"AZURE_SERVICE": "Microsoft.ProjectArcadia"},
                           fabric_context_file=nowhere).platform == "synapse"
    standalone = detect_platform({}, fabric_context_file=nowhere)
    assert (standalone.platform, standalone.workspace_id, standalone.spark_version) == (
        "standalone", None, pyspark.__version__)


def test_bootstrap_reads_the_fabric_context_file(signal_provider, signal_recorder, tmp_path):
    context = tmp_path / ".trident-context"
    context.write_text("trident.workspace.id=ws-from-file\n")

    ctx = Bootstrap(environ={}, fabric_context_file=context).initialize({"app_name": "demo"})

    assert (ctx.platform, ctx.workspace_id) == ("fabric", "ws-from-file")
    assert signal_recorder.first("bootstrap.platform_detected")["workspace_id"] == "ws-from-file"
    signal_recorder.assert_contract()


# -- failures ------------------------------------------------------------------------------

@pytest.mark.parametrize("write, message", [
    (lambda d: d.mkdir(), r"settings\.yaml: not found; a settings folder needs settings\.yaml"),
    (lambda d: _settings(d, "app_name: sales\n", local="retries: [1, 2\nname: x\n"),
     r"settings\.local\.yaml: invalid YAML at line \d+, column \d+"),
    (lambda d: _settings(d, "- just\n- a list\n"), r"settings\.yaml: the top level must be a mapping"),
    (lambda d: _settings(d, "app_name: sales\ndependencies: {lake_packages: kdemo_lib}\n"),
     r"dependencies\.lake_packages must be a list of strings"),
])
def test_a_missing_or_malformed_config_fails_the_config_phase(
        signal_provider, signal_recorder, tmp_path, write, message):
    config = tmp_path / "config"
    write(config)

    with pytest.raises(ConfigError, match=message):
        initialize_framework(config)

    assert _ours(signal_recorder) == ["bootstrap.started", "bootstrap.failed"]
    failed = signal_recorder.first("bootstrap.failed")
    assert (failed["failed_phase"], failed["error_type"]) == ("config", "ConfigError")
    assert str(config) in failed["error"]
    signal_recorder.assert_contract()


def test_an_unknown_platform_setting_fails_the_platform_phase(signal_provider, signal_recorder):
    with pytest.raises(ConfigError, match="platform='emr' is not one of fabric, synapse, databricks, standalone"):
        initialize_framework({"app_name": "demo", "platform": "emr"})
    assert signal_recorder.first("bootstrap.failed")["failed_phase"] == "platform"
    signal_recorder.assert_contract()


def test_a_package_that_cannot_be_installed_fails_the_dependencies_phase(
        signal_provider, signal_recorder, tmp_path, wheels):
    target = tmp_path / "libs"
    target.mkdir()
    (target / "kept.txt").write_text("from an earlier bootstrap")

    with pytest.raises(PipError, match="kdemo_absent"):
        initialize_framework({"app_name": "demo", "pip": {"target": str(target)},
                              "dependencies": {"lake_packages": ["kdemo_absent"], "wheels_dir": str(wheels)}})

    assert _ours(signal_recorder) == ["bootstrap.started", "bootstrap.config_loaded", "bootstrap.platform_detected",
                                      "bootstrap.failed"]
    failed = signal_recorder.first("bootstrap.failed")
    assert (failed["failed_phase"], failed["error_type"]) == ("dependencies", "PipError")
    assert signal_recorder.first("pip.install_failed")["failed_package"] == "kdemo_absent"
    assert [p.name for p in target.iterdir()] == ["kept.txt"]  # the target as it was
    signal_recorder.assert_contract()


def test_a_missing_framework_wheel_lists_what_is_there(signal_provider, signal_recorder, tmp_path, wheels):
    with pytest.raises(ConfigError, match=r"kdemo_nope-1\.0-py3-none-any\.whl not found; wheels in .*kdemo_dep"):
        initialize_framework({"dependencies": {"framework_wheels": ["kdemo_nope-1.0-py3-none-any.whl"],
                                               "wheels_dir": str(wheels)}})
    assert signal_recorder.first("bootstrap.failed")["failed_phase"] == "dependencies"
    assert not signal_recorder.of("pip.*")


def test_load_config_merges_nested_mappings_and_replaces_lists(tmp_path):
    config = _settings(tmp_path / "c", "a: {b: 1, c: [1, 2]}\nenvironment: qa\n", qa="a: {c: [3]}\n")
    loaded = load_config(config)
    assert loaded.settings["a"] == {"b": 1, "c": [3]}
    assert loaded.environment == "qa"


def test_the_docs_page_examples_run():
    assert run_blocks("providers/bootstrap.md") == 2

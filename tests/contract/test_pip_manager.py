"""PipManager: every pip signal from the real pip, offline.

Wheels are built from small setuptools projects written into temp folders
and installed with ``--no-index --find-links``; the only "index" ever named
is 127.0.0.1 on a port nobody listens on. No JVM.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from _kindling_local_wheels import local_wheels, write_project
from docs_examples import run_blocks

from kindling.pip_manager import PipError, PipManager, redact
from kindling.signaling import BlinkerSignalProvider

pytestmark = [pytest.mark.contract, pytest.mark.slow]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return local_wheels(tmp_path_factory)


@pytest.fixture
def pm(signal_provider: BlinkerSignalProvider) -> PipManager:
    return PipManager(signal_provider)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _import_in_subprocess(target: Path, code: str) -> str:
    out = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


# -- install ------------------------------------------------------------------------

def test_install_reports_each_package_with_its_dependencies(pm, wheels, signal_recorder, tmp_path):
    target = tmp_path / "libs"
    result = pm.install_packages(["kdemo_lib"], target=target, no_index=True, find_links=wheels)

    assert signal_recorder.names() == ["pip.pre_install", "pip.package_installing",
                                       "pip.package_installed", "pip.post_install"]
    installed = signal_recorder.first("pip.package_installed")
    assert installed["package"] == "kdemo_lib"
    assert installed["cached"] is True  # came from the --find-links folder, not an index
    assert installed["dependencies_installed"] == ["kdemo-dep==0.1.0"]  # as the metadata spells it
    post = signal_recorder.first("pip.post_install")
    assert (post["success_count"], post["cached_packages"], post["downloaded_packages"]) == (1, ["kdemo_lib"], [])
    pre = signal_recorder.first("pip.pre_install")
    assert (pre["packages"], pre["package_count"], pre["target"]) == (["kdemo_lib"], 1, str(target))
    # package_* nest under the install
    assert installed["parent_operation_id"] == pre["operation_id"] == post["operation_id"]
    assert result.packages[0].version == "0.1.0"
    assert _import_in_subprocess(target, "import kdemo_lib; print(kdemo_lib.answer())") == "42"
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]  # staging cleaned up
    signal_recorder.assert_contract()


def test_a_missing_package_fails_and_leaves_the_target_as_it_was(pm, wheels, signal_recorder, tmp_path):
    target = tmp_path / "libs"
    target.mkdir()
    (target / "keep.txt").write_text("installed earlier")
    before = _tree(target)

    with pytest.raises(PipError, match="kdemo_missing") as err:
        pm.install_packages(["kdemo_dep", "kdemo_missing"], target=target, no_index=True, find_links=wheels)

    assert "No matching distribution found for kdemo_missing" in str(err.value)
    assert signal_recorder.names() == [
        "pip.pre_install", "pip.package_installing", "pip.package_installed",
        "pip.package_installing", "pip.package_failed", "pip.install_failed"]
    failed = signal_recorder.first("pip.package_failed")
    assert failed["package"] == "kdemo_missing" and failed["error_type"] == "PipError"
    assert signal_recorder.first("pip.install_failed")["failed_package"] == "kdemo_missing"
    # kdemo_dep installed fine, but nothing reaches the target unless every package does
    assert _tree(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["libs"]
    signal_recorder.assert_contract()


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("secret", [
    "s3cr3t-T0KEN-xyz",
    "se@cret@x",              # '@' in the password: redact() used to stop at the first one
    "pa/ss:w#o?r%40d",        # '/' ':' '#' '?' and a %-escape: '/' used to hide nothing at all
])
def test_index_credentials_never_reach_a_payload_a_log_line_or_an_error(pm, signal_recorder,
                                                                         tmp_path, caplog, secret):
    index = f"http://alice:{secret}@127.0.0.1:{_unused_port()}/simple"
    caplog.set_level(logging.DEBUG, logger="kindling.pip")

    with pytest.raises(PipError) as err:
        pm.install_packages(["kdemo_nowhere", f"kdemo_url @ http://bob:{secret}@127.0.0.1:1/k.whl"],
                            target=tmp_path / "libs", index_url=index,
                            extra_args=("--retries", "0", "--timeout", "2"))

    records = json.dumps([r.payload for r in signal_recorder.records])
    exc = err.value
    for where, text in {"payloads": records, "log": caplog.text, "error": str(exc),
                        "command": " ".join(exc.command), "output": exc.output}.items():
        assert secret not in text, f"the index token leaked into the {where}"
    assert "alice:***@127.0.0.1" in signal_recorder.first("pip.pre_install")["index_url"]
    assert "bob:***@127.0.0.1" in signal_recorder.first("pip.pre_install")["packages"][1]
    assert "alice:***@127.0.0.1" in caplog.text  # the command is logged, redacted
    assert signal_recorder.names()[-2:] == ["pip.package_failed", "pip.install_failed"]
    assert not (tmp_path / "libs").exists()
    signal_recorder.assert_contract()


@pytest.mark.parametrize("raw, shown", [
    ("https://user:token@host/simple", "https://user:***@host/simple"),
    ("https://token@host/simple", "https://***@host/simple"),
    ("--index-url=https://u:p@a/s --extra-index-url https://x:y@b/s", "--index-url=https://u:***@a/s --extra-index-url https://x:***@b/s"),
    ("https://host/simple", "https://host/simple"),
    ("pkg @ git+https://tok@github.example/o/r.git", "pkg @ git+https://***@github.example/o/r.git"),
    # the secret whole, whatever it holds
    ("https://user:se@cret@host/simple", "https://user:***@host/simple"),
    ("https://user:pa/ss@host/simple", "https://user:***@host/simple"),
    ("https://user:a:b%40c#d?e@host:8443/simple?x=1", "https://user:***@host:8443/simple?x=1"),
    ("https://to/k@en@host/simple", "https://***@host/simple"),
    ("['https://u:p@h/s', 'https://v:q/r@h2/s']", "['https://u:***@h/s', 'https://v:***@h2/s']"),
    # no space between two URLs: one word, hidden up to its last '@' (the safe side)
    ('["https://index.example/simple","https://u:p/x@h/s"]', '["https://***@h/s"]'),
    # a user name that might hold part of a bare token is hidden with it
    ("https://t@k/en:rest@host/simple", "https://***@host/simple"),
    # a VCS revision is not a credential
    ("git+https://github.com/org/repo.git@v1.0#egg=repo", "git+https://github.com/org/repo.git@v1.0#egg=repo"),
    ("git+https://github.com/o/r.git@main,git+https://u:p/w@h.example/r.git",
     "git+https://github.com/o/r.git@main,git+https://u:***@h.example/r.git"),
    # credentials and a revision: hidden up to the revision, the safe side
    ("git+https://tok@github.com/org/repo.git@v1.0", "git+https://***@v1.0"),
])
def test_redact_hides_the_secret_part_of_every_url(raw, shown):
    assert redact(raw) == shown


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def test_a_pip_timeout_chains_no_unredacted_command(signal_recorder, tmp_path, caplog):
    secret = "t1me:out@S3CRET"  # no '/': pip must parse the URL to wait on the index
    # A server that accepts connections and never answers: pip waits until killed.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        index = f"http://alice:{secret}@127.0.0.1:{server.getsockname()[1]}/simple"
        caplog.set_level(logging.DEBUG, logger="kindling.pip")
        with pytest.raises(PipError, match="did not finish within 3 s") as err:
            PipManager(timeout=3).install_packages(["kdemo_slow"], index_url=index,
                                                   extra_args=("--timeout", "60", "--retries", "0"))

    chain = _chain(err.value)
    assert [type(e).__name__ for e in chain] == ["PipError", "TimeoutExpired"]
    timeout = chain[1]
    assert isinstance(timeout, subprocess.TimeoutExpired) and "alice:***@127.0.0.1" in " ".join(timeout.cmd)
    shown = "".join(traceback.format_exception(err.value)) + caplog.text + json.dumps(
        [r.payload for r in signal_recorder.records])
    for exc in chain:
        shown += f"{exc!s} {exc!r} {vars(exc)!r}"
    assert secret not in shown and "S3CRET" not in shown
    assert signal_recorder.names()[-2:] == ["pip.package_failed", "pip.install_failed"]


def test_bad_arguments_get_clear_errors(pm, signal_recorder):
    with pytest.raises(TypeError, match=r"single string; pass a list such as \['kdemo_lib'\]"):
        pm.install_packages("kdemo_lib")
    with pytest.raises(ValueError, match="non-empty requirement"):
        pm.install_packages(["kdemo_lib", " "])
    assert signal_recorder.names() == []


# -- wheels ---------------------------------------------------------------------------

def test_build_wheel_builds_a_real_wheel(pm, signal_recorder, tmp_path):
    project = write_project(tmp_path / "src", "kdemo_built", "VALUE = 7\n", version="1.2.3")
    out = tmp_path / "dist"

    wheel = pm.build_wheel(project, out)

    assert wheel == str(out / "kdemo_built-1.2.3-py3-none-any.whl")
    assert os.listdir(out) == ["kdemo_built-1.2.3-py3-none-any.whl"]
    assert signal_recorder.names() == ["pip.pre_wheel", "pip.post_wheel"]
    assert signal_recorder.first("pip.pre_wheel")["operation"] == "build_wheel"
    post = signal_recorder.first("pip.post_wheel")
    assert post["wheel_file"] == wheel and post["wheel_size_bytes"] == os.path.getsize(wheel)
    signal_recorder.assert_contract()


def test_a_broken_source_fails_the_build_and_writes_no_wheel(pm, signal_recorder, tmp_path):
    project = write_project(tmp_path / "src", "kdemo_broken", "X = 1\n")
    (project / "pyproject.toml").write_text("[project]\nname = 'kdemo_broken'\nversion = \n")  # invalid TOML
    out = tmp_path / "dist"
    out.mkdir()
    (out / "older-0.1-py3-none-any.whl").write_bytes(b"kept")

    with pytest.raises(PipError, match="could not build a wheel"):
        pm.build_wheel(project, out)

    assert os.listdir(out) == ["older-0.1-py3-none-any.whl"]  # no half-written wheel, no temp folder
    assert signal_recorder.names() == ["pip.pre_wheel", "pip.wheel_failed"]
    assert signal_recorder.last()["error_type"] == "PipError"
    signal_recorder.assert_contract()


def test_a_folder_that_is_not_a_project_fails_with_the_fix(pm, signal_recorder, tmp_path):
    with pytest.raises(PipError, match="no pyproject.toml or setup.py"):
        pm.build_wheel(tmp_path, tmp_path / "dist")
    assert signal_recorder.names() == ["pip.pre_wheel", "pip.wheel_failed"]
    assert not (tmp_path / "dist").exists()


def test_the_docs_page_examples_run():
    assert run_blocks("providers/pip_manager.md") == 2

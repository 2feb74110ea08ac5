"""The source scanner (``pytest_kindling_signals.catalog.scan``) and ``kindling-signals catalog scan``.

Fast tests: small packages written under ``tmp_path``; no JVM, no subprocess.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from pytest_kindling_signals.catalog import load_catalog, parse_catalog
from pytest_kindling_signals.cli import main
from pytest_kindling_signals.catalog import ScanError, draft_catalog, infer_kind, render_yaml, scan

SERVICE = '''
from somewhere import SignalEmitter


class LoaderBase:
    EMITS = [
        "svc.before_load",
        "svc.after_load",
        "svc.load_failed",
        "svc.declared_only",
    ]


class Loader(LoaderBase, SignalEmitter):
    def load(self, path, rows):
        self.emit("svc.before_load", path=path, count=len(rows))
        try:
            self.emit("svc.after_load", path=path, count=3, done=True, ratio=0.5, tags=[])
        except Exception as e:
            self.emit("svc.load_failed", path=path, error=str(e), error_type=type(e).__name__)
            raise

    def transform(self, df):
        df, _ = self.emit_chained("svc.after_load", "df", callable, df=df, path=None)
        return df

    def extra(self, **kw):
        self.emit("svc.undeclared", kind="x", **kw)

    def not_a_signal(self, sock):
        sock.send(b"data")          # an unrelated .send()
        self._emit("svc.private", a=1)  # not emit()
'''

CONFIG = '''
class Config:
    def __init__(self, provider):
        self.pre = provider.create_signal("cfg.pre_reload", doc="before")
        self.post = provider.get_signal("cfg.post_reload") or provider.create_signal("cfg.post_reload")
        provider.create_signal("cfg.listened").connect(self.on_event)

    def reload(self, provider):
        self.pre.send(self, old_config={})
        failed = provider.signal("cfg.reload_failed")
        failed.send(self, error="boom")
        self.post.send(self, new_config={}, version=2)
        provider.create_signal("cfg.direct").send(self, a=1)

    def on_event(self, sender, **kwargs):
        pass
'''

HEALTH = '''
class Monitor:
    EMITS = ["health.ok", "health.bad", "health.stalled"]

    def report(self, state, metrics, since):
        data = {"query_id": state.id, "status": state.status}
        data["check_time"] = state.time
        if state.ok:
            self.emit("health.ok", **data)
        elif state.bad:
            data["metrics"] = metrics
            self.emit("health.bad", **data)
        else:
            if since:
                data["seconds_since"] = since
            self.emit("health.stalled", **data)
'''


def write_package(root: Path, name: str = "fakefw", **files: str) -> Path:
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('the scanner must not import me')\n")
    for filename, text in files.items():
        (pkg / f"{filename}.py").write_text(textwrap.dedent(text))
    return pkg


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    return write_package(tmp_path, service=SERVICE, config=CONFIG, health=HEALTH)


def test_scan_collects_emits_lists_and_calls(pkg: Path) -> None:
    result = scan(pkg)
    assert result.package == "fakefw"
    assert result.emitters["LoaderBase"] == (
        "svc.before_load", "svc.after_load", "svc.load_failed", "svc.declared_only")
    assert set(result.signals) == {
        "svc.before_load", "svc.after_load", "svc.load_failed", "svc.declared_only",
        "svc.undeclared", "cfg.pre_reload", "cfg.post_reload", "cfg.reload_failed",
        "cfg.direct", "health.ok", "health.bad", "health.stalled"}
    assert "svc.private" not in result.signals and "cfg.listened" not in result.signals
    after = result.signals["svc.after_load"]
    assert [s.via for s in after.sites] == ["emit", "emit_chained"]
    assert after.provider == "LoaderBase" and after.declared_by == ("LoaderBase",)
    assert after.emitted_by == ("Loader.load", "Loader.transform")
    assert after.sites[0].path == "fakefw/service.py"


def test_kinds_follow_the_names() -> None:
    assert [infer_kind(n) for n in ("a.before_x", "a.after_x", "a.x_failed", "a.failed",
                                    "a.pre_x", "a.post_x", "a.registered")] == [
        "pre", "post", "failed", "failed", "pre", "post", "event"]


def test_fields_are_required_only_when_every_call_passes_them(pkg: Path) -> None:
    fields = scan(pkg).fields["svc.after_load"]
    assert list(fields) == ["path", "count", "done", "ratio", "tags", "df"]
    assert fields["path"].required and fields["path"].seen_in == 2
    assert not fields["count"].required and not fields["df"].required
    # literal types: an int and None -> any (conservative); literals alone reveal types
    assert fields["path"].type == "any"
    assert (fields["count"].type, fields["done"].type, fields["ratio"].type, fields["tags"].type) == (
        "integer", "boolean", "number", "array")
    failed = scan(pkg).fields["svc.load_failed"]
    assert (failed["error"].type, failed["error_type"].type) == ("string", "string")
    assert scan(pkg).fields["svc.before_load"]["count"].type == "integer"  # len(...)


def test_send_on_signals_from_create_get_and_signal(pkg: Path) -> None:
    result = scan(pkg)
    for name in ("cfg.pre_reload", "cfg.post_reload", "cfg.reload_failed", "cfg.direct"):
        sig = result.signals[name]
        assert [s.via for s in sig.sites] == ["send"], name
        assert sig.provider == "Config" and not sig.declared
    assert list(result.fields["cfg.post_reload"]) == ["new_config", "version"]
    assert list(result.fields["cfg.pre_reload"]) == ["old_config"]  # not the sender
    assert "cfg.listened" in result.subscriptions
    assert any("connects to cfg.listened, which nothing" in w for w in result.warnings)


def test_kwargs_splat_is_open(pkg: Path) -> None:
    result = scan(pkg)
    sig = result.signals["svc.undeclared"]
    assert sig.open and sig.sites[0].open
    assert list(result.fields["svc.undeclared"]) == ["kind"]
    assert any("svc.undeclared is sent by Loader.extra but listed in no class's EMITS" in w
               for w in result.warnings)


def test_local_dict_splat_is_read_branch_by_branch(pkg: Path) -> None:
    result = scan(pkg)
    ok, bad, stalled = (result.fields[f"health.{n}"] for n in ("ok", "bad", "stalled"))
    assert list(ok) == ["query_id", "status", "check_time"]  # not metrics: another branch
    assert list(bad) == ["query_id", "status", "check_time", "metrics"]
    assert bad["metrics"].required
    assert stalled["seconds_since"].required is False  # set under an inner if
    assert not result.signals["health.ok"].open and not result.signals["health.stalled"].open


def test_declared_but_never_sent_is_kept_and_noted(pkg: Path) -> None:
    result = scan(pkg)
    sig = result.signals["svc.declared_only"]
    assert sig.declared and not sig.emitted and result.fields["svc.declared_only"] == {}
    assert any("svc.declared_only: listed in LoaderBase.EMITS but no call" in w for w in result.warnings)
    draft = draft_catalog(result, framework="fakefw 1.0")
    entry = draft["providers"]["svc"]["signals"]["declared_only"]
    assert "No call in the source sends it" in entry["description"]
    assert entry["when"].startswith("Never sent")


def test_a_file_with_a_syntax_error_is_skipped_with_a_warning(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, service=SERVICE, broken="def broken(:\n    pass\n")
    result = scan(pkg)
    assert "svc.before_load" in result.signals
    assert any(w.startswith("fakefw/broken.py:1: skipped, not valid Python") for w in result.warnings)


def test_a_missing_package_or_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScanError, match=r"^no_such_pkg_kx: no package of that name .* pass its source folder"):
        scan("no_such_pkg_kx")
    with pytest.raises(ScanError, match=r"nope/here: no such file or directory; check the path"):
        scan(str(tmp_path / "nope" / "here"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScanError, match="has no .py files"):
        scan(tmp_path / "empty")


def test_a_package_is_found_by_name_without_importing_it(pkg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(pkg.parent))
    result = scan("fakefw")
    assert result.roots == (pkg.resolve(),)
    assert "fakefw" not in sys.modules  # its __init__ raises if imported
    assert scan("fakefw.service").roots == ((pkg / "service.py").resolve(),)


def test_the_draft_catalog_loads_and_pairs_operations(pkg: Path, tmp_path: Path) -> None:
    result = scan(pkg)
    draft = draft_catalog(result, framework="fakefw 1.0")
    assert draft["json_payloads"] is False and draft["framework"] == "fakefw 1.0"
    assert draft["common_fields"] == {} and draft["tiers"] == ["critical", "high", "moderate"]
    svc = draft["providers"]["svc"]
    assert svc["class"] == "LoaderBase" and svc["tier"] == "moderate"
    assert "Loader.extra" in svc["signals"]["undeclared"]["description"]
    # no operation_id in the payloads: the draft pairs by the fields every member sends
    assert svc["operations"] == {"svc.load": {"pre": "before_load", "post": ["after_load"],
                                              "failed": "load_failed", "pair_by": ["path"]}}
    assert svc["signals"]["before_load"]["kind"] == "pre"
    assert "kind" not in svc["signals"]["load_failed"]  # the engine infers it
    assert draft["providers"]["cfg"]["operations"]["cfg.reload"]["failed"] == "reload_failed"

    text = render_yaml(draft)
    assert text.startswith("# Signal catalog of fakefw 1.0")
    assert yaml.safe_load(text) == draft
    path = tmp_path / "draft.yaml"
    path.write_text(text)
    catalog = load_catalog(path)
    assert catalog["svc.after_load"].kind == "post"
    assert catalog.operation("svc.before_load").closers == ("svc.after_load", "svc.load_failed")
    assert catalog["svc.after_load"].required_fields == ("path",)
    assert catalog["svc.after_load"].json_payload is False
    assert catalog.is_valid("svc.after_load", {"path": object()})  # DataFrames are fine


def test_tiers_rate_signals_and_mark_the_rest_as_extensions(pkg: Path) -> None:
    result = scan(pkg)
    draft = draft_catalog(result, framework="x", tiers={
        "svc.before_load": "critical", "svc.after_load": "critical", "svc.load_failed": "high"})
    svc = draft["providers"]["svc"]
    assert svc["tier"] == "critical"
    assert svc["signals"]["load_failed"]["tier"] == "high"
    assert "tier" not in svc["signals"]["before_load"] and "extension" not in svc["signals"]["before_load"]
    assert svc["signals"]["undeclared"]["extension"] is True
    assert draft["providers"]["cfg"]["tier"] == "moderate"
    parse_catalog(draft, "draft")
    with pytest.raises(ScanError, match=r"tiers\['svc.before_load'\] = 'urgent': unknown tier"):
        draft_catalog(result, framework="x", tiers={"svc.before_load": "urgent"})


def test_one_namespace_several_classes_names_the_main_one_and_notes_the_others(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, a='''
        class Main:
            def run(self):
                self.emit("ns.one")
                self.emit("ns.two")
        class Side:
            def go(self):
                self.emit("ns.three", x=1)
    ''')
    prov = draft_catalog(scan(pkg), framework="x")["providers"]["ns"]
    assert prov["class"] == "Main"
    assert prov["note"] == "Also emitted by Side (three)."


def test_scanning_is_deterministic(pkg: Path) -> None:
    one = render_yaml(draft_catalog(scan(pkg), framework="x"))
    two = render_yaml(draft_catalog(scan(pkg), framework="x"))
    assert one == two


def test_no_signals_is_an_error_for_the_draft(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, plain="def f():\n    return 1\n")
    with pytest.raises(ScanError, match="found no signals"):
        draft_catalog(scan(pkg), framework="x")


# -- the command line ---------------------------------------------------------------------

def test_cli_scan_writes_yaml_to_stdout(pkg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "scan", str(pkg), "--framework", "fakefw 1.0"]) == 0
    out, err = capsys.readouterr()
    data = yaml.safe_load(out)
    assert data["framework"] == "fakefw 1.0" and "svc" in data["providers"]
    assert "warning: " in err and "12 signals in 3 namespaces" in err


def test_cli_scan_writes_a_file(pkg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "out.yaml"
    assert main(["catalog", "scan", str(pkg), "-o", str(out_file)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out_file}: 12 signals")
    assert len(load_catalog(out_file)) == 12


def test_cli_tiers_from_a_reference_with_aliases(pkg: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    reference = tmp_path / "ref.yaml"
    reference.write_text(yaml.safe_dump({
        "format": "kindling-signal-catalog/1", "tiers": ["critical", "high", "moderate"],
        "providers": {"svc": {"class": "Svc", "tier": "critical", "signals": {
            "pre_load": {"when": "w"}, "post_load": {"when": "w"},
            "load_failed": {"when": "w", "tier": "high"}, "gone": {"when": "w"}}}}}))
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text(yaml.safe_dump({
        "format": "kindling-signal-aliases/1", "framework": "fakefw 1.0",
        "aliases": {"svc.pre_load": "svc.before_load", "svc.post_load": "svc.after_load"},
        "missing": {"svc.gone": "not there"}}))
    out_file = tmp_path / "out.yaml"
    assert main(["catalog", "scan", str(pkg), "-o", str(out_file), "--tiers-from", str(reference),
                 "--aliases", str(aliases)]) == 0
    catalog = load_catalog(out_file)
    assert catalog["svc.before_load"].tier == "critical" and not catalog["svc.before_load"].extension
    assert catalog["svc.load_failed"].tier == "high"
    assert catalog["svc.undeclared"].extension and catalog["cfg.direct"].extension


@pytest.mark.parametrize("argv", [
    [], ["catalog"], ["catalog", "scan"], ["nope"], ["catalog", "scan", "x", "--bogus"],
])
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: kindling-signals" in capsys.readouterr().err


def test_cli_aliases_need_tiers_from(pkg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "scan", str(pkg), "--aliases", str(tmp_path / "a.yaml")]) == 2
    assert "--aliases needs --tiers-from" in capsys.readouterr().err


def test_cli_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "scan", "--help"]) == 0
    assert "TARGET" in capsys.readouterr().out


@pytest.mark.parametrize("make_argv, message", [
    (lambda p, t: ["catalog", "scan", "no_such_pkg_kx"], "no_such_pkg_kx: no package of that name"),
    (lambda p, t: ["catalog", "scan", str(t / "missing_dir")], "no such file or directory"),
    # under a file: no folder can be made there (missing folders are made)
    (lambda p, t: ["catalog", "scan", str(p), "-o", str(p / "__init__.py" / "out.yaml")],
     "cannot write the catalog"),
    (lambda p, t: ["catalog", "scan", str(p), "--tiers-from", str(t / "ref.yaml")], "no such catalog file"),
])
def test_cli_failures_exit_1_with_a_message_and_no_traceback(
        pkg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make_argv, message: str) -> None:
    assert main(make_argv(pkg, tmp_path)) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("kindling-signals: error: ") and message in err
    assert "Traceback" not in err

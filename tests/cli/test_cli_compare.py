"""``kindling-signals compare BASE HEAD``: what a change does to the signal contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import REFUND_TESTS, Cli

pytestmark = pytest.mark.kindling_signals_ignore  # pytester runs emit bad signals on purpose


@pytest.fixture
def refunds(shop: pytest.Pytester) -> pytest.Pytester:
    """The shop project whose only refund is in test_refunds.py: deselect it, and shop.refunded goes."""
    shop.makepyfile(test_refunds=REFUND_TESTS)
    return shop


def save(project: pytest.Pytester, name: str, *args: str, subprocess: bool = False) -> None:
    run = project.runpytest_subprocess if subprocess else project.runpytest
    run("-p", "no:randomly", "--kindling-signals", f"--kindling-signals-data={name}", *args)


def test_a_run_against_itself_reports_no_change(refunds: pytest.Pytester, cli: Cli) -> None:
    save(refunds, "run.data")
    code, out, err = cli("compare", "run.data", "run.data", "--fail-on-regression", "--format", "term",
                         "--format", "json:same.json")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "run.data -> run.data"
    assert out.splitlines()[-2:] == ["No change: the same signals covered and the same findings.",
                                     "json report written to same.json"]
    same = json.loads((refunds.path / "same.json").read_text(encoding="utf-8"))
    assert (same["changed"], same["regressions"], same["newly_covered"], same["no_longer_covered"]) == \
        (False, [], [], [])


def test_deselecting_the_one_test_of_a_signal_names_exactly_that_signal(refunds: pytest.Pytester, cli: Cli) -> None:
    save(refunds, "base.data")
    save(refunds, "head.data", "--deselect", "test_refunds.py::test_refund")
    code, out, _ = cli("compare", "base.data", "head.data", "--format", "term", "--format", "json:c.json",
                       "--format", "markdown:c.md")
    assert code == 0  # without --fail-on-regression a regression is reported, not failed
    lines = out.splitlines()
    assert "No longer covered (1): shop.refunded (shop)" in lines
    assert "Newly covered: none" in lines
    assert "Regression: 1 signal no longer covered (shop.refunded)" in lines
    assert ("head.data is a partial run (1 test deselected (--deselect)): a signal it lacks may only not "
            "have run") in lines
    c = json.loads((refunds.path / "c.json").read_text(encoding="utf-8"))
    assert c["no_longer_covered"] == [{"signal": "shop.refunded", "tier": "shop", "provider": "ShopService"}]
    assert (c["newly_covered"], c["findings"], c["catalog"]) == \
        ([], {"new": [], "fixed": []}, {"added": [], "removed": []})
    assert c["tiers"]["shop"] == {"base": {"signals": 4, "emitted": 4}, "head": {"signals": 4, "emitted": 3}}
    md = (refunds.path / "c.md").read_text(encoding="utf-8").splitlines()
    assert md[:3] == ["## Kindling signals: compared with the base", "",
                      "`base.data` → `head.data`: :x: 1 signal no longer covered (shop.refunded)"]
    assert "| shop | 4/4 (100.0%) | 3/4 (75.0%) | -1 |" in md
    assert "**No longer covered** (1): `shop.refunded` (shop)" in md
    # and the other way round, nothing regressed
    code, out, _ = cli("compare", "head.data", "base.data", "--fail-on-regression")
    assert code == 0
    assert "Newly covered (1): shop.refunded (shop)" in out.splitlines()
    assert out.splitlines()[-1] == "No regression."


def test_fail_on_regression_fails_with_one_line(refunds: pytest.Pytester, cli: Cli) -> None:
    save(refunds, "base.data")
    save(refunds, "head.data", "-k", "not refund")
    code, out, _ = cli("compare", "base.data", "head.data", "--fail-on-regression")
    assert code == 1
    assert out.splitlines()[-1] == "kindling-signals: FAILED regression: 1 signal no longer covered (shop.refunded)"


def test_new_and_fixed_findings(refunds: pytest.Pytester, cli: Cli) -> None:
    refunds.makepyfile(test_bad="from shop import new_shop\n\ndef test_bad():\n    new_shop().refund(amount='3')\n")
    save(refunds, "bad.data")
    refunds.makepyfile(test_bad="from shop import new_shop\n\ndef test_bad():\n    new_shop().emit('shop.refnded', amount=3)\n")
    save(refunds, "other.data")
    code, out, _ = cli("compare", "bad.data", "other.data", "--fail-on-regression", "--format", "json:c.json")
    assert code == 1
    c = json.loads((refunds.path / "c.json").read_text(encoding="utf-8"))
    assert c["findings"]["new"] == [{"kind": "undocumented", "signal": "shop.refnded", "problem": "not in the catalog",
                                     "count": 1, "first_test": "test_bad.py::test_bad"}]
    assert c["findings"]["fixed"] == [{"kind": "payload", "signal": "shop.refunded",
                                       "problem": "field 'amount': expected number", "count": 1,
                                       "first_test": "test_bad.py::test_bad"}]
    assert c["regressions"] == ["1 new finding (shop.refnded)"]


def test_signals_added_to_the_catalog_are_named(refunds: pytest.Pytester, cli: Cli) -> None:
    save(refunds, "before.data")
    catalog = refunds.path / "shop_catalog.yaml"
    catalog.write_text(catalog.read_text(encoding="utf-8") + "\n      voided:\n        when: After a void\n",
                       encoding="utf-8")
    save(refunds, "after.data", subprocess=True)  # this process keeps the catalog it loaded first
    code, out, err = cli("compare", "before.data", "after.data")
    assert code == 0, err
    assert "Added to the catalog (1): shop.voided" in out.splitlines()
    assert "  shop: 4/4 (100.0%) -> 4/5 (80.0%) (±0)" in out.splitlines()


@pytest.mark.parametrize("fmt", ["html:c.html", "term-missing"])
def test_compare_writes_term_json_and_markdown_only(refunds: pytest.Pytester, cli: Cli, fmt: str) -> None:
    save(refunds, "run.data")
    code, _, err = cli("compare", "run.data", "run.data", "--format", fmt)
    assert code == 2
    assert err.splitlines()[-1] == (f"kindling-signals compare: error: --format={fmt}: compare writes term, "
                                    "json:PATH or markdown:PATH")


def test_report_with_a_base_puts_the_comparison_in_every_output(refunds: pytest.Pytester, cli: Cli) -> None:
    save(refunds, "base.data")
    save(refunds, "head.data", "--deselect", "test_refunds.py::test_refund")
    code, out, _ = cli("report", "head.data", "--base", "base.data", "--format", "term",
                       "--format", "markdown:r.md", "--format", "json:r.json", "--format", "html:r.html")
    assert code == 0
    assert "Compared with the base: base.data -> head.data" in out.splitlines()
    md = (refunds.path / "r.md").read_text(encoding="utf-8")
    assert "### Compared with the base\n\n`base.data` → `head.data`: :x: 1 signal no longer covered" in md
    report = json.loads((refunds.path / "r.json").read_text(encoding="utf-8"))
    assert report["compare"]["no_longer_covered"][0]["signal"] == "shop.refunded"
    assert "<h2>Compared with the base</h2>" in (refunds.path / "r.html").read_text(encoding="utf-8")


def test_the_markdown_lists_which_tests_emitted_what_collapsed(refunds: pytest.Pytester, cli: Cli) -> None:
    save(refunds, "run.data")
    assert cli("report", "run.data", "--format", "markdown:r.md")[0] == 0
    md = (Path(refunds.path) / "r.md").read_text(encoding="utf-8").splitlines()
    start = md.index("<details><summary>Which tests emitted what (3 tests)</summary>")
    assert md[start + 2:start + 5] == [
        "- `test_refunds.py::test_refund`: `shop.refunded`",
        "- `test_shop.py::test_checkout`: `shop.pre_checkout`, `shop.post_checkout`",
        "- `test_shop.py::test_checkout_declined`: `shop.pre_checkout`, `shop.checkout_failed`",
    ]

"""A small project with its own provider and catalog, run through ``pytester`` as a user would.

The shop's catalog adds 4 signals in a tier of their own ("shop") to the
built-in catalog (the quick reference's 88 and its extensions), so the
numbers in the reports are exact: the two tests in ``test_shop.py`` emit 3
of the 4 (``shop.refunded`` never fires). Numbers that depend on the
built-in catalog's size are derived from it (:data:`TOTAL`, :func:`row`...).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from kindling.signal_catalog import load_catalog

BUILTIN = load_catalog()
#: Signals in the shop project's report: the built-in catalog's and the shop's 4.
TOTAL = len(BUILTIN) + 4
QUICK_REFERENCE = sum(not s.extension for s in BUILTIN.values())
EXTENSIONS = len(BUILTIN) - QUICK_REFERENCE


def pct(emitted: int, signals: int, places: int = 1) -> str:
    """A percentage as reports show it: rounded down."""
    scaled = emitted * 100 * 10 ** places // signals
    whole, frac = divmod(scaled, 10 ** places)
    return f"{whole}.{frac:0{places}d}"


def label(namespace: str) -> str:
    """A namespace's row in the tables, its provider class beside: ``entity (DataEntityManager)``."""
    cls = BUILTIN.provider_info(namespace).cls if namespace in BUILTIN.namespaces() else "ShopService"
    return f"{namespace} ({cls})"


#: The terminal table's first column: as wide as its longest row name.
NAME_WIDTH = max(len(label(ns)) for ns in [*BUILTIN.namespaces(), "shop"])


def row(name: str, tier: str, signals: int, emitted: int) -> str:
    """A line of the terminal table (the built-in namespaces' names set its widths)."""
    return f"{name:<{NAME_WIDTH}}  {tier:<8}  {signals:>7}  {emitted:>7}  {pct(emitted, signals) + '%':>6}".rstrip()


def total_row(emitted: int) -> str:
    return row("TOTAL", "", TOTAL, emitted)


def summary(emitted: int, tests: int, emissions: int) -> str:
    return (f"{emitted} of {TOTAL} catalog signals emitted ({pct(emitted, TOTAL)}%) by {tests} tests, "
            f"{emissions} emissions")


def scopes(shop: int) -> str:
    """The scope line of a shop run that emits ``shop`` of the shop's 4 signals and nothing else."""
    parts = [f"quick reference 0/{QUICK_REFERENCE} (0.0%)"]
    if EXTENSIONS:
        parts.append(f"extensions 0/{EXTENSIONS} (0.0%)")
    parts.append(f"your catalogs {shop}/4 ({pct(shop, 4)}%)")
    return ", ".join(parts)

SHOP_CATALOG = """\
format: kindling-signal-catalog/1
tiers: [shop]
providers:
  shop:
    class: ShopService
    tier: shop
    operations:
      shop.checkout: {pre: pre_checkout, post: [post_checkout], failed: checkout_failed}
    signals:
      pre_checkout:
        when: Before a checkout
        fields: {cart_id: string}
      post_checkout:
        when: After a checkout
        fields: {cart_id: string, total: {type: number, minimum: 0}}
      checkout_failed:
        when: When a checkout fails
        fields: {cart_id: string}
      refunded:
        when: After a refund
        fields: {amount: {type: number, minimum: 0}}
"""

SHOP_MODULE = '''\
from kindling.signaling import BlinkerSignalProvider, SignalEmitter


class Shop(SignalEmitter):
    """A fake provider: real emissions through a real provider, no Spark."""

    EMITS = ("shop.pre_checkout", "shop.post_checkout", "shop.checkout_failed", "shop.refunded")

    def checkout(self, cart_id, *, fail=False, total=12.5):
        with self.operation("shop.checkout", cart_id=cart_id) as op:
            if fail:
                raise ValueError("card declined")
            op.set(total=total)

    def refund(self, amount):
        self.emit("shop.refunded", amount=amount)


def new_shop():
    return Shop(BlinkerSignalProvider(name="shop"))
'''

SHOP_TESTS = '''\
import pytest

from shop import new_shop


def test_checkout():
    new_shop().checkout("c1")


def test_checkout_declined():
    with pytest.raises(ValueError):
        new_shop().checkout("c2", fail=True)
'''

BAD_TESTS = '''\
from shop import new_shop


def test_bad_payload():
    new_shop().refund(amount="3")


def test_undocumented():
    new_shop().emit("shop.refnded", amount=3)


def test_unclosed():
    new_shop().emit("shop.pre_checkout", cart_id="c3")
'''

#: The terminal report's findings for ``BAD_TESTS``, one of each kind.
BAD_FINDINGS = [
    "Undocumented signals (1):",
    "  shop.refnded: not in the catalog (did you mean shop.refunded?) "
    "(1 emission, first in test_bad.py::test_undocumented)",
    "Payload violations (1):",
    "  shop.refunded: field 'amount': expected number, got string '3' "
    "(1 emission, first in test_bad.py::test_bad_payload)",
    "Lifecycle violations (1):",
    "  shop.pre_checkout (operation <id>) was never closed by shop.post_checkout or "
    "shop.checkout_failed (1 operation, first in test_bad.py::test_unclosed)",
]


def section(result: pytest.RunResult) -> list[str]:
    """The lines of the report's terminal section, without its header."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "kindling-signals: catalog coverage" in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("=")), len(lines))
    return lines[start + 1:end]


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def steady(report: dict[str, Any]) -> dict[str, Any]:
    """A JSON report with what differs from run to run taken out of its timelines: times,
    thread ids, operation ids and timestamps (the order, threads' names, spans and findings stay)."""
    text = _TIMESTAMP.sub("<timestamp>", _UUID.sub("<uuid>", json.dumps(report)))
    out: dict[str, Any] = json.loads(text)
    for test in out.get("tests", {}).values():
        timeline = test["timeline"]
        if timeline is None:
            continue
        timeline["duration"] = 0
        for thread in timeline["threads"]:
            thread["id"] = 0
        for e in timeline["emissions"]:
            e["at"] = 0
            if isinstance(e["payload"], dict) and "duration_seconds" in e["payload"]:
                e["payload"]["duration_seconds"] = 0
    return out

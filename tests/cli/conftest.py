"""Fixtures of the command-line tests: projects run through pytester, the ``kindling-signals`` command.

The shop project and the schema checks are the report tests' (``tests/report``),
put on ``sys.path`` here so this folder runs on its own too.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))

from report_project import SHOP_CATALOG, SHOP_MODULE, SHOP_TESTS  # noqa: E402
from report_schema import _written_files_match_the_shipped_schemas  # noqa: F401 - autouse here  # noqa: E402

from pytest_kindling_signals.cli import main  # noqa: E402

#: A fixture named like the shared Spark session (the plugin marks the tests that use it
#: ``spark``, as in the real suite), without a JVM: its set-up and teardown emit.
SPARK_CONFTEST = '''
import pytest
from shop import new_shop


@pytest.fixture(scope="session")
def spark():
    new_shop().refund(amount=1)
    yield "spark"
    new_shop().refund(amount=2)
'''

SPARK_TESTS = '''
from shop import new_shop


def test_refund_on_spark(spark):
    new_shop().refund(amount=12.5)


def test_checkout_on_spark(spark):
    new_shop().checkout("s1")
'''

REFUND_TESTS = '''
import pytest

from shop import new_shop


@pytest.mark.refunds
def test_refund():
    new_shop().refund(amount=12.5)
'''


@pytest.fixture
def shop(pytester: pytest.Pytester) -> pytest.Pytester:
    """The shop project (its catalog by ini key, two checkout tests), with the test folder as cwd."""
    pytester.makefile(".yaml", shop_catalog=SHOP_CATALOG)
    pytester.makepyfile(shop=SHOP_MODULE, test_shop=SHOP_TESTS)
    pytester.makeini(textwrap.dedent("""\
        [pytest]
        kindling_signals_catalogs = shop_catalog.yaml
        markers =
            refunds: refund tests
        """))
    return pytester


class Cli:
    """Runs ``kindling-signals`` in this process, as ``main(argv)``; returns (exit code, stdout, stderr)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)

"""What the command-line tests import: the ``kindling-signals`` runner and the projects' test files.

A module of its own, not ``conftest.py``: every test folder has a conftest, and
``from conftest import ...`` gets whichever was imported last, so this folder
and ``tests/report`` could not be collected in one run.
"""

from __future__ import annotations

import pytest

from pytest_kindling_signals.cli import main

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


class Cli:
    """Runs ``kindling-signals`` in this process, as ``main(argv)``; returns (exit code, stdout, stderr)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err

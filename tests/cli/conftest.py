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

from cli_helpers import Cli  # noqa: E402


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


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)

"""Fixtures of the report tests: a small project with its own provider, run through pytester."""

from __future__ import annotations

import textwrap

import pytest
from report_project import BAD_TESTS, SHOP_CATALOG, SHOP_MODULE, SHOP_TESTS
from report_schema import _written_files_match_the_shipped_schemas  # noqa: F401 - autouse here


@pytest.fixture
def shop_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with the shop provider, its catalog (by ini key) and two clean tests."""
    pytester.makefile(".yaml", shop_catalog=SHOP_CATALOG)
    pytester.makepyfile(shop=SHOP_MODULE, test_shop=SHOP_TESTS)
    pytester.makeini(textwrap.dedent("""\
        [pytest]
        kindling_signals_catalogs = shop_catalog.yaml
        """))
    return pytester


@pytest.fixture
def bad_tests(shop_project: pytest.Pytester) -> pytest.Pytester:
    """Adds tests that break the contract: a bad payload, an undocumented name, an unclosed pre."""
    shop_project.makepyfile(test_bad=BAD_TESTS)
    return shop_project

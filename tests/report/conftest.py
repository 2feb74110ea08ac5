"""Fixtures of the report tests: a small project with its own provider, run through pytester."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_project import BAD_TESTS, SHOP_CATALOG, SHOP_MODULE, SHOP_TESTS
from report_schema import check_files


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "malformed_files: the test writes malformed data files on purpose "
                                       "(their schema check is skipped)")


@pytest.fixture(autouse=True)
def _written_files_match_the_shipped_schemas(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, every JSON report and data file it wrote validates against its schema."""
    yield
    if request.node.get_closest_marker("malformed_files"):
        return
    for name in ("pytester", "tmp_path"):
        value = request.node.funcargs.get(name)
        root = getattr(value, "path", value)
        if isinstance(root, Path) and root.is_dir():
            check_files(root)


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

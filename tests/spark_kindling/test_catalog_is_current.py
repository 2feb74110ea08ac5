"""The shipped spark-kindling catalog still matches the installed spark-kindling's source.

Runs only where spark-kindling (import name ``kindling``) is installed, i.e. in its
own virtualenv; skipped everywhere else. Nothing of spark-kindling is imported: the
scanner reads its source. A mismatch means spark-kindling's signals changed: re-run

    kindling-signals catalog scan <site-packages>/kindling -o new.yaml \\
        --tiers-from pytest_kindling_signals/catalog/shipped/quick_reference.yaml \\
        --aliases pytest_kindling_signals/catalog/shipped/spark_kindling_aliases.yaml

and review the differences into the catalog (see docs/spark-kindling.md).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import pytest
import yaml

from pytest_kindling_signals.catalog import CATALOGS_DIR, load_catalog
from pytest_kindling_signals.catalog import scan


def _installed_version() -> str:
    try:
        return importlib.metadata.version("spark-kindling")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("spark-kindling is not installed here (it lives in its own virtualenv)")


def _catalog_for(version: str) -> Path:
    wanted = f"spark-kindling {version}"
    for path in sorted(CATALOGS_DIR.glob("spark_kindling_*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("framework") == wanted:
            return path
    pytest.fail(f"no catalog in {CATALOGS_DIR} says 'framework: {wanted}'; scan the installed "
                "spark-kindling (see this module's docstring) and review it into a new catalog")


def test_rescanning_spark_kindling_reproduces_the_shipped_catalog() -> None:
    version = _installed_version()
    spec = importlib.util.find_spec("kindling")  # top-level: finds, imports nothing
    assert spec is not None and spec.submodule_search_locations, "spark-kindling's kindling package"
    source = Path(list(spec.submodule_search_locations)[0])
    result = scan(source)
    assert result.distribution == "spark-kindling", f"{source} belongs to {result.distribution}"

    shipped = load_catalog(_catalog_for(version))
    assert sorted(result.signals) == sorted(shipped), "signal names differ"
    for name, scanned in result.signals.items():
        found = set(result.fields[name])
        declared = set(shipped[name].fields)
        if scanned.open:
            # a **mapping the scanner can't see into: the review may add its keys
            assert found <= declared, f"{name}: fields {sorted(found - declared)} are not in the catalog"
        else:
            assert found == declared, (f"{name}: the source sends {sorted(found)}, "
                                       f"the catalog lists {sorted(declared)}")

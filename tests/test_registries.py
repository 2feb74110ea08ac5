"""Declaration registries: what ``kindling.reset()`` clears and the plugin restores.

Fast tests: no JVM. Registries are process-wide, so each test registers its
own under a unique name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import kindling
from kindling import registries
from kindling.signaling import BlinkerSignalProvider, get_default_provider, set_default_provider


@pytest.fixture
def store() -> dict[Any, Any]:
    return registries.register_registry(f"test-{uuid.uuid4().hex}", {})


@pytest.fixture
def keep_default_provider() -> Iterator[None]:
    original = get_default_provider()
    yield
    set_default_provider(original)


def test_register_returns_the_store(store: dict[Any, Any]) -> None:
    mine: dict[str, int] = {}
    assert registries.register_registry(f"test-{uuid.uuid4().hex}", mine) is mine


def test_registering_a_name_again_keeps_the_first_store() -> None:
    name = f"test-{uuid.uuid4().hex}"
    first: dict[str, int] = {"a": 1}
    assert registries.register_registry(name, first) is first
    assert registries.register_registry(name, {"b": 2}) is first  # a re-imported module
    assert registries.snapshot()[name] == {"a": 1}


def test_reset_clears_every_registry_and_the_default_provider(
        store: dict[Any, Any], keep_default_provider: None) -> None:
    other = registries.register_registry(f"test-{uuid.uuid4().hex}", {"x": 1})
    store["bronze.orders"] = object()
    before = get_default_provider()
    kindling.reset()
    assert store == {} and other == {}
    assert get_default_provider() is not before
    assert isinstance(get_default_provider(), BlinkerSignalProvider)


def test_snapshot_is_a_copy(store: dict[Any, Any]) -> None:
    store["a"] = 1
    saved = registries.snapshot()
    store["b"] = 2
    name = next(n for n, s in registries._registries.items() if s is store)
    assert saved[name] == {"a": 1}


def test_restore_puts_contents_back_and_empties_later_registries(store: dict[Any, Any]) -> None:
    store["a"] = 1
    saved = registries.snapshot()
    store.clear()
    store["b"] = 2
    later = registries.register_registry(f"test-{uuid.uuid4().hex}", {"made": "after"})
    registries.restore(saved)
    assert store == {"a": 1}
    assert later == {}
    assert registries.register_registry("never-registered-before-" + uuid.uuid4().hex, {}) == {}


def test_plugin_isolates_declarations_between_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from kindling.registries import register_registry

        STORE = register_registry("pytester-isolation", {"declared_at_import": 1})

        def test_declares():
            STORE["made_by_test"] = 2
            assert set(STORE) == {"declared_at_import", "made_by_test"}

        def test_sees_only_import_time_declarations():
            assert STORE == {"declared_at_import": 1}
        """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)

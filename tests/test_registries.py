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


def test_register_returns_a_registry_holding_the_stores_declarations(store: dict[Any, Any]) -> None:
    mine: dict[str, int] = {"a": 1}
    registry = registries.register_registry(f"test-{uuid.uuid4().hex}", mine)
    assert registry == {"a": 1} and isinstance(registry, dict)
    registry["b"] = 2
    assert registries.snapshot()[next(n for n, s in registries._registries.items() if s is registry)] == registry


def test_registering_a_name_again_keeps_the_first_store() -> None:
    name = f"test-{uuid.uuid4().hex}"
    first = registries.register_registry(name, {"a": 1})
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


def test_isolated_puts_back_what_the_block_changed_in_the_order_it_had() -> None:
    registry = registries.register_registry(f"test-{uuid.uuid4().hex}", {"a": 1, "b": 2, "c": 3})
    with registries.isolated():
        registry["a"] = 10            # replaced
        del registry["b"]             # lost, then declared again: it would come last
        registry["b"] = 20
        registry.setdefault("d", 4)   # added
        registry.update(e=5)
        registry.pop("c")
        assert list(registry.items()) == [("a", 10), ("b", 20), ("d", 4), ("e", 5)]
    assert list(registry.items()) == [("a", 1), ("b", 2), ("c", 3)]


def test_isolated_blocks_nest_and_kindling_reset_inside_is_undone(keep_default_provider: None) -> None:
    registry = registries.register_registry(f"test-{uuid.uuid4().hex}", {"a": 1})
    with registries.isolated():
        registry["outer"] = 1
        with registries.isolated():
            kindling.reset()
            registry["inner"] = 2
            assert registry == {"inner": 2}
        assert registry == {"a": 1, "outer": 1}
    assert registry == {"a": 1}


def test_a_registry_made_inside_a_block_is_emptied_when_it_ends() -> None:
    with registries.isolated():
        later = registries.register_registry(f"test-{uuid.uuid4().hex}", {"made": "inside"})
        assert later == {"made": "inside"}
    assert later == {}


def test_a_block_that_declared_nothing_puts_nothing_back() -> None:
    registry = registries.register_registry(f"test-{uuid.uuid4().hex}", {"a": 1})
    with registries.isolated():
        dict.__setitem__(registry, "a", "written behind the registry's back")
    # a snapshot and restore would have put 1 back: the block restored nothing
    assert registry == {"a": "written behind the registry's back"}

"""The plugin's adapter for spark-kindling (PyPI), which knows nothing of this plugin.

spark-kindling's providers emit through ``kindling.signaling.BlinkerSignalWrapper``
objects that its dependency injection creates lazily, inside a private blinker
``Namespace`` per provider instance. To see every emission, whatever provider
instance sent it and from the first signal on, the adapter wraps the two
sending methods of that class (``send`` and ``send_chained``, the latter used
by ``emit_chained``) once per process; the wrapper hands each emission to the
taps and then sends exactly as before, so receivers and return values are
unchanged. Payloads are recorded as they are (DataFrames included): the
catalog of spark-kindling says ``json_payloads: false``.

Importing this module imports no ``kindling``; the patch is applied when a
tap is first added.

spark-kindling keeps its declarations in process-wide objects (the
singletons of its dependency injection, class-level registries, its config
service, the receivers of its signals) and can't initialise twice in one
process. :class:`SparkKindlingState` snapshots all of that and puts it back,
which is how one test's entities, pipes, signal handlers and config stay out
of the next test's.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import logging
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pytest_kindling_signals.catalog import CATALOGS_DIR, QUICK_REFERENCE_PATH
from pytest_kindling_signals.frameworks.emission import Emission
from pytest_kindling_signals.frameworks.base import Framework, FrameworkError

__all__ = ["CATALOG_PATH", "ALIASES_PATH", "SparkKindling", "SparkKindlingReset", "SparkKindlingState",
           "SparkKindlingTaps"]

logger = logging.getLogger("pytest_kindling_signals.frameworks.spark_kindling.adapter")

CATALOG_PATH = CATALOGS_DIR / "spark_kindling_0.14.yaml"
ALIASES_PATH = CATALOGS_DIR / "spark_kindling_aliases.yaml"

Tap = Callable[[Emission], None]


class _Hub:
    """The process-wide taps on spark-kindling's signals, and the patch that feeds them."""

    taps: tuple[Tap, ...] = ()
    lock = threading.Lock()
    patched = False
    errors: deque[tuple[str, BaseException]] = deque(maxlen=1000)
    error_count = 0


def _deliver(name: str, sender: Any, payload: dict[str, Any]) -> None:
    taps = _Hub.taps
    if not taps:
        return
    thread = threading.current_thread()
    emission = Emission(name, sender, payload, thread.name, thread.ident or 0, time.time())
    for tap in taps:
        try:
            tap(emission)
        except Exception as exc:  # a tap must never break spark-kindling's operation
            with _Hub.lock:
                _Hub.errors.append((name, exc))
                _Hub.error_count += 1
            logger.error("kindling-signals tap %r failed on %r: %s", tap, name, exc, exc_info=exc)


def _signal_name(wrapper: Any) -> str:
    return str(getattr(getattr(wrapper, "_signal", None), "name", None) or "<unnamed signal>")


def _patch() -> None:
    """Wrap ``BlinkerSignalWrapper.send`` / ``send_chained`` once per process."""
    with _Hub.lock:
        if _Hub.patched:
            return
        # spark-kindling's module (imported by name: this plugin type-checks without it)
        signaling: Any = importlib.import_module("kindling.signaling")
        cls = signaling.BlinkerSignalWrapper
        original_send = cls.send
        original_chained = getattr(cls, "send_chained", None)

        @functools.wraps(original_send)
        def send(self: Any, sender: Any, **kwargs: Any) -> Any:
            if _Hub.taps and not getattr(self._signal, "is_muted", False):
                _deliver(_signal_name(self), sender, dict(kwargs))
            return original_send(self, sender, **kwargs)

        cls.send = send
        if original_chained is not None:
            @functools.wraps(original_chained)
            def send_chained(self: Any, sender: Any, chain_key: str, accept: Callable[[Any], bool],
                             **kwargs: Any) -> Any:
                if _Hub.taps and not getattr(self._signal, "is_muted", False):
                    _deliver(_signal_name(self), sender, dict(kwargs))
                return original_chained(self, sender, chain_key, accept, **kwargs)

            cls.send_chained = send_chained
        _Hub.patched = True


def add_global_tap(tap: Tap) -> Callable[[], None]:
    """See every emission of spark-kindling in this process; returns a remover."""
    _patch()
    with _Hub.lock:
        _Hub.taps = _Hub.taps + (tap,)

    def remove() -> None:
        with _Hub.lock:
            _Hub.taps = tuple(t for t in _Hub.taps if t is not tap)

    return remove


class SparkKindlingTaps:
    """What ``signal_provider`` is under spark-kindling: every provider instance at once.

    spark-kindling's providers are made by its dependency injection, so a
    test can't hand them one of its own; a tap added here sees the
    emissions of all of them. ``errors`` holds failures of taps (a recorder
    that raised); spark-kindling's own receivers raise into the code that
    emitted, as spark-kindling decides.
    """

    name = "spark-kindling"

    def __init__(self) -> None:
        self._first_error = _Hub.error_count

    def add_tap(self, tap: Tap) -> Callable[[], None]:
        return add_global_tap(tap)

    @property
    def error_count(self) -> int:
        return _Hub.error_count - self._first_error

    @property
    def errors(self) -> list[Any]:
        return list(_Hub.errors)[-self.error_count:] if self.error_count else []

    def clear_errors(self) -> None:
        self._first_error = _Hub.error_count

    def signal(self, name: str) -> Any:
        """spark-kindling's signal ``name`` (made on first use), from its injected provider."""
        injection: Any = importlib.import_module("kindling.injection")
        signaling: Any = importlib.import_module("kindling.signaling")
        provider = injection.GlobalInjector.get(signaling.SignalProvider)
        return provider.get_signal(name) or provider.create_signal(name)

    def connect(self, name: str, receiver: Callable[..., Any], *, weak: bool = True) -> Callable[..., Any]:
        """Connect ``receiver(sender, **payload)`` to spark-kindling's signal ``name``; in a
        test, it is disconnected after the test (:meth:`SparkKindling.isolation`)."""
        self.signal(name).connect(receiver, weak=weak)
        return receiver

    def __repr__(self) -> str:
        return "<SparkKindlingTaps: every spark-kindling provider>"


class SparkKindling(Framework):
    """spark-kindling from PyPI: its own names (``before_*``/``after_*``), its own catalog."""

    name = "spark-kindling"
    distribution = "spark-kindling"

    def catalog_paths(self) -> list[Path]:
        return [CATALOG_PATH]

    def add_global_tap(self, tap: Tap) -> Callable[[], None]:
        return add_global_tap(tap)

    @contextmanager
    def test_provider(self) -> Iterator[SparkKindlingTaps]:
        yield SparkKindlingTaps()

    def isolation(self) -> contextlib.AbstractContextManager[None]:
        """Nothing around every test: the ``spark_kindling`` plugin resets spark-kindling's state
        (:class:`SparkKindlingReset`) around the tests that use one of the plugin's fixtures or
        markers, and leaves the others alone (a test that touches no fixture costs nothing)."""
        return contextlib.nullcontext()

    def conformance_paths(self) -> tuple[Path, Path] | None:
        return (QUICK_REFERENCE_PATH, ALIASES_PATH)

    def declare_entity(self, entity_id: str, *, schema: Any, merge_columns: Sequence[str] = (),
                       partition_columns: Sequence[str] = (), tags: Mapping[str, str] | None = None) -> Any:
        module = importlib.import_module("kindling.data_entities")
        module.DataEntities.entity(entityid=entity_id, name=entity_id.replace(".", "_"),
                                   merge_columns=list(merge_columns), partition_columns=list(partition_columns),
                                   tags={"provider_type": "delta", **(tags or {})}, schema=schema)
        # spark-kindling's DataEntities.entity returns no definition: the registry has it
        injector = importlib.import_module("kindling.injection").GlobalInjector
        return injector.get(module.DataEntityRegistry).get_entity_definition(entity_id)

    def declare_pipe(self, pipe_id: str, function: Callable[..., Any], *, input_entity_ids: Sequence[str],
                     output_entity_id: str, name: str | None = None,
                     tags: Mapping[str, str] | None = None) -> Any:
        pipes = importlib.import_module("kindling.data_pipes").DataPipes
        return pipes.pipe(pipeid=pipe_id, name=name or pipe_id, tags=dict(tags or {}),
                          input_entity_ids=list(input_entity_ids), output_entity_id=output_entity_id,
                          output_type="table")(function)

    def table_path(self, entity_id: str) -> str:
        """Where spark-kindling's ``EntityPathLocator`` puts the entity's table (needs an initialised
        spark-kindling: the ``spark_kindling`` fixture)."""
        injector = importlib.import_module("kindling.injection").GlobalInjector
        entities = importlib.import_module("kindling.data_entities")
        definition = injector.get(entities.DataEntityRegistry).get_entity_definition(entity_id)
        if definition is None:
            raise FrameworkError(f"no entity {entity_id!r} is declared; declare it first "
                                 "(DataEntities.entity(entityid=...))")
        return str(injector.get(entities.EntityPathLocator).get_table_path(definition))


# -- one test's declarations out of the next test's ------------------------------

#: Where spark-kindling keeps state outside its injector's singletons: (module,
#: class or "" for the module itself, attributes). Modules not imported yet hold nothing.
_CLASS_STATE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("kindling", "", ("_active_engine_extension",)),
    ("kindling.data_entities", "DataEntities", ("deregistry",)),
    ("kindling.data_pipes", "DataPipes", ("dpregistry", "ids")),
    ("kindling.file_ingestion", "FileIngestionEntries", ("deregistry",)),
    ("kindling.signaling", "DataSignals", ("_signal_provider", "_handlers", "_dispatcher_funcs", "_executor")),
    ("kindling.entity_provider_delta", "DeltaMergeStrategies", ("_registry",)),
    ("kindling.surrogate_keys", "SurrogateKeyGenerators", ("_registry",)),
    ("kindling.notebook_framework", "NotebookPackages", ("registry",)),
    ("kindling.notebook_framework", "PlatformServices", ("registry",)),
)
#: Class attributes whose value is an object that gains attributes (``DataPipes.ids.<pipe>``).
_NAMESPACE_STATE = (("kindling.data_pipes", "DataPipes", "ids"),)

_CONTAINERS = (dict, list, set)


def _structure(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """A copy of the containers in ``value`` (dicts, lists, sets, nested), sharing every other object."""
    if not isinstance(value, _CONTAINERS):
        return value
    memo = {} if memo is None else memo
    if id(value) in memo:
        return memo[id(value)]
    try:
        made: Any = copy.copy(value)  # keeps the container's class (blinker's Namespace is a dict)
    except Exception:  # a container that can't be copied is kept as it is, not restored
        return value
    memo[id(value)] = made
    if isinstance(made, dict):
        for key, item in made.items():
            made[key] = _structure(item, memo)
    elif isinstance(made, list):
        made[:] = [_structure(item, memo) for item in made]
    return made


def _same(live: Any, saved: Any) -> bool:
    """``live == saved``, in C for containers (identical items are equal without their ``__eq__``);
    an item whose ``__eq__`` can't answer (a pyspark Column) counts as changed."""
    try:
        return bool(live == saved)
    except Exception:
        return False


def _put_back(live: Any, saved: Any) -> None:
    """Make the container ``live`` hold what ``saved`` held, keeping ``live``'s identity; a dict's
    entries are put back one by one, so the cost is that of what changed, not of the whole dict."""
    if saved is live:  # it could not be copied
        return
    if isinstance(live, dict) and isinstance(saved, dict):
        for key in [k for k in live if k not in saved]:
            del live[key]
        get = live.get
        for key, value in saved.items():
            current = get(key, _MISSING)
            if current is value:
                continue
            if current is not _MISSING:
                try:
                    if current == value:  # a nested container against its copy: compared in C
                        continue
                except Exception:  # an __eq__ that can't answer: put the saved value back
                    pass
            live[key] = _structure(value)
    elif isinstance(live, list):
        live[:] = _structure(saved)
    elif isinstance(live, set):
        live.clear()
        live.update(saved)


class _Slots:
    """Attributes of one object, class or module: each value, and the contents of containers."""

    def __init__(self, owner: Any, names: tuple[str, ...] | None = None) -> None:
        self.owner = owner
        self.every = names is None  # every instance attribute: ones added later are removed
        found = vars(owner) if names is None else {n: getattr(owner, n) for n in names if hasattr(owner, n)}
        self.values = dict(found)
        self.contents = {n: _structure(v) for n, v in found.items() if isinstance(v, _CONTAINERS)}

    def _live(self) -> dict[str, Any]:
        if self.every:
            return vars(self.owner)  # type: ignore[no-any-return]
        return {n: getattr(self.owner, n, _MISSING) for n in self.values}

    def matches(self) -> bool:
        """Whether the owner holds what was captured: the same values, containers with the same
        contents. Compared in C (``==`` on dicts and lists tells identical items equal without
        calling their ``__eq__``), so an unchanged registry of hundreds costs microseconds."""
        try:
            return bool(self._live() == self.values and all(
                self.values[n] == saved for n, saved in self.contents.items()))
        except Exception:  # an item whose __eq__ can't say (a pyspark Column): treat as changed
            return False

    def restore(self) -> bool:
        """Put back what differs; returns whether anything did."""
        if self.matches():
            return False
        if self.every:
            for name in set(vars(self.owner)) - set(self.values):
                delattr(self.owner, name)
        for name, value in self.values.items():
            if getattr(self.owner, name, _MISSING) is not value:
                setattr(self.owner, name, value)
            if name in self.contents:
                try:
                    same = value == self.contents[name]
                except Exception:
                    same = False
                if not same:
                    _put_back(value, self.contents[name])
        return True


_MISSING = object()


def _receiver(ref: Any) -> Any:
    """A blinker receiver entry: the callable, or the weak reference to it."""
    return ref() if isinstance(ref, weakref.ref) else ref


class SparkKindlingState:
    """spark-kindling's in-process state at one moment, to put back later.

    What a test may change and the next test must not see: the singletons of
    its dependency injection (the entity and pipe registries, the entity
    providers, the signal provider...) and the bindings, the class-level
    registries (``DataEntities``, ``DataPipes``, ``FileIngestionEntries``,
    ``DataSignals``' handlers, merge strategies, surrogate-key generators),
    the receivers connected to its signals (``DataSignals`` handlers, a
    registered ``WatermarkAspect``, ``signal_provider.connect``) and the
    config service's values. :meth:`restore` puts the captured objects back
    (containers are refilled in place, so whoever holds them sees the
    restore), drops singletons made since (the next ``GlobalInjector.get``
    makes fresh ones) and disconnects receivers connected since::

        state = SparkKindlingState.capture()
        DataEntities.entity(entityid="bronze.orders", ...)
        state.restore()          # "bronze.orders" is no longer registered

    Nothing outside the process is touched: tables, files and the Spark
    session stay as they are. Capturing imports no module of spark-kindling;
    what isn't imported holds no state.
    """

    def __init__(self) -> None:
        self._main_had_injector = False
        self._injector: Any = None
        self._modules: tuple[bool, ...] = ()
        self._slots: list[_Slots] = []
        self._receivers: list[tuple[Any, frozenset[Any]]] = []
        self._configs: list[_Config] = []
        self._executor: Any = None

    @classmethod
    def capture(cls) -> SparkKindlingState:
        state = cls()
        modules = sys.modules
        state._modules = _imported()
        for module_name, class_name, names in _CLASS_STATE:
            module = modules.get(module_name)
            owner = getattr(module, class_name, None) if class_name else module
            if owner is not None:
                state._slots.append(_Slots(owner, names))
        for module_name, class_name, name in _NAMESPACE_STATE:
            owner = getattr(modules.get(module_name), class_name, None)
            namespace = getattr(owner, name, None)
            if namespace is not None:
                state._slots.append(_Slots(namespace))
        signals = modules.get("kindling.signaling")
        if signals is not None:
            state._executor = signals.DataSignals._executor
        if "kindling.injection" not in modules:
            return state
        import __main__

        state._main_had_injector = hasattr(__main__, "_global_injector_instance")
        if not state._main_had_injector:
            return state
        injector = state._injector = __main__._global_injector_instance
        state._slots += [_Slots(injector), _Slots(injector.binder)]
        scope = _singleton_scope(injector)
        if scope is None:
            return state
        state._slots.append(_Slots(scope))
        seen: set[int] = set()
        for provider in list(scope._context.values()):
            instance = getattr(provider, "_instance", None)
            if instance is None or id(instance) in seen or not hasattr(instance, "__dict__"):
                continue
            seen.add(id(instance))
            state._slots.append(_Slots(instance))
            namespace = getattr(instance, "_namespace", None)
            if isinstance(namespace, dict):  # a BlinkerSignalProvider: its signals' receivers
                for signal in namespace.values():
                    state._receivers.append((signal, frozenset(getattr(signal, "receivers", {}))))
            config = getattr(instance, "dynaconf", None)
            if callable(getattr(config, "as_dict", None)):
                state._configs.append(_Config(config))
        return state

    def matches(self) -> bool:
        """Whether spark-kindling's state is still what was captured (a cheap check: see :class:`_Slots`)."""
        import __main__

        if _imported() != self._modules:
            return False
        if getattr(__main__, "_global_injector_instance", None) is not self._injector:
            return False
        signals = sys.modules.get("kindling.signaling")
        if signals is not None and signals.DataSignals._executor is not self._executor:
            return False
        return (all(frozenset(getattr(signal, "receivers", {})) == receivers for signal, receivers in self._receivers)
                and all(config.matches() for config in self._configs)
                and all(slots.matches() for slots in self._slots))

    def restore(self) -> int:
        """Put the captured state back (see the class docstring for what that covers); returns how
        many objects had changed. What didn't change is compared, not copied."""
        import __main__

        restored = 0
        if self._main_had_injector:  # back even if the test called kindling.reset()
            if getattr(__main__, "_global_injector_instance", None) is not self._injector:
                __main__._global_injector_instance = self._injector
                restored += 1
        signals = sys.modules.get("kindling.signaling")
        executor = getattr(getattr(signals, "DataSignals", None), "_executor", None)
        if executor is not None and executor is not self._executor:
            executor.shutdown(wait=True)  # async handlers started by the test finish within it
        for signal, receivers in self._receivers:
            added = set(getattr(signal, "receivers", {})) - receivers
            for receiver_id in added:
                receiver = _receiver(signal.receivers.get(receiver_id))
                if receiver is not None:
                    signal.disconnect(receiver)
            restored += bool(added)
        for config in self._configs:
            restored += config.restore()
        for slots in self._slots:
            restored += slots.restore()
        return restored


class SparkKindlingReset:
    """The per-test reset: spark-kindling's state before a test, put back after it.

    The snapshot is kept between tests: after a reset the state *is* the
    snapshot, so the next test only checks that nothing moved in between (a
    session or module fixture that declared, a test the reset left alone) and
    takes a new snapshot only then. A test costs that check and the put-back of
    what it changed, not a copy of everything the project declared::

        with SparkKindlingReset.isolated():
            DataEntities.entity(entityid="bronze.orders", ...)
        # "bronze.orders" is no longer registered
    """

    _baseline: SparkKindlingState | None = None
    _lock = threading.Lock()
    #: snapshots taken and tests reset in this process (for the bench and the tests)
    captures = 0
    resets = 0

    @classmethod
    def baseline(cls) -> SparkKindlingState:
        """The state as it is now: the kept snapshot when nothing moved since, else a new one."""
        with cls._lock:
            if cls._baseline is None or not cls._baseline.matches():
                cls._baseline = SparkKindlingState.capture()
                cls.captures += 1
            return cls._baseline

    @classmethod
    @contextmanager
    def isolated(cls) -> Iterator[SparkKindlingState]:
        state = cls.baseline()
        try:
            yield state
        finally:
            with cls._lock:
                state.restore()
                cls.resets += 1


def _imported() -> tuple[bool, ...]:
    """Which of the modules that hold spark-kindling's state are imported (one that is imported
    later holds state the capture didn't see)."""
    modules = sys.modules
    return (*(name in modules for name, _, _ in _CLASS_STATE), "kindling.injection" in modules)


class _Config:
    """The values of one config service (its Dynaconf): put back through its own ``set``/``unset``."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.values = _config_copy(config)
        self.store = _store(config)
        self.saved = _plain(self.store) if self.store is not None else None

    def matches(self) -> bool:
        store = _store(self.config)
        if store is None or self.saved is None:
            return _same(self.config.as_dict(), self.values)
        try:  # Dynaconf's own store compared in C (as_dict() rebuilds every value: 100x slower)
            return store is self.store and dict.__eq__(store, self.saved) is True
        except Exception:
            return False

    def restore(self) -> bool:
        if self.matches():
            return False
        store, saved = _store(self.config), self.saved
        if store is None or store is not self.store or saved is None:
            _restore_config(self.config, self.values)
            return True
        changed = _changed_keys(store, saved)
        if any(k in saved and k not in self.values for k in changed):
            _restore_config(self.config, self.values)
            return True
        for key in changed:  # only the sections that changed go through Dynaconf
            if key not in saved:
                self.config.unset(key)
            else:
                _set_config(self.config, key, self.values[key])
        return True


def _changed_keys(live: dict[str, Any], saved: dict[str, Any]) -> list[str]:
    try:  # one comparison per section, in C; an __eq__ that can't answer: the slow way
        return [k for k in live.keys() | saved.keys() if live.get(k, _MISSING) != saved.get(k, _MISSING)]
    except Exception:
        return [k for k in live.keys() | saved.keys() if not _same(live.get(k, _MISSING), saved.get(k, _MISSING))]


def _store(config: Any) -> dict[str, Any] | None:
    store = getattr(getattr(config, "_wrapped", None), "store", None)
    return store if isinstance(store, dict) else None


def _plain(value: Any) -> Any:
    """Dicts and lists (Dynaconf's subclasses too) as plain ones, other values shared."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _singleton_scope(injector: Any) -> Any:
    try:
        scope_class = importlib.import_module("injector").SingletonScope
        binding, _ = injector.binder.get_binding(scope_class)
        scope = binding.provider.get(injector)
    except Exception:  # an injector version without these internals: no singletons to restore
        logger.debug("spark-kindling's injector has no singleton scope to snapshot", exc_info=True)
        return None
    return scope if isinstance(getattr(scope, "_context", None), dict) else None


def _config_copy(config: Any) -> dict[str, Any]:
    values: dict[str, Any] = config.as_dict()
    try:
        return copy.deepcopy(values)
    except Exception:  # a value that can't be copied is compared and put back as it is
        return dict(values)


def _restore_config(config: Any, values: dict[str, Any]) -> None:
    current = config.as_dict()
    for key in set(current) - set(values):
        config.unset(key)
    for key, value in values.items():
        if key not in current or not _same(current[key], value):
            _set_config(config, key, value)


def _set_config(config: Any, key: str, value: Any) -> None:
    try:  # replace, don't merge: a key the test added under a section goes too
        config.set(key, copy.deepcopy(value), merge=False)
    except TypeError:  # a Dynaconf without merge=
        config.set(key, copy.deepcopy(value))

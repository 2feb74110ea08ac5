"""Root conftest: the plugin itself comes from the installed distribution's
``pytest11`` entry point, as it does for every Kindling user, so there is
nothing to register here. Spark tests share one session (the ``spark``
fixture) and are marked ``spark`` automatically."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

# The coverage report (`--kindling-signals`) counts signals fired by real
# operations. These tests exercise the signalling machinery itself: they send
# hand-made, often deliberately broken, payloads (or assert that nothing
# observes a signal, which the report's tap would contradict), so the report
# leaves them out rather than count their synthetic emissions as coverage.
SYNTHETIC_SIGNAL_TESTS = (
    "tests/test_signaling.py",
    "tests/test_sampling.py",
    "tests/test_docs.py",
    "tests/plugin/",
    "tests/report/",
    "tests/strategies/",
    # a user's own provider (the `archive` catalog of the test) wrapped in spans
    "tests/contract/test_tracing.py::test_tracing_is_off_by_default",
    "tests/contract/test_tracing.py::test_tracing_wraps_each_operation_in_a_span",
    "tests/contract/test_tracing.py::test_nested_operations_give_nested_spans",
    "tests/contract/test_tracing.py::test_a_failing_operation_fails_its_span",
    "tests/contract/test_tracing.py::test_enable_and_disable_tracing",
)


# No JVM, but real subprocesses: pip installs and wheel builds, pytest runs
# under xdist or in a fresh interpreter. `-m "not spark and not slow"` leaves
# the tests that run in seconds.
SUBPROCESS_TESTS = (
    "tests/contract/test_pip_manager.py",
    "tests/contract/test_bootstrap.py",
    "tests/contract/test_notebooks.py::test_build_package_makes_an_installable_wheel",
    "tests/contract/test_notebooks.py::test_the_docs_page_examples_run",
    "tests/contract/test_data_apps.py::test_install_deploys_installs_dependencies_and_runs_with_them",
    "tests/contract/test_data_apps.py::test_a_failed_dependency_install_keeps_the_previous_deployment",
    "tests/report/test_report_xdist.py",
    "tests/report/test_report_docs.py::test_the_github_actions_job",
    "tests/plugin/test_plugin_subprocess.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SYNTHETIC_SIGNAL_TESTS):
            item.add_marker(pytest.mark.kindling_signals_ignore)
        if item.nodeid.startswith(SUBPROCESS_TESTS):
            item.add_marker(pytest.mark.slow)
    # Run them first (they are fast, too): the shared Spark session stops, and
    # emits session.stopped, in the teardown of the last test, which must be
    # one whose emissions the report counts.
    items.sort(key=lambda item: not item.nodeid.startswith(SYNTHETIC_SIGNAL_TESTS))

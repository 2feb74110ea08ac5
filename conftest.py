"""Root conftest: the plugin comes from the installed distributions' ``pytest11`` entry
points, as it does for every Kindling user, so there is nothing to register here.

Each test module marks itself: ``kindling_signals_ignore`` for tests that send
synthetic signals, ``slow`` for tests that run real subprocesses, ``contract``
for provider contract tests; the plugin marks tests that use the ``spark``
fixture ``spark``.
"""

from __future__ import annotations

pytest_plugins = ["pytester"]

"""The framework's logger: standard ``logging`` loggers under the ``kindling`` namespace.

    >>> from kindling.spark_logger import SparkLoggerProvider
    >>> log = SparkLoggerProvider().get_logger("pipes")
    >>> log.name
    'kindling.pipes'

It emits no signals: the catalog lists ``SparkLoggerProvider`` among the
silent providers ("too simple, no state changes"). Configure output the usual
way (``logging.basicConfig``, handlers on the ``kindling`` logger).
"""

from __future__ import annotations

import logging

__all__ = ["SparkLoggerProvider"]


class SparkLoggerProvider:
    """Hands out loggers named ``<namespace>.<name>``.

    Signals Emitted: none (a silent provider in the catalog).
    """

    def __init__(self, namespace: str = "kindling") -> None:
        if not isinstance(namespace, str) or not namespace:
            raise ValueError(f"namespace={namespace!r} must be a non-empty str like 'kindling'")
        self.namespace = namespace

    def get_logger(self, name: str) -> logging.Logger:
        """The logger for ``name`` (already under the namespace if it starts with it)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"get_logger(name={name!r}): name must be a non-empty str like 'pipes'")
        if name == self.namespace or name.startswith(self.namespace + "."):
            return logging.getLogger(name)
        return logging.getLogger(f"{self.namespace}.{name}")

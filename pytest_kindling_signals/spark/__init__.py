"""The Spark engine a test session runs on: local, a master URL, Spark Connect, or a throwaway
standalone cluster or Connect server on 127.0.0.1 (``spark/cluster.py``, also ``python -m
pytest_kindling_signals.spark.cluster``).

The plugin owns the engine choice for every framework it serves; a framework only
says how its session is pointed at it.
"""

from __future__ import annotations

from pytest_kindling_signals.spark.class_sharing import ENV_CLASS_SHARING, ClassArchive, archive_key
from pytest_kindling_signals.spark.cluster import ClusterError, ClusterSpec, LocalCluster
from pytest_kindling_signals.spark.engine import (
    ENV_DRIVER_JAVA_OPTIONS,
    ENV_DRIVER_MEMORY,
    ENV_MASTER,
    ENV_REMOTE,
    ENV_TEMP_DIR,
    TEST_JAVA_OPTIONS,
    EngineError,
    SparkEngine,
    driver_java_options,
    driver_memory_mb,
    is_loopback_master,
)
from pytest_kindling_signals.spark.jars import ENV_JARS_DIR, JarCache, JarCacheError, delta_packages

__all__ = ["ENV_CLASS_SHARING", "ENV_DRIVER_JAVA_OPTIONS", "ENV_DRIVER_MEMORY", "ENV_JARS_DIR", "ENV_MASTER", "ENV_REMOTE",
           "ENV_TEMP_DIR", "TEST_JAVA_OPTIONS", "ClassArchive", "ClusterError", "ClusterSpec", "EngineError", "JarCache",
           "JarCacheError", "LocalCluster", "SparkEngine", "archive_key", "delta_packages", "driver_java_options", "driver_memory_mb", "is_loopback_master"]

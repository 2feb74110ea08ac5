"""The Spark engine a test session runs on: local, a master URL, Spark Connect, or a throwaway
standalone cluster or Connect server on 127.0.0.1 (``spark/cluster.py``, also ``python -m
pytest_kindling_signals.spark.cluster``).

The plugin owns the engine choice for every framework it serves; a framework only
says how its session is pointed at it.
"""

from __future__ import annotations

from pytest_kindling_signals.spark.cluster import ClusterError, ClusterSpec, LocalCluster
from pytest_kindling_signals.spark.engine import ENV_MASTER, ENV_REMOTE, EngineError, SparkEngine, is_loopback_master

__all__ = ["ENV_MASTER", "ENV_REMOTE", "ClusterError", "ClusterSpec", "EngineError", "LocalCluster", "SparkEngine",
           "is_loopback_master"]

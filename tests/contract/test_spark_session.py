"""session.* on the shared session: the created/stopped pair comes from the
session-scoped `spark` fixture itself; the subprocess lifecycle test in
tests/spark/test_session.py covers all three in a JVM of its own."""

from __future__ import annotations

import pytest

from kindling.spark_session import get_spark_session_provider

pytestmark = pytest.mark.contract


def test_changing_a_runtime_setting_emits_config_changed_with_the_old_value(spark, signal_recorder):
    provider = get_spark_session_provider()
    key = "spark.sql.shuffle.partitions"
    before = spark.conf.get(key)
    wanted = str(int(before) + 1)
    try:
        assert provider.set_config({key: wanted}) == {key: wanted}
        assert spark.conf.get(key) == wanted
        assert provider.set_config({key: wanted}) == {}  # unchanged: nothing to report
    finally:
        provider.set_config({key: before})

    changed = signal_recorder.of("session.config_changed")
    assert [r["changed_configs"] for r in changed] == [{key: wanted}, {key: before}]
    assert [r["old_values"] for r in changed] == [{key: before}, {key: wanted}]
    signal_recorder.assert_contract()


def test_the_old_value_of_a_setting_never_set_is_sparks_default(spark, signal_recorder):
    """What the session was using: a key this session never set reports Spark's default as its old
    value, not None (a Connect server that never set spark.sql.shuffle.partitions reported None)."""
    provider = get_spark_session_provider()
    key = "spark.sql.caseSensitive"  # Kindling sets no such key: Spark's default, false, is in use
    spark.conf.unset(key)
    try:
        assert provider.set_config({key: "true"}) == {key: "true"}
    finally:
        spark.conf.unset(key)
    (changed,) = signal_recorder.of("session.config_changed")
    assert changed["old_values"] == {key: "false"}
    assert provider.set_config({"kindling.test.never_set": "x"}) == {"kindling.test.never_set": "x"}
    spark.conf.unset("kindling.test.never_set")
    assert signal_recorder.of("session.config_changed")[-1]["old_values"] == {"kindling.test.never_set": None}
    signal_recorder.assert_contract()


def test_a_static_setting_is_refused_with_the_key_and_the_fix(spark, signal_recorder):
    provider = get_spark_session_provider()
    with pytest.raises(ValueError, match=r"spark\.driver\.memory.*SparkConfig\(settings=\.\.\.\)"):
        provider.set_config({"spark.driver.memory": "8g"})
    signal_recorder.assert_not_emitted("session.config_changed")

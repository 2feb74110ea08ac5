"""spark-kindling's config service on standalone: a hot reload, announced by the only
``pre_``/``post_`` signals it has."""

from kindling.spark_config import ConfigService


def test_a_config_reload_is_announced_before_and_after(spark_kindling, signal_recorder):
    config = spark_kindling.get(ConfigService)

    result = config.reload()

    assert result["status"] != "failed", result
    before = signal_recorder.assert_emitted_once("config.pre_reload")
    after = signal_recorder.assert_emitted_once("config.post_reload", version=result["version"])
    assert before.sender is after.sender is config
    assert "platform" in {key.lower() for key in after["new_config"]}
    signal_recorder.assert_contract()

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


def test_a_reload_from_a_settings_file_that_broke_fails_and_keeps_the_config(spark_kindling, signal_recorder,
                                                                              tmp_path):
    """The config service re-reads the settings files it was initialised with; one that has
    been corrupted on disk since fails the reload (``config.reload_failed``), and the values
    in force stay as they were."""
    config = spark_kindling.get(ConfigService)
    settings = tmp_path / "settings.yaml"
    settings.write_text("kindling:\n  owner: team-orders\n", encoding="utf-8")
    config.initialize(config_files=[str(settings)], initial_config=config.initial_config, environment="local")
    assert config.get("kindling.owner") == "team-orders"

    settings.write_text("kindling:\n  owner: [team-orders\n", encoding="utf-8")   # a truncated edit
    result = config.reload()

    assert result["status"] == "failed"
    failed = signal_recorder.assert_emitted_once("config.reload_failed")
    assert failed.sender is config and str(failed["error"]) in result["error"]
    assert config.get("kindling.owner") == "team-orders"
    signal_recorder.assert_not_emitted("config.post_reload")
    signal_recorder.assert_contract()

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eip.config import ConfigError, ServiceSettings, load_settings


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "demo"
    required_thing: str
    workers: int = Field(default=2, ge=1)


def test_missing_and_invalid_settings_are_named_by_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMO_WORKERS", "zero")
    monkeypatch.setenv("DEMO_HTTP_PORT", "70000")
    with pytest.raises(ConfigError) as info:
        load_settings(DemoSettings)
    text = str(info.value)
    assert "DEMO_REQUIRED_THING" in text
    assert "DEMO_WORKERS" in text
    assert "DEMO_HTTP_PORT" in text
    assert "zero" not in text  # rejected values are never echoed: they may be secrets


def test_infrastructure_settings_use_conventional_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_REQUIRED_THING", "x")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2hunter2@db/x")
    settings = load_settings(DemoSettings)
    assert settings.kafka_bootstrap_servers == "kafka-1:9092"
    assert settings.database_url.get_secret_value().endswith("@db/x")
    assert "hunter2" not in repr(settings)


def test_environment_overrides_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "demo.toml"
    config.write_text('required_thing = "from-file"\nworkers = 7\nhttp_port = 9001\n')
    monkeypatch.setenv("DEMO_CONFIG_FILE", str(config))
    monkeypatch.setenv("DEMO_WORKERS", "3")
    settings = load_settings(DemoSettings)
    assert settings.required_thing == "from-file"
    assert settings.workers == 3
    assert settings.http_port == 9001


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_CONFIG_FILE", "/nonexistent/demo.toml")
    with pytest.raises(ConfigError, match=r"/nonexistent/demo\.toml"):
        load_settings(DemoSettings)

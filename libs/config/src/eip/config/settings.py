"""Settings every service shares. Each service subclasses ServiceSettings with its own prefix.

Infrastructure endpoints use the conventional unprefixed names (KAFKA_BOOTSTRAP_SERVERS,
DATABASE_URL, VAULT_ADDR, VAULT_TOKEN) so that one environment serves every service and the
tests; service-specific settings take the service's prefix (MARKET_DATA_HTTP_PORT, ...).
A TOML file named by ``<PREFIX>CONFIG_FILE`` or ``EIP_CONFIG_FILE`` supplies defaults that the
environment overrides.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: ClassVar[str] = "service"

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    log_level: LogLevel = "INFO"

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS"),
        min_length=1,
    )
    database_url: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("DATABASE_URL"),
    )
    vault_addr: str = Field(default="", validation_alias=AliasChoices("VAULT_ADDR"))
    vault_token: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("VAULT_TOKEN"),
    )
    # How long a client waits for an infrastructure component before it reports it unreachable.
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    # PostgreSQL connections the service's pool may hold. Every request that writes the audit
    # chain holds one while it waits for the chain's lock, so a service answering bursts of
    # audited requests (auth's token endpoint) needs more than one that mostly reads.
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # WebSocket keep-alive of the HTTP server: a ping every interval, a client that does not
    # answer within the timeout is disconnected.
    ws_ping_interval_s: float = Field(default=20.0, gt=0)
    ws_ping_timeout_s: float = Field(default=60.0, gt=0)

    @classmethod
    def env_prefix(cls) -> str:
        return str(cls.model_config.get("env_prefix", ""))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file(cls.env_prefix())
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


class ProtectedServiceSettings(ServiceSettings):
    """Settings of a service whose API takes the auth service's tokens (every service but auth
    itself, which checks its own): where the auth service's public keys are and what a token
    must say. ``eip.runtime.service_app`` builds the service's verifier from them.
    ``<PREFIX>AUTH_JWKS_URL``, ``<PREFIX>AUTH_ISSUER``, ``<PREFIX>AUTH_AUDIENCE``."""

    auth_jwks_url: str = Field(
        default="http://127.0.0.1:8105/v1/.well-known/jwks.json", pattern=r"^https?://"
    )
    auth_issuer: str = Field(default="eip-auth", min_length=1)
    auth_audience: str = Field(default="eip", min_length=1)


def _config_file(prefix: str) -> Path | None:
    raw = os.environ.get(f"{prefix}CONFIG_FILE") or os.environ.get("EIP_CONFIG_FILE")
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file():
        # Raised as a ValueError so load_settings reports it like any other bad setting.
        raise ValueError(f"config file {path} (from {prefix}CONFIG_FILE/EIP_CONFIG_FILE) not found")
    return path


def describe(settings: ServiceSettings) -> dict[str, Any]:
    """Settings as a dict that is safe to log: secrets are masked by SecretStr."""
    return {k: str(v) if isinstance(v, SecretStr) else v for k, v in settings}

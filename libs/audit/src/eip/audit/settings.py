"""Settings of the audit commands, read the way every service reads its own (``eip.config``):
``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` unprefixed, the rest ``AUDIT_``-prefixed."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from eip.config import ServiceSettings


class AuditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "audit"

    # The chain's Kafka copy (the auth service's AUTH_AUDIT_TOPIC).
    topic: str = "audit.events.v1"

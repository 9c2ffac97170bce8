from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from eip.config import ServiceSettings


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "auth"

    http_port: int = Field(default=8105, ge=0, le=65535)

    # PostgreSQL schemas: the service's own tables, and the platform's audit chain.
    db_schema: str = Field(default="auth", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    audit_schema: str = Field(default="audit", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # Kafka topics (overridable so tests run on topics of their own).
    credentials_topic: str = "auth.credentials.v1"
    audit_topic: str = "audit.events.v1"

    # Vault: where exchange secrets live (KV v2, under the mount of the client) and the
    # Transit key that signs tokens. Both are inside the eip-auth-service policy.
    credentials_path: str = "exchange-credentials"
    jwt_key_name: str = Field(default="eip-auth-jwt", pattern=r"^eip-[a-z0-9-]+$")

    # Tokens.
    issuer: str = "eip-auth"
    audience: str = "eip"
    token_ttl_s: int = Field(default=300, ge=10, le=3600)
    # The first admin client, created (or its secret reset) at startup when the secret is set;
    # it creates every other client through POST /v1/clients.
    bootstrap_client_id: str = "eip-admin"
    bootstrap_client_secret: SecretStr = SecretStr("")

    # Failed authentications (bad client secret, bad token at introspection): `failure_limit`
    # within `failure_window_s` from one source lock it out until the oldest of them leaves the
    # window. Counted in PostgreSQL, shared by every instance. The table keeps at most
    # `failure_max_sources` sources (the oldest are evicted by the periodic cleanup).
    failure_limit: int = Field(default=5, ge=1)
    failure_window_s: float = Field(default=60.0, gt=0)
    failure_max_sources: int = Field(default=100_000, ge=1)
    failure_cleanup_interval_s: float = Field(default=60.0, gt=0)

    # Exchange endpoints the key validators call, by venue: unset, a venue's validator calls
    # its public API (the venue package's ``default_base_url``). Local deployments and tests
    # point the venues the simulator speaks at it. Every venue with a validator has a setting
    # here (a test holds the list to the registry's).
    binance_base_url: str | None = None
    kraken_base_url: str | None = None
    coinbase_base_url: str | None = None
    bitmex_base_url: str | None = None
    kucoin_base_url: str | None = None
    bitfinex_base_url: str | None = None
    htx_base_url: str | None = None
    bybit_base_url: str | None = None
    okx_base_url: str | None = None
    gateio_base_url: str | None = None
    exchange_timeout_s: float = Field(default=10.0, gt=0)

    # The hot paths' caches (eip.auth.caches): a credential's metadata (the signing path) and
    # a client's state (every token check) are read from PostgreSQL at most this often. The
    # instance that changes one evicts it at once, the others on the change's Kafka event; this
    # is how long an instance that missed the event (Kafka down) may still trust what it read,
    # e.g. sign with a credential another instance revoked.
    cache_ttl_s: float = Field(default=5.0, ge=0, le=300)
    # Signatures are audited in aggregate: one credential.sign event per credential, caller
    # and interval, appended by a background flusher (and at shutdown). A process killed
    # before a flush loses the counts of at most one interval.
    sign_audit_interval_s: float = Field(default=60.0, gt=0, le=3600)

    # Keys older than this (since creation or last rotation) raise an alert.
    max_key_age_days: float = Field(default=90.0, gt=0)
    expiry_check_interval_s: float = Field(default=3600.0, gt=0)

    def exchange_base_urls(self) -> dict[str, str]:
        """The endpoints this deployment sets, by venue id; the other venues' validators call
        their public APIs."""
        set_here = {
            "binance": self.binance_base_url,
            "kraken": self.kraken_base_url,
            "coinbase": self.coinbase_base_url,
            "bitmex": self.bitmex_base_url,
            "kucoin": self.kucoin_base_url,
            "bitfinex": self.bitfinex_base_url,
            "htx": self.htx_base_url,
            "bybit": self.bybit_base_url,
            "okx": self.okx_base_url,
            "gateio": self.gateio_base_url,
        }
        return {venue: url for venue, url in set_here.items() if url}

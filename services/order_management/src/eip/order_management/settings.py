from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from eip.config import ProtectedServiceSettings


class OrderManagementSettings(ProtectedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_MANAGEMENT_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "order-management"

    http_port: int = Field(default=8104, ge=0, le=65535)

    # PostgreSQL: the service's schema, and the platform audit chain it appends to.
    db_schema: str = Field(default="order_management", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    audit_schema: str = Field(default="audit", pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    # Topics (the registry's names; tests give unique copies).
    commands_topic: str = Field(default="orders.commands.v1", min_length=1)
    events_topic: str = Field(default="orders.events.v1", min_length=1)
    trades_topic: str = Field(default="md.trades.v1", min_length=1)
    tickers_topic: str = Field(default="md.tickers.v1", min_length=1)
    audit_topic: str = Field(default="audit.events.v1", min_length=1)
    # Consumer group of orders.commands.v1, shared by every instance: its partitions are the
    # units of ownership (each account's orders belong to the owner of its partition).
    group_id: str = Field(default="order-management", min_length=1)
    # This instance's name in the partition leases (default: host and a random suffix).
    instance_id: str = Field(default="", max_length=120)

    # The auth service: this service's token (client-credentials; scopes credentials:use and
    # books:read) and the signing of venue requests. Without a client secret no venue is
    # reached (the HTTP API still answers from storage and every order is denied).
    auth_url: str = Field(default="http://127.0.0.1:8105", pattern=r"^https?://")
    auth_client_id: str = Field(default="order-management", min_length=1)
    auth_client_secret: SecretStr = Field(default=SecretStr(""))
    # The order-book service's slippage estimates for market orders.
    order_book_url: str = Field(default="http://127.0.0.1:8102", pattern=r"^https?://")
    # exchange -> one host serving its REST and private stream instead of production (the
    # exchange simulator): ORDER_MANAGEMENT_EXCHANGE_URLS='{"binance":"http://127.0.0.1:8300"}'
    exchange_urls: dict[str, str] = Field(default_factory=dict)
    # Instrument rules (tick, lot, min/max, trading or halted) are read from the venue again
    # after this long, and at once after the venue refused an order as "market closed".
    rules_ttl_s: float = Field(default=300.0, gt=0)
    # The adapters' request time-out and private-stream staleness (seconds).
    venue_timeout_s: float = Field(default=10.0, gt=0, le=120)
    stream_stale_after_s: float = Field(default=30.0, gt=0)

    # Exactly once (docs/ORDER_MANAGEMENT.md): a claimed placement is sent within
    # send_deadline_s or given back; a placement whose outcome is unknown counts as absent only
    # when the venue does not know it AND in_doubt_horizon_s passed since its claim (at least
    # the deadline + the venue time-out + the venue's receive window).
    send_deadline_s: float = Field(default=2.0, gt=0)
    in_doubt_horizon_s: float = Field(default=30.0, gt=0)
    sender_batch: int = Field(default=100, ge=1, le=1000)
    max_in_flight: int = Field(default=64, ge=1, le=1000)
    retry_base_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)

    # Following orders: REST polls while a stream is stale, reconcile passes, LOST after N.
    poll_interval_s: float = Field(default=2.0, gt=0)
    reconcile_interval_s: float = Field(default=60.0, gt=0)
    lost_after: int = Field(default=3, ge=1)
    stream_idle_s: float = Field(default=300.0, gt=0)
    # An HTTP command for an account another instance owns goes through orders.commands.v1;
    # the caller waits this long for its result (then 202 with how to look it up).
    forward_wait_s: float = Field(default=10.0, gt=0, le=60)
    # POST /v1/orders?wait=ack waits at most this long for the venue's answer.
    ack_wait_s: float = Field(default=10.0, gt=0, le=60)
    # Risk limits and kill switches are read again this often (and on every change notice).
    risk_refresh_s: float = Field(default=5.0, gt=0)
    # Where pre-trade risk reads balances: the account service's account.balances.v1
    # ("account"), or the venue adapters' REST balances ("adapter": no account service).
    balance_source: Literal["account", "adapter"] = "account"
    balances_topic: str = Field(default="account.balances.v1", min_length=1)
    # How old the balances pre-trade risk reads may be (seconds): for "adapter", the REST read;
    # for "account", how long the topic's consumer may go without being caught up.
    balance_max_age_s: float = Field(default=5.0, gt=0)

    # Platform defaults of the risk limits (each changeable at run time per scope over HTTP).
    default_reference_max_age_s: Decimal = Field(default=Decimal(10), gt=0)
    default_confirm_ttl_s: int = Field(default=300, ge=1)
    default_four_eyes: bool = True

    @property
    def call_timeout_s(self) -> float:
        """A placement call, signing included, is cut off after this (in doubt then)."""
        return 2 * self.venue_timeout_s

    @model_validator(mode="after")
    def _horizon_covers_a_send(self) -> OrderManagementSettings:
        if self.in_doubt_horizon_s < self.send_deadline_s + self.call_timeout_s:
            raise ValueError(
                "in_doubt_horizon_s must be at least send_deadline_s + 2 x venue_timeout_s (the"
                " longest a placement call may take): a placement of a claim could otherwise"
                " reach the venue after it was called absent"
            )
        return self

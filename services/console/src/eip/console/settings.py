"""The console's settings (prefix ``CONSOLE_``): where each platform service answers, how long
a session lives, and how often the live pages follow the services."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eip.config import ProtectedServiceSettings

Url = str


class ConsoleSettings(ProtectedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "console"

    http_port: int = Field(default=8106, ge=0, le=65535)

    # The services' public HTTP APIs: the console's only way to the platform.
    auth_url: Url = Field(default="http://127.0.0.1:8105", pattern=r"^https?://")
    market_data_url: Url = Field(default="http://127.0.0.1:8101", pattern=r"^https?://")
    order_book_url: Url = Field(default="http://127.0.0.1:8102", pattern=r"^https?://")
    account_url: Url = Field(default="http://127.0.0.1:8103", pattern=r"^https?://")
    order_management_url: Url = Field(default="http://127.0.0.1:8104", pattern=r"^https?://")
    automation_url: Url = Field(default="http://127.0.0.1:8107", pattern=r"^https?://")
    # The venues the keys screen offers to connect a key at: among those the auth service
    # validates keys for (every registry venue with a key validator; docs/ADDING_A_VENUE.md).
    key_venues: list[str] = Field(default_factory=lambda: ["binance"], min_length=1)
    # Each call to a service gives up after this long (the page says which service is slow).
    request_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # An order command (place, cancel, confirm) may wait at order management for the instance
    # that owns the account (its FORWARD_WAIT_S, 10 s by default): it gets this long.
    order_timeout_s: float = Field(default=15.0, gt=0, le=120)

    # Sessions live in this process's memory (the console has no database of its own): a
    # session ends after this long without a request, and at the latest after max_age.
    session_idle_timeout_s: float = Field(default=1800.0, gt=0)
    session_max_age_s: float = Field(default=12 * 3600.0, gt=0)
    # The operator's token is renewed at the auth service this long before it expires.
    token_renew_before_s: float = Field(default=60.0, ge=0)
    # Sessions held at once; a login beyond it ends the least recently used one.
    max_sessions: int = Field(default=1000, ge=1)
    # The session cookie's Secure flag: on wherever the console is served over HTTPS (the
    # Kubernetes bases set it); off for http://127.0.0.1 of `make up`.
    cookie_secure: bool = False

    # How often the live pages' server side asks the services for news. Only changes reach the
    # browser (a book is pushed when its sequence moved, a table when its content changed).
    book_poll_interval_s: float = Field(default=0.1, ge=0.02, le=10)
    market_poll_interval_s: float = Field(default=1.0, ge=0.1, le=60)
    platform_poll_interval_s: float = Field(default=3.0, ge=0.5, le=300)
    orders_poll_interval_s: float = Field(default=1.0, ge=0.1, le=60)
    accounts_poll_interval_s: float = Field(default=5.0, ge=0.5, le=300)

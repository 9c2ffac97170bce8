"""Risk limits per scope — the platform, an exchange, an account, an instrument — changed at run
time over HTTP (``risk:admin``, audited) and stored in ``risk_limits``.

How scopes combine (``effective``): a cap (``max_*``, rates, daily budgets) is the smallest any
scope sets, so an account can be held tighter than the platform but never looser; a setting
(price band, slippage, reference age, confirmation, anomaly guard) is taken from the most specific
scope that sets it: instrument, then account, then exchange, then the platform. Unset means no
limit (or the documented default). Notional amounts are in the quote asset of the order's
instrument (set an instrument's own when its quote is not dollar-like, e.g. ETH/BTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Scope(StrEnum):
    PLATFORM = "platform"
    EXCHANGE = "exchange"
    ACCOUNT = "account"
    INSTRUMENT = "instrument"  # scope id "exchange:BASE/QUOTE"


class Limits(BaseModel):
    """What one scope sets; every field optional (None: not set by this scope)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_order_notional: Decimal | None = Field(default=None, gt=0)
    max_order_quantity: Decimal | None = Field(default=None, gt=0)
    max_open_orders: int | None = Field(default=None, ge=0)
    order_rate_per_s: Decimal | None = Field(default=None, gt=0)  # token bucket refill
    order_burst: int | None = Field(default=None, ge=1)  # token bucket size
    max_daily_notional: Decimal | None = Field(default=None, gt=0)
    max_daily_loss: Decimal | None = Field(default=None, gt=0)
    price_band_pct: Decimal | None = Field(default=None, gt=0, le=100)
    max_slippage_bps: Decimal | None = Field(default=None, ge=0)
    reference_max_age_s: Decimal | None = Field(default=None, gt=0)
    confirm_above_notional: Decimal | None = Field(default=None, gt=0)
    four_eyes: bool | None = None
    confirm_ttl_s: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    anomaly_guard: bool | None = None
    anomaly_warmup_orders: int | None = Field(default=None, ge=1)
    anomaly_size_factor: Decimal | None = Field(default=None, gt=1)
    anomaly_rate_factor: Decimal | None = Field(default=None, gt=1)
    anomaly_new_instruments: bool | None = None
    anomaly_new_sources: bool | None = None


CAPS = frozenset(
    {
        "max_order_notional",
        "max_order_quantity",
        "max_open_orders",
        "order_rate_per_s",
        "order_burst",
        "max_daily_notional",
        "max_daily_loss",
    }
)


@dataclass(frozen=True, slots=True)
class EffectiveLimits:
    max_order_notional: Decimal | None = None
    max_order_quantity: Decimal | None = None
    max_open_orders: int | None = None
    order_rate_per_s: Decimal | None = None
    order_burst: int | None = None
    max_daily_notional: Decimal | None = None
    max_daily_loss: Decimal | None = None
    price_band_pct: Decimal | None = None
    max_slippage_bps: Decimal | None = None
    reference_max_age_s: Decimal = Decimal(10)
    confirm_above_notional: Decimal | None = None
    four_eyes: bool = True
    confirm_ttl_s: int = 300
    anomaly_guard: bool = False
    anomaly_warmup_orders: int = 50
    anomaly_size_factor: Decimal = Decimal(20)
    anomaly_rate_factor: Decimal = Decimal(10)
    anomaly_new_instruments: bool = True
    anomaly_new_sources: bool = True


def scope_keys(exchange: str, account_id: str, symbol: str) -> list[tuple[Scope, str]]:
    """The scopes that apply to an order, most specific first."""
    return [
        (Scope.INSTRUMENT, f"{exchange}:{symbol}"),
        (Scope.ACCOUNT, account_id),
        (Scope.EXCHANGE, exchange),
        (Scope.PLATFORM, ""),
    ]


def effective(
    layers: Iterable[Limits | None], base: EffectiveLimits | None = None
) -> EffectiveLimits:
    """Combine scopes given most specific first over ``base`` (the service's defaults)."""
    out = base or EffectiveLimits()
    settings: dict[str, Any] = {}
    caps: dict[str, Any] = {}
    for layer in layers:
        if layer is None:
            continue
        for name, value in layer.model_dump(exclude_none=True).items():
            if name in CAPS:
                caps[name] = value if name not in caps else min(caps[name], value)
            else:
                settings.setdefault(name, value)
    for name in CAPS:
        default = getattr(out, name)
        if default is not None:
            caps[name] = default if name not in caps else min(caps[name], default)
    return replace(out, **settings, **caps)


def describe(limits: EffectiveLimits) -> dict[str, Any]:
    return {
        f.name: (str(v) if isinstance(v, Decimal) else v)
        for f in fields(limits)
        if (v := getattr(limits, f.name)) is not None
    }


def parse_layers(
    rows: Mapping[tuple[str, str], Mapping[str, Any]],
) -> dict[tuple[Scope, str], Limits]:
    return {(Scope(scope), scope_id): Limits(**data) for (scope, scope_id), data in rows.items()}

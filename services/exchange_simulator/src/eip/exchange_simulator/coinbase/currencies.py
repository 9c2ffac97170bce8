"""Currencies as Coinbase describes them: fiat or crypto, a name, an exponent, and exchange rates
against the US dollar — from the instruments the simulator lists, nothing else.

Rates are the last trade (or the mid) of a direct market against USD, or against USDT/USDC
taken at par with the dollar, or through BTC; a currency with no such market has no rate.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from eip.exchange_simulator.core.exchange import Exchange

FIAT = frozenset({"USD", "EUR", "GBP"})
DOLLARS = ("USD", "USDC", "USDT")  # taken at par with the dollar for rates
NAMES = {
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "SOL": "Solana",
    "USDT": "Tether",
    "USDC": "USDC",
    "USD": "US Dollar",
    "EUR": "Euro",
    "GBP": "British Pound",
}
_ASSET_IDS = uuid.UUID("5b71fc48-3dd3-540c-809b-f8c94d0e68b5")  # names the asset_id UUIDs


def name(code: str) -> str:
    return NAMES.get(code, code)


def is_fiat(code: str) -> bool:
    return code in FIAT


def exponent(code: str) -> int:
    return 2 if is_fiat(code) else 8


def asset_id(code: str) -> str:
    return str(uuid.uuid5(_ASSET_IDS, code))


def listed(exchange: Exchange) -> list[str]:
    """Every currency an instrument trades, sorted."""
    return sorted({a for i in exchange.instruments.values() for a in (i.base, i.quote)})


def _price(exchange: Exchange, base: str, quote: str) -> Decimal | None:
    for inst in exchange.instruments.values():
        if (inst.base, inst.quote) != (base, quote):
            continue
        engine = exchange.engine(inst.symbol)
        if engine.last_price is not None:
            return engine.last_price
        bid, ask = engine.book.bids.best(), engine.book.asks.best()
        if bid is not None and ask is not None:
            return (bid.price + ask.price) / 2
    return None


def in_dollars(exchange: Exchange, code: str) -> Decimal | None:
    if code in DOLLARS:
        return Decimal(1)
    for dollar in DOLLARS:
        price = _price(exchange, code, dollar)
        if price is not None:
            return price
    if code != "BTC":
        via_btc, btc = _price(exchange, code, "BTC"), in_dollars(exchange, "BTC")
        if via_btc is not None and btc is not None:
            return via_btc * btc
    return None


def rates(exchange: Exchange, currency: str) -> dict[str, Decimal]:
    """How much of each currency one unit of ``currency`` buys."""
    base = in_dollars(exchange, currency)
    if base is None:
        return {}
    out = {}
    for code in sorted({*listed(exchange), "USD", currency}):
        price = in_dollars(exchange, code)
        if price:
            out[code] = base / price
    return out

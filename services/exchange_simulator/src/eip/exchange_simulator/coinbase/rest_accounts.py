"""Coinbase balances and key details: Advanced Trade ``accounts`` (one per currency, with
``available_balance`` and ``hold``), ``transaction_summary`` (the fee tier), ``key_permissions``,
``portfolios``; and the Coinbase App API (``/v2``) that ccxt 4.5.90 calls by default —
``accounts`` (its ``fetch_balance``), ``currencies``, ``currencies/crypto``, ``exchange-rates``
(its ``load_markets``) and ``time``.

One simulator account is one Coinbase portfolio: every currency an instrument trades has an
account (wallet) in it, zero or not, plus any other currency the account holds. ``available``
is the core's free balance and ``hold`` its locked one, so a fill made through any dialect
shows here. Fiat (USD, EUR, GBP) accounts are ``ACCOUNT_TYPE_FIAT`` (v2: ``fiat``), the rest
``ACCOUNT_TYPE_CRYPTO`` (v2: ``wallet``); v2 has no hold, its ``balance`` is the total.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eip.exchange_simulator.coinbase import currencies, errors, wire
from eip.exchange_simulator.coinbase.orders import plain
from eip.exchange_simulator.coinbase.paging import page
from eip.exchange_simulator.coinbase.venue import CoinbaseVenue, Ctx
from eip.exchange_simulator.core.accounts import Account, Permission
from eip.exchange_simulator.core.decimals import fixed

ZERO = Decimal(0)
MONTH_MS = 30 * 24 * 3600 * 1000
RATE_QUANTUM = Decimal("1e-18")


def wallets(venue: CoinbaseVenue, account: Account) -> list[str]:
    """The account's currencies: every one an instrument trades, and any other it holds."""
    return sorted({*currencies.listed(venue.exchange), *account.balances})


def amount(code: str, value: Decimal) -> dict[str, str]:
    return {"value": fixed(value, currencies.exponent(code)), "currency": code}


def v3_account(venue: CoinbaseVenue, account: Account, code: str) -> dict[str, Any]:
    """One currency's account as Advanced Trade lists it."""
    ids = venue.ids
    balance = account.balances.get(code)
    free, held = (balance.free, balance.locked) if balance else (ZERO, ZERO)
    updated = wire.timestamp_us(account.updated_ms)
    return {
        "uuid": ids.account(account.account_id, code),
        "name": f"{code} Wallet",
        "currency": code,
        "available_balance": amount(code, free),
        "default": code == "USD",
        "active": True,
        "created_at": updated,
        "updated_at": updated,
        "deleted_at": None,
        "type": "ACCOUNT_TYPE_FIAT" if currencies.is_fiat(code) else "ACCOUNT_TYPE_CRYPTO",
        "ready": True,
        "hold": amount(code, held),
        "retail_portfolio_id": ids.portfolio(account.account_id),
        "platform": "ACCOUNT_PLATFORM_CONSUMER",
    }


def v2_currency(code: str) -> dict[str, Any]:
    fiat = currencies.is_fiat(code)
    return {
        "code": code,
        "name": currencies.name(code),
        "color": "#0052FF",
        "sort_index": 100,
        "exponent": currencies.exponent(code),
        "type": "fiat" if fiat else "crypto",
        "address_regex": "",
        "asset_id": currencies.asset_id(code),
        "slug": currencies.name(code).lower().replace(" ", "-"),
    }


def v2_account(venue: CoinbaseVenue, account: Account, code: str) -> dict[str, Any]:
    """One currency's account as the v2 API lists it (no hold: its balance is the total)."""
    ids = venue.ids
    balance = account.balances.get(code)
    total = balance.total if balance else ZERO
    uuid = ids.account(account.account_id, code)
    updated = wire.timestamp_s(account.updated_ms)
    return {
        "id": uuid,
        "name": f"{code} Wallet",
        "primary": code == "BTC",
        "type": "fiat" if currencies.is_fiat(code) else "wallet",
        "currency": v2_currency(code),
        "balance": {"amount": fixed(total, currencies.exponent(code)), "currency": code},
        "created_at": updated,
        "updated_at": updated,
        "resource": "account",
        "resource_path": f"/v2/accounts/{uuid}",
        "allow_deposits": True,
        "allow_withdrawals": True,
    }


def code_of(venue: CoinbaseVenue, account: Account, codes: list[str], uuid: str | None) -> Any:
    """The currency of the account ``uuid`` names (a cursor or ``starting_after``)."""
    if not uuid:
        return None
    for code in codes:
        if venue.ids.account(account.account_id, code) == uuid:
            return code
    raise errors.invalid("cursor is not one this API returned")


def accounts_router(venue: CoinbaseVenue) -> APIRouter:
    router = APIRouter(tags=["coinbase accounts"])
    ex, ids = venue.exchange, venue.ids

    # -- Advanced Trade ----------------------------------------------------------------------

    @router.get("/api/v3/brokerage/accounts")
    async def list_accounts(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            account = ex.accounts[ctx.account_id]
            limit = ctx.query_int("limit", 49, 1, 250)
            codes = wallets(venue, account)
            after = code_of(venue, account, codes, ctx.query("cursor"))
            found, last = page(codes, str, after, limit, descending=False)
            return {
                "accounts": [v3_account(venue, account, code) for code in found],
                "has_next": last is not None,
                "cursor": "" if last is None else ids.account(account.account_id, last),
                "size": len(found),
            }

        return await venue.call(request, handle, private=True)

    @router.get("/api/v3/brokerage/accounts/{account_uuid}")
    async def get_account(request: Request, account_uuid: str) -> Response:
        async def handle(ctx: Ctx) -> Any:
            account = ex.accounts[ctx.account_id]
            for code in wallets(venue, account):
                if ids.account(account.account_id, code) == account_uuid:
                    return {"account": v3_account(venue, account, code)}
            raise errors.not_found("account not found")

        return await venue.call(request, handle, private=True)

    @router.get("/api/v3/brokerage/transaction_summary")
    async def transaction_summary(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            account = ex.accounts[ctx.account_id]
            first = next(iter(ex.instruments.values()), None)
            maker = account.maker_fee if account.maker_fee is not None else None
            taker = account.taker_fee if account.taker_fee is not None else None
            maker = maker if maker is not None else (first.maker_fee if first else ZERO)
            taker = taker if taker is not None else (first.taker_fee if first else ZERO)
            volume = fees = ZERO
            since = ctx.now_ms - MONTH_MS
            for order in venue.orders.of_account(account.account_id):
                inst = ex.instruments[order.symbol]
                if inst.quote not in currencies.DOLLARS:
                    continue  # the summary is in dollars; other quotes are left out
                for fill in order.fills:
                    if fill.time_ms >= since:
                        volume += fill.qty * fill.price
                        fees += venue.orders.fee_in_quote(fill, inst)
            return {
                "total_volume": plain(volume),
                "total_fees": plain(fees),
                "fee_tier": {
                    "pricing_tier": "Advanced 1",
                    "usd_from": "0",
                    "usd_to": "10000",
                    "taker_fee_rate": plain(taker),
                    "maker_fee_rate": plain(maker),
                    "aop_from": "",
                    "aop_to": "",
                },
                "margin_rate": None,
                "goods_and_services_tax": None,
                "advanced_trade_only_volume": plain(volume),
                "advanced_trade_only_fees": plain(fees),
                "coinbase_pro_volume": "0",
                "coinbase_pro_fees": "0",
                "total_balance": "",
                "has_promo_fee": False,
            }

        return await venue.call(request, handle, private=True)

    @router.get("/api/v3/brokerage/key_permissions")
    async def key_permissions(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            assert ctx.key is not None
            perms = ctx.key.permissions
            return {
                "can_view": Permission.READ in perms,
                "can_trade": Permission.TRADE in perms,
                "can_transfer": Permission.WITHDRAW in perms,
                "portfolio_uuid": ids.portfolio(ctx.account_id),
                "portfolio_type": "DEFAULT",
            }

        return await venue.call(request, handle, private=True)

    @router.get("/api/v3/brokerage/portfolios")
    async def portfolios(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            portfolio = {
                "name": "Default",
                "uuid": ids.portfolio(ctx.account_id),
                "type": "DEFAULT",
                "deleted": False,
            }
            return {"portfolios": [portfolio]}

        return await venue.call(request, handle, private=True)

    @router.get("/api/v3/brokerage/time")
    async def v3_time(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return {
                "iso": wire.timestamp_s(ctx.now_ms),
                "epochSeconds": str(ctx.now_ms // 1000),
                "epochMillis": str(ctx.now_ms),
            }

        return await venue.call(request, handle)

    # -- the Coinbase App API (v2) -----------------------------------------------------------

    @router.get("/v2/accounts")
    async def v2_accounts(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            account = ex.accounts[ctx.account_id]
            limit = ctx.query_int("limit", 25, 1, 300)
            after = ctx.query("starting_after")
            codes = wallets(venue, account)
            found, last_code = page(
                codes, str, code_of(venue, account, codes, after), limit, descending=False
            )
            last = None if last_code is None else ids.account(account.account_id, last_code)
            next_uri = f"/v2/accounts?limit={limit}&starting_after={last}" if last else None
            return {
                "pagination": {
                    "ending_before": None,
                    "starting_after": after,
                    "previous_ending_before": None,
                    "next_starting_after": last,
                    "limit": limit,
                    "order": "desc",
                    "previous_uri": None,
                    "next_uri": next_uri,
                },
                "data": [v2_account(venue, account, code) for code in found],
            }

        return await venue.call(request, handle, private=True, api="v2")

    @router.get("/v2/accounts/{account_id}")
    async def v2_account_one(request: Request, account_id: str) -> Response:
        async def handle(ctx: Ctx) -> Any:
            account = ex.accounts[ctx.account_id]
            for code in wallets(venue, account):
                if account_id in (code, ids.account(account.account_id, code)):
                    return {"data": v2_account(venue, account, code)}
            raise errors.not_found("Not found")

        return await venue.call(request, handle, private=True, api="v2")

    @router.get("/v2/currencies")
    async def v2_fiat(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            fiat = sorted(currencies.FIAT)
            return {
                "data": [{"id": c, "name": currencies.name(c), "min_size": "0.01"} for c in fiat]
            }

        return await venue.call(request, handle, api="v2")

    @router.get("/v2/currencies/crypto")
    async def v2_crypto(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            crypto = [c for c in currencies.listed(ex) if not currencies.is_fiat(c)]
            return {"data": [v2_currency(c) for c in crypto]}

        return await venue.call(request, handle, api="v2")

    @router.get("/v2/exchange-rates")
    async def v2_rates(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            currency = (ctx.query("currency") or "USD").upper()
            rates = currencies.rates(ex, currency)
            if not rates:
                raise errors.invalid(f"Invalid currency {currency}")
            return {
                "data": {
                    "currency": currency,
                    "rates": {c: plain(r.quantize(RATE_QUANTUM)) for c, r in rates.items()},
                }
            }

        return await venue.call(request, handle, api="v2")

    @router.get("/v2/time")
    async def v2_time(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return {"data": {"iso": wire.timestamp_s(ctx.now_ms), "epoch": ctx.now_ms // 1000}}

        return await venue.call(request, handle, api="v2")

    return router

"""The account service's HTTP API (``/v1``): accounts and connections, balances valued in a
quote currency, portfolio, value history, allocation, PnL, trades, and charts of them.

Every route takes a token with ``accounts:read`` whose ``accounts`` claim covers the account
asked for (403 otherwise). Charts are drawn from the same functions' output as the JSON routes
(``eip.account.portfolio``), so a chart never shows a number the JSON would not.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from eip.account import __version__
from eip.account.charts import (
    MEDIA_TYPES,
    Format,
    allocation_chart,
    render,
    trades_chart,
    value_chart,
)
from eip.account.market_data import MarketDataUnavailable
from eip.account.pnl import Method
from eip.account.portfolio import (
    STEPS,
    PriceSeries,
    Step,
    allocation,
    balances_view,
    holdings_over_time,
    pnl_view,
    steps_between,
    value_history,
)
from eip.account.runtime import AccountRuntime, Topics
from eip.account.settings import AccountSettings
from eip.account.valuation import Rate
from eip.account.venues import AdapterFactory
from eip.observability.http import ApiError, error_body, error_responses
from eip.observability.inputs import Instant, Text
from eip.runtime import Needs, service_app
from eip.storage import DatabaseUnavailable
from eip.tokens import Claims, require_scope

AccountId = Annotated[Text, Path(min_length=1, max_length=64)]
Asset = Annotated[Text, Query(pattern=r"^[A-Z0-9]{1,16}$")]
ExchangeQ = Annotated[Text | None, Query(min_length=1, max_length=32)]
SymbolQ = Annotated[Text | None, Query(pattern=r"^[A-Z0-9]{1,16}[/-][A-Z0-9]{1,16}$")]
Reader = Annotated[Claims, Depends(require_scope("accounts:read"))]
MAX_POINTS = 2000
CHART = {
    200: {
        "description": "The chart",
        "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/svg+xml": {"schema": {"type": "string"}},
        },
    },
    **error_responses(404),
}


def build_app(
    settings: AccountSettings,
    *,
    adapters: AdapterFactory | None = None,
    topics: Topics | None = None,
    adapter_options: Mapping[str, Any] | None = None,
) -> FastAPI:
    """The service's app; tests pass their own topic copies, adapter options (a fast reconnect)
    or, for a scripted venue, their own adapter factory."""
    holder: list[AccountRuntime] = []

    async def migrated() -> None:
        if not holder[0].store.migrated:
            raise ConnectionError("the account schema is not migrated yet")

    app = service_app(settings, __version__, Needs(kafka=True, database=True), {"schema": migrated})
    rt = AccountRuntime(
        settings, app.state.deps, adapters=adapters, topics=topics, adapter_options=adapter_options
    )
    holder.append(rt)
    app.state.account = rt
    store, graph = rt.store, rt.graph

    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(a), rt.running():
            yield

    app.router.lifespan_context = lifespan

    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        # every route reads PostgreSQL: one answer for all of them (503, the platform body)
        body = error_body("database_unavailable", "PostgreSQL is not reachable; retry")
        return JSONResponse(body, 503)

    def allowed(claims: Claims, account_id: str) -> None:
        if not claims.may_use_account(account_id):
            raise ApiError(403, "forbidden", "token does not cover this account")

    async def known(claims: Claims, account_id: str) -> list[Any]:
        allowed(claims, account_id)
        connections = await store.connections([account_id])
        if not connections:
            raise ApiError(404, "unknown_account", "no exchange account is connected to it")
        return connections

    def quote_of(quote: str | None) -> str:
        return quote or settings.default_quote

    async def valued(
        account_id: str,
        quote: str,
        stable_par: bool,
        exchange: str | None = None,
        include_revoked: bool = False,
    ) -> dict[str, Any]:
        rows = await store.balances(
            [account_id], exchange=exchange, include_revoked=include_revoked
        )
        return balances_view(rows, graph, quote, stable_par=stable_par)

    @app.get("/v1/accounts", tags=["accounts"])
    async def list_accounts(claims: Reader) -> dict[str, Any]:
        """The accounts with a connected exchange account that the token covers."""
        ids = await store.account_ids()
        return {"accounts": [a for a in ids if claims.may_use_account(a)]}

    @app.get("/v1/accounts/{account_id}/access", tags=["accounts"])
    async def account_access(account_id: AccountId, claims: Reader) -> dict[str, Any]:
        """Whether the caller's token may read this account (``accounts:read`` and the account
        in its ``accounts`` claim): 403 otherwise."""
        allowed(claims, account_id)
        return {"account_id": account_id, "subject": claims.subject, "access": "read"}

    @app.get(
        "/v1/accounts/{account_id}/connections", tags=["accounts"], responses=error_responses(404)
    )
    async def connections(account_id: AccountId, claims: Reader) -> dict[str, Any]:
        """Each connected exchange credential: status (syncing, live, degraded with the reason,
        revoked), last balance update, last trade sync, permissions and IP restriction as the
        auth service reports them."""
        recs = await known(claims, account_id)
        return {"account_id": account_id, "connections": [r.public() for r in recs]}

    @app.get(
        "/v1/accounts/{account_id}/balances", tags=["balances"], responses=error_responses(404)
    )
    async def balances(
        account_id: AccountId,
        claims: Reader,
        quote: Asset | None = None,
        exchange: ExchangeQ = None,
        assume_stable_par: bool = False,
        include_revoked: bool = False,
    ) -> dict[str, Any]:
        """Free, locked and total per exchange, asset and wallet, and consolidated over
        exchanges, each valued in ``quote`` (default USD) with its route and price age; an
        asset without a fresh price is unvalued (``value: null``), never 0.
        ``assume_stable_par`` values a USD stablecoin without a market at 1:1 (route ``par``).
        """
        await known(claims, account_id)
        view = await valued(
            account_id, quote_of(quote), assume_stable_par, exchange, include_revoked
        )
        return {"account_id": account_id, **view}

    @app.get(
        "/v1/accounts/{account_id}/allocation", tags=["portfolio"], responses=error_responses(404)
    )
    async def allocation_route(
        account_id: AccountId,
        claims: Reader,
        quote: Asset | None = None,
        by: Literal["asset", "exchange"] = "asset",
        assume_stable_par: bool = False,
    ) -> dict[str, Any]:
        """Shares of the valued total by asset (wallets added up) or by exchange."""
        await known(claims, account_id)
        view = await valued(account_id, quote_of(quote), assume_stable_par)
        return {"account_id": account_id, **allocation(view, by)}

    async def pnl_of(
        account_id: str, quote: str, method: Method, stable_par: bool
    ) -> dict[str, Any]:
        fills = await store.fills([account_id])
        return pnl_view(fills, graph, quote, method, stable_par=stable_par)

    @app.get("/v1/accounts/{account_id}/pnl", tags=["portfolio"], responses=error_responses(404))
    async def pnl(
        account_id: AccountId,
        claims: Reader,
        quote: Asset | None = None,
        method: Literal["fifo", "average"] = "fifo",
        assume_stable_par: bool = False,
    ) -> dict[str, Any]:
        """Realized (FIFO or average cost) and unrealized PnL at current prices per instrument
        (in its quote asset), per asset and in total (in ``quote``), and fees paid — all
        recomputed from the stored trades."""
        await known(claims, account_id)
        return {
            "account_id": account_id,
            **await pnl_of(account_id, quote_of(quote), method, assume_stable_par),
        }

    @app.get(
        "/v1/accounts/{account_id}/portfolio", tags=["portfolio"], responses=error_responses(404)
    )
    async def portfolio(
        account_id: AccountId,
        claims: Reader,
        quote: Asset | None = None,
        method: Literal["fifo", "average"] = "fifo",
        assume_stable_par: bool = False,
    ) -> dict[str, Any]:
        """Value now, allocation by asset and by exchange, realized and unrealized PnL, fees."""
        recs = await known(claims, account_id)
        q = quote_of(quote)
        view = await valued(account_id, q, assume_stable_par)
        result = await pnl_of(account_id, q, method, assume_stable_par)
        return {
            "account_id": account_id,
            "quote": q,
            "total_value": view["total_value"],
            "unvalued_assets": view["unvalued_assets"],
            "by_asset": allocation(view, "asset")["entries"],
            "by_exchange": allocation(view, "exchange")["entries"],
            "pnl": {k: result[k] for k in ("method", "realized", "unrealized", "total")},
            "fees_value": result["fees_value"],
            "connections": [{"exchange": r.exchange, "status": r.state.value} for r in recs],
        }

    async def history_of(
        account_id: str, start: datetime, end: datetime, step: Step, quote: str, stable_par: bool
    ) -> dict[str, Any]:
        _check_span(start, end, step)
        moments = steps_between(start.astimezone(UTC), end.astimezone(UTC), step)
        points = await store.history([account_id], start, end)
        held = holdings_over_time(points, moments)
        assets = {a for h in held for a in h}
        routes = graph.rates(assets, quote, stable_par=stable_par)
        series: dict[tuple[str, str], PriceSeries] = {}
        for rate in routes.values():
            if not isinstance(rate, Rate):
                continue
            for leg in rate.legs:
                key = (leg.pair.exchange, leg.pair.symbol)
                if key in series:
                    continue
                try:
                    series[key] = await rt.market_data.closes(
                        key[0], key[1], step, start - STEPS[step], end
                    )
                except MarketDataUnavailable:
                    series[key] = PriceSeries([], [])
        return {
            "account_id": account_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "step": step,
            **value_history(held, moments, routes, series, quote),
        }

    @app.get(
        "/v1/accounts/{account_id}/portfolio/history",
        tags=["portfolio"],
        responses=error_responses(404),
    )
    async def history(
        account_id: AccountId,
        claims: Reader,
        start: Annotated[Instant, Query()],
        end: Annotated[Instant, Query()],
        step: Step = "1h",
        quote: Asset | None = None,
        assume_stable_par: bool = False,
    ) -> dict[str, Any]:
        """Portfolio value at each step in [start, end]: holdings from the balance history,
        each asset priced through today's route with the candle closes of that time (from the
        market-data service). A moment whose prices are missing names its unvalued assets."""
        await known(claims, account_id)
        return await history_of(account_id, start, end, step, quote_of(quote), assume_stable_par)

    @app.get("/v1/accounts/{account_id}/trades", tags=["trades"], responses=error_responses(404))
    async def trades(
        account_id: AccountId,
        claims: Reader,
        exchange: ExchangeQ = None,
        symbol: SymbolQ = None,
        side: Literal["buy", "sell"] | None = None,
        start: Annotated[Instant | None, Query()] = None,
        end: Annotated[Instant | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        cursor: Annotated[Text | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        """Own trades oldest first with fees and fee assets; ``next_cursor`` pages on (null on
        the last page)."""
        await known(claims, account_id)
        after = _decode_cursor(cursor) if cursor else None
        rows = await store.fills(
            [account_id],
            exchange=exchange,
            symbol=_symbol(symbol),
            side=side,
            start=start,
            end=end,
            after=after,
            limit=limit + 1,
        )
        page = rows[:limit]
        next_cursor = _encode_cursor(page[-1].time, page[-1].seq) if len(rows) > limit else None
        return {
            "account_id": account_id,
            "trades": [r.public() for r in page],
            "next_cursor": next_cursor,
        }

    @app.get("/v1/accounts/{account_id}/transfers", tags=["trades"], responses=error_responses(404))
    async def transfers(
        account_id: AccountId,
        claims: Reader,
        exchange: ExchangeQ = None,
        kind: Literal["deposit", "withdrawal"] | None = None,
        asset: Annotated[Text | None, Query(max_length=32)] = None,
        status: Literal["pending", "completed", "failed"] | None = None,
        start: Annotated[Instant | None, Query()] = None,
        end: Annotated[Instant | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        cursor: Annotated[Text | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        """Deposits and withdrawals oldest first (where the venue reports them), with amount,
        fee, status (``pending``/``completed``/``failed`` and the venue's own), network and
        transaction id; ``next_cursor`` pages on (null on the last page)."""
        await known(claims, account_id)
        after = _decode_cursor(cursor) if cursor else None
        rows = await store.transfers(
            [account_id],
            exchange=exchange,
            kind=kind,
            asset=asset.upper() if asset else None,
            status=status,
            start=start,
            end=end,
            after=after,
            limit=limit + 1,
        )
        page = rows[:limit]
        next_cursor = _encode_cursor(page[-1].time, page[-1].seq) if len(rows) > limit else None
        return {
            "account_id": account_id,
            "transfers": [r.public() for r in page],
            "next_cursor": next_cursor,
        }

    # -- charts --------------------------------------------------------------------------

    @app.get(
        "/v1/accounts/{account_id}/charts/value.{fmt}",
        tags=["charts"],
        response_class=Response,
        responses=CHART,
    )
    async def value_chart_route(
        account_id: AccountId,
        fmt: Format,
        claims: Reader,
        start: Annotated[Instant, Query()],
        end: Annotated[Instant, Query()],
        step: Step = "1h",
        quote: Asset | None = None,
        assume_stable_par: bool = False,
    ) -> Response:
        """Portfolio value over time (the data of ``/portfolio/history``) as PNG or SVG."""
        await known(claims, account_id)
        data = await history_of(account_id, start, end, step, quote_of(quote), assume_stable_par)
        image = await render(value_chart(data, f"{account_id}: value in {data['quote']}"), fmt)
        return Response(image, media_type=MEDIA_TYPES[fmt])

    @app.get(
        "/v1/accounts/{account_id}/charts/allocation.{fmt}",
        tags=["charts"],
        response_class=Response,
        responses=CHART,
    )
    async def allocation_chart_route(
        account_id: AccountId,
        fmt: Format,
        claims: Reader,
        quote: Asset | None = None,
        by: Literal["asset", "exchange"] = "asset",
        assume_stable_par: bool = False,
    ) -> Response:
        """Allocation by asset or exchange (the data of ``/allocation``) as PNG or SVG."""
        await known(claims, account_id)
        view = await valued(account_id, quote_of(quote), assume_stable_par)
        data = allocation(view, by)
        image = await render(allocation_chart(data, f"{account_id}: allocation by {by}"), fmt)
        return Response(image, media_type=MEDIA_TYPES[fmt])

    @app.get(
        "/v1/accounts/{account_id}/charts/trades.{fmt}",
        tags=["charts"],
        response_class=Response,
        responses=CHART,
    )
    async def trades_chart_route(
        account_id: AccountId,
        fmt: Format,
        claims: Reader,
        exchange: Annotated[Text, Query(min_length=1, max_length=32)],
        symbol: Annotated[Text, Query(pattern=r"^[A-Z0-9]{1,16}[/-][A-Z0-9]{1,16}$")],
        start: Annotated[Instant, Query()],
        end: Annotated[Instant, Query()],
        timeframe: Step = "1m",
    ) -> Response:
        """The account's trades of one symbol (the data of ``/trades``) marked on the symbol's
        candles (from the market-data service): buys ▲, sells ▼."""
        await known(claims, account_id)
        _check_span(start, end, timeframe)
        sym = _symbol(symbol)
        assert sym is not None
        fills = await store.fills([account_id], exchange=exchange, symbol=sym, start=start, end=end)
        try:
            candles = await rt.market_data.candles(exchange, sym, timeframe, start, end)
        except MarketDataUnavailable:
            candles = []
        draw = trades_chart(candles, [f.public() for f in fills], f"{account_id}: {exchange} {sym}")
        return Response(await render(draw, fmt), media_type=MEDIA_TYPES[fmt])

    return app


def _check_span(start: datetime, end: datetime, step: Step) -> None:
    if start >= end:
        raise ApiError(422, "invalid_request", "start must be before end")
    if (end - start) / STEPS[step] > MAX_POINTS:
        raise ApiError(
            422,
            "range_too_large",
            f"more than {MAX_POINTS} points; use a larger step",
            {"max_points": MAX_POINTS},
        )


def _symbol(symbol: str | None) -> str | None:
    return None if symbol is None else symbol.replace("-", "/")


def _encode_cursor(time: datetime, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{time.isoformat()}|{seq}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        time_text, seq_text = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = datetime.fromisoformat(time_text)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, int(seq_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(422, "invalid_cursor", "not a cursor this API issued") from None


_ = timedelta

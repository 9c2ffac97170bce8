"""Kraken spot public REST (``/0/public``): ``Assets``, ``AssetPairs`` and ``Depth`` of the same
books (enough for ccxt's ``load_markets`` and ``fetch_order_book``).

Kraken answers HTTP 200 with ``{"error": [...], "result": {...}}``; errors are
``"<severity><category>:<text>"`` strings. Pair keys are the simulator's symbols (``BTCUSDT``,
also the ``altname``); ``wsname`` is the v2 WebSocket symbol (``BTC/USDT``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.kraken import wire

TIMEOUT_FAULT_SECONDS = 120.0
MAX_DEPTH = 500


class KrakenError(Exception):
    """Answered with HTTP 200, as Kraken answers request errors."""


def _asset_pair(inst: Instrument) -> dict[str, Any]:
    return {
        "altname": inst.symbol,
        "wsname": wire.ws_symbol(inst),
        "aclass_base": "currency",
        "base": inst.base,
        "aclass_quote": "currency",
        "quote": inst.quote,
        "lot": "unit",
        "cost_decimals": inst.quote_precision,
        "pair_decimals": inst.price_decimals,
        "lot_decimals": inst.qty_decimals,
        "lot_multiplier": 1,
        "ordermin": str(inst.min_qty),
        "costmin": str(inst.min_notional),
        "tick_size": str(inst.tick_size),
        "status": "online" if inst.status == "TRADING" else "cancel_only",
    }


def kraken_rest_router(exchange: Exchange, faults: Faults) -> APIRouter:
    router = APIRouter(prefix="/0/public", tags=["kraken public"])

    def pairs_of(raw: str | None) -> list[Instrument]:
        if raw is None:
            return [exchange.instruments[s] for s in sorted(exchange.instruments)]
        by_name = {
            n: i for i in exchange.instruments.values() for n in (i.symbol, wire.ws_symbol(i))
        }
        found = [by_name.get(name.strip().upper()) for name in raw.split(",")]
        if not all(found):
            raise KrakenError("EQuery:Unknown asset pair")
        return [i for i in found if i is not None]

    async def answer(request: Request, result: Any) -> JSONResponse:
        fault = faults.take_rest_fault(request.url.path)
        if fault is not None:
            if fault.mode == "timeout":
                await asyncio.sleep(TIMEOUT_FAULT_SECONDS)
            return JSONResponse({"error": ["EService:Unavailable"]}, status_code=fault.status)
        return JSONResponse({"error": [], "result": result})

    @router.get("/Assets")
    async def assets(request: Request) -> JSONResponse:
        decimals: dict[str, int] = {}
        for inst in exchange.instruments.values():
            decimals[inst.base] = inst.base_precision
            decimals[inst.quote] = inst.quote_precision
        result = {
            asset: {
                "aclass": "currency",
                "altname": asset,
                "decimals": places,
                "display_decimals": min(places, 5),
                "status": "enabled",
            }
            for asset, places in sorted(decimals.items())
        }
        return await answer(request, result)

    @router.get("/AssetPairs")
    async def asset_pairs(request: Request, pair: str | None = None) -> JSONResponse:
        try:
            result = {i.symbol: _asset_pair(i) for i in pairs_of(pair)}
        except KrakenError as exc:
            return JSONResponse({"error": [str(exc)]})
        return await answer(request, result)

    @router.get("/Depth")
    async def depth(request: Request, pair: str | None = None, count: str = "100") -> JSONResponse:
        try:
            if pair is None:
                raise KrakenError("EGeneral:Invalid arguments")
            instruments = pairs_of(pair)
            if len(instruments) != 1:
                raise KrakenError("EGeneral:Invalid arguments")
            if not count.isdigit() or not 1 <= int(count) <= MAX_DEPTH:
                raise KrakenError("EGeneral:Invalid arguments:count")
        except KrakenError as exc:
            return JSONResponse({"error": [str(exc)]})
        inst = instruments[0]
        _, bids, asks = exchange.depth(inst.symbol, int(count))
        seconds = exchange.now_ms() // 1000

        def levels(side: list[Any]) -> list[list[Any]]:
            return [
                [wire.number(p, inst.price_decimals), wire.number(q, inst.qty_decimals), seconds]
                for p, q in side
            ]

        return await answer(request, {inst.symbol: {"asks": levels(asks), "bids": levels(bids)}})

    return router

from __future__ import annotations

from fastapi import FastAPI, WebSocket

from eip.exchange_simulator import __version__
from eip.exchange_simulator.admin import admin_router
from eip.exchange_simulator.binance.rest_public import public_router
from eip.exchange_simulator.binance.rest_trading import trading_router
from eip.exchange_simulator.binance.rest_transfers import transfers_router
from eip.exchange_simulator.binance.streams import parse_stream
from eip.exchange_simulator.coinbase.rest import market_router as coinbase_market_router
from eip.exchange_simulator.coinbase.rest_accounts import (
    accounts_router as coinbase_accounts_router,
)
from eip.exchange_simulator.coinbase.rest_trading import trading_router as coinbase_trading_router
from eip.exchange_simulator.coinbase.rest_transfers import (
    transfers_router as coinbase_transfers_router,
)
from eip.exchange_simulator.settings import SimulatorSettings
from eip.exchange_simulator.simulator import Simulator
from eip.observability.http import create_app


def build_app(settings: SimulatorSettings) -> FastAPI:
    sim = Simulator(settings)
    app = create_app(settings.service_name, __version__, lifespan=sim.lifespan)
    app.state.simulator = sim
    app.include_router(public_router(sim.venue))
    app.include_router(trading_router(sim.venue, sim.trading, sim.user_streams))
    app.include_router(transfers_router(sim.venue))
    app.include_router(coinbase_market_router(sim.coinbase_venue))
    app.include_router(coinbase_trading_router(sim.coinbase_venue))
    app.include_router(coinbase_accounts_router(sim.coinbase_venue))
    app.include_router(coinbase_transfers_router(sim.coinbase_venue))
    app.include_router(admin_router(sim))
    sim.kraken.install(app)

    async def refuse_if_limited(ws: WebSocket) -> bool:
        ip = ws.client.host if ws.client else "unknown"
        if sim.limiter.ws_connect(ip, sim.exchange.now_ms()):
            return False
        await ws.close(1008, "Too many connection attempts")
        return True

    @app.websocket("/ws/{path:path}")
    async def raw_stream(ws: WebSocket, path: str) -> None:
        """``/ws/<stream>[/<stream>...]``, ``/ws/<listenKey>``, or any other segment (ccxt
        connects to ``/ws/<n>`` and subscribes afterwards)."""
        if await refuse_if_limited(ws):
            return
        await ws.accept()
        account_id = sim.user_streams.account_for(path, sim.exchange.now_ms())
        if account_id is not None:
            await sim.ws_api.serve_listen_key(ws, account_id)
            return
        names = [n for n in path.split("/") if n]
        initial = [n for n in names if parse_stream(n, sim.exchange.instruments)]
        await sim.streams.serve(ws, initial, combined=False)

    @app.websocket("/ws")
    async def bare(ws: WebSocket) -> None:
        if await refuse_if_limited(ws):
            return
        await ws.accept()
        await sim.streams.serve(ws, [], combined=False)

    @app.websocket("/stream")
    async def combined(ws: WebSocket) -> None:
        if await refuse_if_limited(ws):
            return
        await ws.accept()
        raw = ws.query_params.get("streams", "")
        await sim.streams.serve(ws, [n for n in raw.split("/") if n], combined=True)

    @app.websocket("/ws-api/v3")
    async def ws_api(ws: WebSocket) -> None:
        if await refuse_if_limited(ws):
            return
        await ws.accept()
        await sim.ws_api.serve(ws)

    @app.websocket("/coinbase/ws")
    async def coinbase_ws(ws: WebSocket) -> None:
        """Coinbase Advanced Trade (real: ``wss://advanced-trade-ws.coinbase.com``, and
        ``advanced-trade-ws-user`` for the user channel): market data and the user channel."""
        await ws.accept()
        await sim.coinbase.serve(ws)

    return app

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient


async def new_trader(
    sim: SimulatorClient,
    usdt: str = "100000",
    btc: str = "2",
    profile: str = "trading",
) -> ApiCredentials:
    account = f"trader-{uuid.uuid4().hex[:10]}"
    return await sim.create_account_with_key(
        account,
        {"USDT": usdt, "BTC": btc, "ETH": "10"},
        profile,
    )


@asynccontextmanager
async def binance(
    sim: SimulatorClient,
    credentials: ApiCredentials | None = None,
    pro: bool = False,
) -> AsyncIterator[Any]:
    exchange = sim.ccxt_binance(credentials, pro=pro)
    try:
        await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()

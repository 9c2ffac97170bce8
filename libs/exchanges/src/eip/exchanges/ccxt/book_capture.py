"""Record and replay exchanges served through ccxt.pro, whose network code is ccxt's own.

Recording runs ccxt against a local ``RecordingProxy`` in front of the real host (or the
simulator); replay runs the same ``CcxtProFeed`` against a local ``ReplayServer``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import IO, Any

from eip.exchanges.ccxt.book import CcxtProFeed
from eip.exchanges.ccxt.proxy import RecordingProxy, ReplayServer
from eip.exchanges.contract.book_feed import Emit
from eip.exchanges.machinery.capture import CaptureWriter
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions, run_for, stop_task

# Only what a book needs: ccxt's binance would also load futures markets and currencies.
CCXT_CONFIG: dict[str, dict[str, Any]] = {
    "binance": {"options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}},
}


def ccxt_config(exchange_id: str) -> dict[str, Any]:
    return {**CCXT_CONFIG.get(exchange_id, {}), "enableRateLimit": False}


async def record_ccxt(
    exchange_id: str,
    symbols: list[str],
    out: IO[str],
    seconds: float,
    upstream: str,
    emit: Emit,
) -> CcxtProFeed:
    writer = CaptureWriter(
        out, f"ccxt:{exchange_id}", {"l2_book": [s.replace("/", "-") for s in symbols]}
    )
    proxy = RecordingProxy(upstream, writer, f"ccxt:{exchange_id}")
    base_url = await proxy.start()
    feed = CcxtProFeed(exchange_id, symbols, config=ccxt_config(exchange_id), base_url=base_url)
    try:
        await run_for(feed, emit, seconds)
    finally:
        await proxy.stop()
    return feed


async def replay_ccxt(
    exchange_id: str,
    capture: Path | list[dict[str, Any]],
    symbols: list[str],
    emit: Emit,
    quiet_s: float = 1.0,
) -> CcxtProFeed:
    """Replay until every frame was served and ccxt has been quiet for ``quiet_s``."""
    server = ReplayServer(ReplayTransport(capture))
    base_url = await server.start()
    feed = CcxtProFeed(
        exchange_id,
        symbols,
        FeedOptions(stale_after_s=3600),
        config=ccxt_config(exchange_id),
        base_url=base_url,
    )
    seen = 0

    async def counting(event: Any) -> None:
        nonlocal seen
        seen += 1
        await emit(event)

    task = asyncio.create_task(feed.run(counting))
    try:
        await server.idle.wait()
        while True:  # ccxt parses on its own tasks: wait until it stops producing
            before = seen
            await asyncio.sleep(quiet_s)
            if seen == before:
                break
    finally:
        await stop_task(task)
        await server.stop()
    return feed

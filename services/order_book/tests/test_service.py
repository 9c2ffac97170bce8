from __future__ import annotations

import asyncio

from eip.exchanges.contract.book_feed import BookFeed, Emit
from eip.order_book.service import OrderBookService
from eip.order_book.settings import OrderBookSettings

from .helpers import ScriptedBook, ScriptedFeed

BIDS = [("100.00", "1.0000")]
ASKS = [("101.00", "1.0000")]


class CrashingFeed(ScriptedFeed):
    """Syncs a book, then crashes once; the second run syncs it again."""

    def __init__(self) -> None:
        super().__init__("binance", symbols=["BTC/USDT"])
        self.book = ScriptedBook()
        self.runs = 0

    async def run(self, emit: Emit) -> None:
        self.runs += 1
        await emit(self.book.snapshot(BIDS, ASKS))
        if self.runs == 1:
            raise RuntimeError("socket library bug")
        await asyncio.Event().wait()


async def test_a_crashed_feed_takes_its_books_out_of_sync_and_is_restarted() -> None:
    feed = CrashingFeed()

    def factory(exchange: str, settings: OrderBookSettings) -> BookFeed:
        return feed

    service = OrderBookService(
        OrderBookSettings(subscriptions={"binance": ["BTC/USDT"]}), lambda: None, factory
    )
    async with service.running():
        key = feed.book.key
        for _ in range(300):
            state = service.manager.get(key)
            if feed.runs == 2 and state is not None and state.in_sync:
                break
            await asyncio.sleep(0.01)
        state = service.manager.get(key)
        assert state is not None
        assert feed.runs == 2
        assert state.in_sync
        assert state.epoch == service.manager.epoch_floor + 2
        assert state.desyncs == 1  # the crash: reason "error"

"""Live prices into the price graph: ``md.tickers.v1`` consumed by every instance (a group of
its own, from the latest offset: only current prices matter), and a one-time seed from the
market-data service's ``GET /v1/tickers`` at start so the graph is not empty until the next
ticker of each pair arrives."""

from __future__ import annotations

import logging
from datetime import datetime

from eip.account.market_data import MarketDataClient, MarketDataUnavailable
from eip.account.valuation import PriceGraph
from eip.bus import Record
from eip.events.v1 import market_data_pb2

log = logging.getLogger(__name__)


class TickerFeed:
    def __init__(self, graph: PriceGraph) -> None:
        self.graph = graph
        self.applied = 0

    async def handle(self, record: Record) -> None:
        t = record.message
        assert isinstance(t, market_data_pb2.Ticker)
        received = (
            t.times.received_time.ToDatetime().timestamp()
            if t.times.HasField("received_time")
            else None
        )
        if self.graph.update(
            t.instrument.exchange,
            t.instrument.symbol,
            bid=t.bid,
            ask=t.ask,
            last=t.last,
            bid_size=t.bid_size,
            ask_size=t.ask_size,
            received=received,
        ):
            self.applied += 1

    async def seed(self, market_data: MarketDataClient) -> int:
        try:
            tickers = await market_data.tickers()
        except MarketDataUnavailable as exc:
            log.warning("price graph not seeded", extra={"error": str(exc)})
            return 0
        seeded = 0
        for t in tickers:
            try:
                received = datetime.fromisoformat(str(t["freshness"]["received_time"])).timestamp()
                exchange, symbol = str(t["exchange"]), str(t["symbol"])
            except (KeyError, TypeError, ValueError):
                continue
            known = self.graph.known_price(exchange, symbol)
            if known is not None and known.received >= received:
                continue  # the topic already brought a newer one
            seeded += self.graph.update(
                exchange,
                symbol,
                bid=t.get("bid") or "",
                ask=t.get("ask") or "",
                last=t.get("last") or "",
                bid_size=t.get("bid_size") or "",
                ask_size=t.get("ask_size") or "",
                received=received,
            )
        return seeded

"""Cross-exchange arbitrage: for each symbol and each ordered pair of venues with usable books,
how much can be bought on one and sold on the other at a profit after both taker fees, walking
the levels of both books — and the lifetime of each such opportunity.

The walk (``walk``): take the buy venue's asks from the best up and the sell venue's bids from
the best down, a slice at a time (the smaller of the two levels' remaining sizes), while one
more unit still earns something: ``bid · (1 - sell fee) > ask · (1 + buy fee)``. Prices only
worsen along the walk, so stopping at the first unprofitable slice gives the size of greatest
net profit. Fees are rates of each leg's quote notional (the buy leg's fee is counted in quote
too, as if paid in it). All in ``Decimal``: size and profit are exact sums of the books' own
decimals.

Lifetimes (``ArbitrageTracker``): an opportunity of (symbol, buy venue, sell venue) opens the
first time the walk finds one, is updated while it is found again (last seen, peak size and
peak net profit), and closes when it has not been found for ``close_after_s``. Each appearance
is one row of ``arbitrage_opportunities`` and a record on ``alerts.arbitrage.v1`` (key symbol)
when it opens, whenever its size or profit changes, and when it closes. The spread between the
two venues (sell venue's best bid over the buy venue's best ask, in bps) is kept once per second
and pair for the chart.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from eip.automation import webhooks
from eip.automation.books import BookFollower
from eip.book import Level
from eip.bus import Producer
from eip.events.topics import ALERTS_ARBITRAGE, TopicSpec, record_key
from eip.events.v1 import automation_pb2, common_pb2

log = logging.getLogger(__name__)
BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Leg:
    exchange: str
    best_price: Decimal
    worst_price: Decimal
    notional: Decimal
    fee_rate: Decimal
    size: Decimal

    @property
    def average_price(self) -> Decimal:
        return self.notional / self.size


@dataclass(frozen=True, slots=True)
class Walk:
    symbol: str
    buy: Leg
    sell: Leg
    size: Decimal
    gross_profit: Decimal
    fees: Decimal
    net_profit: Decimal

    @property
    def net_profit_bps(self) -> Decimal:
        return self.net_profit / self.buy.notional * BPS if self.buy.notional else Decimal(0)


def walk(
    symbol: str,
    buy_exchange: str,
    asks: Sequence[Level],
    buy_fee: Decimal,
    sell_exchange: str,
    bids: Sequence[Level],
    sell_fee: Decimal,
) -> Walk | None:
    """Buying on ``buy_exchange`` (its asks, best first) and selling on ``sell_exchange`` (its
    bids, best first); None when not even the first slice is profitable."""
    i = j = 0
    ask_left = asks[0][1] if asks else Decimal(0)
    bid_left = bids[0][1] if bids else Decimal(0)
    size = bought = sold = Decimal(0)
    worst_ask = worst_bid = Decimal(0)
    while i < len(asks) and j < len(bids):
        ask, bid = asks[i][0], bids[j][0]
        if bid * (1 - sell_fee) <= ask * (1 + buy_fee):
            break
        q = min(ask_left, bid_left)
        size += q
        bought += q * ask
        sold += q * bid
        worst_ask, worst_bid = ask, bid
        ask_left -= q
        bid_left -= q
        if ask_left == 0:
            i += 1
            ask_left = asks[i][1] if i < len(asks) else Decimal(0)
        if bid_left == 0:
            j += 1
            bid_left = bids[j][1] if j < len(bids) else Decimal(0)
    if size == 0:
        return None
    fees = bought * buy_fee + sold * sell_fee
    return Walk(
        symbol,
        Leg(buy_exchange, asks[0][0], worst_ask, bought, buy_fee, size),
        Leg(sell_exchange, bids[0][0], worst_bid, sold, sell_fee, size),
        size,
        sold - bought,
        fees,
        sold - bought - fees,
    )


@dataclass
class Opportunity:
    opportunity_id: str
    walk: Walk
    first_seen: datetime
    last_seen: datetime
    peak_size: Decimal
    peak_net_profit: Decimal
    closed: bool = False

    @property
    def pair(self) -> tuple[str, str, str]:
        return (self.walk.symbol, self.walk.buy.exchange, self.walk.sell.exchange)


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def opportunity_message(o: Opportunity) -> automation_pb2.ArbitrageOpportunity:
    w = o.walk

    def leg(x: Leg) -> automation_pb2.ArbitrageLeg:
        return automation_pb2.ArbitrageLeg(
            exchange=x.exchange,
            best_price=str(x.best_price),
            worst_price=str(x.worst_price),
            average_price=str(x.average_price),
            notional=str(x.notional),
            taker_fee_rate=str(x.fee_rate),
        )

    now = datetime.now(UTC)
    return automation_pb2.ArbitrageOpportunity(
        opportunity_id=o.opportunity_id,
        symbol=w.symbol,
        buy=leg(w.buy),
        sell=leg(w.sell),
        size=str(w.size),
        gross_profit=str(w.gross_profit),
        fees=str(w.fees),
        net_profit=str(w.net_profit),
        net_profit_bps=str(w.net_profit_bps.quantize(Decimal("0.0001"))),
        first_seen=_ts(o.first_seen),
        last_seen=_ts(o.last_seen),
        peak_size=str(o.peak_size),
        peak_net_profit=str(o.peak_net_profit),
        closed=o.closed,
        times=common_pb2.EventTimes(received_time=_ts(now)),
    )


def opportunity_json(o: Opportunity) -> dict[str, Any]:
    w = o.walk

    def leg(x: Leg) -> dict[str, str]:
        return {
            "exchange": x.exchange,
            "best_price": str(x.best_price),
            "worst_price": str(x.worst_price),
            "average_price": str(x.average_price),
            "notional": str(x.notional),
            "taker_fee_rate": str(x.fee_rate),
        }

    return {
        "buy": leg(w.buy),
        "sell": leg(w.sell),
        "size": str(w.size),
        "gross_profit": str(w.gross_profit),
        "fees": str(w.fees),
        "net_profit": str(w.net_profit),
    }


class ArbitrageTracker:
    def __init__(
        self,
        books: BookFollower,
        fee_of: Callable[[str], Decimal],
        pool: Callable[[], Any],
        schema: str,
        producer: Callable[[], Producer | None],
        topic: TopicSpec = ALERTS_ARBITRAGE,
        min_profit: Decimal = Decimal(0),
        close_after_s: float = 5.0,
    ) -> None:
        self.books = books
        self.fee_of = fee_of
        self._pool = pool
        self.schema = schema
        self._producer = producer
        self.topic = topic
        self.min_profit = min_profit
        self.close_after_s = close_after_s
        self.open: dict[tuple[str, str, str], Opportunity] = {}
        self._spread_second: dict[tuple[str, str, str], int] = {}

    async def restore(self, owned: Callable[[str], bool]) -> int:
        """Take over the open lifetimes of the symbols ``owned`` says are this instance's (at a
        rebalance: as the previous holder left them in PostgreSQL); the others are dropped."""
        self.forget(lambda symbol: not owned(symbol))
        pool = self._pool()
        if pool is None:
            return 0
        async with pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL("SELECT * FROM {} WHERE closed_at IS NULL").format(
                    sql.Identifier(self.schema, "arbitrage_opportunities")
                )
            )
            rows = [r for r in await cur.fetchall() if owned(r["symbol"])]
        for row in rows:
            o = _from_row(row)
            self.open.setdefault(o.pair, o)
        return len(rows)

    def forget(self, which: Callable[[str], bool]) -> None:
        """Drop the lifetimes of the symbols ``which`` selects (handed to another instance)."""
        for pair in [p for p in self.open if which(p[0])]:
            del self.open[pair]

    def find(self, symbol: str) -> list[Walk]:
        """Every profitable walk of ``symbol`` between usable books, now."""
        usable = {}
        for venue in self.books.venues(symbol):
            levels = self.books.levels(venue, symbol)
            if levels is not None:
                usable[venue] = levels
        out = []
        for buy, (_, asks) in usable.items():
            for sell, (bids, _) in usable.items():
                if buy == sell or not asks or not bids:
                    continue
                found = walk(symbol, buy, asks, self.fee_of(buy), sell, bids, self.fee_of(sell))
                if found is not None and found.net_profit > self.min_profit:
                    out.append(found)
        return out

    def spreads(self, symbol: str) -> list[tuple[str, str, Decimal]]:
        """(buy venue, sell venue, spread bps) of every ordered pair of usable books."""
        tops = {}
        for venue in self.books.venues(symbol):
            levels = self.books.levels(venue, symbol, 1)
            if levels is not None and levels[0] and levels[1]:
                tops[venue] = (levels[0][0][0], levels[1][0][0])
        return [
            (buy, sell, (bid - ask) / ask * BPS)
            for buy, (_, ask) in tops.items()
            for sell, (bid, _) in tops.items()
            if buy != sell
        ]

    async def evaluate(self, symbol: str, now: datetime | None = None) -> list[Opportunity]:
        """Walk ``symbol``'s pairs, open/update their lifetimes, store and publish what changed.
        Returns the opportunities opened or changed."""
        now = now or datetime.now(UTC)
        changed: list[Opportunity] = []
        for found in self.find(symbol):
            pair = (symbol, found.buy.exchange, found.sell.exchange)
            held = self.open.get(pair)
            if held is None:
                held = self.open[pair] = Opportunity(
                    str(uuid.uuid4()), found, now, now, found.size, found.net_profit
                )
                changed.append(held)
                continue
            moved = (found.size, found.net_profit) != (held.walk.size, held.walk.net_profit)
            held.walk, held.last_seen = found, now
            held.peak_size = max(held.peak_size, found.size)
            held.peak_net_profit = max(held.peak_net_profit, found.net_profit)
            if moved:
                changed.append(held)
        for o in changed:
            await self._store(o, opened=o.first_seen == now)
            await self._publish(o)
        await self._store_spreads(symbol, now)
        return changed

    async def sweep(self, now: datetime | None = None) -> list[Opportunity]:
        """Close the opportunities not seen for ``close_after_s``."""
        now = now or datetime.now(UTC)
        closed = []
        for pair, o in list(self.open.items()):
            if (now - o.last_seen).total_seconds() >= self.close_after_s:
                del self.open[pair]
                o.closed = True
                closed.append(o)
                await self._store(o, closed_at=now)
                await self._publish(o)
        return closed

    async def _store(
        self, o: Opportunity, closed_at: datetime | None = None, opened: bool = False
    ) -> None:
        pool = self._pool()
        if pool is None:
            return
        w = o.walk
        async with pool.connection() as conn:
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (opportunity_id, symbol, buy_exchange, sell_exchange,"
                    " first_seen, last_seen, closed_at, size, net_profit, net_profit_bps,"
                    " peak_size, peak_net_profit, last)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (opportunity_id) DO UPDATE SET last_seen = EXCLUDED.last_seen,"
                    " closed_at = EXCLUDED.closed_at, size = EXCLUDED.size,"
                    " net_profit = EXCLUDED.net_profit, net_profit_bps = EXCLUDED.net_profit_bps,"
                    " peak_size = EXCLUDED.peak_size, peak_net_profit = EXCLUDED.peak_net_profit,"
                    " last = EXCLUDED.last"
                ).format(sql.Identifier(self.schema, "arbitrage_opportunities")),
                (
                    o.opportunity_id,
                    w.symbol,
                    w.buy.exchange,
                    w.sell.exchange,
                    o.first_seen,
                    o.last_seen,
                    closed_at,
                    w.size,
                    w.net_profit,
                    w.net_profit_bps,
                    o.peak_size,
                    o.peak_net_profit,
                    _json(opportunity_json(o)),
                ),
            )
            if opened:
                await webhooks.enqueue(
                    conn,
                    self.schema,
                    None,
                    "arbitrage.opened",
                    f"{o.opportunity_id}:opened",
                    {"opportunity_id": o.opportunity_id, "symbol": w.symbol, **opportunity_json(o)},
                )

    async def _store_spreads(self, symbol: str, now: datetime) -> None:
        pool = self._pool()
        if pool is None:
            return
        second = int(now.timestamp())
        rows = []
        for buy, sell, bps in self.spreads(symbol):
            key = (symbol, buy, sell)
            if self._spread_second.get(key) == second:
                continue
            self._spread_second[key] = second
            rows.append((symbol, buy, sell, datetime.fromtimestamp(second, UTC), bps))
        if not rows:
            return
        async with pool.connection() as conn:
            cur = conn.cursor()
            await cur.executemany(
                sql.SQL(
                    "INSERT INTO {} (symbol, buy_exchange, sell_exchange, at, spread_bps)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                ).format(sql.Identifier(self.schema, "arbitrage_spreads")),
                rows,
            )

    async def _publish(self, o: Opportunity) -> None:
        producer = self._producer()
        if producer is None:
            return
        try:
            await producer.publish(self.topic, record_key(o.walk.symbol), opportunity_message(o))
        except Exception as exc:  # the row is the record; the next change publishes again
            log.warning("arbitrage opportunity not published", extra={"error": repr(exc)})


def _from_row(row: dict[str, Any]) -> Opportunity:
    last = row["last"]
    size = Decimal(last["size"])

    def leg(x: dict[str, str]) -> Leg:
        return Leg(
            x["exchange"],
            Decimal(x["best_price"]),
            Decimal(x["worst_price"]),
            Decimal(x["notional"]),
            Decimal(x["taker_fee_rate"]),
            size,
        )

    walked = Walk(
        row["symbol"],
        leg(last["buy"]),
        leg(last["sell"]),
        size,
        Decimal(last["gross_profit"]),
        Decimal(last["fees"]),
        Decimal(last["net_profit"]),
    )
    return Opportunity(
        str(row["opportunity_id"]),
        walked,
        row["first_seen"],
        row["last_seen"],
        Decimal(row["peak_size"]),
        Decimal(row["peak_net_profit"]),
    )


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value)


async def query_opportunities(
    conn: AsyncConnection[Any],
    schema: str,
    symbol: str | None,
    open_only: bool,
    limit: int,
) -> list[dict[str, Any]]:
    where = [sql.SQL("TRUE")]
    params: list[Any] = []
    if symbol is not None:
        where.append(sql.SQL("symbol = %s"))
        params.append(symbol)
    if open_only:
        where.append(sql.SQL("closed_at IS NULL"))
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL("SELECT * FROM {} WHERE {} ORDER BY last_seen DESC LIMIT %s").format(
            sql.Identifier(schema, "arbitrage_opportunities"), sql.SQL(" AND ").join(where)
        ),
        [*params, limit],
    )
    return list(await cur.fetchall())


async def query_spreads(
    conn: AsyncConnection[Any],
    schema: str,
    symbol: str,
    buy: str,
    sell: str,
    since: datetime,
    limit: int,
) -> list[tuple[datetime, Decimal]]:
    cur = await conn.execute(
        sql.SQL(
            "SELECT at, spread_bps FROM {} WHERE symbol = %s AND buy_exchange = %s"
            " AND sell_exchange = %s AND at >= %s ORDER BY at LIMIT %s"
        ).format(sql.Identifier(schema, "arbitrage_spreads")),
        (symbol, buy, sell, since, limit),
    )
    return [(row[0], row[1]) for row in await cur.fetchall()]

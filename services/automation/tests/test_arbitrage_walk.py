"""The arbitrage walk against hand-computed numbers, its optimality on drawn books, and the
book follower's refusal of out-of-sync and stale books."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from eip.automation.arbitrage import walk
from eip.automation.books import BookFollower
from eip.bus import Record
from eip.events.v1 import common_pb2, order_book_pb2

D = Decimal


def test_the_walk_takes_levels_while_a_unit_still_earns_after_both_fees() -> None:
    asks = [(D(100), D("1")), (D("100.5"), D("2")), (D(102), D(5))]  # buy venue
    bids = [(D(103), D("1.5")), (D("101.5"), D(1)), (D(100), D(9))]  # sell venue
    fee = D("0.001")
    found = walk("BTC/USDT", "a", asks, fee, "b", bids, fee)
    assert found is not None
    # by hand: 1 @100 -> 103; 0.5 @100.5 -> 103; 1 @100.5 -> 101.5;
    # next: ask 100.5 (0.5 left) vs bid 100: 100 * 0.999 < 100.5 * 1.001, stop
    assert found.size == D("2.5")
    bought = D(100) + D("0.5") * D("100.5") + D("100.5")
    sold = D(103) * D("1.5") + D("101.5")
    assert (found.buy.notional, found.sell.notional) == (bought, sold)
    assert found.fees == (bought + sold) * fee
    assert found.net_profit == sold - bought - (bought + sold) * fee
    assert (found.buy.worst_price, found.sell.worst_price) == (D("100.5"), D("101.5"))
    assert found.buy.average_price == bought / D("2.5")


def test_no_walk_when_the_fees_eat_the_touch() -> None:
    asks, bids = [(D(100), D(1))], [(D("100.1"), D(1))]
    assert walk("X/Y", "a", asks, D("0.0005"), "b", bids, D("0.0005")) is None
    assert walk("X/Y", "a", asks, D(0), "b", bids, D(0)) is not None


levels = st.lists(
    st.tuples(
        st.decimals(min_value="90", max_value="110", places=1),
        st.decimals(min_value="0.1", max_value="5", places=1),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda level: level[0],
)


@settings(max_examples=200, deadline=None)
@given(levels, levels, st.decimals(min_value="0", max_value="0.01", places=4))
def test_the_walk_earns_at_least_any_other_size_on_drawn_books(
    raw_asks: list[tuple[Decimal, Decimal]],
    raw_bids: list[tuple[Decimal, Decimal]],
    fee: Decimal,
) -> None:
    asks, bids = sorted(raw_asks), sorted(raw_bids, reverse=True)

    def profit(size: Decimal) -> Decimal:
        """Net of buying `size` up the asks and selling it down the bids, by brute force."""
        cost = proceeds = D(0)
        left = size
        for price, qty in asks:
            take = min(left, qty)
            cost += take * price
            left -= take
        left = size
        for price, qty in bids:
            take = min(left, qty)
            proceeds += take * price
            left -= take
        return proceeds - cost - (cost + proceeds) * fee

    found = walk("X/Y", "a", asks, fee, "b", bids, fee)
    best = found.net_profit if found else D(0)
    if found is not None:
        assert found.net_profit == profit(found.size)
        assert found.net_profit > 0
    reachable = min(sum(q for _, q in asks), sum(q for _, q in bids))
    for tenth in range(0, int(reachable * 10) + 1):
        assert profit(D(tenth) / 10) <= best + D("1e-20")


def snapshot(exchange: str, epoch: int, out_of_sync: bool = False) -> Record:
    message = order_book_pb2.BookSnapshot(
        instrument=common_pb2.Instrument(exchange=exchange, symbol="BTC/USDT"),
        epoch=epoch,
        sequence=0,
        depth=10,
        price_decimals=1,
        size_decimals=1,
        out_of_sync=out_of_sync,
        bids=[] if out_of_sync else [common_pb2.PriceLevel(price="101.0", quantity="1.0")],
        asks=[] if out_of_sync else [common_pb2.PriceLevel(price="102.0", quantity="1.0")],
    )
    return Record("t", 0, 0, None, message, [], 0)


def test_out_of_sync_and_stale_books_are_not_usable() -> None:
    now = [0.0]
    books = BookFollower(stale_after_s=30, clock=lambda: now[0])
    books.handle(snapshot("binance", 1))
    books.handle(snapshot("kraken", 1))
    assert books.levels("binance", "BTC/USDT") == (
        [(D("101.0"), D("1.0"))],
        [(D("102.0"), D("1.0"))],
    )
    assert books.spread_bps("binance", "BTC/USDT") == D("1.0") / D("101.5") * 10_000
    books.handle(snapshot("kraken", 1, out_of_sync=True))
    assert books.levels("kraken", "BTC/USDT") is None
    assert books.state("kraken", "BTC/USDT").startswith("out_of_sync")
    now[0] = 31.0
    assert books.levels("binance", "BTC/USDT") is None
    assert books.state("binance", "BTC/USDT") == "stale"
    assert books.imbalance("binance", "BTC/USDT", 5) is None
    books.handle(snapshot("binance", 2))
    assert books.state("binance", "BTC/USDT") == "usable"

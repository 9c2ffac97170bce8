from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eip.book import Level
from eip.order_book.analysis.clustering import buckets, tick_width, walls
from eip.order_book.analysis.consolidated import consolidate
from eip.order_book.analysis.depth import cumulative
from eip.order_book.analysis.slippage import estimate_fill
from eip.order_book.analysis.stats import book_stats, imbalance, micro_price

D = Decimal


def levels(*pairs: tuple[str, str]) -> list[Level]:
    return [(D(p), D(s)) for p, s in pairs]


BIDS = levels(("100", "1"), ("99", "2"), ("98", "3"))
ASKS = levels(("101", "2"), ("102", "1"), ("104", "5"))


def test_cumulative_depth() -> None:
    points = cumulative(ASKS)
    assert [p.cumulative_size for p in points] == [D(2), D(3), D(8)]
    assert points[-1].cumulative_notional == D(101 * 2 + 102 + 104 * 5)


def test_stats() -> None:
    stats = book_stats(BIDS, ASKS, [1, 2])
    assert stats.spread == D(1)
    assert stats.mid == D("100.5")
    assert stats.spread_bps == D(1) / D("100.5") * 10_000
    # bid 100 x 1, ask 101 x 2: more size on the ask, so the micro-price leans to the bid
    assert micro_price(BIDS, ASKS) == (D(100) * 2 + D(101) * 1) / 3
    assert stats.micro_price is not None
    assert stats.micro_price < stats.mid
    assert [i.imbalance for i in stats.imbalances] == [D(-1) / 3, D(0)]


def test_stats_of_a_one_sided_book() -> None:
    stats = book_stats(BIDS, [], [5])
    assert (stats.spread, stats.mid, stats.micro_price, stats.best_ask) == (None, None, None, None)
    assert stats.imbalances[0].imbalance == D(1)
    assert imbalance([], [], 1).imbalance is None


def test_fill_by_size_walks_the_asks() -> None:
    fill = estimate_fill(BIDS, ASKS, "buy", size=D("3.5"))
    assert fill.complete
    assert fill.levels_used == 3
    assert fill.worst_price == D(104)
    assert fill.filled_notional == D(101 * 2 + 102 + 104 * D("0.5"))
    assert fill.average_price == fill.filled_notional / D("3.5")
    assert fill.slippage_vs_best == fill.average_price - D(101)
    assert fill.slippage_vs_mid == fill.average_price - D("100.5")


def test_sell_slippage_is_positive_when_receiving_less() -> None:
    fill = estimate_fill(BIDS, ASKS, "sell", size=D(2))
    assert fill.average_price == D("99.5")
    assert fill.slippage_vs_best == D("0.5")
    assert fill.slippage_vs_best_bps == D("0.5") / D(100) * 10_000


def test_fill_by_notional_spends_exactly_it() -> None:
    fill = estimate_fill(BIDS, ASKS, "buy", notional=D(303))
    assert fill.complete
    assert fill.filled_notional == D(303)
    assert fill.filled_size == D(2) + D(101) / D(102)


def test_too_thin_says_how_much_is_missing() -> None:
    fill = estimate_fill(BIDS, ASKS, "sell", size=D(10))
    assert not fill.complete
    assert fill.filled_size == D(6)
    assert fill.shortfall == D(4)
    empty = estimate_fill([], [], "buy", size=D(1))
    assert not empty.complete
    assert empty.average_price is None


@pytest.mark.parametrize(
    ("size", "notional"), [(None, None), (D(1), D(1)), (D(0), None), (None, D(-1))]
)
def test_fill_refuses_bad_requests(size: Decimal | None, notional: Decimal | None) -> None:
    with pytest.raises(ValueError, match=r"size|notional"):
        estimate_fill(BIDS, ASKS, "buy", size=size, notional=notional)


def test_buckets_round_away_from_the_other_side() -> None:
    bids = levels(("100.5", "1"), ("100.1", "2"), ("99.9", "3"))
    asks = levels(("100.6", "1"), ("101.0", "2"), ("101.01", "3"))
    assert [(b.price, b.size, b.levels) for b in buckets(bids, D(1), "bids")] == [
        (D(100), D(3), 2),
        (D(99), D(3), 1),
    ]
    assert [(b.price, b.size) for b in buckets(asks, D(1), "asks")] == [
        (D(101), D(3)),
        (D(102), D(3)),
    ]
    assert tick_width(2, 5) == D("0.05")
    with pytest.raises(ValueError, match="width"):
        buckets(bids, D(0), "bids")


def test_walls_stand_out_against_the_median_of_their_neighbours() -> None:
    side = levels(("10", "1"), ("9", "1.2"), ("8", "9"), ("7", "0.8"), ("6", "1"), ("5", "1"))
    found = walls(side, window=2, factor=D(5))
    assert [(w.price, w.size) for w in found] == [(D(8), D(9))]
    assert found[0].neighbour_median == D("1")
    assert walls(side, window=2, factor=D(10)) == []


def test_consolidated_attributes_each_level() -> None:
    book = consolidate(
        {
            "binance": (levels(("100", "1"), ("99", "2")), levels(("101", "1"))),
            "kraken": (levels(("100", "0.5"), ("98", "1")), levels(("100.5", "3"))),
        },
        depth=2,
    )
    assert [(lv.price, lv.size, lv.venues) for lv in book.bids] == [
        (D(100), D("1.5"), {"binance": D(1), "kraken": D("0.5")}),
        (D(99), D(2), {"binance": D(2)}),
    ]
    assert [lv.price for lv in book.asks] == [D("100.5"), D(101)]
    assert not book.crossed


# -- properties ------------------------------------------------------------------------------

sizes = st.decimals(min_value=D("0.0001"), max_value=D(1000), places=4)
price_steps = st.lists(
    st.tuples(st.integers(min_value=1, max_value=500), sizes), min_size=1, max_size=30
)


def ask_side(steps: list[tuple[int, Decimal]]) -> list[Level]:
    price = D(1000)
    out: list[Level] = []
    for step, size in steps:
        price += D(step) / 100
        out.append((price, size))
    return out


def bid_side(steps: list[tuple[int, Decimal]]) -> list[Level]:
    price = D(1000)
    out: list[Level] = []
    for step, size in steps:
        price -= D(step) / 100
        out.append((price, size))
    return out


@given(price_steps)
def test_cumulative_depth_is_monotone(steps: list[tuple[int, Decimal]]) -> None:
    points = cumulative(ask_side(steps))
    assert all(a.cumulative_size < b.cumulative_size for a, b in itertools.pairwise(points))
    assert points[-1].cumulative_size == sum(s for _, s in steps)


@given(price_steps, price_steps, sizes, st.sampled_from(["buy", "sell"]))
def test_average_fill_price_is_between_best_and_worst_touched(
    bid_steps: list[tuple[int, Decimal]],
    ask_steps: list[tuple[int, Decimal]],
    size: Decimal,
    side: str,
) -> None:
    bids, asks = bid_side(bid_steps), ask_side(ask_steps)
    fill = estimate_fill(bids, asks, "buy" if side == "buy" else "sell", size=size)
    assert fill.average_price is not None
    assert fill.best_price is not None
    assert fill.worst_price is not None
    low, high = sorted((fill.best_price, fill.worst_price))
    assert low <= fill.average_price <= high
    assert fill.slippage_vs_best is not None
    assert fill.slippage_vs_best >= 0
    assert fill.filled_size + fill.shortfall == size
    assert fill.complete == (fill.shortfall == 0)


@given(price_steps, st.integers(min_value=1, max_value=2000))
def test_buckets_conserve_size_and_order(steps: list[tuple[int, Decimal]], width: int) -> None:
    for side, levels_ in (("asks", ask_side(steps)), ("bids", bid_side(steps))):
        out = buckets(levels_, D(width) / 100, side)  # type: ignore[arg-type]
        assert sum(b.size for b in out) == sum(s for _, s in levels_)
        assert sum(b.levels for b in out) == len(levels_)
        prices = [b.price for b in out]
        assert prices == sorted(prices, reverse=side == "bids")
        assert len(set(prices)) == len(prices)


@given(price_steps, price_steps, st.integers(min_value=1, max_value=40))
def test_consolidated_conserves_each_venue(
    a: list[tuple[int, Decimal]], b: list[tuple[int, Decimal]], depth: int
) -> None:
    books = {"x": (bid_side(a), ask_side(b)), "y": (bid_side(b), ask_side(a))}
    merged = consolidate(books, depth=depth)
    assert len(merged.bids) <= depth
    for level in merged.bids + merged.asks:
        assert level.size == sum(level.venues.values())
    if len(merged.bids) < depth:  # everything fit: each venue's size is all there
        for venue, (bids, _) in books.items():
            assert sum(lv.venues.get(venue, D(0)) for lv in merged.bids) == sum(
                s for _, s in bids[:depth]
            )

"""PnL from trades: FIFO and average cost against naive models on generated trade sequences,
fees in every asset a venue charges them in, and sales beyond the recorded buys."""

from __future__ import annotations

from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from eip.account.pnl import Method, Trade, compute

D = Decimal
TOLERANCE = D("1e-18")


def close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= TOLERANCE * max(D(1), abs(a), abs(b))


def naive_fifo(trades: list[Trade]) -> dict[str, tuple[Decimal, Decimal, Decimal, Decimal]]:
    """(realized, quantity, cost, unmatched) per symbol: a list of (quantity, unit cost)
    lots, the oldest consumed first."""
    out: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {}
    lots: dict[str, list[list[Decimal]]] = {}
    with localcontext() as ctx:
        ctx.prec = 50
        for t in trades:
            base, _, quote = t.symbol.partition("/")
            realized, _, _, unmatched = out.get(t.symbol, (D(0), D(0), D(0), D(0)))
            book = lots.setdefault(t.symbol, [])
            qfee = t.fee if t.fee_asset == quote else D(0)
            bfee = t.fee if t.fee_asset == base else D(0)
            if t.side == "buy":
                qty = t.quantity - bfee
                book.append([qty, (t.quantity * t.price + qfee) / qty])
            else:
                leaving = t.quantity + bfee
                proceeds = t.quantity * t.price - qfee
                take, cost = leaving, D(0)
                while take > 0 and book:
                    q, unit = book[0]
                    used = min(q, take)
                    cost += used * unit
                    take -= used
                    if used == q:
                        book.pop(0)
                    else:
                        book[0][0] = q - used
                matched = leaving - take
                unmatched += take
                if matched > 0:
                    realized += proceeds * matched / leaving - cost
            held = sum((q for q, _ in book), D(0))
            cost_held = sum((q * u for q, u in book), D(0))
            out[t.symbol] = (realized, held, cost_held, unmatched)
    return out


def naive_average(trades: list[Trade]) -> dict[str, tuple[Decimal, Decimal, Decimal, Decimal]]:
    """(realized, quantity, cost, unmatched): one running average unit cost."""
    state: dict[str, list[Decimal]] = {}
    with localcontext() as ctx:
        ctx.prec = 50
        for t in trades:
            base, _, quote = t.symbol.partition("/")
            realized, qty, avg, unmatched = state.setdefault(t.symbol, [D(0)] * 4)
            qfee = t.fee if t.fee_asset == quote else D(0)
            bfee = t.fee if t.fee_asset == base else D(0)
            if t.side == "buy":
                got = t.quantity - bfee
                avg = (avg * qty + t.quantity * t.price + qfee) / (qty + got)
                qty += got
            else:
                leaving = t.quantity + bfee
                matched = min(leaving, qty)
                unmatched += leaving - matched
                if matched > 0:
                    proceeds = (t.quantity * t.price - qfee) * matched / leaving
                    realized += proceeds - avg * matched
                    qty -= matched
            state[t.symbol] = [realized, qty, avg, unmatched]
    return {s: (r, q, q * a, u) for s, (r, q, a, u) in state.items()}


prices = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2)
quantities = st.decimals(min_value=D("0.001"), max_value=D("10"), places=3)


@st.composite
def trade(draw: st.DrawFn) -> Trade:
    symbol = draw(st.sampled_from(["BTC/USD", "ETH/BTC"]))
    base, _, quote = symbol.partition("/")
    quantity = draw(quantities)
    price = draw(prices)
    fee_asset = draw(st.sampled_from([None, base, quote, "BNB"]))
    if fee_asset == base:
        fee = (quantity * draw(st.sampled_from([D("0.001"), D("0.0001")]))).quantize(D("1e-8"))
    elif fee_asset is None:
        fee = D(0)
    else:
        fee = (quantity * price * D("0.001")).quantize(D("1e-8"))
    return Trade(symbol, draw(st.sampled_from(["buy", "sell"])), price, quantity, fee, fee_asset)


sequences = st.lists(trade(), max_size=60)


@settings(max_examples=300, deadline=None)
@given(sequences)
def test_fifo_equals_the_naive_lot_list(trades: list[Trade]) -> None:
    got = compute(trades, "fifo")
    for symbol, (realized, qty, cost, unmatched) in naive_fifo(trades).items():
        p = got[symbol]
        assert close(p.realized, realized), (p.realized, realized)
        assert close(p.quantity, qty)
        assert close(p.cost, cost)
        assert close(p.unmatched_quantity, unmatched)


@settings(max_examples=300, deadline=None)
@given(sequences)
def test_average_cost_equals_the_naive_running_average(trades: list[Trade]) -> None:
    got = compute(trades, "average")
    for symbol, (realized, qty, cost, unmatched) in naive_average(trades).items():
        p = got[symbol]
        assert close(p.realized, realized), (p.realized, realized)
        assert close(p.quantity, qty)
        assert close(p.cost, cost)
        assert close(p.unmatched_quantity, unmatched)


@settings(max_examples=200, deadline=None)
@given(sequences, prices)
def test_both_methods_agree_on_total_pnl_realized_plus_unrealized(
    trades: list[Trade], price: Decimal
) -> None:
    fifo, avg = compute(trades, "fifo"), compute(trades, "average")
    for symbol in fifo:
        a, b = fifo[symbol], avg[symbol]
        assert close(a.quantity, b.quantity)
        assert close(a.unmatched_quantity, b.unmatched_quantity)
        assert close(a.realized + a.unrealized(price), b.realized + b.unrealized(price))


@settings(max_examples=200, deadline=None)
@given(sequences)
def test_fees_paid_add_up_per_asset(trades: list[Trade]) -> None:
    fees: dict[str, Decimal] = {}
    for t in trades:
        if t.fee and t.fee_asset:
            fees[t.fee_asset] = fees.get(t.fee_asset, D(0)) + t.fee
    got: dict[str, Decimal] = {}
    for p in compute(trades, "fifo").values():
        for asset, amount in p.fees.items():
            got[asset] = got.get(asset, D(0)) + amount
    assert got == fees


def test_fifo_and_average_cost_tell_apart_on_a_known_sequence() -> None:
    trades = [
        Trade("BTC/USD", "buy", D(100), D(1)),
        Trade("BTC/USD", "buy", D(200), D(1)),
        Trade("BTC/USD", "sell", D(300), D(1)),
    ]
    fifo, avg = compute(trades, "fifo")["BTC/USD"], compute(trades, "average")["BTC/USD"]
    assert (fifo.realized, fifo.cost) == (D(200), D(200))
    assert (avg.realized, avg.cost) == (D(150), D(150))
    assert fifo.unrealized(D(300)) == D(100)
    assert avg.unrealized(D(300)) == D(150)


def test_fees_in_quote_base_and_a_third_asset() -> None:
    trades = [
        Trade("BTC/USD", "buy", D(100), D(1), D(1), "USD"),  # cost 101
        Trade("BTC/USD", "buy", D(100), D(1), D("0.01"), "BTC"),  # 0.99 BTC for 100
        Trade("BTC/USD", "sell", D(150), D(1), D("0.5"), "BNB"),
    ]
    p = compute(trades, "fifo")["BTC/USD"]
    assert p.realized == D(150) - D(101)
    assert p.quantity == D("0.99")
    assert p.cost == D(100)
    assert p.fees == {"USD": D(1), "BTC": D("0.01"), "BNB": D("0.5")}


def test_a_sale_beyond_the_recorded_buys_has_no_invented_profit() -> None:
    trades = [Trade("ETH/USD", "buy", D(10), D(1)), Trade("ETH/USD", "sell", D(20), D(3))]
    methods: list[Method] = ["fifo", "average"]
    for method in methods:
        p = compute(trades, method)["ETH/USD"]
        assert p.unmatched_quantity == D(2)
        assert p.realized == D(10)  # one of three sold units had a basis: 20 - 10
        assert p.quantity == 0

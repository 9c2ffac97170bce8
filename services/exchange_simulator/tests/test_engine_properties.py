"""Property tests: whatever sequence of orders arrives, the engine's invariants hold."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from eip.exchange_simulator.core.engine import TradeEvent
from eip.exchange_simulator.core.exchange import Exchange, OrderRequest
from eip.exchange_simulator.core.orders import Order, OrderType, Rejection, Side, TimeInForce

from .conftest import FakeClock, btcusdt

ACCOUNTS = ["a", "b", "c"]

order_requests = st.builds(
    lambda account, side, kind, qty_steps, price_ticks, tif: (
        account,
        side,
        kind,
        D(qty_steps) / 100,
        D(49900) + D(price_ticks),
        tif,
    ),
    st.sampled_from(ACCOUNTS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from(
        ["limit", "limit", "limit", "market", "market_quote", "maker", "stop", "cancel"]
    ),
    st.integers(min_value=1, max_value=300),
    st.integers(min_value=0, max_value=200),
    st.sampled_from(list(TimeInForce)),
)


Action = tuple[str, Side, str, D, D, TimeInForce]


def run(actions: list[Action]) -> tuple[Exchange, list[Order]]:
    ex = Exchange([btcusdt()], clock=FakeClock())
    for name in ACCOUNTS:
        ex.create_account(name, {"USDT": D(300_000), "BTC": D(6)})
    trades: list[TradeEvent] = []
    ex.listeners.trade.append(trades.append)
    placed: list[Order] = []
    for account, side, kind, qty, price, tif in actions:
        try:
            if kind == "cancel":
                open_orders = ex.open_orders(account)
                if open_orders:
                    ex.cancel(account, "BTCUSDT", open_orders[0].order_id)
                continue
            if kind == "limit":
                req = OrderRequest(
                    account, "BTCUSDT", side, OrderType.LIMIT, qty, price, time_in_force=tif
                )
            elif kind == "maker":
                req = OrderRequest(account, "BTCUSDT", side, OrderType.LIMIT_MAKER, qty, price)
            elif kind == "market":
                req = OrderRequest(account, "BTCUSDT", side, OrderType.MARKET, qty)
            elif kind == "market_quote":
                req = OrderRequest(
                    account, "BTCUSDT", side, OrderType.MARKET, quote_quantity=qty * 1000
                )
            else:
                req = OrderRequest(
                    account,
                    "BTCUSDT",
                    side,
                    OrderType.STOP_LOSS_LIMIT,
                    qty,
                    price,
                    stop_price=price,
                    time_in_force=TimeInForce.GTC,
                )
            placed.append(ex.place(req))
        except Rejection:
            pass
    return ex, placed


@settings(max_examples=150, deadline=None)
@given(st.lists(order_requests, max_size=60))
def test_balances_are_conserved_and_consistent(actions: list[Action]) -> None:
    ex, _placed = run(actions)
    totals: dict[str, D] = {}
    for account in ex.accounts.values():
        for asset, bal in account.balances.items():
            assert bal.free >= 0, (account.account_id, asset, bal)
            assert bal.locked >= 0, (account.account_id, asset, bal)
            totals[asset] = totals.get(asset, D(0)) + bal.total
    assert totals == {"USDT": D(900_000), "BTC": D(18)}
    # locked funds are exactly what open orders still reserve
    for name in ACCOUNTS:
        reserved: dict[str, D] = {}
        for order in ex.open_orders(name):
            reserved[order.reserved_asset] = (
                reserved.get(order.reserved_asset, D(0)) + order.reserved
            )
        for asset, bal in ex.accounts[name].balances.items():
            assert bal.locked == reserved.get(asset, D(0)), (name, asset)


@settings(max_examples=150, deadline=None)
@given(st.lists(order_requests, max_size=60))
def test_book_never_crossed_at_rest_and_fills_respect_limits(actions: list[Action]) -> None:
    ex, placed = run(actions)
    book = ex.engines["BTCUSDT"].book
    best_bid, best_ask = book.bids.best(), book.asks.best()
    if best_bid and best_ask:
        assert best_bid.price < best_ask.price
    for order in placed:
        if order.effective_type.has_limit_price and order.price is not None:
            for fill in order.fills:
                if order.side is Side.BUY:
                    assert fill.price <= order.price
                else:
                    assert fill.price >= order.price
        assert order.executed_qty == sum((f.qty for f in order.fills), D(0))
        if order.quantity is not None:
            assert order.executed_qty <= order.quantity
    for level in list(book.bids.iter_levels()) + list(book.asks.iter_levels()):
        assert level.total == sum((o.remaining for o in level.orders), D(0))
        assert level.total > 0

from decimal import Decimal as D

import pytest

from eip.exchange_simulator.core.exchange import FEE_ACCOUNT, BookUpdate, Exchange, OrderRequest
from eip.exchange_simulator.core.orders import (
    OrderStatus,
    OrderType,
    Rejection,
    Side,
    TimeInForce,
)

GTC = TimeInForce.GTC


def limit(account: str, side: Side, qty: str, price: str, tif: TimeInForce = GTC) -> OrderRequest:
    return OrderRequest(
        account, "BTCUSDT", side, OrderType.LIMIT, D(qty), D(price), time_in_force=tif
    )


def stop_limit_sell(qty: str, price: str, stop: str) -> OrderRequest:
    return OrderRequest(
        "alice",
        "BTCUSDT",
        Side.SELL,
        OrderType.STOP_LOSS_LIMIT,
        D(qty),
        D(price),
        stop_price=D(stop),
        time_in_force=GTC,
    )


def alice_sells_at_50000_to_bob(exchange: Exchange) -> None:
    """Alice asks 1 BTC at 50,000, bob buys 0.1 of it: the last price is 50,000."""
    exchange.place(limit("alice", Side.SELL, "1", "50000"))
    exchange.place(limit("bob", Side.BUY, "0.1", "50000"))


def totals(ex: Exchange) -> dict[str, D]:
    out: dict[str, D] = {}
    for account in ex.accounts.values():
        for asset, bal in account.balances.items():
            out[asset] = out.get(asset, D(0)) + bal.total
    return out


def test_limit_orders_rest_then_match_at_maker_price_with_fees(exchange: Exchange) -> None:
    before = totals(exchange)
    ask = exchange.place(limit("alice", Side.SELL, "1", "50000"))
    assert ask.status is OrderStatus.NEW
    assert exchange.accounts["alice"].balance("BTC").locked == D(1)
    bid = exchange.place(limit("bob", Side.BUY, "0.4", "50100"))
    assert bid.status is OrderStatus.FILLED
    assert bid.fills[0].price == D(50000)  # price improvement for the taker
    assert exchange.orders[ask.order_id].status is OrderStatus.PARTIALLY_FILLED
    assert ask.remaining == D("0.6")
    bob = exchange.accounts["bob"]
    # bob reserved 0.4*50100, paid 0.4*50000: the difference is back in free
    assert bob.balance("USDT").free == D(100000) - D(20000)
    assert bob.balance("USDT").locked == 0
    assert bob.balance("BTC").free == D(10) + D("0.4") - D("0.0008")  # taker fee 0.2 % in BTC
    alice = exchange.accounts["alice"]
    assert alice.balance("USDT").free == D(100000) + D(20000) - D(20)  # maker fee 0.1 % in USDT
    assert exchange.accounts[FEE_ACCOUNT].balance("BTC").free == D("0.0008")
    assert totals(exchange) == before


def test_price_time_priority(exchange: Exchange) -> None:
    first = exchange.place(limit("alice", Side.SELL, "1", "50000"))
    second = exchange.place(limit("bob", Side.SELL, "1", "50000"))
    better = exchange.place(limit("bob", Side.SELL, "1", "49999"))
    exchange.accounts["alice"].deposit("USDT", D(1_000_000))
    taker = exchange.place(limit("alice", Side.BUY, "2.5", "50000"))
    assert [f.price for f in taker.fills] == [D(49999), D(50000), D(50000)]
    assert better.status is OrderStatus.FILLED
    assert first.status is OrderStatus.FILLED
    assert second.status is OrderStatus.PARTIALLY_FILLED


def test_market_orders_by_base_and_quote(exchange: Exchange) -> None:
    exchange.place(limit("alice", Side.SELL, "1", "50000"))
    exchange.place(limit("alice", Side.SELL, "1", "51000"))
    by_base = exchange.place(OrderRequest("bob", "BTCUSDT", Side.BUY, OrderType.MARKET, D("1.5")))
    assert by_base.status is OrderStatus.FILLED
    assert by_base.cumulative_quote == D(50000) + D("0.5") * D(51000)
    by_quote = exchange.place(
        OrderRequest(
            "bob",
            "BTCUSDT",
            Side.BUY,
            OrderType.MARKET,
            quote_quantity=D("10200"),
        )
    )
    assert by_quote.executed_qty == D("0.2")
    assert by_quote.cumulative_quote == D("10200")
    assert by_quote.status is OrderStatus.FILLED
    assert exchange.accounts["bob"].balance("USDT").locked == 0


def test_market_order_without_enough_liquidity_expires_remainder(exchange: Exchange) -> None:
    exchange.place(limit("alice", Side.BUY, "0.5", "50000"))
    sell = exchange.place(OrderRequest("bob", "BTCUSDT", Side.SELL, OrderType.MARKET, D("2")))
    assert sell.status is OrderStatus.EXPIRED
    assert sell.executed_qty == D("0.5")
    assert exchange.accounts["bob"].balance("BTC").locked == 0


def test_ioc_fok_and_limit_maker(exchange: Exchange) -> None:
    exchange.deposit("bob", "USDT", D(1_000_000))
    exchange.place(limit("alice", Side.SELL, "1", "50000"))
    ioc = exchange.place(limit("bob", Side.BUY, "2", "50000", TimeInForce.IOC))
    assert (ioc.status, ioc.executed_qty) == (OrderStatus.EXPIRED, D(1))
    exchange.place(limit("alice", Side.SELL, "1", "50000"))
    fok = exchange.place(limit("bob", Side.BUY, "2", "50000", TimeInForce.FOK))
    assert (fok.status, fok.executed_qty) == (OrderStatus.EXPIRED, D(0))
    with pytest.raises(Rejection) as info:
        exchange.place(
            OrderRequest("bob", "BTCUSDT", Side.BUY, OrderType.LIMIT_MAKER, D(1), D(50000))
        )
    assert info.value.reason == "would_match"
    maker = exchange.place(
        OrderRequest("bob", "BTCUSDT", Side.BUY, OrderType.LIMIT_MAKER, D(1), D(49000))
    )
    assert maker.status is OrderStatus.NEW


def test_stop_loss_limit_triggers_on_last_price(exchange: Exchange) -> None:
    alice_sells_at_50000_to_bob(exchange)
    stop = exchange.place(stop_limit_sell("0.5", "48900", "49000"))
    assert stop.status is OrderStatus.NEW
    assert not stop.is_working
    with pytest.raises(Rejection) as info:  # a buy stop below the market would fire at once
        exchange.place(
            OrderRequest(
                "bob",
                "BTCUSDT",
                Side.BUY,
                OrderType.STOP_LOSS,
                D("0.1"),
                stop_price=D("49000"),
            )
        )
    assert info.value.reason == "would_trigger"
    exchange.place(limit("bob", Side.BUY, "0.3", "49000"))
    exchange.place(limit("alice", Side.SELL, "0.1", "49000"))  # trades at 49000: stop fires
    assert stop.is_working
    assert stop.status is OrderStatus.PARTIALLY_FILLED
    assert stop.fills[0].price == D(49000)


def test_rejections(exchange: Exchange) -> None:
    cases = [
        (limit("bob", Side.BUY, "1", "50000.001"), "filter", "PRICE_FILTER"),
        (limit("bob", Side.BUY, "0.000001", "50000"), "filter", "LOT_SIZE"),
        (limit("bob", Side.BUY, "0.00001", "50000"), "filter", "NOTIONAL"),
        (limit("bob", Side.BUY, "5", "50000"), "insufficient_balance", None),
    ]
    for request, reason, message in cases:
        with pytest.raises(Rejection) as info:
            exchange.place(request)
        assert info.value.reason == reason
        if message:
            assert info.value.message == message
    exchange.set_status("BTCUSDT", "HALT")
    with pytest.raises(Rejection, match="Market is closed"):
        exchange.place(limit("bob", Side.BUY, "1", "100"))
    assert exchange.accounts["bob"].balance("USDT").locked == 0


def test_cancel_releases_funds_and_unknown_cancel_is_refused(exchange: Exchange) -> None:
    order = exchange.place(limit("bob", Side.BUY, "1", "40000"))
    assert exchange.accounts["bob"].balance("USDT").locked == D(40000)
    exchange.cancel("bob", "BTCUSDT", order.order_id)
    assert order.status is OrderStatus.CANCELED
    assert exchange.accounts["bob"].balance("USDT").locked == 0
    with pytest.raises(Rejection, match="Unknown order"):
        exchange.cancel("bob", "BTCUSDT", order.order_id)
    with pytest.raises(Rejection, match="Unknown order"):
        exchange.cancel("alice", "BTCUSDT", 999)


def test_book_updates_get_contiguous_ids(exchange: Exchange) -> None:
    updates: list[BookUpdate] = []
    exchange.listeners.book.append(updates.append)
    exchange.place(limit("alice", Side.SELL, "1", "50000"))
    exchange.place(limit("alice", Side.SELL, "1", "50001"))
    exchange.place(limit("bob", Side.BUY, "1.5", "50001"))
    ids = [u.update_id for u in updates]
    assert ids == list(range(ids[0], ids[0] + 3))
    last = updates[-1].changes
    assert set(last) == {(Side.SELL, D(50000), D(0)), (Side.SELL, D(50001), D("0.5"))}
    update_id, bids, asks = exchange.depth("BTCUSDT", 10)
    assert update_id == ids[-1]
    assert bids == []
    assert asks == [(D(50001), D("0.5"))]


def test_client_order_id_is_unique_among_open_orders(exchange: Exchange) -> None:
    request = limit("bob", Side.BUY, "0.1", "40000")
    request.client_order_id = "my-order-1"
    first = exchange.place(request)
    with pytest.raises(Rejection) as info:
        exchange.place(request)
    assert (info.value.reason, info.value.message) == ("duplicate", "Duplicate order sent.")
    other = limit("alice", Side.BUY, "0.1", "40000")
    other.client_order_id = "my-order-1"  # another account may use the same id
    assert exchange.place(other).status is OrderStatus.NEW
    exchange.cancel("bob", "BTCUSDT", first.order_id)
    assert exchange.place(request).status is OrderStatus.NEW  # free again once closed

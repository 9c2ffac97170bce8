"""Pre-trade risk, one denial code per test, through the HTTP API against the simulator's
instruments and balances, live prices on md.tickers.v1 and the order-book service's slippage:
every denial answers 422 ``order_denied`` with its code, keeps the denied order (the same key
answers it again), and sends nothing to the venue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from eip.exchange_simulator.client import SimulatorClient

from .harness import EXCHANGE, SYMBOL, Desk, Instance, until

pytestmark = pytest.mark.integration


async def _denied(
    desk: Desk, om: Instance, account: str, code: str, key: str = "k", **fields: Any
) -> dict[str, Any]:
    response = await desk.place(om, account, key, wait="none", **fields)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "order_denied", error
    assert error["details"]["denial"]["code"] == code, error
    again = await desk.place(om, account, key, wait="none", **fields)
    assert again.json()["error"]["details"]["order_id"] == error["details"]["order_id"]
    order = await desk.order(om, error["details"]["order_id"])
    assert order["state"] == "denied"
    assert order["denial"]["code"] == code
    return order


async def _live_price(desk: Desk, om: Instance, bid: str = "999", ask: str = "1001") -> None:
    await desk.ticker(bid, ask)

    def arrived() -> bool:
        quote = om.runtime.prices.quote(EXCHANGE, SYMBOL)
        return quote is not None and quote.bid == Decimal(bid)

    await until(arrived, what="the ticker to arrive")


async def test_an_instrument_the_venue_does_not_list_is_denied(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    await _denied(desk, om, account, "unknown_instrument", symbol="NOPE/USDT")
    await _denied(desk, om, account, "unknown_instrument", "k2", exchange="nowhere")
    assert await desk.venue_orders(account) == []


async def test_an_instrument_the_venue_halted_is_denied(
    shared: tuple[Desk, Instance], sim: SimulatorClient
) -> None:
    desk, om = shared
    account = await desk.account({"USDT": "100000", "SOL": "100"})
    await sim.halt("SOLUSDT")
    try:
        await until(lambda: _closed(om), 10, "the rules to be read again")
        await _denied(
            desk, om, account, "market_closed", symbol="SOL/USDT", price="150", quantity="0.1"
        )
    finally:
        await sim.resume_symbol("SOLUSDT")


async def _closed(om: Instance) -> bool:
    rules = await om.runtime.venues.rules("any", EXCHANGE)
    return not rules["SOL/USDT"].trading


async def test_a_time_in_force_the_venue_lacks_is_denied(shared: tuple[Desk, Instance]) -> None:
    desk, om = shared
    account = await desk.account()
    expire = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await _denied(
        desk, om, account, "time_in_force_unsupported", time_in_force="gtd", expire_time=expire
    )


@pytest.mark.parametrize(
    ("code", "fields"),
    [
        ("price_tick", {"price": "1000.005"}),
        ("quantity_step", {"quantity": "0.000015"}),
        ("quantity_below_min", {"symbol": "BTC/USD", "quantity": "0.00001", "price": "1000"}),
        ("quantity_above_max", {"quantity": "9001"}),
        ("notional_below_min", {"quantity": "0.001"}),
        ("notional_above_max", {"symbol": "TST/USDT", "quantity": "10", "price": "100"}),
    ],
)
async def test_the_venues_instrument_rules_deny_with_their_code(
    shared: tuple[Desk, Instance], code: str, fields: dict[str, str]
) -> None:
    desk, om = shared
    account = await desk.account()
    await _denied(desk, om, account, code, **fields)


async def test_a_limit_price_far_from_the_live_mid_is_denied(shared: tuple[Desk, Instance]) -> None:
    desk, om = shared
    account = await desk.account()
    await desk.limits(om, "instrument", f"{EXCHANGE}:{SYMBOL}", price_band_pct="5")
    try:
        await _live_price(desk, om)
        order = await _denied(desk, om, account, "price_band", price="1100")
        assert order["denial"]["details"]["mid"] == "1000"
        accepted = await desk.place(om, account, "near", price="990")
        assert accepted.status_code == 201, accepted.text
    finally:
        await desk.limits(om, "instrument", f"{EXCHANGE}:{SYMBOL}")


async def test_a_price_band_against_a_stale_price_is_refused(shared: tuple[Desk, Instance]) -> None:
    desk, om = shared
    account = await desk.account()
    await desk.limits(om, "account", account, price_band_pct="5", reference_max_age_s="10")
    await desk.ticker("999", "1001", at=datetime.now(UTC) - timedelta(seconds=60))
    await until(lambda: om.runtime.prices.quote(EXCHANGE, SYMBOL) is not None, what="a ticker")
    # a fresh one from an earlier test may be the latest: make sure this account's check sees
    # only stale prices by giving it a maximum age below any ticker's age
    await desk.limits(om, "account", account, price_band_pct="5", reference_max_age_s="0.001")
    order = await _denied(desk, om, account, "reference_stale")
    assert order["denial"]["details"]["max_age_s"] == "0.001"


async def test_a_market_order_whose_slippage_the_book_puts_too_high_is_denied(desk: Desk) -> None:
    url = await desk.order_book()
    om = await desk.instance(order_book_url=url, books_token=_books_token(desk))
    account = await desk.account()
    await desk.maker("buy", Decimal("999"), Decimal("0.006"))
    await desk.maker("sell", Decimal("1000"), Decimal("0.005"))
    await desk.maker("sell", Decimal("1100"), Decimal("0.05"))
    await desk.limits(om, "account", account, max_slippage_bps="50")
    await until(lambda: _book_ready(url, desk), 30, "the order book to follow the simulator")
    order = await _denied(desk, om, account, "slippage", type="market", price=None, quantity="0.02")
    assert Decimal(order["denial"]["details"]["slippage_bps"]) > 50
    small = await desk.place(om, account, "small", type="market", price=None, quantity="0.005")
    assert small.status_code == 201, small.text
    # settled either way (the venue's market-order notional check may refuse it) before the
    # makers go
    await desk.state_of(om, small.json()["order"]["order_id"], "filled", "rejected", "expired")
    await desk.clear_makers()  # the session's books are the tests': leave none of ours behind


def _books_token(desk: Desk) -> Any:
    async def token() -> str:
        return desk.p.issuer.token(["books:read"])

    return token


async def _book_ready(url: str, desk: Desk) -> bool:
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.get(
            f"{url}/v1/books/{EXCHANGE}/BTC-USDT/slippage",
            params={"side": "buy", "size": "0.001"},
            headers=desk.p.issuer.headers(["books:read"]),
        )
    return response.status_code == 200 and response.json()["filled_notional"] not in ("0", "0.0")


async def test_a_market_order_is_denied_when_its_slippage_cannot_be_known(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared  # its order-book service address answers nothing
    account = await desk.account()
    await desk.limits(om, "account", account, max_slippage_bps="50")
    await _denied(desk, om, account, "slippage_unavailable", type="market", price=None)


async def test_an_account_without_a_key_at_the_exchange_is_denied(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = f"nokey-{desk.accounts[0] if desk.accounts else 'x'}"
    desk.accounts.append(account)  # the token covers it; auth has no key for it
    await _denied(desk, om, account, "no_credential")


async def test_an_order_beyond_the_free_balance_and_what_is_promised_is_denied(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account({"USDT": "25", "BTC": "0"})
    first = await desk.place(om, account, "first", price="1000", quantity="0.015")  # 15 of 25
    assert first.status_code == 201, first.text
    order = await _denied(desk, om, account, "insufficient_balance", quantity="0.011")  # 11 > 10
    assert order["denial"]["details"]["asset"] == "USDT"
    await _denied(desk, om, account, "insufficient_balance", "sell", side="sell")


async def test_an_order_is_denied_when_the_balance_cannot_be_read(
    shared: tuple[Desk, Instance], sim: SimulatorClient
) -> None:
    desk, om = shared
    account = await desk.account()
    await sim.fail_requests(50, 503, "/api/v3/account", venue=EXCHANGE)
    await _denied(desk, om, account, "balance_unavailable")


@pytest.mark.parametrize(
    ("code", "limits", "fields"),
    [
        ("max_order_notional", {"max_order_notional": "5"}, {}),
        ("max_order_quantity", {"max_order_quantity": "0.001"}, {}),
    ],
)
async def test_the_accounts_order_limits_deny_with_their_code(
    shared: tuple[Desk, Instance], code: str, limits: dict[str, str], fields: dict[str, str]
) -> None:
    desk, om = shared
    account = await desk.account()
    await desk.limits(om, "account", account, **limits)
    await _denied(desk, om, account, code, **fields)


async def test_open_orders_beyond_the_accounts_limit_are_denied(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    await desk.limits(om, "account", account, max_open_orders=1)
    assert (await desk.place(om, account, "one")).status_code == 201
    await _denied(desk, om, account, "max_open_orders", "two")


async def test_orders_faster_than_the_accounts_rate_are_denied(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    await desk.limits(om, "account", account, order_rate_per_s="0.1", order_burst=1)
    assert (await desk.place(om, account, "one")).status_code == 201
    order = await _denied(desk, om, account, "order_rate", "two")
    assert float(order["denial"]["details"]["retry_after_s"]) > 1


async def test_the_days_traded_notional_and_realized_loss_are_limits(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account({"USDT": "1000", "ETH": "0.001"})  # the buy's fee is in ETH
    eth: dict[str, Any] = {"symbol": "ETH/USDT", "type": "market", "price": None, "quantity": "0.1"}
    await desk.maker("sell", Decimal("100"), Decimal("0.1"), symbol="ETH/USDT")
    bought = await desk.place(om, account, "buy", **eth)
    await desk.state_of(om, bought.json()["order"]["order_id"], "filled")
    await desk.maker("buy", Decimal("90"), Decimal("0.1"), symbol="ETH/USDT")
    sold = await desk.place(om, account, "sell", side="sell", **eth)
    await desk.state_of(om, sold.json()["order"]["order_id"], "filled")
    await until(lambda: _usage(om, account), what="both fills to be booked")
    await desk.limits(om, "account", account, max_daily_notional="25")
    order = await _denied(desk, om, account, "daily_notional", "third")  # 19 traded + 10
    assert Decimal(order["denial"]["details"]["traded"]) == Decimal("19")
    await desk.limits(om, "account", account, max_daily_loss="0.5")  # lost 1 (100 -> 90)
    order = await _denied(desk, om, account, "daily_loss", "fourth")
    assert Decimal(order["denial"]["details"]["realized"]) == Decimal("-1")


async def _usage(om: Instance, account: str) -> bool:
    traded, _ = await om.runtime._usage(account, datetime.now(UTC).date())
    return traded == Decimal("19")


async def test_a_halted_account_only_cancels_and_a_reducing_one_only_sells(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account({"USDT": "100000", "BTC": "0.02"})
    resting = await desk.place(om, account, "resting")
    await desk.switch(om, "account", account, "halted", reason="test")
    await _denied(desk, om, account, "halted", "after-halt")
    cancel = await om.http.post(
        f"/v1/orders/{resting.json()['order']['order_id']}/cancel", headers=desk.headers()
    )
    assert cancel.status_code == 202
    await desk.switch(om, "account", account, "reducing")
    await _denied(desk, om, account, "reducing_only", "buy")
    await _denied(
        desk, om, account, "reducing_only", "too-much", side="sell", price="1100", quantity="0.03"
    )
    sale = await desk.place(om, account, "reduce", side="sell", price="1100", quantity="0.02")
    assert sale.status_code == 201, sale.text
    await desk.switch(om, "account", account, "active")


async def test_the_anomaly_guard_halts_an_account_whose_commands_come_from_a_new_source(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    await desk.limits(om, "account", account, anomaly_guard=True, anomaly_warmup_orders=3)
    for n in range(3):
        assert (await desk.place(om, account, f"usual-{n}", price=str(990 - n))).status_code == 201
    body = {
        "account_id": account,
        "idempotency_key": "stranger",
        "exchange": EXCHANGE,
        "symbol": SYMBOL,
        "side": "buy",
        "type": "limit",
        "quantity": "0.01",
        "price": "980",
    }
    response = await om.http.post("/v1/orders", json=body, headers=desk.headers(subject="stranger"))
    assert response.status_code == 422
    assert response.json()["error"]["details"]["denial"]["code"] == "anomaly"
    switches = (await om.http.get("/v1/risk/kill-switches", headers=desk.headers())).json()[
        "switches"
    ]
    mine = [s for s in switches if s["scope_id"] == account]
    assert mine
    assert mine[0]["state"] == "halted"
    assert mine[0]["reason"].startswith("anomaly")
    await _denied(desk, om, account, "halted", "after")  # until an admin releases it
    await desk.switch(om, "account", account, "active", reason="released")
    assert (await desk.place(om, account, "released", price="970")).status_code == 201

"""Order types the venue lacks (or a caller wants held), emulated from the live trades that the
market-data service streams from the simulator: a stop, a trailing stop, an OCO and a bracket
fire once, also across a restart of order management, and what they send is one venue order."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from .harness import EXCHANGE, SYMBOL, Desk, until

pytestmark = pytest.mark.integration


async def _placed(desk: Desk, response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()["order"]
    return order


async def _one_venue_order_per_client_id(desk: Desk, account: str) -> Counter[str]:
    counts = Counter(o["clientOrderId"] for o in await desk.venue_orders(account))
    assert not counts or max(counts.values()) == 1, counts
    return counts


async def test_an_emulated_stop_fires_once_across_a_restart_and_fills(desk: Desk) -> None:
    await desk.market_data()
    om = await desk.instance()
    account = await desk.account()
    await desk.maker("buy", Decimal("990"), Decimal("0.05"))
    stop = await _placed(
        desk,
        await desk.place(
            om,
            account,
            "stop",
            wait="none",
            side="sell",
            type="stop_market",
            price=None,
            stop_price="995",
            emulate=True,
        ),
    )
    assert stop["state"] == "emulated"
    assert stop["emulated"] is True
    await desk.print_at("1000", 3)  # above the stop: nothing
    await desk.print_at("999")
    assert (await desk.order(om, stop["order_id"]))["state"] == "emulated"
    await om.stop()
    om = await desk.instance()  # the trigger is restored from PostgreSQL
    await until(lambda: om.runtime.emulator.armed() == 1, what="the trigger to be restored")
    await desk.print_at("994", 5)  # fires on the first; the others find it fired
    filled = await desk.state_of(om, stop["order_id"], "filled")
    assert Decimal(filled["trigger_price"]) == Decimal("995")
    assert Decimal(filled["average_price"]) == Decimal("990")
    counts = await _one_venue_order_per_client_id(desk, account)
    assert counts == Counter({stop["client_order_id"]: 1})
    history = (
        await om.http.get(f"/v1/orders/{stop['order_id']}/events", headers=desk.headers())
    ).json()
    assert [e["event"] for e in history["events"]].count("trigger") == 1


async def test_a_trailing_stop_follows_the_highest_trade_across_a_restart(desk: Desk) -> None:
    await desk.market_data()
    om = await desk.instance()
    account = await desk.account()
    await desk.maker("buy", Decimal("980"), Decimal("0.05"))
    trailing = await _placed(
        desk,
        await desk.place(
            om,
            account,
            "trail",
            wait="none",
            side="sell",
            type="trailing_stop_market",
            price=None,
            trailing={"value": "10", "unit": "price"},
        ),
    )
    # Binance trails natively in basis points only: the platform takes a price distance over
    await desk.state_of(om, trailing["order_id"], "emulated")
    for price in ("1000", "1010", "1004"):  # the watermark rises to 1010: the level is 1000
        await desk.print_at(price)
    await until(lambda: _watermark(om) == Decimal("1010"), what="the watermark to follow")
    await om.runtime.emulator.flush()
    await om.stop()
    om = await desk.instance()
    await until(lambda: om.runtime.emulator.armed() == 1, what="the trigger to be restored")
    await desk.print_at("1001")  # above 1000: no fire
    await desk.print_at("999")
    filled = await desk.state_of(om, trailing["order_id"], "filled")
    assert Decimal(filled["trigger_price"]) == Decimal("1000")
    await _one_venue_order_per_client_id(desk, account)


def _watermark(om: Any) -> Decimal | None:
    for triggers in om.runtime.emulator._by_instrument.values():
        for trigger in triggers.values():
            return trigger.watermark  # type: ignore[no-any-return]
    return None


async def _list(desk: Desk, om: Any, account: str, key: str, **fields: Any) -> dict[str, Any]:
    body = {
        "account_id": account,
        "idempotency_key": key,
        "exchange": EXCHANGE,
        "symbol": SYMBOL,
        **{k: str(v) if isinstance(v, Decimal) else v for k, v in fields.items()},
    }
    response = await om.http.post("/v1/order-lists", json=body, headers=desk.headers())
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_an_oco_whose_stop_fires_cancels_its_limit_leg_first(desk: Desk) -> None:
    await desk.market_data()
    om = await desk.instance()
    account = await desk.account()
    await desk.maker("buy", Decimal("985"), Decimal("0.05"))
    oco = await _list(
        desk,
        om,
        account,
        "oco",
        type="oco",
        side="sell",
        quantity="0.01",
        price="1020",
        stop_price="990",
        emulate=True,
    )
    limit, stop = oco["orders"]
    assert (limit["list_role"], stop["list_role"]) == ("limit_leg", "stop_leg")
    assert (limit["list_native"], stop["emulated"]) == (False, True)
    await desk.state_of(om, limit["order_id"], "accepted")
    assert (await desk.order(om, stop["order_id"]))["state"] == "emulated"
    await desk.print_at("989")
    canceled = await desk.state_of(om, limit["order_id"], "canceled")
    assert "stop leg triggered" in canceled["reason"]
    filled = await desk.state_of(om, stop["order_id"], "filled")
    assert Decimal(filled["filled_quantity"]) == Decimal("0.01")
    counts = await _one_venue_order_per_client_id(desk, account)
    assert set(counts) == {limit["client_order_id"], stop["client_order_id"]}


async def test_an_oco_whose_limit_leg_executes_cancels_its_stop_leg(desk: Desk) -> None:
    om = await desk.instance()
    account = await desk.account()
    oco = await _list(
        desk,
        om,
        account,
        "oco2",
        type="oco",
        side="sell",
        quantity="0.01",
        price="1020",
        stop_price="990",
        emulate=True,
    )
    limit, stop = oco["orders"]
    await desk.state_of(om, limit["order_id"], "accepted")
    await desk.maker("buy", Decimal("1020"), Decimal("0.01"))  # takes the limit leg
    await desk.state_of(om, limit["order_id"], "filled")
    canceled = await desk.state_of(om, stop["order_id"], "canceled")
    assert "limit leg executed" in canceled["reason"]
    counts = await _one_venue_order_per_client_id(desk, account)
    assert set(counts) == {limit["client_order_id"]}


@pytest.mark.parametrize("emulate", [True, False], ids=["emulated-exits", "native-exits"])
async def test_a_bracket_places_its_exits_for_what_the_entry_filled(
    desk: Desk, emulate: bool
) -> None:
    await desk.market_data()
    om = await desk.instance()
    account = await desk.account()
    await desk.maker("sell", Decimal("1000"), Decimal("0.006"))  # the entry fills 0.006 of 0.01
    bracket = await _list(
        desk,
        om,
        account,
        "bracket",
        type="bracket",
        price="1030",
        stop_price="980",
        emulate=emulate,
        entry={
            "exchange": EXCHANGE,
            "symbol": SYMBOL,
            "side": "buy",
            "type": "limit",
            "quantity": "0.01",
            "price": "1000",
            "time_in_force": "ioc",
        },
    )
    entry, take_profit, stop_loss = bracket["orders"]
    assert (take_profit["state"], stop_loss["state"]) == ("emulated", "emulated")
    assert take_profit["list_native"] is not emulate
    done = await desk.state_of(om, entry["order_id"], "canceled", "expired", "filled")
    assert Decimal(done["filled_quantity"]) == Decimal("0.006")
    tp = await desk.state_of(om, take_profit["order_id"], "accepted")
    assert Decimal(tp["quantity"]) == Decimal("0.006")
    assert tp["side"] == "sell"
    sl_state = "emulated" if emulate else "accepted"  # held here, or untriggered at the venue
    sl = await desk.state_of(om, stop_loss["order_id"], sl_state)
    assert Decimal(sl["quantity"]) == Decimal("0.006")
    await desk.maker("buy", Decimal("975"), Decimal("0.01"))
    await desk.print_at("979")
    await desk.state_of(om, take_profit["order_id"], "canceled", "expired")
    filled = await desk.state_of(om, stop_loss["order_id"], "filled")
    assert Decimal(filled["filled_quantity"]) == Decimal("0.006")
    await _one_venue_order_per_client_id(desk, account)


async def test_an_oco_goes_to_a_venue_that_has_native_lists_as_one_list(desk: Desk) -> None:
    om = await desk.instance()
    account = await desk.account()
    await desk.print_at("1000")  # Binance wants the last price between the legs
    oco = await _list(
        desk,
        om,
        account,
        "native",
        type="oco",
        side="sell",
        quantity="0.01",
        price="1020",
        stop_price="990",
    )
    limit, stop = oco["orders"]
    assert limit["list_native"]
    assert stop["list_native"]
    assert not stop["emulated"]
    await desk.state_of(om, limit["order_id"], "accepted")
    await desk.state_of(om, stop["order_id"], "accepted")  # untriggered at the venue
    await desk.maker("buy", Decimal("1020"), Decimal("0.01"))  # takes the limit leg
    await desk.state_of(om, limit["order_id"], "filled")
    await desk.state_of(om, stop["order_id"], "expired", "canceled")  # the venue's contingency
    counts = await _one_venue_order_per_client_id(desk, account)
    assert set(counts) == {limit["client_order_id"], stop["client_order_id"]}

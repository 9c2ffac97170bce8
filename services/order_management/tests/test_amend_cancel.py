"""Amend and cancel through the venue: a native amend where the venue has one, else a
cancel-replace tracked as one operation (the replacement sent once the cancel is confirmed,
sized down by what filled); cancel one (idempotent), cancel all per account, exchange, symbol."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from .harness import EXCHANGE, Desk, Instance

pytestmark = pytest.mark.integration


async def _resting(
    desk: Desk, om: Instance, account: str, key: str, **fields: Any
) -> dict[str, Any]:
    response = await desk.place(om, account, key, **fields)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()["order"]
    assert order["state"] == "accepted", order
    return order


async def _open_at_venue(desk: Desk, account: str) -> list[dict[str, Any]]:
    return [o for o in await desk.venue_orders(account) if o["status"] == "open"]


async def test_a_price_amend_is_a_cancel_replace_sized_down_by_the_fills(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    order = await _resting(desk, om, account, "amend-price", price="1000", quantity="0.02")
    await desk.maker("sell", Decimal("1000"), Decimal("0.006"))  # fills 0.006 of it
    await desk.state_of(om, order["order_id"], "partially_filled")
    response = await om.http.patch(
        f"/v1/orders/{order['order_id']}",
        json={"idempotency_key": "amend-1", "price": "999"},
        headers=desk.headers(),
    )
    assert response.status_code == 202, response.text
    assert response.json()["order"]["state"] == "pending_amend"
    old = await desk.state_of(om, order["order_id"], "canceled")
    assert old["replaced_by"], old
    new = await desk.state_of(om, old["replaced_by"], "accepted")
    assert (Decimal(new["price"]), Decimal(new["quantity"])) == (Decimal("999"), Decimal("0.014"))
    assert new["replaces"] == order["order_id"]
    again = await om.http.patch(
        f"/v1/orders/{order['order_id']}",
        json={"idempotency_key": "amend-1", "price": "999"},
        headers=desk.headers(),
    )
    assert again.status_code == 202
    assert again.json()["duplicate"] is True
    venue = await _open_at_venue(desk, account)
    assert [(o["clientOrderId"], o["price"], o["amount"]) for o in venue] == [
        (new["client_order_id"], 999.0, 0.014)
    ]


async def test_a_smaller_quantity_leaves_one_order_of_that_size_at_the_venue(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    order = await _resting(desk, om, account, "amend-qty", quantity="0.01")
    response = await om.http.patch(
        f"/v1/orders/{order['order_id']}",
        json={"idempotency_key": "amend-2", "quantity": "0.006"},
        headers=desk.headers(),
    )
    assert response.status_code == 202, response.text
    done = await desk.state_of(om, order["order_id"], "accepted", "canceled")
    live = (
        done
        if done["state"] == "accepted"
        else await desk.state_of(om, done["replaced_by"], "accepted")
    )
    assert Decimal(live["quantity"]) == Decimal("0.006")
    venue = await _open_at_venue(desk, account)
    assert [o["amount"] for o in venue] == [0.006]


async def test_cancel_is_idempotent_and_a_closed_order_is_answered_as_it_is(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    order = await _resting(desk, om, account, "cancel-twice")
    first = await om.http.post(f"/v1/orders/{order['order_id']}/cancel", headers=desk.headers())
    second = await om.http.post(f"/v1/orders/{order['order_id']}/cancel", headers=desk.headers())
    assert (first.status_code, second.status_code) == (202, 202)
    await desk.state_of(om, order["order_id"], "canceled")
    third = await om.http.post(
        f"/v1/orders/{order['order_id']}/cancel",
        json={"idempotency_key": "later"},
        headers=desk.headers(),
    )
    assert third.json()["order"]["state"] == "canceled"
    history = (
        await om.http.get(f"/v1/orders/{order['order_id']}/events", headers=desk.headers())
    ).json()
    assert [e["event"] for e in history["events"]].count("cancel_requested") == 1


async def test_cancel_all_takes_the_accounts_open_orders_of_a_symbol(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    orders = [await _resting(desk, om, account, f"all-{n}", price=str(990 + n)) for n in range(3)]
    other = await _resting(desk, om, account, "eth", symbol="ETH/USDT", price="100", quantity="0.1")
    response = await om.http.post(
        "/v1/orders/cancel-all",
        json={
            "account_id": account,
            "exchange": EXCHANGE,
            "symbol": "BTC/USDT",
            "idempotency_key": "ca",
        },
        headers=desk.headers(),
    )
    assert response.status_code == 202, response.text
    assert {o["order_id"] for o in response.json()["orders"]} == {o["order_id"] for o in orders}
    for order in orders:
        await desk.state_of(om, order["order_id"], "canceled")
    assert (await desk.order(om, other["order_id"]))["state"] == "accepted"


async def test_an_emulated_orders_trigger_is_amended_in_place(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    response = await desk.place(
        om,
        account,
        "amend-stop",
        wait="none",
        side="sell",
        type="stop_market",
        price=None,
        stop_price="900",
        emulate=True,
    )
    order = response.json()["order"]
    amended = await om.http.patch(
        f"/v1/orders/{order['order_id']}",
        json={"idempotency_key": "amend-stop-1", "stop_price": "910", "quantity": "0.02"},
        headers=desk.headers(),
    )
    assert amended.status_code == 202, amended.text
    now = amended.json()["order"]
    assert (now["state"], now["stop_price"], now["quantity"]) == ("emulated", "910", "0.02")

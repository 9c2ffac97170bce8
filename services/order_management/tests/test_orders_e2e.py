"""Orders through the service against the simulator, real Kafka, PostgreSQL and auth: placed,
acknowledged, filled, cancelled; every change on orders.events.v1 and in the audit trail."""

from __future__ import annotations

from decimal import Decimal

from .harness import EXCHANGE, PRICE, QUANTITY, SYMBOL, Desk, until


async def test_a_limit_order_is_accepted_by_the_venue_and_cancelled(desk: Desk) -> None:
    om = await desk.instance()
    account = await desk.account()
    response = await om.http.post(
        "/v1/orders?wait=ack",
        json={
            "account_id": account,
            "idempotency_key": "k1",
            "exchange": EXCHANGE,
            "symbol": SYMBOL,
            "side": "buy",
            "type": "limit",
            "quantity": str(QUANTITY),
            "price": str(PRICE),
        },
        headers=desk.headers(),
    )
    assert response.status_code == 201, response.text
    order = response.json()["order"]
    assert order["state"] == "accepted", order
    assert order["venue_order_id"]
    cancel = await om.http.post(f"/v1/orders/{order['order_id']}/cancel", headers=desk.headers())
    assert cancel.status_code == 202, cancel.text

    async def canceled() -> bool:
        got = await om.http.get(f"/v1/orders/{order['order_id']}", headers=desk.headers())
        return bool(got.json()["order"]["state"] == "canceled")

    await until(canceled, what="the cancel to be confirmed")
    events = [e for e in await desk.events() if e.order_id == order["order_id"]]
    assert [e.version for e in events] == [1, 2, 3, 4, 5]
    assert [e.event for e in events] == [
        "place",
        "send",
        "venue_accepted",
        "cancel_requested",
        "venue_canceled",
    ]
    assert Decimal(events[-1].filled_quantity) == 0
    history = await om.http.get(f"/v1/orders/{order['order_id']}/events", headers=desk.headers())
    assert [e["state"] for e in history.json()["events"]] == [
        "pending_new",
        "submitted",
        "accepted",
        "pending_cancel",
        "canceled",
    ]

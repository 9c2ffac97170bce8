"""A rule's firing all the way to a fill: the automation service's command on
orders.commands.v1, the real order-management service placing it at the exchange simulator
(through the auth service's signing), the venue filling it against resting liquidity, and order
management's events on orders.events.v1 read back into the firing's record."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from order_management.tests.harness import Desk, until

from eip.automation.topics import Topics
from eip.bus import Producer
from eip.testing.tokens import TokenIssuer

from .conftest import Starter, tick

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

MARKET = {"exchange": "binance", "symbol": "BTC/USDT"}


async def firings(service: Any, rule_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await service.http.get(f"/v1/rules/{rule_id}/firings", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["firings"])


async def armed(service: Any, producer: Producer, topics: Topics, rule_id: str, below: str) -> None:
    """Ticks under the level until the service has stored the rule's level as false (it holds
    the account and saw the market), so the next crossing is an edge."""

    async def level_false() -> bool:
        await tick(producer, topics, below)
        state = service.automation.engine.rules.get(rule_id)
        return state is not None and state.level is False

    await until(level_false, 60, "the rule to see the market below its level", every_s=0.3)


async def test_a_price_cross_buys_through_order_management_and_its_firing_shows_the_fill(
    desk: Desk,
    start_service: Starter,
    producer: Producer,
    topics: Topics,
    token_issuer: TokenIssuer,
) -> None:
    await desk.instance()
    account = await desk.account()
    await desk.maker("sell", Decimal("1000"), Decimal("0.05"))
    service = await start_service()
    headers = token_issuer.headers(accounts=[account])
    created = await service.http.post(
        "/v1/rules",
        headers=headers,
        json={
            "account_id": account,
            "name": "buy 20 USDT above 999",
            "condition": {"type": "price_cross", **MARKET, "direction": "above", "level": "999"},
            "action": {
                "type": "place_order",
                **MARKET,
                "side": "buy",
                "order_type": "market",
                "quote_quantity": "20",
            },
            "limits": {"max_firings": 1},
        },
    )
    assert created.status_code == 201, created.text
    rule_id = created.json()["rule_id"]
    await armed(service, producer, topics, rule_id, "990")
    await tick(producer, topics, "1000")  # the crossing

    async def filled() -> list[dict[str, Any]] | None:
        got = await firings(service, rule_id, headers)
        done = got and got[0]["orders"] and got[0]["orders"][0]["state"] == "filled"
        return got if done else None

    fired = await until(filled, 90, "the firing's order to be filled", every_s=0.5)
    assert len(fired) == 1
    firing = fired[0]
    assert firing["firing_id"] == f"{rule_id}:1:e1"
    assert firing["outcome"] == "command"
    (order,) = firing["orders"]
    assert order["idempotency_key"] == firing["firing_id"]
    assert Decimal(order["filled_quantity"]) == Decimal("0.02")  # 20 USDT at 1000
    assert Decimal(order["average_price"]) == Decimal("1000")
    assert (order["side"], order["symbol"]) == ("buy", "BTC/USDT")

    # the venue holds that one order, filled, and nothing else for the account
    at_venue = await desk.venue_orders(account)
    assert [(o["status"], Decimal(str(o["filled"]))) for o in at_venue] == [
        ("closed", Decimal("0.02"))
    ]
    # order management knows it under the firing id, as the venue's order
    om = desk.instances[0]
    listed = await om.http.get(
        "/v1/orders",
        params={"account_id": account, "idempotency_key": firing["firing_id"]},
        headers=desk.headers(),
    )
    assert [o["order_id"] for o in listed.json()["orders"]] == [order["order_id"]]

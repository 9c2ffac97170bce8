"""A rule's firing all the way to a fill: the automation service's command on
orders.commands.v1, the real order-management service placing it at the exchange simulator
(through the auth service's signing), the venue filling it against resting liquidity, and order
management's events on orders.events.v1 read back into the firing's record. Every action that
trades: an order, an OCO and a bracket (native lists at the venue), cancel-all, the account's
kill switch, TWAP and VWAP slices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from order_management.tests.harness import Desk, until
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.automation.topics import Topics
from eip.bus import Producer
from eip.market_data.candles.builder import Candle, CandleKey
from eip.market_data.wire import candle_key, candle_message
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


def cross(direction: str, level: str) -> dict[str, str]:
    return {"type": "price_cross", **MARKET, "direction": direction, "level": level}


async def rule(service: Any, headers: dict[str, str], account: str, **body: Any) -> str:
    created = await service.http.post(
        "/v1/rules", headers=headers, json={"account_id": account, **body}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["rule_id"])


async def orders_of(
    service: Any, rule_id: str, headers: dict[str, str], count: int, *states: str
) -> dict[str, dict[str, Any]]:
    """The orders of the rule's one firing, by idempotency-key suffix, once ``count`` of them
    are known and each is in one of ``states``."""

    async def settled() -> dict[str, dict[str, Any]] | None:
        got = await firings(service, rule_id, headers)
        if len(got) != 1:
            return None
        orders = {o["idempotency_key"][len(got[0]["firing_id"]) :]: o for o in got[0]["orders"]}
        if len(orders) == count and all(o["state"] in states for o in orders.values()):
            return orders
        return None

    found: dict[str, dict[str, Any]] = await until(
        settled, 90, f"{count} orders of {rule_id} in {states}", every_s=0.5
    )
    return found


async def test_an_oco_rule_places_a_native_list_and_a_cancel_all_rule_cancels_it(
    desk: Desk,
    start_service: Starter,
    producer: Producer,
    topics: Topics,
    token_issuer: TokenIssuer,
) -> None:
    await desk.instance()
    account = await desk.account()
    await desk.print_at("1000")  # Binance wants the last price between an OCO's legs
    service = await start_service()
    headers = token_issuer.headers(accounts=[account])
    oco = await rule(
        service,
        headers,
        account,
        name="protect 0.01 BTC under 1000",
        condition=cross("below", "1000"),
        action={
            "type": "place_order_list",
            **MARKET,
            "list_type": "oco",
            "side": "sell",
            "quantity": "0.01",
            "price": "1020",
            "stop_price": "990",
        },
    )
    flat = await rule(
        service,
        headers,
        account,
        name="cancel everything above 1010",
        condition=cross("above", "1010"),
        action={"type": "cancel_all", **MARKET},
    )
    await armed(service, producer, topics, oco, "1005")
    await armed(service, producer, topics, flat, "1005")

    await tick(producer, topics, "999")  # the OCO rule fires
    legs = await orders_of(service, oco, headers, 2, "accepted")
    assert set(legs) == {"#limit_leg", "#stop_leg"}
    assert all(leg["side"] == "sell" for leg in legs.values())
    assert len([o for o in await desk.venue_orders(account) if o["status"] == "open"]) == 2

    await tick(producer, topics, "1015")  # the cancel-all rule fires
    ended = await orders_of(service, oco, headers, 2, "canceled", "expired")
    assert set(ended) == {"#limit_leg", "#stop_leg"}
    (cancel,) = await firings(service, flat, headers)
    assert cancel["outcome"] == "command"
    assert cancel["orders"] == []  # a cancel-all places no order of its own
    assert {o["status"] for o in await desk.venue_orders(account)} == {"canceled"}


async def test_a_bracket_rule_buys_and_places_its_exits_for_what_the_entry_filled(
    desk: Desk,
    start_service: Starter,
    producer: Producer,
    topics: Topics,
    token_issuer: TokenIssuer,
) -> None:
    await desk.instance()
    account = await desk.account()
    await desk.print_at("1000")
    await desk.maker("sell", Decimal("1000"), Decimal("0.01"))
    service = await start_service()
    headers = token_issuer.headers(accounts=[account])
    bracket = await rule(
        service,
        headers,
        account,
        name="buy the dip with a take-profit and a stop-loss",
        condition=cross("below", "1001"),
        action={
            "type": "place_order_list",
            **MARKET,
            "list_type": "bracket",
            "side": "buy",
            "quantity": "0.01",
            "price": "1030",
            "stop_price": "980",
        },
    )
    await armed(service, producer, topics, bracket, "1010")
    await tick(producer, topics, "1000")
    orders = await orders_of(service, bracket, headers, 3, "accepted", "filled")
    assert set(orders) == {"#entry", "#limit_leg", "#stop_leg"}
    entry = orders["#entry"]
    assert (entry["state"], entry["side"]) == ("filled", "buy")
    assert Decimal(entry["filled_quantity"]) == Decimal("0.01")
    assert Decimal(entry["average_price"]) == Decimal("1000")
    exits = [orders["#limit_leg"], orders["#stop_leg"]]
    assert [(o["state"], o["side"]) for o in exits] == [("accepted", "sell")] * 2
    # at the venue: the entry, filled, and the two exits of the native list, open
    at_venue = await desk.venue_orders(account)
    assert sorted((o["side"], o["status"]) for o in at_venue) == [
        ("buy", "closed"),
        ("sell", "open"),
        ("sell", "open"),
    ]


async def test_a_rule_moves_the_account_to_reducing_and_order_management_holds_it_there(
    desk: Desk,
    start_service: Starter,
    producer: Producer,
    topics: Topics,
    token_issuer: TokenIssuer,
) -> None:
    om = await desk.instance()
    account = await desk.account()
    service = await start_service()
    headers = token_issuer.headers(accounts=[account])
    reduce = await rule(
        service,
        headers,
        account,
        name="only reduce below 900",
        condition=cross("below", "900"),
        action={"type": "account_switch", "state": "reducing"},
    )
    await armed(service, producer, topics, reduce, "950")
    await tick(producer, topics, "899")

    async def switch() -> dict[str, Any] | None:
        got = await om.http.get("/v1/risk/kill-switches", headers=desk.headers())
        mine = [s for s in got.json()["switches"] if s["scope_id"] == account]
        return mine[0] if mine and mine[0]["state"] == "reducing" else None

    found = await until(switch, 60, "the account to be REDUCING", every_s=0.5)
    assert found["updated_by"] == f"automation/rule/{reduce}"
    assert f"automation rule {reduce}, firing {reduce}:1:e1" == found["reason"]
    buy = await desk.place(om, account, "a-buy-while-reducing", wait="none")
    assert buy.status_code == 422, buy.text
    assert buy.json()["error"]["details"]["denial"]["code"] == "reducing_only"
    await desk.switch(om, "account", account, "active", reason="released")


async def slice_orders(
    service: Any, rule_id: str, headers: dict[str, str], slices: int
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The schedule's firing id and its slices' orders (by slice number), once every slice's
    order is filled."""

    async def done() -> tuple[str, dict[str, dict[str, Any]]] | None:
        got = await firings(service, rule_id, headers)
        if len(got) != 1:
            return None
        firing_id = got[0]["firing_id"]
        orders = {o["idempotency_key"].removeprefix(f"{firing_id}/"): o for o in got[0]["orders"]}
        if len(orders) == slices and all(o["state"] == "filled" for o in orders.values()):
            return firing_id, orders
        return None

    found: tuple[str, dict[str, dict[str, Any]]] = await until(
        done, 240, f"{slices} slices of {rule_id} filled", every_s=1.0
    )
    return found


async def test_a_twap_rule_buys_its_quantity_in_slices_filled_through_order_management(
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
    twap = await rule(
        service,
        headers,
        account,
        name="buy 0.03 BTC over 6 s above 999",
        condition=cross("above", "999"),
        action={
            "type": "twap",
            **MARKET,
            "side": "buy",
            "quantity": "0.03",
            "duration_s": 6,
            "slices": 3,
            "lot": "0.00001",
        },
    )
    await armed(service, producer, topics, twap, "990")
    await tick(producer, topics, "1000")
    _, orders = await slice_orders(service, twap, headers, 3)
    assert {k: Decimal(o["filled_quantity"]) for k, o in orders.items()} == {
        "0": Decimal("0.01"),
        "1": Decimal("0.01"),
        "2": Decimal("0.01"),
    }
    assert all(Decimal(o["average_price"]) == Decimal("1000") for o in orders.values())
    at_venue = await desk.venue_orders(account)
    assert sorted(Decimal(str(o["filled"])) for o in at_venue) == [Decimal("0.01")] * 3


async def test_a_vwap_rule_weights_its_slices_by_yesterdays_candles_and_fills_them(
    desk: Desk,
    start_service: Starter,
    producer: Producer,
    topics: Topics,
    token_issuer: TokenIssuer,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
) -> None:
    await desk.instance()
    account = await desk.account()
    await desk.maker("sell", Decimal("1000"), Decimal("0.05"))
    # yesterday's closed 1-minute candles around this time, the volume of the one opened at
    # minute m (counted from a fixed origin) being m: each 60-second slice window holds one
    key = CandleKey("binance", "BTC/USDT", "1m")
    origin = (datetime.now(UTC) - timedelta(days=1, minutes=3)).replace(second=0, microsecond=0)
    volume: dict[datetime, Decimal] = {}
    for m in range(1, 12):
        opened = origin + timedelta(minutes=m)
        volume[opened] = Decimal(m)
        price = Decimal(1000)
        candle = Candle(
            key, opened, price, price, price, price, Decimal(m), price * m, m, closed=True
        )
        await producer.publish(topics.candles, candle_key(candle), candle_message(candle))
    service = await start_service()
    headers = token_issuer.headers(accounts=[account])
    vwap = await rule(
        service,
        headers,
        account,
        name="buy 0.02 BTC over 2 minutes, volume-weighted",
        condition=cross("above", "999"),
        action={
            "type": "vwap",
            **MARKET,
            "side": "buy",
            "quantity": "0.02",
            "duration_s": 120,
            "slices": 2,
            "profile_days": 1,
            "lot": "0.00001",
        },
    )
    await armed(service, producer, topics, vwap, "990")
    await tick(producer, topics, "1000")
    firing_id, orders = await slice_orders(service, vwap, headers, 2)

    async with db_pool.connection() as conn:
        cur = await conn.execute(
            sql.SQL("SELECT started_at, weights, profile FROM {} WHERE firing_id = %s").format(
                sql.Identifier(db_schema, "schedules")
            ),
            (firing_id,),
        )
        started, weights, profile = await cur.fetchone() or (None, None, None)
    assert profile == "11 closed 1m candles of the last 1 days"
    # by hand: the first minute boundary at or after the start, a day earlier, opens slice 0's
    # candle; the next one slice 1's
    first = (started - timedelta(days=1) + timedelta(seconds=59, microseconds=999999)).replace(
        second=0, microsecond=0
    )
    v0, v1 = volume[first], volume[first + timedelta(minutes=1)]
    assert [Decimal(w) for w in weights] == [v0, v1]
    q0 = (Decimal("0.02") * v0 / (v0 + v1) / Decimal("0.00001")).to_integral_value(
        ROUND_DOWN
    ) * Decimal("0.00001")
    assert Decimal(orders["0"]["filled_quantity"]) == q0
    assert Decimal(orders["1"]["filled_quantity"]) == Decimal("0.02") - q0
    assert q0 < Decimal("0.01")  # the later minute traded more: the first slice is the smaller
    at_venue = await desk.venue_orders(account)
    assert sum(Decimal(str(o["filled"])) for o in at_venue) == Decimal("0.02")


async def test_a_rule_whose_orders_risk_denies_in_a_row_pauses_itself_with_the_reason(
    desk: Desk,
    start_service: Starter,
    producer: Producer,
    topics: Topics,
    token_issuer: TokenIssuer,
) -> None:
    om = await desk.instance()
    account = await desk.account()
    await desk.limits(om, "account", account, max_order_notional="10")
    service = await start_service(max_consecutive_errors=2)
    headers = token_issuer.headers(accounts=[account])
    buy = await rule(
        service,
        headers,
        account,
        name="buy 20 USDT above 999",
        condition=cross("above", "999"),
        action={
            "type": "place_order",
            **MARKET,
            "side": "buy",
            "order_type": "market",
            "quote_quantity": "20",
        },
    )
    for n in (1, 2):
        await armed(service, producer, topics, buy, "990")
        await tick(producer, topics, "1000")

        async def denied(count: int = n) -> bool:
            got = await firings(service, buy, headers)
            orders = [o for f in got for o in f["orders"]]
            return len(orders) == count and all(o["state"] == "denied" for o in orders)

        await until(denied, 60, f"order {n} denied", every_s=0.5)

    async def paused() -> dict[str, Any] | None:
        got = (await service.http.get(f"/v1/rules/{buy}", headers=headers)).json()
        return got if got["status"] == "paused" else None

    stopped = await until(paused, 30, "the rule to pause itself", every_s=0.5)
    assert stopped["status_reason"].startswith(
        "2 consecutive errors, the last: denied by order management (max_order_notional: "
    )
    assert stopped["updated_by"] == "automation"
    orders = [o for f in await firings(service, buy, headers) for o in f["orders"]]
    assert all(o["reason"].startswith("max_order_notional: ") for o in orders)
    assert await desk.venue_orders(account) == []  # nothing reached the venue

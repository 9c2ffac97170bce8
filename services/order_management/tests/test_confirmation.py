"""Large trades wait for a second principal: held in AWAITING_CONFIRMATION (nothing sent) until
``POST /v1/orders/{id}/confirm`` with ``orders:confirm`` — another subject than the requester
when four-eyes is on — within the time limit, else they expire. Every step is in the audit
trail."""

from __future__ import annotations

import asyncio

import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from .harness import Desk, Instance, until

pytestmark = pytest.mark.integration


async def _audit(
    pool: AsyncConnectionPool[AsyncConnection], desk: Desk, order_id: str
) -> list[tuple[str, str, str]]:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL(
                "SELECT action, actor, outcome FROM {} WHERE subject = %s ORDER BY sequence"
            ).format(sql.Identifier(f"{desk.schema}_audit", "audit_events")),
            (order_id,),
        )
        return [(str(a), str(b), str(c)) for a, b, c in await cursor.fetchall()]


async def _chained(
    pool: AsyncConnectionPool[AsyncConnection], desk: Desk, order_id: str, at_least: int
) -> list[tuple[str, str, str]] | None:
    trail = await _audit(pool, desk, order_id)
    return trail if len(trail) >= at_least else None


async def test_a_large_order_waits_for_another_subject_to_confirm_it(
    shared: tuple[Desk, Instance], db_pool: AsyncConnectionPool[AsyncConnection]
) -> None:
    desk, om = shared
    account = await desk.account()
    await desk.limits(om, "account", account, confirm_above_notional="50", four_eyes=True)
    small = await desk.place(om, account, "small")  # notional 10: no confirmation
    assert small.json()["order"]["state"] == "accepted"
    large = await desk.place(om, account, "large", quantity="0.06", wait="none")  # notional 60
    order = large.json()["order"]
    assert (order["state"], order["confirmation"], order["four_eyes"]) == (
        "awaiting_confirmation",
        "awaiting",
        True,
    )
    assert order["confirm_by"]
    await asyncio.sleep(1)
    assert len(await desk.venue_orders(account)) == 1  # only the small one was sent
    url = f"/v1/orders/{order['order_id']}/confirm"
    mine = await om.http.post(url, headers=desk.headers(subject="trader"))
    assert mine.status_code == 403
    assert mine.json()["error"]["code"] == "four_eyes"
    no_scope = await om.http.post(
        url, headers=desk.headers(subject="boss", scopes=["orders:write"])
    )
    assert no_scope.status_code == 403
    confirmed = await om.http.post(url, headers=desk.headers(subject="boss"))
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["order"]["confirmed_by"] == "boss"
    await desk.state_of(om, order["order_id"], "accepted")
    # audit events are staged with each change and chained just after its commit
    trail = await until(
        lambda: _chained(db_pool, desk, order["order_id"], 4), 20, "the audit events chained"
    )
    assert [a for a, _, _ in trail][:4] == [
        "order.hold",
        "order.confirm",
        "order.send",
        "order.venue_accepted",
    ]
    assert trail[1][1] == "boss"


async def test_an_order_not_confirmed_in_time_expires(shared: tuple[Desk, Instance]) -> None:
    desk, om = shared
    account = await desk.account()
    await desk.limits(om, "account", account, confirm_above_notional="5", confirm_ttl_s=1)
    held = (await desk.place(om, account, "late", wait="none")).json()["order"]
    assert held["state"] == "awaiting_confirmation"
    expired = await desk.state_of(om, held["order_id"], "expired", timeout_s=15)
    assert expired["confirmation"] == "expired"
    late = await om.http.post(
        f"/v1/orders/{held['order_id']}/confirm", headers=desk.headers(subject="boss")
    )
    assert late.status_code == 409
    assert await desk.venue_orders(account) == []


async def test_without_four_eyes_the_requester_may_confirm(shared: tuple[Desk, Instance]) -> None:
    desk, om = shared
    account = await desk.account()
    await desk.limits(om, "account", account, confirm_above_notional="5", four_eyes=False)
    held = (await desk.place(om, account, "self", wait="none")).json()["order"]
    confirmed = await om.http.post(
        f"/v1/orders/{held['order_id']}/confirm", headers=desk.headers(subject="trader")
    )
    assert confirmed.status_code == 200, confirmed.text
    await desk.state_of(om, held["order_id"], "accepted")


async def test_kill_switch_levels_and_a_halt_that_cancels_every_open_order(desk: Desk) -> None:
    om = await desk.instance()
    first, second = await desk.account(), await desk.account()
    resting = [(await desk.place(om, a, f"rest-{a}")).json()["order"] for a in (first, second)]
    for level, scope in (("platform", ""), ("exchange", "binance")):
        await desk.switch(om, level, scope, "halted")
        for account in (first, second):
            response = await desk.place(om, account, f"{level}-{account}", wait="none")
            assert response.json()["error"]["details"]["denial"]["code"] == "halted"
            assert response.json()["error"]["details"]["denial"]["details"]["level"] == level
        await desk.switch(om, level, scope, "active")
    await desk.switch(om, "account", first, "halted")
    assert (await desk.place(om, second, "second-ok")).status_code == 201
    answer = await desk.switch(
        om, "exchange", "binance", "halted", cancel_open=True, reason="incident"
    )
    assert {o["order_id"] for o in resting} <= set(answer["cancel_requested"])
    for order in resting:
        await desk.state_of(om, order["order_id"], "canceled")
    switches = (await om.http.get("/v1/risk/kill-switches", headers=desk.headers())).json()[
        "switches"
    ]
    assert {(s["level"], s["state"]) for s in switches} >= {
        ("exchange", "halted"),
        ("account", "halted"),
    }

"""Arbitrage executions on real PostgreSQL and Kafka, order management's side played by the
events it would publish: the per-account opt-in over HTTP (audited), one execution per
opportunity and account whatever how often it is seen, its two IOC legs on
orders.commands.v1, the legs' events moving it through the table of transitions, the unwind's
market order when the legs filled unequal quantities, and a failed unwind alerted and holding
the account until it is released. The same through the real order-management service and the
simulators: ``test_arbitrage_e2e.py``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.automation.arbitrage import Leg, Opportunity, Walk
from eip.automation.executions import execution_of
from eip.events.v1 import automation_pb2, common_pb2, orders_pb2
from eip.testing.tokens import TokenIssuer

from .conftest import ACCOUNT, Service, Starter, read_all

pytestmark = pytest.mark.integration

D = Decimal
SYMBOL = "BTC/USDT"
BUY, SELL = common_pb2.SIDE_BUY, common_pb2.SIDE_SELL
FILLED, EXPIRED = orders_pb2.ORDER_STATUS_FILLED, orders_pb2.ORDER_STATUS_EXPIRED
DENIED = orders_pb2.ORDER_STATUS_DENIED
OPT_IN = {
    "enabled": True,
    "exchanges": ["binance", "kraken"],
    "symbols": [SYMBOL],
    "max_notional_per_execution": "100",
    "max_notional_per_day": "1000",
    "min_net_profit_bps": "5",
    "cooldown_s": 0,
    "lot": "0.001",
}


def opportunity(size: str = "0.05") -> Opportunity:
    """Buy on binance up to 1000.5, sell on kraken down to 1010 (about 50 bps net)."""
    q = D(size)
    buy = Leg("binance", D("1000"), D("1000.5"), q * D("1000.2"), D("0.001"), q)
    sell = Leg("kraken", D("1011"), D("1010"), q * D("1010.5"), D("0.0026"), q)
    fees = buy.notional * buy.fee_rate + sell.notional * sell.fee_rate
    gross = sell.notional - buy.notional
    now = datetime.now(UTC)
    walk = Walk(SYMBOL, buy, sell, q, gross, fees, gross - fees)
    return Opportunity(str(uuid.uuid4()), walk, now, now, q, walk.net_profit)


def event(
    key: str, version: int, status: int, filled: str, side: int, exchange: str = "binance"
) -> orders_pb2.OrderEvent:
    """What order management publishes for the leg ``key`` of ACCOUNT."""
    message = orders_pb2.OrderEvent(
        order_id=str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        account_id=ACCOUNT,
        status=status,  # type: ignore[arg-type]
        filled_quantity=filled,
        average_price="1000" if D(filled) else "",
        version=version,
        idempotency_key=key,
        requested_by=f"automation/arbitrage/{ACCOUNT}",
        spec=orders_pb2.OrderSpec(
            instrument=common_pb2.Instrument(exchange=exchange, symbol=SYMBOL),
            side=side,  # type: ignore[arg-type]
        ),
    )
    if status == DENIED:
        message.denial.code = "insufficient_balance"
        message.denial.message = "free BTC 0 < 0.03"
    message.times.received_time.FromDatetime(datetime.now(UTC))
    return message


async def feed(service: Service, message: orders_pb2.OrderEvent) -> Any:
    """The event as the service's order-events consumer hands it on."""
    execution = execution_of(message)
    assert execution is not None
    return await service.automation.executions.record_leg(execution)


async def opt_in(service: Service, **changes: Any) -> dict[str, Any]:
    response = await service.http.put(
        f"/v1/arbitrage/accounts/{ACCOUNT}", json={**OPT_IN, **changes}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def commands(service: Service, kafka: str) -> list[orders_pb2.OrderCommand]:
    return [
        m
        for m in await read_all(kafka, service.topics.commands)
        if isinstance(m, orders_pb2.OrderCommand)
    ]


async def announced(service: Service, kafka: str, execution_id: str) -> list[str]:
    """The states alerts.arbitrage.executions.v1 carried for the execution, in order."""
    await service.automation.executions.relay()
    return [
        m.state
        for m in await read_all(kafka, service.topics.arbitrage_executions)
        if isinstance(m, automation_pb2.ArbitrageExecution) and m.execution_id == execution_id
    ]


async def audited(
    pool: AsyncConnectionPool[AsyncConnection], schema: str, subject: str
) -> list[str]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            sql.SQL("SELECT action FROM {} WHERE subject = %s ORDER BY sequence").format(
                sql.Identifier(f"{schema}_audit", "audit_events")
            ),
            (subject,),
        )
        return [str(r[0]) for r in await cur.fetchall()]


async def test_an_account_not_opted_in_or_switched_off_never_sends_a_command(
    start_service: Starter, kafka_bootstrap_servers: str
) -> None:
    service = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    assert await service.automation.execute([opportunity()]) == []  # never configured
    off = await opt_in(service, enabled=False)
    assert off["enabled"] is False
    assert off["held_reason"] == ""
    assert await service.automation.execute([opportunity()]) == []
    assert await service.automation.executions.execute(opportunity(), ACCOUNT) == "disabled"
    await service.automation.store.relay_commands()
    assert await commands(service, kafka_bootstrap_servers) == []
    listed = await service.http.get("/v1/arbitrage/executions")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"executions": []}


async def test_an_opportunity_executes_once_as_two_ioc_limit_legs_within_the_account_s_limit(
    start_service: Starter,
    kafka_bootstrap_servers: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
) -> None:
    service = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    await opt_in(service)
    o = opportunity("0.5")  # 500 USDT of walk; the account allows 100 per execution
    (execution_id,) = await service.automation.execute([o])
    # seen again (changed, re-evaluated, handed over): the same id, nothing sent again
    assert await service.automation.execute([o]) == []
    assert await service.automation.executions.execute(o, ACCOUNT) == "already_executed"

    sent = await until_commands(service, kafka_bootstrap_servers, 2)
    by_key = {c.idempotency_key: c for c in sent}
    assert set(by_key) == {f"{execution_id}#buy", f"{execution_id}#sell"}
    buy, sell = by_key[f"{execution_id}#buy"], by_key[f"{execution_id}#sell"]
    for command, exchange, side, price in (
        (buy, "binance", BUY, "1000.5"),
        (sell, "kraken", SELL, "1010"),
    ):
        spec = command.place.spec
        assert command.account_id == ACCOUNT
        assert command.requested_by == f"automation/arbitrage/{ACCOUNT}"
        assert (spec.instrument.exchange, spec.instrument.symbol) == (exchange, SYMBOL)
        assert spec.side == side
        assert spec.type == orders_pb2.ORDER_TYPE_LIMIT
        assert spec.time_in_force == orders_pb2.TIME_IN_FORCE_IOC
        assert D(spec.price) == D(price)
        assert D(spec.quantity) == D("0.099")  # 100 / 1000.5 = 0.0999..., down to the lot

    got = await service.http.get(f"/v1/arbitrage/executions/{execution_id}")
    assert got.status_code == 200, got.text
    x = got.json()
    assert (x["state"], x["opportunity_id"], D(x["quantity"])) == (
        "sent",
        o.opportunity_id,
        D("0.099"),
    )
    assert [leg["role"] for leg in x["legs"]] == ["buy", "sell"]
    assert await audited(db_pool, db_schema, execution_id) == ["arbitrage.execute"]

    # legs that fill the same quantity: both filled, nothing to unwind
    assert (
        await feed(service, event(f"{execution_id}#buy", 1, FILLED, "0.099", BUY))
    ).state is None
    settled = await feed(
        service,
        event(
            f"{execution_id}#sell",
            2,
            FILLED,
            "0.099",
            SELL,
            "kraken",
        ),
    )
    assert settled.state == "both_filled"
    # a redelivered event is older than what is kept: nothing happens
    again = event(f"{execution_id}#sell", 2, FILLED, "0.099", SELL, "kraken")
    assert await feed(service, again) is None
    assert await audited(db_pool, db_schema, execution_id) == [
        "arbitrage.execute",
        "arbitrage.leg",
        "arbitrage.leg",
        "arbitrage.both_filled",
    ]
    assert len(await commands(service, kafka_bootstrap_servers)) == 2


async def until_commands(service: Service, kafka: str, count: int) -> list[orders_pb2.OrderCommand]:
    found: list[orders_pb2.OrderCommand] = []

    async def enough() -> bool:
        found[:] = await commands(service, kafka)
        return len(found) >= count

    for _ in range(100):
        if await enough():
            return found
        await service.automation.store.relay_commands()
    raise AssertionError(f"{count} commands expected on the topic, {len(found)} there")


async def test_more_bought_than_sold_is_sold_back_at_market_on_the_buy_venue(
    start_service: Starter,
    kafka_bootstrap_servers: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
) -> None:
    service = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    await opt_in(service)
    (x,) = await service.automation.execute([opportunity()])
    buy = event(f"{x}#buy", 3, FILLED, "0.05", BUY)
    assert (await feed(service, buy)).state is None  # the sell leg is still open
    sell = event(f"{x}#sell", 2, EXPIRED, "0.02", SELL, "kraken")
    assert (await feed(service, sell)).state == "unwinding"

    sent = await until_commands(service, kafka_bootstrap_servers, 3)
    (unwind,) = [c for c in sent if c.idempotency_key == f"{x}#unwind"]
    spec = unwind.place.spec
    assert spec.instrument.exchange == "binance"
    assert spec.side == SELL
    assert spec.type == orders_pb2.ORDER_TYPE_MARKET
    assert D(spec.quantity) == D("0.03")
    assert unwind.requested_by == f"automation/arbitrage/{ACCOUNT}"

    done = await feed(service, event(f"{x}#unwind", 2, FILLED, "0.03", SELL))
    assert done.state == "unwound"
    got = (await service.http.get(f"/v1/arbitrage/executions/{x}")).json()
    assert got["state"] == "unwound"
    assert got["reason"] == "legs filled 0.05 bought, 0.02 sold: sell 0.03 at market on binance"
    legs = {leg["role"]: leg for leg in got["legs"]}
    bought = D(legs["buy"]["filled_quantity"])
    sold = D(legs["sell"]["filled_quantity"]) + D(legs["unwind"]["filled_quantity"])
    assert bought == sold == D("0.05")  # flat: every coin bought was sold again
    assert await audited(db_pool, db_schema, x) == [
        "arbitrage.execute",
        "arbitrage.leg",
        "arbitrage.leg",
        "arbitrage.unwinding",
        "arbitrage.leg",
        "arbitrage.unwound",
    ]
    assert await announced(service, kafka_bootstrap_servers, x) == ["sent", "unwinding", "unwound"]


async def test_a_failed_unwind_fails_the_execution_alerts_and_holds_the_account_until_released(
    start_service: Starter,
    kafka_bootstrap_servers: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    token_issuer: TokenIssuer,
) -> None:
    service = await start_service(
        evaluation_enabled=False, arbitrage_enabled=False, webhook_signing_key="k" * 32
    )
    hook = await service.http.post(
        "/v1/webhooks",
        json={
            "account_id": ACCOUNT,
            "url": "http://127.0.0.1:9/hook",
            "events": ["arbitrage.failed"],
        },
    )
    assert hook.status_code == 201, hook.text
    await opt_in(service)
    (x,) = await service.automation.execute([opportunity()])
    # the buy leg denied by order management's risk, the sell leg filled: buy back on kraken
    denied = event(f"{x}#buy", 1, DENIED, "0", BUY)
    await feed(service, denied)
    sold = event(f"{x}#sell", 3, FILLED, "0.05", SELL, "kraken")
    assert (await feed(service, sold)).state == "unwinding"
    sent = await until_commands(service, kafka_bootstrap_servers, 3)
    (unwind,) = [c for c in sent if c.idempotency_key == f"{x}#unwind"]
    assert (unwind.place.spec.instrument.exchange, unwind.place.spec.side) == ("kraken", BUY)
    failed = await feed(
        service,
        event(f"{x}#unwind", 1, DENIED, "0", BUY, "kraken"),
    )
    assert failed.state == "failed"
    assert failed.alert["execution_id"] == x
    assert failed.alert["legs"]["unwind"]["state"] == "denied"

    got = (await service.http.get(f"/v1/arbitrage/executions/{x}")).json()
    assert got["state"] == "failed"
    assert "insufficient_balance" in got["reason"]
    account = (await service.http.get(f"/v1/arbitrage/accounts/{ACCOUNT}")).json()
    assert account["held_reason"].startswith(f"execution {x} failed")
    async with db_pool.connection() as conn:
        cur = await conn.execute(
            sql.SQL("SELECT event_type, event_id FROM {}").format(
                sql.Identifier(db_schema, "webhook_deliveries")
            )
        )
        assert await cur.fetchall() == [("arbitrage.failed", f"{x}:failed")]
    actions = await audited(db_pool, db_schema, x)
    assert actions[-1] == "arbitrage.failed"
    # the alert on alerts.arbitrage.executions.v1 (key account), with the legs as they ended
    assert await announced(service, kafka_bootstrap_servers, x) == ["sent", "unwinding", "failed"]
    (alert,) = [
        m
        for m in await read_all(kafka_bootstrap_servers, service.topics.arbitrage_executions)
        if isinstance(m, automation_pb2.ArbitrageExecution) and m.state == "failed"
    ]
    assert alert.account_id == ACCOUNT
    assert alert.reason == got["reason"]
    assert [(leg.role, leg.state) for leg in alert.legs] == [
        ("buy", "denied"),
        ("sell", "filled"),
        ("unwind", "denied"),
    ]

    # held: the next opportunity is not executed for the account, not even tried
    later = opportunity()
    assert await service.automation.execute([later]) == []
    assert await service.automation.executions.execute(later, ACCOUNT) == "held"
    # setting the opt-in again does not lift the hold; releasing it does
    assert (await opt_in(service))["held_reason"] != ""
    released = await service.http.post(f"/v1/arbitrage/accounts/{ACCOUNT}/release")
    assert released.status_code == 200, released.text
    assert released.json()["held_reason"] == ""
    assert "arbitrage.account.release" in await audited(db_pool, db_schema, ACCOUNT)
    assert len(await service.automation.execute([later])) == 1


async def test_the_opt_in_needs_the_admin_scope_and_the_account_and_refuses_bad_limits(
    start_service: Starter, token_issuer: TokenIssuer
) -> None:
    service = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    path = f"/v1/arbitrage/accounts/{ACCOUNT}"
    user = token_issuer.headers(["rules:write", "rules:read"], accounts=[ACCOUNT])
    refused = await service.http.put(path, json=OPT_IN, headers=user)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    other = token_issuer.headers(["automation:admin"], accounts=["someone-else"])
    assert (await service.http.put(path, json=OPT_IN, headers=other)).status_code == 403
    assert (await service.http.get(path)).status_code == 404  # never set: off
    bad = await service.http.put(path, json={**OPT_IN, "max_notional_per_execution": "5000"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"
    one_venue = await service.http.put(path, json={**OPT_IN, "exchanges": ["binance"]})
    assert one_venue.status_code == 422
    assert (await service.http.get(path)).status_code == 404  # nothing half-stored

    await opt_in(service)
    (x,) = await service.automation.execute([opportunity()])
    # another account's token sees neither the execution nor it in the list
    stranger = token_issuer.headers(["rules:read"], accounts=["someone-else"])
    assert (
        await service.http.get(f"/v1/arbitrage/executions/{x}", headers=stranger)
    ).status_code == 404
    listed = await service.http.get("/v1/arbitrage/executions", headers=stranger)
    assert listed.json() == {"executions": []}
    mine = await service.http.get("/v1/arbitrage/executions", params={"account_id": ACCOUNT})
    assert [e["execution_id"] for e in mine.json()["executions"]] == [x]


async def test_another_instance_or_a_restart_finds_the_execution_and_sends_nothing_again(
    start_service: Starter, kafka_bootstrap_servers: str
) -> None:
    first = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    await opt_in(first)
    o = opportunity()
    (x,) = await first.automation.execute([o])
    # the symbol's next holder (a rebalance, a restart) reads the lifetime back with its id
    second = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    assert await second.automation.execute([o]) == []
    assert await second.automation.executions.execute(o, ACCOUNT) == "already_executed"
    sent = await until_commands(second, kafka_bootstrap_servers, 2)
    assert sorted(c.idempotency_key for c in sent) == [f"{x}#buy", f"{x}#sell"]


async def test_the_day_s_notional_and_the_cool_down_hold_the_next_opportunities_back(
    start_service: Starter,
) -> None:
    service = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    await opt_in(service, max_notional_per_day="150")
    executions = service.automation.executions
    first = await executions.execute(opportunity("1"), ACCOUNT)  # 0.099 at 1000.5: 99.0495
    assert first.startswith("arb:")
    second = await executions.execute(opportunity("1"), ACCOUNT)  # 50.9505 left: 0.050
    got = (await service.http.get(f"/v1/arbitrage/executions/{second}")).json()
    assert D(got["quantity"]) == D("0.050")
    # 0.9255 USDT left of the day: less than one lot at 1000.5
    assert await executions.execute(opportunity("1"), ACCOUNT) == "below_lot"
    await opt_in(service, max_notional_per_day="1000", cooldown_s=3600)
    assert await executions.execute(opportunity("1"), ACCOUNT) == "cooldown"

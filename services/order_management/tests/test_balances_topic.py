"""Pre-trade risk on the account service's balances (``account.balances.v1`` on real Kafka):
an order is checked against the latest spot balance published for its account, exchange and
asset; a balance never published, or a consumer that is no longer caught up with the topic,
refuses the order with the reason (``balance_unavailable``) rather than trading on nothing."""

from __future__ import annotations

import uuid

import pytest

from eip.bus import Producer
from eip.events.topics import ACCOUNT_BALANCES
from eip.events.v1 import account_pb2
from eip.testing.plugin import TopicFactory

from .harness import EXCHANGE, Desk, until

pytestmark = pytest.mark.integration


async def test_risk_uses_the_latest_published_balance_and_refuses_absent_or_stale_ones(
    desk: Desk, make_topic: TopicFactory, producer: Producer
) -> None:
    topic = await make_topic(ACCOUNT_BALANCES)
    om = await desk.instance(
        balance_source="account", balances_topic=topic.name, balance_max_age_s=3.0
    )
    account = await desk.account()  # the venue holds 100,000 USDT; the topic says nothing yet

    async def publish(asset: str, free: str, wallet: str = "spot") -> None:
        record = account_pb2.Balance(
            account_id=account, exchange=EXCHANGE, asset=asset, free=free, locked="0",
            total=free, wallet=wallet,
        )  # fmt: skip
        await producer.publish(topic, f"{account}:{EXCHANGE}:{asset}".encode(), record)

    async def refused_as_absent() -> bool:  # notional 10 USDT; first the topic is read whole
        absent = await desk.place(om, account, f"absent-{uuid.uuid4().hex}")
        assert absent.status_code == 422, absent.text
        denial = absent.json()["error"]["details"]["denial"]
        assert denial["code"] == "balance_unavailable"
        reason = str(denial["details"]["reason"])
        assert "published no USDT balance" in reason or "not read up to date yet" in reason
        return "published no USDT balance" in reason

    await until(refused_as_absent, 20, "an absent balance to be refused as such", every_s=0.5)

    await publish("USDT", "5")
    await publish("USDT", "1000", wallet="earn")  # not spendable: never counted

    async def refused_for_funds() -> bool:
        response = await desk.place(om, account, f"poor-{uuid.uuid4().hex}")
        details = response.json().get("error", {}).get("details", {})
        return bool(details.get("denial", {}).get("code") == "insufficient_balance")

    await until(refused_for_funds, 20, "the published 5 USDT to be read", every_s=0.5)

    await publish("USDT", "100000")

    async def accepted() -> bool:
        response = await desk.place(om, account, f"rich-{uuid.uuid4().hex}")
        return response.status_code == 201

    await until(accepted, 20, "the published 100,000 USDT to be read", every_s=0.5)

    consumer = om.runtime._balances_consumer  # the consumer stops: its balances go stale
    assert consumer is not None
    consumer.stop()

    async def refused_as_stale() -> bool:
        response = await desk.place(om, account, f"stale-{uuid.uuid4().hex}")
        denial = response.json().get("error", {}).get("details", {}).get("denial", {})
        return denial.get("code") == "balance_unavailable" and "stale" in denial.get(
            "details", {}
        ).get("reason", "")

    await until(refused_as_stale, 20, "balances to be refused as stale", every_s=0.5)

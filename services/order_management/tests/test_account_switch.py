"""The account's kill switch set from the bus (``SetAccountSwitch`` on orders.commands.v1, what
an automation rule sends): it halts or reduces the account, cancels its open orders when asked,
is idempotent under its key, and only ever tightens — a later REDUCING leaves a HALTED account
halted."""

from __future__ import annotations

from typing import Any

import pytest

from eip.events.topics import record_key
from eip.events.v1 import orders_pb2
from eip.order_management.commands import InvalidCommand, from_proto

from .harness import Desk, Instance, until

pytestmark = [pytest.mark.integration]


def switch_command(
    account: str, key: str, state: int, *, cancel_open: bool = False
) -> orders_pb2.OrderCommand:
    command = orders_pb2.OrderCommand(
        command_id=key, idempotency_key=key, account_id=account, requested_by="automation/rule/r1"
    )
    command.set_account_switch.state = state  # type: ignore[assignment]
    command.set_account_switch.reason = "rule r1 fired"
    command.set_account_switch.cancel_open = cancel_open
    return command


async def account_switch(desk: Desk, om: Instance, account: str) -> dict[str, Any] | None:
    response = await om.http.get("/v1/risk/kill-switches", headers=desk.headers())
    mine = [s for s in response.json()["switches"] if s["scope_id"] == account]
    return mine[0] if mine else None


async def test_a_halt_from_the_bus_cancels_open_orders_and_a_later_reduce_does_not_loosen_it(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    placed = await desk.place(om, account, "resting")
    assert placed.status_code == 201, placed.text
    resting = placed.json()["order"]["order_id"]
    await desk.state_of(om, resting, "accepted")

    halt = switch_command(account, "halt", orders_pb2.ACCOUNT_SWITCH_STATE_HALTED, cancel_open=True)
    for _ in range(2):  # the same key twice: one change
        await desk.producer.publish(desk.topics.commands, record_key(account), halt)

    async def halted() -> dict[str, Any] | None:
        found = await account_switch(desk, om, account)
        return found if found and found["state"] == "halted" else None

    switch = await until(halted, 30, "the account to be halted")
    assert switch["updated_by"] == "automation/rule/r1"
    assert switch["reason"] == "rule r1 fired"
    canceled = await desk.state_of(om, resting, "canceled")
    assert canceled["reason"] == "rule r1 fired"
    denied = await desk.place(om, account, "after-halt", wait="none")
    assert denied.status_code == 422, denied.text
    assert denied.json()["error"]["details"]["denial"]["code"] == "halted"

    reduce = switch_command(account, "reduce", orders_pb2.ACCOUNT_SWITCH_STATE_REDUCING)
    await desk.producer.publish(desk.topics.commands, record_key(account), reduce)
    done = await until(
        lambda: om.runtime.intake.outcome_of(account, "reduce"), 30, "the reduce to be handled"
    )
    assert done.result == {"state": "halted", "changed": False, "order_ids": []}
    assert (await account_switch(desk, om, account) or {})["state"] == "halted"
    await desk.switch(om, "account", account, "active", reason="released")


def test_a_switch_command_that_would_loosen_or_cancel_while_reducing_is_refused() -> None:
    unset = switch_command("a", "k", orders_pb2.ACCOUNT_SWITCH_STATE_UNSPECIFIED)
    with pytest.raises(InvalidCommand, match="REDUCING or HALTED"):
        from_proto(unset)
    reducing = switch_command("a", "k", orders_pb2.ACCOUNT_SWITCH_STATE_REDUCING, cancel_open=True)
    with pytest.raises(InvalidCommand, match="cancel_open goes with HALTED"):
        from_proto(reducing)

"""Every order change reaches the platform audit chain exactly once, staged in its own
transaction (``audit_outbox``) and chained in batches by whichever instance runs next: with two
instances placing and cancelling at once, each event of every order's log has one audit event,
the chain verifies, and nothing stays staged."""

from __future__ import annotations

import asyncio

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from .harness import Desk, audit_of

pytestmark = pytest.mark.integration


async def test_order_changes_of_two_instances_are_chained_once_each_and_the_chain_verifies(
    desk: Desk, db_pool: AsyncConnectionPool[AsyncConnection]
) -> None:
    a = await desk.instance()
    b = await desk.instance()
    accounts = [await desk.account() for _ in range(6)]
    # a few at a time: the first balance read of each account is a venue call, which a
    # loaded machine may time out (balance_unavailable) when all go at once
    slots = asyncio.Semaphore(4)

    async def place_and_cancel(n: int) -> str:
        async with slots:
            return await _place_and_cancel(n)

    async def _place_and_cancel(n: int) -> str:
        account = accounts[n % len(accounts)]
        # on the account's owner: the test is about the audit, not forwarding's wait
        instance = a if a.runtime.ownership.owns_account(account) else b
        placed = await desk.place(instance, account, f"audit-{n}")
        assert placed.status_code == 201, placed.text
        order_id = str(placed.json()["order"]["order_id"])
        cancel = await instance.http.post(f"/v1/orders/{order_id}/cancel", headers=desk.headers())
        assert cancel.status_code == 202, cancel.text
        await desk.state_of(instance, order_id, "canceled")
        return order_id

    order_ids = await asyncio.gather(*(place_and_cancel(n) for n in range(16)))
    audit = await audit_of(db_pool, desk.schema, order_ids, timeout_s=30)
    # place, send, venue_accepted, cancel_requested, venue_canceled
    assert len(audit.logged) >= 16 * 5
    assert audit.audited == audit.logged  # each change once: none lost, none chained twice
    assert audit.broken is None
    assert audit.checked >= sum(audit.logged.values())

"""The secret never reaches the adapter, and a credential revoked at the auth service stops the
adapter at its next call: no signature, nothing sent, ``CredentialRejected``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from eip.exchanges.contract.errors import CredentialRejected

from .harness import ZERO, Desk, EventLog

pytestmark = pytest.mark.integration


def holds(value: object, secret: str, seen: set[int] | None = None, depth: int = 0) -> bool:
    """Whether ``secret`` is anywhere in ``value``'s attributes (a few levels deep)."""
    seen = seen if seen is not None else set()
    if id(value) in seen or depth > 6:
        return False
    seen.add(id(value))
    if isinstance(value, str):
        return secret in value
    if isinstance(value, dict):
        return any(holds(v, secret, seen, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(holds(v, secret, seen, depth + 1) for v in value)
    attrs = dict(vars(value)) if hasattr(value, "__dict__") else {}
    for cls in type(value).__mro__:  # slotted objects (frozen dataclasses) too
        for name in getattr(cls, "__slots__", ()):
            if hasattr(value, name):
                attrs[name] = getattr(value, name)
    return any(holds(v, secret, seen, depth + 1) for v in attrs.values())


async def test_a_revoked_credential_stops_the_adapter_within_one_call(desk: Desk) -> None:
    alice = await desk.trader()
    assert await alice.balance("USDT") == (Decimal("100000"), ZERO)
    await desk.auth.revoke_credential(alice.credential_id)
    with pytest.raises(CredentialRejected):
        await alice.adapter.fetch_balances()
    with pytest.raises(CredentialRejected):
        await alice.place(alice.limit("buy"))
    # the venue never saw the order: the key itself still works there
    balances = await desk.sim.balances(alice.account_id)
    assert balances["USDT"]["locked"] == 0
    # and the private stream cannot subscribe any more: it ends with the same error
    with pytest.raises(CredentialRejected):
        await EventLog(alice.adapter).start()


async def test_the_adapter_trades_and_streams_without_ever_holding_the_secret(
    desk: Desk,
) -> None:
    alice = await desk.trader()
    log = await desk.events(alice)
    placed = await alice.place(alice.limit("buy"))
    await alice.adapter.fetch_order(desk.harness.symbol, venue_order_id=placed.venue_order_id)
    assert log.events  # the stream's subscription was signed too
    assert not holds(alice.adapter, alice.secret)
    assert holds(alice.adapter, alice.credential_id)  # the search does find what it holds

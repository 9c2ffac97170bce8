"""The key-validation vocabulary (``eip.exchanges.contract.credentials``)."""

from __future__ import annotations

from eip.exchanges.contract.credentials import ExchangeSecret, KeyPermissions


def test_secret_material_is_hidden_from_repr() -> None:
    secret = ExchangeSecret("the-key", "the-secret", "the-passphrase")
    assert "the-secret" not in repr(secret)
    assert "the-key" not in repr(secret)
    assert "the-passphrase" not in repr(secret)


def test_transfer_counts_as_withdrawal() -> None:
    assert KeyPermissions(frozenset({"read", "transfer"}), True).can_withdraw
    assert not KeyPermissions(frozenset({"read", "trade"}), True).can_withdraw

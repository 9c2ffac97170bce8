"""KuCoin key validation (``KeyValidator`` for the auth service) through ccxt: ``GET
/api/v1/user/api-key`` answers ``permission`` (comma-separated: ``General``, ``Spot``,
``Margin``, ``Futures``, ``InnerTransfer``, ``FlexTransfers``, ``Withdrawal``, ...) and
``ipWhitelist``. KuCoin keys have a passphrase (stored with the key)."""

from __future__ import annotations

from typing import Any

from eip.exchanges.ccxt.credentials import CcxtKeyValidator
from eip.exchanges.contract.credentials import KeyPermissions


class KucoinValidator(CcxtKeyValidator):
    exchange = "kucoin"
    default_base_url = "https://api.kucoin.com"
    needs_passphrase = True

    async def read(self, client: Any) -> KeyPermissions:
        data = (await client.privateGetUserApiKey())["data"]
        granted = {p.strip() for p in str(data.get("permission", "")).split(",") if p.strip()}
        permissions = {"read"}
        if "Spot" in granted:
            permissions.add("trade")
        if "Withdrawal" in granted:
            permissions.add("withdraw")
        if granted & {"InnerTransfer", "FlexTransfers", "Transfer"}:
            permissions.add("transfer")
        return KeyPermissions(frozenset(permissions), ip_restricted=bool(data.get("ipWhitelist")))

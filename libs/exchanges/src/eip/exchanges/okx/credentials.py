"""OKX key validation (``KeyValidator`` for the auth service) through ccxt: ``GET
/api/v5/account/config`` answers the key's ``perm`` (``read_only``, ``trade``, ``withdraw``,
comma-separated) and its bound ``ip``. OKX keys have a passphrase (stored with the key)."""

from __future__ import annotations

from typing import Any

from eip.exchanges.ccxt.credentials import CcxtKeyValidator
from eip.exchanges.contract.credentials import KeyPermissions

_PERMISSIONS = {"read_only": "read", "trade": "trade", "withdraw": "withdraw"}


class OkxValidator(CcxtKeyValidator):
    exchange = "okx"
    default_base_url = "https://www.okx.com"
    needs_passphrase = True

    async def read(self, client: Any) -> KeyPermissions:
        response = await client.privateGetAccountConfig()
        config = response["data"][0]
        granted = {p.strip() for p in str(config.get("perm", "")).split(",") if p.strip()}
        permissions = {"read"} | {_PERMISSIONS.get(p, p) for p in granted}
        return KeyPermissions(frozenset(permissions), ip_restricted=bool(config.get("ip")))

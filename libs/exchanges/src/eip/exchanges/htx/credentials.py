"""HTX key validation (``KeyValidator`` for the auth service) through ccxt: ``GET
/v2/user/uid`` then ``GET /v2/user/api-key?uid=&accessKey=``, which answers the key's
``permission`` (``readOnly,trade,withdraw``, comma-separated) and ``ipAddresses``."""

from __future__ import annotations

from typing import Any

from eip.exchanges.ccxt.credentials import CcxtKeyValidator
from eip.exchanges.contract.credentials import KeyPermissions

_PERMISSIONS = {"readOnly": "read", "trade": "trade", "withdraw": "withdraw"}


class HtxValidator(CcxtKeyValidator):
    exchange = "htx"
    default_base_url = "https://api.huobi.pro"

    async def read(self, client: Any) -> KeyPermissions:
        uid = (await client.v2PrivateGetUserUid())["data"]
        answer = await client.v2PrivateGetUserApiKey({"uid": uid, "accessKey": client.apiKey})
        [key] = answer["data"]
        granted = {p.strip() for p in str(key.get("permission", "")).split(",") if p.strip()}
        permissions = {"read"} | {_PERMISSIONS.get(p, p) for p in granted}
        return KeyPermissions(frozenset(permissions), ip_restricted=bool(key.get("ipAddresses")))

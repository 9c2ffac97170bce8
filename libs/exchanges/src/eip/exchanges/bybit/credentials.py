"""Bybit key validation (``KeyValidator`` for the auth service) through ccxt: ``GET
/v5/user/query-api`` answers ``readOnly`` (1: no trading), ``permissions`` by product
(``Spot: ["SpotTrade"]``, ``Wallet: ["AccountTransfer", "SubMemberTransfer"]``,
``Withdraw: ["Withdraw"]`` on older keys under ``Wallet``) and ``ips`` (``["*"]``: any IP)."""

from __future__ import annotations

from typing import Any

from eip.exchanges.ccxt.credentials import CcxtKeyValidator
from eip.exchanges.contract.credentials import KeyPermissions


class BybitValidator(CcxtKeyValidator):
    exchange = "bybit"
    default_base_url = "https://api.bybit.com"

    async def read(self, client: Any) -> KeyPermissions:
        result = (await client.privateGetV5UserQueryApi())["result"]
        granted = {str(p) for group in result.get("permissions", {}).values() for p in group}
        permissions = {"read"}
        if str(result.get("readOnly")) == "0" and granted & {"SpotTrade", "Order"}:
            permissions.add("trade")
        if "Withdraw" in granted:
            permissions.add("withdraw")
        if granted & {"AccountTransfer", "SubMemberTransfer"}:
            permissions.add("transfer")
        ips = [ip for ip in result.get("ips") or [] if ip and ip != "*"]
        return KeyPermissions(frozenset(permissions), ip_restricted=bool(ips))

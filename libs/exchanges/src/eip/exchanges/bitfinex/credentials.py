"""Bitfinex key validation (``KeyValidator`` for the auth service) through ccxt: ``POST
/v2/auth/r/permissions`` answers ``[scope, read, write]`` per scope (``orders``, ``wallets``,
``withdraw``, ...): ``orders`` write is trading, ``withdraw`` write withdrawing, ``wallets``
write transfers between wallets. Bitfinex's API does not say whether a key is IP-bound."""

from __future__ import annotations

from typing import Any

from eip.exchanges.ccxt.credentials import CcxtKeyValidator
from eip.exchanges.contract.credentials import KeyPermissions


class BitfinexValidator(CcxtKeyValidator):
    exchange = "bitfinex"
    default_base_url = "https://api.bitfinex.com"
    supports_ip_allowlist = False

    async def read(self, client: Any) -> KeyPermissions:
        rows = await client.privatePostAuthRPermissions()
        writes = {str(row[0]) for row in rows if int(row[2]) == 1}
        reads = {str(row[0]) for row in rows if int(row[1]) == 1}
        permissions = {"read"} if reads else set()
        if "orders" in writes:
            permissions.add("trade")
        if "withdraw" in writes:
            permissions.add("withdraw")
        if "wallets" in writes:
            permissions.add("transfer")
        return KeyPermissions(frozenset(permissions), ip_restricted=False)

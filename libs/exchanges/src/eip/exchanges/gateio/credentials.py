"""Gate.io key validation (``KeyValidator`` for the auth service) through ccxt: ``GET
/api/v4/account/main_keys`` lists the main account's keys, each with its ``perms`` (``name``,
``read_only``), ``ip_whitelist`` and ``state``, and the key itself masked
(``"c5dcfbf1f3a7*****"``).

What is subtle:

- **Which entry is this key.** The list names keys only masked: the entry is the one whose mask
  (``*`` standing for any characters) matches the key in hand, and exactly one must. One object
  instead of the documented list is read as the calling key's own entry (the shape of
  ``account/detail``'s answer, which some clients see here).
- **The key needs Gate's "Account" read permission** to call this: a key without it gets
  ``FORBIDDEN`` and is refused (``KeyRejected``, saying so), since its permissions cannot be
  read — as is a key the list does not show (a sub-account's) and a locked or frozen one.
- **Permissions.** A writable ``spot``, ``margin``, ``unified``, ``futures``, ``delivery`` or
  ``options`` is trading. Gate names no withdrawal permission of its own: ``wallet`` is the one
  over moving funds, so a writable ``wallet`` counts as withdraw and transfer (auth refuses such
  a key unless told otherwise). Other permissions (earn, loan, account, ...) add nothing.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import ccxt

from eip.exchanges.ccxt.credentials import CcxtKeyValidator
from eip.exchanges.contract.credentials import KeyPermissions, KeyRejected

_TRADING = frozenset({"spot", "margin", "unified", "futures", "delivery", "options"})
_STATES = {2: "locked", 3: "frozen"}


def key_entry(answer: Any, api_key: str) -> dict[str, Any]:
    """This key's entry in ``account/main_keys``' answer."""
    if isinstance(answer, dict):
        return answer
    matching = [
        entry
        for entry in answer
        if isinstance(entry.get("key"), str) and fnmatchcase(api_key, entry["key"])
    ]
    if len(matching) != 1:
        raise KeyRejected(
            "gateio lists the account's keys without this one (a sub-account's key?): "
            "its permissions cannot be read"
        )
    entry: dict[str, Any] = matching[0]
    return entry


def permissions_of(entry: dict[str, Any]) -> KeyPermissions:
    writable = {str(p["name"]) for p in entry.get("perms") or [] if not p.get("read_only")}
    permissions = {"read"}
    if writable & _TRADING:
        permissions.add("trade")
    if "wallet" in writable:
        permissions |= {"withdraw", "transfer"}
    return KeyPermissions(frozenset(permissions), ip_restricted=bool(entry.get("ip_whitelist")))


class GateioValidator(CcxtKeyValidator):
    exchange = "gateio"
    default_base_url = "https://api.gateio.ws"

    async def read(self, client: Any) -> KeyPermissions:
        try:
            answer = await client.privateAccountGetMainKeys()
        except ccxt.PermissionDenied:
            raise KeyRejected(
                "gateio: the key lacks the Account (read) permission its permissions are read with"
            ) from None
        entry = key_entry(answer, client.apiKey)
        state = _STATES.get(int(entry.get("state", 1)))
        if state is not None:
            raise KeyRejected(f"gateio says the key is {state}")
        return permissions_of(entry)

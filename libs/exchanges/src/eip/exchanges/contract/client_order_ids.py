"""The platform's client order ids, fitted to each venue's rules.

A client order id is derived from the order's idempotency key (and the account), so the same
command always yields the same id: a retried command, or a restarted sender working its outbox,
can only ever name the order it already sent, and an unknown outcome is resolved by looking that
id up at the venue. The id must fit the venue's alphabet and length (Binance 36 of
``A-Za-z0-9_-``, Kraken 18 alphanumerics or a UUID, Bitfinex an integer, Gate.io ``t-`` + 28
bytes, ...), so it is a keyed digest encoded in what the venue accepts — long enough that two
distinct keys colliding is out of the question (≥ 96 bits wherever the venue allows it).
"""

from __future__ import annotations

import hashlib
import re
import uuid

from eip.exchanges.contract.trading import ClientOrderIdRules

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_HEX = "0123456789abcdef"


def _digest(account_id: str, idempotency_key: str) -> bytes:
    # Length-prefixed so ("a", "bc") and ("ab", "c") differ.
    material = f"{len(account_id)}:{account_id}|{idempotency_key}".encode()
    return hashlib.sha256(material).digest()


def _encode(value: int, alphabet: str, length: int) -> str:
    out = []
    base = len(alphabet)
    for _ in range(length):
        value, digit = divmod(value, base)
        out.append(alphabet[digit])
    return "".join(out)


def _alphabet_for(rules: ClientOrderIdRules) -> str:
    allowed = re.compile(f"[{rules.alphabet}]")
    for candidate in (_BASE62, _BASE36, _HEX):
        if all(allowed.fullmatch(ch) for ch in candidate):
            return candidate
    raise ValueError(f"no encoding fits the client order id alphabet [{rules.alphabet}]")


def client_order_id(account_id: str, idempotency_key: str, rules: ClientOrderIdRules) -> str:
    """The id an order with this idempotency key carries at a venue with these rules."""
    digest = _digest(account_id, idempotency_key)
    if rules.kind == "uuid":
        return str(uuid.UUID(bytes=digest[:16], version=4))
    if rules.kind == "integer":
        # Bitfinex-style numeric ids (a 45-bit positive integer fits any signed 64-bit field).
        return str(int.from_bytes(digest[:8], "big") & ((1 << 45) - 1) or 1)
    alphabet = _alphabet_for(rules)
    length = rules.max_length - len(rules.prefix)
    if length < 16:
        raise ValueError(f"client order ids of {rules.max_length} leave too little room")
    return rules.prefix + _encode(int.from_bytes(digest, "big"), alphabet, length)[:length]


def fits(value: str, rules: ClientOrderIdRules) -> bool:
    """Whether ``value`` is a client order id the venue would accept."""
    if rules.kind == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    if rules.kind == "integer":
        return value.isdigit() and 0 < int(value) < 2**63
    body = value.removeprefix(rules.prefix) if rules.prefix else value
    return (
        value.startswith(rules.prefix)
        and 0 < len(value) <= rules.max_length
        and re.fullmatch(f"[{rules.alphabet}]+", body) is not None
    )

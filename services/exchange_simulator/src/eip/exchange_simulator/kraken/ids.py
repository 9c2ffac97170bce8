"""Kraken's identifiers for the core's numbers: order txids (``OUF4EM-FRGI2-MQMWZD``), trade
txids (``TKH2SE-M7IF5-CFI7LT``), amend ids and ledger ids.

Kraken's ids are 16 base-32 characters behind a one-letter kind, grouped 5-5-6. They are made
here by a keyed bijection of the core number (an affine map modulo 2**80, the 80 bits written
in base 32), so they look random, need no table, work for orders placed through any dialect,
and decode back to the number — a txid that does not decode is simply unknown. Core trade ids
count per instrument, so a trade's number folds in the instrument's index first.
"""

from __future__ import annotations

import re

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base 32, as Kraken's ids use
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_BITS = 80
_MOD = 1 << _BITS
# kind -> (leading letter, multiplier, offset). Odd multipliers are invertible modulo a power
# of two; each kind has its own key so an order and a trade with the same number get unrelated
# ids (amend ids start with T as Kraken's do, but come from their own key).
_KINDS = {
    "order": ("O", 0x9E3779B97F4A7C15F39D, 0x5851F42D4C957F2D1B03),
    "trade": ("T", 0xC2B2AE3D27D4EB4F1653, 0x27BB2EE687B0B0FD2A17),
    "amend": ("T", 0x94D049BB133111EB2F35, 0x3C6EF372FE94F82BA54F),
    "ledger": ("L", 0x165667B19E3779F9A3C5, 0x61C8864680B583EB3B91),
    "position": ("T", 0x2545F4914F6CDD1D4F7B, 0x1B873593CC9E2D514E23),
    "execution": ("T", 0x3C79AC492BA7B653A5B1, 0x0E6546B64CC9E2D5B7E1),
    "reference": ("L", 0x1D8E4E27C47D124F2F91, 0x5BD1E9955A9F07F3C6A5),
}
_SHAPE = re.compile(r"^([A-Z])([A-Z2-7]{5})-([A-Z2-7]{5})-([A-Z2-7]{6})$")


def encode(kind: str, number: int) -> str:
    letter, mul, add = _KINDS[kind]
    value = (number * mul + add) % _MOD
    chars = []
    for _ in range(16):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    body = "".join(reversed(chars))
    return f"{letter}{body[:5]}-{body[5:10]}-{body[10:]}"


def decode(kind: str, text: str) -> int | None:
    """The number behind an id of ``kind``, or None when it is not one of ours."""
    letter, mul, add = _KINDS[kind]
    match = _SHAPE.match(text.strip().upper())
    if match is None or match.group(1) != letter:
        return None
    value = 0
    for c in "".join(match.groups()[1:]):
        value = value * 32 + _INDEX[c]
    number = ((value - add) * pow(mul, -1, _MOD)) % _MOD
    return number if number < 1 << 62 else None


def order_txid(order_id: int) -> str:
    return encode("order", order_id)


def order_id_of(txid: str) -> int | None:
    return decode("order", txid)


class TradeIds:
    """Trade txids over the instruments' own trade counters."""

    def __init__(self, symbols: list[str]) -> None:
        self.symbols = sorted(symbols)
        self._index = {s: i for i, s in enumerate(self.symbols)}

    def txid(self, symbol: str, trade_id: int) -> str:
        return encode("trade", trade_id * len(self.symbols) + self._index[symbol])

    def parse(self, txid: str) -> tuple[str, int] | None:
        number = decode("trade", txid)
        if number is None:
            return None
        trade_id, index = divmod(number, len(self.symbols))
        return self.symbols[index], trade_id


def ledger_id(number: int) -> str:
    return encode("ledger", number)


def amend_id(number: int) -> str:
    return encode("amend", number)

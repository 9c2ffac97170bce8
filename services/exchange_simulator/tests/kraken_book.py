"""A deliberately naive Kraken v2 book client for the tests, independent of the simulator's code:
its own checksum (digits of a quantized Decimal, binascii's CRC32) and its own book."""

from __future__ import annotations

import asyncio
import binascii
import json
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def reference_checksum(
    asks: list[tuple[Decimal, Decimal]],
    bids: list[tuple[Decimal, Decimal]],
    price_dp: int,
    qty_dp: int,
) -> int:
    def digits(value: Decimal, dp: int) -> str:
        quantized = value.quantize(Decimal(1).scaleb(-dp))
        return "".join(map(str, quantized.as_tuple().digits)).lstrip("0")

    text = "".join(digits(p, price_dp) + digits(q, qty_dp) for p, q in asks[:10])
    text += "".join(digits(p, price_dp) + digits(q, qty_dp) for p, q in bids[:10])
    return binascii.crc32(text.encode()) & 0xFFFFFFFF


def decode(text: str | bytes) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    return message


@dataclass
class NaiveBook:
    depth: int
    price_dp: int
    qty_dp: int
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)

    def top_bids(self) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.bids.items(), reverse=True)

    def top_asks(self) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.asks.items())

    def apply(self, data: dict[str, Any], snapshot: bool) -> bool:
        """Apply one book element; whether its checksum matches the book after it."""
        if snapshot:
            self.bids.clear()
            self.asks.clear()
        for side, levels in ((self.bids, data["bids"]), (self.asks, data["asks"])):
            for level in levels:
                price, qty = Decimal(level["price"]), Decimal(level["qty"])
                if qty == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.bids = dict(self.top_bids()[: self.depth])
        self.asks = dict(self.top_asks()[: self.depth])
        expected = reference_checksum(self.top_asks(), self.top_bids(), self.price_dp, self.qty_dp)
        return expected == int(data["checksum"])


class Feed:
    """Messages of one connection; replies awaited out of order leave the rest queued."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pending: deque[dict[str, Any]] = deque()

    async def recv(self) -> dict[str, Any]:
        return self.pending.popleft() if self.pending else decode(await self.ws.recv())

    async def send(self, request: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(request))

    async def reply(self, method: str, timeout_s: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                message = decode(await self.ws.recv())
                if message.get("method") == method:
                    return message
                self.pending.append(message)

    async def book_messages(self, count: int, timeout_s: float = 15) -> list[dict[str, Any]]:
        """The next ``count`` book messages, skipping heartbeats and replies."""
        out: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout_s):
            while len(out) < count:
                message = await self.recv()
                if message.get("channel") == "book":
                    out.append(message)
        return out

    async def until_quiet(self, quiet_s: float = 0.6) -> list[dict[str, Any]]:
        """Every message until none but heartbeats arrives for ``quiet_s``."""
        out = list(self.pending)
        self.pending.clear()
        while True:
            try:
                async with asyncio.timeout(quiet_s):
                    while True:
                        message = decode(await self.ws.recv())
                        if message.get("channel") != "heartbeat":
                            out.append(message)
                            break
            except TimeoutError:
                return [m for m in out if m.get("channel") != "heartbeat"]

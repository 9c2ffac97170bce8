"""Binance's server clock without a venue (``eip.exchanges.binance.clock``, the adapter's
stamping): a measurement on a loaded host never puts our stamps ahead of the server (Binance
refuses a stamp one second ahead with -1021), a venue whose clock is really elsewhere is
followed to within a round trip, and a stamp that waited for a slow signer is taken again."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from typing import Any

from eip.exchanges.binance.clock import ServerClock
from eip.exchanges.binance.trading import BinanceTradingAdapter
from eip.exchanges.contract.signing import SignedRequest, SigningRequest


class FakeHost:
    """Our clock and the venue's: the venue is ``skew_ms`` ahead; a ``GET /api/v3/time`` waits
    ``before_s`` before the venue reads its clock and ``after_s`` before we see the answer."""

    def __init__(self, skew_ms: int = 0, before_s: float = 0.0, after_s: float = 0.0) -> None:
        self.now = 1_800_000_000.0
        self.skew_ms = skew_ms
        self.before_s = before_s
        self.after_s = after_s

    def clock(self) -> float:
        return self.now

    def server_ms(self) -> int:
        return int(self.now * 1000) + self.skew_ms

    async def server_time(self) -> dict[str, Any]:
        self.now += self.before_s  # the request waited on our side before it left
        body = {"serverTime": self.server_ms()}
        self.now += self.after_s
        return body


async def test_a_request_that_waited_before_leaving_never_puts_our_stamps_ahead() -> None:
    # a loaded host: the time request waits 2.4 s before it leaves, the answer comes at once;
    # taking half the round trip as the answer's age put us 1.2 s ahead: every request refused
    host = FakeHost(before_s=2.4, after_s=0.01)
    clock = ServerClock(host.server_time, host.clock)
    stamp = await clock.now_ms()
    assert stamp <= host.server_ms()  # never ahead (Binance: 1 s ahead is refused)
    assert host.server_ms() - stamp <= 2410  # and at most the round trip behind


async def test_a_venue_clock_that_is_elsewhere_is_followed_to_within_a_round_trip() -> None:
    host = FakeHost(skew_ms=20_000, before_s=0.15, after_s=0.15)
    clock = ServerClock(host.server_time, host.clock)
    stamp = await clock.now_ms()
    assert host.server_ms() - 300 <= stamp <= host.server_ms()
    host.skew_ms = -7_000  # the venue's clock moved: after its refusal, measured again
    clock.invalidate()
    stamp = await clock.now_ms()
    assert host.server_ms() - 300 <= stamp <= host.server_ms()


async def test_an_offset_a_new_measurement_does_not_contradict_is_kept() -> None:
    host = FakeHost(skew_ms=5_000, before_s=0.001, after_s=0.001)
    clock = ServerClock(host.server_time, host.clock)
    await clock.now_ms()
    measured = clock.offset_ms
    host.before_s, host.after_s = 1.0, 1.0  # a slow, vague measurement agrees with it
    clock.invalidate()
    await clock.now_ms()
    assert clock.offset_ms == measured


class SlowFirstSigner:
    """Signs at once, except the first call, which waits (fetching a credential and a token)."""

    exchange = "binance"

    def __init__(self, first_s: float) -> None:
        self.first_s = first_s
        self.calls = 0

    async def sign(self, request: SigningRequest) -> SignedRequest:
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(self.first_s)
        return SignedRequest("key", "signature", {"X-MBX-APIKEY": "key"})

    async def aclose(self) -> None:
        return None


async def test_a_stamp_that_waited_for_a_slow_signer_is_taken_and_signed_again() -> None:
    signer = SlowFirstSigner(first_s=0.3)
    adapter = BinanceTradingAdapter(signer, rest_base_url="http://127.0.0.1:9", recv_window_ms=400)
    adapter.clock._synced = True  # offset 0: no venue to ask here
    try:
        prepared = await adapter._prepare("GET", "/api/v3/account", {})
        stamped = int(urllib.parse.parse_qs(prepared.query)["timestamp"][0])
        assert signer.calls == 2
        assert time.time() * 1000 - stamped < 200  # the second stamp, not the one 300 ms old
    finally:
        await adapter.rest.aclose()

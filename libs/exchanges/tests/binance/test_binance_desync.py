"""Tampered Binance captures: each kind of trouble desyncs, and a fresh snapshot resyncs."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from eip.exchanges.binance.book import BinanceFeed
from eip.exchanges.machinery.book_metrics import DESYNCS
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.transport import Received, TransportError
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.resilience import RetryPolicy
from eip.testing.book_feeds import BINANCE_CAPTURE, load, replay

from .test_binance_replay import naive_rebuild

SYMBOL, EXCHANGE_ID = "NKN/USDT", "NKNUSDT"
QUIET = FeedOptions(stale_after_s=3600)


def diff_lines(entries: list[dict[str, Any]]) -> list[int]:
    """Indexes of the NKNUSDT diff frames, in order."""
    return [
        i
        for i, e in enumerate(entries)
        if e["t"] == "recv"
        and json.loads(e["data"])["data"].get("s") == EXCHANGE_ID
        and json.loads(e["data"])["data"].get("e") == "depthUpdate"
    ]


def snapshot_after(entries: list[dict[str, Any]], upto: int) -> dict[str, Any]:
    """A REST snapshot of NKNUSDT as it was after frame ``upto`` (naive rebuild)."""
    bids, asks = naive_rebuild(entries[: upto + 1])[EXCHANGE_ID]
    last = json.loads(entries[upto]["data"])["data"]["u"]
    body = {
        "lastUpdateId": last,
        "bids": [[str(p), str(q)] for p, q in sorted(bids.items(), reverse=True)],
        "asks": [[str(p), str(q)] for p, q in sorted(asks.items())],
    }
    return {
        "t": "http",
        "conn": "BINANCE.http.0",
        "ts": entries[upto]["ts"],
        "url": f"https://api.binance.com/api/v3/depth?symbol={EXCHANGE_ID}&limit=1000",
        "data": json.dumps(body),
    }


def assert_final_book_is_true(feed: BinanceFeed) -> None:
    bids, asks = naive_rebuild(load(BINANCE_CAPTURE))[EXCHANGE_ID]
    state = feed.books[SYMBOL]
    assert state.in_sync
    assert dict(state.book.bids()) == bids
    assert dict(state.book.asks()) == asks


async def test_skipped_update_id_is_a_gap_and_a_new_snapshot_resyncs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entries = load(BINANCE_CAPTURE)
    frames = diff_lines(entries)
    lost, trigger = frames[10], frames[11]
    tampered = [*entries, snapshot_after(entries, trigger)]
    del tampered[lost]
    before = DESYNCS.labels("binance", "gap")._value.get()

    feed = BinanceFeed([SYMBOL], ReplayTransport(tampered), QUIET)
    events = await replay(feed)

    assert [(d.key.symbol, d.reason) for d in events.desyncs] == [(SYMBOL, "gap")]
    assert "U=" in events.desyncs[0].detail
    assert len(events.snapshots) == 2  # the first load and the resync
    # nothing for the symbol between the desync and the new snapshot
    index = events.items.index(events.desyncs[0])
    assert events.items[index + 1] is events.snapshots[1]
    assert DESYNCS.labels("binance", "gap")._value.get() == before + 1
    (logged,) = [r for r in caplog.records if r.getMessage() == "book desynced"]
    assert (logged.exchange, logged.symbol, logged.reason) == ("binance", SYMBOL, "gap")  # type: ignore[attr-defined]
    assert_final_book_is_true(feed)


async def test_crossed_book_desyncs_and_is_never_emitted() -> None:
    entries = load(BINANCE_CAPTURE)
    frames = diff_lines(entries)
    at = frames[5]
    event = json.loads(entries[at]["data"])
    # a bid far above every ask: the book this produces cannot be real
    event["data"]["b"] = [*event["data"]["b"], ["9.00000000", "1.00000000"]]
    tampered = [dict(e) for e in entries]
    tampered[at] = {**entries[at], "data": json.dumps(event)}
    tampered.append(snapshot_after(entries, at))

    feed = BinanceFeed([SYMBOL], ReplayTransport(tampered), QUIET)
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["crossed"]
    for delta in events.deltas:
        assert all(Decimal(p) != Decimal(9) for p, _ in delta.bids)
    assert_final_book_is_true(feed)


async def test_silent_stream_is_stale_and_resyncs() -> None:
    entries = load(BINANCE_CAPTURE)
    frames = diff_lines(entries)
    at = frames[20]
    shifted = [
        {**e, "ts": e["ts"] + 120} if e["t"] == "recv" and i >= at else e
        for i, e in enumerate(entries)
    ]
    shifted.append(snapshot_after(entries, at - 1))  # what a snapshot at that moment shows

    feed = BinanceFeed([SYMBOL], ReplayTransport(shifted), FeedOptions(stale_after_s=60))
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["stale"]
    assert len(events.snapshots) == 2
    assert_final_book_is_true(feed)


async def test_a_bad_level_desyncs_without_touching_the_book() -> None:
    entries = load(BINANCE_CAPTURE)
    at = diff_lines(entries)[3]
    event = json.loads(entries[at]["data"])
    event["data"]["a"] = [["0.35300000", "12.5"], ["not-a-price", "1"]]
    tampered = [dict(e) for e in entries]
    tampered[at] = {**entries[at], "data": json.dumps(event)}

    feed = BinanceFeed([SYMBOL], ReplayTransport(tampered), QUIET)
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["error"]
    assert "not-a-price" in events.desyncs[0].detail
    # no recorded snapshot is left for the resync: the replay ends with the book untrusted
    assert not feed.books[SYMBOL].in_sync
    assert feed.books[SYMBOL].book.bid_count == 0


class FlakyRest:
    """The replay transport, with the first ``failures`` depth requests failing like a 5xx."""

    def __init__(self, inner: ReplayTransport, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.connect = inner.connect
        self.aclose = inner.aclose

    async def get(self, url: str) -> Received:
        if "/depth" in url and self.failures > 0:
            self.failures -= 1
            raise TransportError(f"GET {url}: HTTP 503")
        return await self.inner.get(url)


async def test_failing_snapshot_requests_are_retried_with_backoff() -> None:
    transport = FlakyRest(ReplayTransport(BINANCE_CAPTURE), failures=3)
    fast = FeedOptions(
        stale_after_s=3600, rest_retry=RetryPolicy(attempts=5, base_delay_s=0.001, max_delay_s=0.01)
    )
    feed = BinanceFeed([SYMBOL], transport, fast)
    events = await replay(feed)

    assert transport.failures == 0
    assert events.desyncs == []
    assert len(events.snapshots) == 1
    assert_final_book_is_true(feed)


class SlowRest:
    """Depth snapshots answer only after ``frames`` stream frames were read: a slow REST call."""

    def __init__(self, inner: ReplayTransport, frames: int) -> None:
        self.inner = inner
        self.frames = frames
        self.connect = inner.connect
        self.aclose = inner.aclose

    async def get(self, url: str) -> Received:
        # polls the replay's own counter: the replay has no event to wait on
        while "/depth" in url and self.inner.frames_served < self.frames:  # noqa: ASYNC110
            await asyncio.sleep(0)
        return await self.inner.get(url)


async def test_diffs_are_buffered_while_the_snapshot_loads() -> None:
    inner = ReplayTransport(BINANCE_CAPTURE)
    feed = BinanceFeed([SYMBOL], SlowRest(inner, frames=40), QUIET)
    events = await replay(feed)

    assert events.desyncs == []
    (snapshot,) = events.snapshots
    assert events.items[0] is snapshot  # nothing before the book was built
    # the buffered diffs were applied in order behind the snapshot
    nkn = [int(d.exchange_sequence) for d in events.deltas]
    assert nkn == sorted(nkn)
    assert int(snapshot.exchange_sequence) == 499869752
    assert nkn[0] == 499869754  # U=499869753: the first diff past the snapshot, from the buffer
    assert_final_book_is_true(feed)


@pytest.mark.parametrize("body", ["not json", "[]", '{"bids": [], "asks": []}'])
async def test_a_snapshot_body_that_is_no_depth_snapshot_desyncs_the_book(body: str) -> None:
    """The snapshot loads in its own task: a body it cannot read must still say so (a desync),
    not vanish with the book silently unsynced."""
    entries = load(BINANCE_CAPTURE)
    snapshot = next(i for i, e in enumerate(entries) if f"symbol={EXCHANGE_ID}" in e.get("url", ""))
    entries[snapshot] = {**entries[snapshot], "data": body}
    feed = BinanceFeed([SYMBOL], ReplayTransport(entries), QUIET)

    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["error"]
    assert "bad snapshot" in events.desyncs[0].detail
    assert not feed.books[SYMBOL].in_sync

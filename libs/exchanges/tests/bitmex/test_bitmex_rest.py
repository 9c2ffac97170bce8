"""BitMEX REST against a venue double (httpx.MockTransport): paging, rate limits, candles."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from eip.exchanges.bitmex.limits import RequestBudget
from eip.exchanges.bitmex.market_data import BitmexMarketDataAdapter, next_page
from eip.exchanges.contract.errors import BadRequest, RateLimited, UnknownSymbol
from eip.resilience import RetryPolicy

PAYLOADS = Path(__file__).parent.parent / "payloads" / "bitmex"
Handler = Callable[[httpx.Request], httpx.Response]


def body(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def venue(routes: dict[str, Handler]) -> tuple[BitmexMarketDataAdapter, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path.removeprefix("/api/v1")
        if path == "/instrument/active":
            return httpx.Response(200, content=body("instruments.json"))
        return routes[path](request)

    adapter = BitmexMarketDataAdapter(
        rest_base_url="http://venue/api/v1",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
        retry_policy=RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.01),
    )
    return adapter, seen


async def test_load_markets_lists_platform_symbols() -> None:
    adapter, _ = venue({})
    assert await adapter.load_markets() == [
        "BTC/USD:BTC",
        "BTC/USD:BTC-241227",
        "BTC/USDT",
        "BTC/USDT:USDT",
    ]
    await adapter.close()


async def test_trade_pages_advance_by_time_and_offset() -> None:
    adapter, seen = venue({"/trade": lambda r: httpx.Response(200, content=body("trades.json"))})
    since = datetime(2024, 11, 25, 10, 34, tzinfo=UTC)
    page = await adapter.fetch_trades("BTC/USD:BTC", since, limit=2)
    params = seen[-1].url.params
    assert params["symbol"] == "XBTUSD"
    assert params["startTime"] == "2024-11-25T10:34:00.000Z"
    assert params["count"] == "2"
    assert params["reverse"] == "false"
    assert "start" not in params
    start_time, skip = next_page(page)
    assert start_time == datetime(2024, 11, 25, 10, 34, 58, 402000, tzinfo=UTC)
    assert skip == 1  # one trade at that millisecond already seen
    await adapter.fetch_trades_page("BTC/USD:BTC", start_time, skip, limit=2)
    params = seen[-1].url.params
    assert params["startTime"] == "2024-11-25T10:34:58.402Z"
    assert params["start"] == "1"
    await adapter.close()


def test_a_page_all_at_one_millisecond_grows_the_offset() -> None:
    from eip.exchanges.bitmex import wire as parse

    row = parse.loads(body("trades.json"))[1]
    received = datetime.now(UTC)
    same = [parse.trade("BTC/USD:BTC", row, received) for _ in range(3)]
    assert next_page(same, previous_skip=3)[1] == 6
    with pytest.raises(ValueError, match="empty page"):
        next_page([])


async def test_latest_trades_without_since_come_oldest_first() -> None:
    newest_first = (
        b"[" + b",".join(reversed(body("trades.json").strip()[1:-1].split(b",\n"))) + b"]"
    )
    adapter, seen = venue({"/trade": lambda r: httpx.Response(200, content=newest_first)})
    trades = await adapter.fetch_trades("BTC/USD:BTC", limit=2)
    assert seen[-1].url.params["reverse"] == "true"
    assert [t.price for t in trades] == [Decimal("98949.5"), Decimal("98950")]
    await adapter.close()


async def test_429_blocks_for_retry_after_then_succeeds_and_headroom_follows_headers() -> None:
    calls = 0

    def trade(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(
                429,
                headers={"Retry-After": "0.05", "x-ratelimit-remaining": "0"},
                json={"error": {"message": "Rate limit exceeded", "name": "HTTPError"}},
            )
        return httpx.Response(
            200,
            content=body("trades.json"),
            headers={
                "x-ratelimit-limit": "120",
                "x-ratelimit-remaining": "90",
                "x-ratelimit-reset": str(int(time.time()) + 60),
            },
        )

    adapter, _ = venue({"/trade": trade})
    await adapter.load_markets()
    started = time.monotonic()
    trades = await adapter.fetch_trades("BTC/USD:BTC", datetime(2024, 11, 25, tzinfo=UTC))
    elapsed = time.monotonic() - started
    assert calls == 2
    assert len(trades) == 2
    assert adapter.budget.limit == 120
    assert adapter.status().rate_limit_headroom == pytest.approx(90 / 120)
    assert adapter.status().errors == 1  # the 429
    assert elapsed < 5  # waited for Retry-After, not for a blind minute
    await adapter.close()


async def test_429_after_retries_raises_rate_limited_with_retry_after() -> None:
    adapter, _ = venue(
        {"/trade": lambda r: httpx.Response(429, headers={"Retry-After": "0.01"}, json={})}
    )
    with pytest.raises(RateLimited) as info:
        await adapter.fetch_trades("BTC/USD:BTC", datetime(2024, 11, 25, tzinfo=UTC))
    assert info.value.retry_after_s == pytest.approx(0.01)
    await adapter.close()


async def test_budget_waits_for_reset_when_nothing_is_left() -> None:
    now = [1000.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = RequestBudget(clock=lambda: now[0], sleep=sleep)
    budget.observe(
        {"x-ratelimit-limit": "120", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"}
    )
    assert budget.headroom() == 0.0
    await budget.acquire()
    assert slept == [pytest.approx(30.0)]
    assert budget.remaining == 119


async def test_400_is_bad_request_with_bitmex_message_and_unknown_symbols_never_reach_venue() -> (
    None
):
    adapter, seen = venue(
        {
            "/trade": lambda r: httpx.Response(
                400, json={"error": {"message": "Invalid startTime", "name": "ValidationError"}}
            )
        }
    )
    with pytest.raises(BadRequest, match="Invalid startTime"):
        await adapter.fetch_trades("BTC/USD:BTC", datetime(2024, 11, 25, tzinfo=UTC))
    before = len(seen)
    with pytest.raises(UnknownSymbol):
        await adapter.fetch_trades("DOGE/EUR")
    assert len(seen) == before
    with pytest.raises(BadRequest):
        await adapter.fetch_trades("BTC/USD:BTC", limit=5000)
    await adapter.close()


async def test_ticker_from_instrument() -> None:
    adapter, seen = venue(
        {"/instrument": lambda r: httpx.Response(200, content=body("instrument_ticker.json"))}
    )
    ticker = await adapter.fetch_ticker("BTC/USD:BTC")
    assert seen[-1].url.params["symbol"] == "XBTUSD"
    assert ticker.symbol == "BTC/USD:BTC"
    assert ticker.last == Decimal("98950")
    await adapter.close()


async def test_15m_candles_ask_for_5m_buckets_closing_after_since_and_roll_up() -> None:
    adapter, seen = venue(
        {"/trade/bucketed": lambda r: httpx.Response(200, content=body("ohlcv_5m.json"))}
    )
    since = datetime(2024, 11, 25, 9, 55, tzinfo=UTC)  # aligned up to 10:00
    candles = await adapter.fetch_ohlcv("BTC/USD:BTC", "15m", since, limit=2)
    params = seen[-1].url.params
    assert params["binSize"] == "5m"
    assert params["partial"] == "false"
    assert params["count"] == "6"
    assert params["startTime"] == "2024-11-25T10:05:00.000Z"  # the close of the 10:00 bucket
    assert [c.open_time for c in candles] == [datetime(2024, 11, 25, 10, 0, tzinfo=UTC)]
    assert candles[0].close == Decimal("98720.5")
    with pytest.raises(BadRequest):
        await adapter.fetch_ohlcv("BTC/USD:BTC", "4h", since, limit=500)
    await adapter.close()

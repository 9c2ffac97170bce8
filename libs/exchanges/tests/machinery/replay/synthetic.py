"""Small captures in each venue's documented frame shapes (from the venues' API docs, values
made up), written as format-2 files so the replay's dispatch is exercised per venue."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from eip.exchanges.machinery.capture import recv_entry

# exchange header -> (config, frames); each frame a JSON value as the venue sends it
VENUES: dict[str, tuple[dict[str, list[str]], list[Any]]] = {
    "KUCOIN": (
        {"trades": ["BTC-USDT"], "ticker": ["BTC-USDT"]},
        [
            {"id": "1", "type": "welcome"},
            {
                "type": "message",
                "topic": "/market/match:BTC-USDT",
                "subject": "trade.l3match",
                "data": {
                    "sequence": "1545896669145",
                    "type": "match",
                    "symbol": "BTC-USDT",
                    "side": "buy",
                    "price": "42000.10000000000000000000",
                    "size": "0.01022222000000000000",
                    "tradeId": "5c24c5da03aa673885cd67aa",
                    "takerOrderId": "5c24c5d903aa6772d55b371e",
                    "makerOrderId": "5c2187d003aa677bd09d5c93",
                    "time": "1545913818099033203",
                },
            },
            {
                "type": "message",
                "topic": "/market/ticker:BTC-USDT",
                "subject": "trade.ticker",
                "data": {
                    "sequence": "1545896668986",
                    "price": "42000.1",
                    "size": "0.011",
                    "bestAsk": "42000.2",
                    "bestAskSize": "0.18",
                    "bestBid": "42000.1",
                    "bestBidSize": "0.036",
                    "time": 1704873323416,
                },
            },
        ],
    ),
    "OKX": (
        {"trades": ["BTC-USDT"], "ticker": ["BTC-USDT"]},
        [
            {"event": "subscribe", "arg": {"channel": "trades", "instId": "BTC-USDT"}},
            {
                "arg": {"channel": "trades", "instId": "BTC-USDT"},
                "data": [
                    {
                        "instId": "BTC-USDT",
                        "tradeId": "130639474",
                        "px": "42219.9",
                        "sz": "0.12060306",
                        "side": "buy",
                        "ts": "1630048897897",
                        "count": "3",
                    }
                ],
            },
            {
                "arg": {"channel": "tickers", "instId": "BTC-USDT"},
                "data": [
                    {
                        "instType": "SPOT",
                        "instId": "BTC-USDT",
                        "last": "42219.9",
                        "lastSz": "0.1",
                        "askPx": "42220",
                        "askSz": "11",
                        "bidPx": "42219.9",
                        "bidSz": "5",
                        "open24h": "41000",
                        "high24h": "43000",
                        "low24h": "40000.5",
                        "volCcy24h": "2222",
                        "vol24h": "2222",
                        "sodUtc0": "2222",
                        "sodUtc8": "2222",
                        "ts": "1597026383085",
                    }
                ],
            },
        ],
    ),
    "BYBIT": (
        {"trades": ["BTC-USDT"], "ticker": ["BTC-USDT"]},
        [
            {"success": True, "ret_msg": "subscribe", "op": "subscribe"},
            {
                "topic": "publicTrade.BTCUSDT",
                "type": "snapshot",
                "ts": 1672304486868,
                "data": [
                    {
                        "T": 1672304486865,
                        "s": "BTCUSDT",
                        "S": "Buy",
                        "v": "0.001",
                        "p": "16578.50",
                        "L": "PlusTick",
                        "i": "20f43950-d8dd-5b31-9112-a178eb6023af",
                        "BT": False,
                    }
                ],
            },
            {
                "topic": "tickers.BTCUSDT",
                "ts": 1673853746003,
                "type": "snapshot",
                "cs": 2588407389,
                "data": {
                    "symbol": "BTCUSDT",
                    "lastPrice": "21109.77",
                    "highPrice24h": "21426.99",
                    "lowPrice24h": "20575",
                    "prevPrice24h": "20704.93",
                    "volume24h": "6780.866843",
                    "turnover24h": "141946527.22907118",
                    "price24hPcnt": "0.0196",
                    "usdIndexPrice": "21120.2400136",
                },
            },
        ],
    ),
    "GATEIO": (
        {"trades": ["BTC-USDT"], "ticker": ["BTC-USDT"]},
        [
            {
                "time": 1606292218,
                "channel": "spot.trades",
                "event": "subscribe",
                "result": {"status": "success"},
            },
            {
                "time": 1606292218,
                "time_ms": 1606292218231,
                "channel": "spot.trades",
                "event": "update",
                "result": {
                    "id": 309143071,
                    "create_time": 1606292218,
                    "create_time_ms": "1606292218213.4578",
                    "side": "sell",
                    "currency_pair": "BTC_USDT",
                    "amount": "16.4700000000",
                    "price": "19106.5500000000",
                },
            },
            {
                "time": 1669107766,
                "time_ms": 1669107766406,
                "channel": "spot.tickers",
                "event": "update",
                "result": {
                    "currency_pair": "BTC_USDT",
                    "last": "19106.55",
                    "lowest_ask": "19108.71",
                    "highest_bid": "19106.55",
                    "change_percentage": "3.66",
                    "base_volume": "2811.3042155865",
                    "quote_volume": "53441606.52411221454674732293",
                    "high_24h": "19417.74",
                    "low_24h": "18434.21",
                },
            },
        ],
    ),
    "HUOBI": (
        {"trades": ["BTC-USDT"], "ticker": ["BTC-USDT"]},
        [
            {"id": "1", "status": "ok", "subbed": "market.btcusdt.trade.detail", "ts": 1},
            {
                "ch": "market.btcusdt.trade.detail",
                "ts": 1630994963175,
                "tick": {
                    "id": 137005445109,
                    "ts": 1630994963173,
                    "data": [
                        {
                            "id": 137005445109359286410323766,
                            "ts": 1630994963173,
                            "tradeId": 102523573486,
                            "amount": 0.006754,
                            "price": 52648.62,
                            "direction": "buy",
                        }
                    ],
                },
            },
            {
                "ch": "market.btcusdt.ticker",
                "ts": 1630982370526,
                "tick": {
                    "open": 51732,
                    "high": 52785.64,
                    "low": 51000,
                    "close": 52735.63,
                    "amount": 13259.24137056181,
                    "vol": 687640987.4125315,
                    "count": 448737,
                    "bid": 52732.88,
                    "bidSize": 0.036,
                    "ask": 52732.89,
                    "askSize": 0.583653,
                    "lastPrice": 52735.63,
                    "lastSize": 0.03,
                },
            },
        ],
    ),
    "BITFINEX": (
        {"trades": ["BTC-USD"], "ticker": ["BTC-USD"]},
        [
            {"event": "info", "version": 2, "platform": {"status": 1}},
            {
                "event": "subscribed",
                "channel": "trades",
                "chanId": 17470,
                "symbol": "tBTCUSD",
                "pair": "BTCUSD",
            },
            [
                17470,
                [[401597393, 1574694475039, 0.005, 7244.9], [401597394, 1574694476039, -0.1, 7245]],
            ],
            [17470, "te", [401597395, 1574694478808, -0.005, 7245.3]],
            [17470, "tu", [401597395, 1574694478808, -0.005, 7245.3]],
            [17470, "hb"],
            {
                "event": "subscribed",
                "channel": "ticker",
                "chanId": 224555,
                "symbol": "tBTCUSD",
                "pair": "BTCUSD",
            },
            [224555, [7616.5, 31.89, 7617.5, 43.36, -550.8, -0.067, 7617.1, 8314.71, 8257.8, 7500]],
        ],
    ),
    "COINBASE": (
        {"trades": ["BTC-USD"], "ticker": ["BTC-USD"]},
        [
            {
                "channel": "subscriptions",
                "events": [{"subscriptions": {"market_trades": ["BTC-USD"]}}],
            },
            {
                "channel": "market_trades",
                "client_id": "",
                "timestamp": "2023-02-09T20:19:35.39625135Z",
                "sequence_num": 0,
                "events": [
                    {
                        "type": "update",
                        "trades": [
                            {
                                "trade_id": "1000001",
                                "product_id": "BTC-USD",
                                "price": "21932.98",
                                "size": "0.3",
                                "side": "BUY",
                                "time": "2023-02-09T20:19:35.39Z",
                            }
                        ],
                    }
                ],
            },
            {
                "channel": "ticker",
                "client_id": "",
                "timestamp": "2023-02-09T20:30:37.167359596Z",
                "sequence_num": 1,
                "events": [
                    {
                        "type": "snapshot",
                        "tickers": [
                            {
                                "type": "ticker",
                                "product_id": "BTC-USD",
                                "price": "21932.98",
                                "volume_24_h": "16038.28770938",
                                "low_24_h": "21835.29",
                                "high_24_h": "23011.18",
                                "low_52_w": "15460",
                                "high_52_w": "48240",
                                "price_percent_chg_24_h": "-4.15775596190603",
                                "best_bid": "21932.98",
                                "best_bid_quantity": "0.1",
                                "best_ask": "21933.0",
                                "best_ask_quantity": "0.2",
                            }
                        ],
                    }
                ],
            },
        ],
    ),
    "BITMEX": (
        {"trades": ["BTC-USD-PERP"], "ticker": ["BTC-USD-PERP"]},
        [
            {"success": True, "subscribe": "instrument:XBTUSD"},
            {
                "table": "instrument",
                "action": "partial",
                "data": [
                    {
                        "symbol": "XBTUSD",
                        "typ": "FFWCSX",
                        "underlying": "XBT",
                        "quoteCurrency": "USD",
                        "settlCurrency": "XBt",
                        "lastPrice": 97000.5,
                        "bidPrice": 97000,
                        "askPrice": 97000.5,
                        "highPrice": 98000,
                        "lowPrice": 96000,
                        "prevPrice24h": 96500,
                        "homeNotional24h": 1234.5,
                        "foreignNotional24h": 119745000,
                        "timestamp": "2024-11-25T10:34:45.000Z",
                    }
                ],
            },
            {
                "table": "trade",
                "action": "insert",
                "data": [
                    {
                        "timestamp": "2024-11-25T10:34:46.234Z",
                        "symbol": "XBTUSD",
                        "side": "Sell",
                        "size": 100,
                        "price": 97000.5,
                        "trdMatchID": "00000000-006d-1000-0000-0000000d1f2c",
                        "homeNotional": 0.00103092,
                        "foreignNotional": 100,
                    }
                ],
            },
            {
                "table": "quote",
                "action": "insert",
                "data": [
                    {
                        "timestamp": "2024-11-25T10:34:47.000Z",
                        "symbol": "XBTUSD",
                        "bidSize": 1000,
                        "bidPrice": 97000,
                        "askPrice": 97001,
                        "askSize": 2000,
                    }
                ],
            },
        ],
    ),
}

# the 2021 Coinbase Exchange (Pro) feed: "match" and "ticker" frames, no "channel"
COINBASE_PRO: list[Any] = [
    {"type": "subscriptions", "channels": [{"name": "matches", "product_ids": ["BTC-USD"]}]},
    {
        "type": "last_match",
        "trade_id": 9,
        "sequence": 49,
        "maker_order_id": "846893fc-fe64-43c4-810c-be6c1f2fb715",
        "taker_order_id": "4b6e2af3-a78c-4406-9a2e-d1b28ed8b147",
        "time": "2021-11-07T08:19:20.000000Z",
        "product_id": "BTC-USD",
        "size": "1",
        "price": "400",
        "side": "sell",
    },
    {
        "type": "match",
        "trade_id": 10,
        "sequence": 50,
        "maker_order_id": "ac928c66-ca53-498f-9c13-a110027a60e8",
        "taker_order_id": "132fb6ae-456b-4654-b4e0-d681ac05cea1",
        "time": "2021-11-07T08:19:27.028459Z",
        "product_id": "BTC-USD",
        "size": "5.23512",
        "price": "400.23",
        "side": "sell",
    },
    {
        "type": "ticker",
        "sequence": 37475248783,
        "product_id": "BTC-USD",
        "price": "400.23",
        "open_24h": "390.79",
        "volume_24h": "245532.79269678",
        "low_24h": "380.52",
        "high_24h": "413.8",
        "volume_30d": "9788783.60117027",
        "best_bid": "400.04",
        "best_bid_size": "0.46688654",
        "best_ask": "400.27",
        "best_ask_size": "1.56637040",
        "side": "buy",
        "time": "2021-11-07T08:19:28.061769Z",
        "trade_id": 370843401,
        "last_size": "11.4396987",
    },
]


def write_capture(
    path: Path,
    exchange: str,
    config: dict[str, list[str]],
    frames: list[Any],
    addr: str = "wss://example.invalid",
    gzipped: bool = False,
) -> Path:
    """A capture of ``frames`` (JSON values) on one connection to ``addr``; ``gzipped``: each
    frame sent as a binary gzip frame, as HTX sends them (kept as ``b64``)."""
    lines = capture_entries(exchange, config, frames, addr, gzipped)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def capture_entries(
    exchange: str,
    config: dict[str, list[str]],
    frames: list[Any],
    addr: str = "wss://example.invalid",
    gzipped: bool = False,
) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [
        {"t": "header", "format": 2, "exchange": exchange, "config": config, "recorded": 1.7e9}
    ]
    conn = f"{exchange}.ws.1"
    lines.append({"t": "connect", "conn": conn, "ts": 1.7e9, "addr": addr})
    for i, frame in enumerate(frames):
        text = json.dumps(frame)
        payload = gzip.compress(text.encode()) if gzipped else text
        lines.append(recv_entry(conn, 1.7e9 + i / 10, payload))
    return lines

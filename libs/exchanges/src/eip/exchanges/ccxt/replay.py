"""ccxt venues: every frame goes to the unmodified ccxt.pro exchange's ``handle_message``.

ccxt's handlers hand what they parsed to ``client.resolve(result, message_hash)``; the stand-in
client below collects those results instead of completing futures, and the adapter's own
mapping (``ccxt_parse.trade`` / ``ccxt_parse.ticker``) turns them into the contract.

Markets: ``load_markets`` runs with ccxt's one HTTP call (``fetch``) answered from the capture's
``http`` bodies by URL path. When the capture lacks an endpoint ccxt asks for, the markets are
synthesized instead, the minimum per header symbol ``BASE-QUOTE``: ``id`` in the venue's
spelling (see ``_ID_FORMS``), ``symbol`` ``BASE/QUOTE``, ``base``/``quote``/``baseId``/
``quoteId``, spot type, no precision or limits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from eip.exchanges.ccxt import parse as ccxt_parse
from eip.exchanges.ccxt.classify import classifier
from eip.exchanges.ccxt.market_data import new_client
from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.machinery.capture import Capture, header_symbol
from eip.exchanges.machinery.replay.result import Channel


def _bitfinex_id(base: str, quote: str) -> str:
    # Bitfinex glues two 3-letter codes (tBTCUSD) and puts a colon between longer ones
    return f"t{base}{quote}" if len(base) == 3 and len(quote) == 3 else f"t{base}:{quote}"


_ID_FORMS: dict[str, Callable[[str, str], str]] = {
    "coinbase": lambda b, q: f"{b}-{q}",
    "coinbaseexchange": lambda b, q: f"{b}-{q}",
    "kucoin": lambda b, q: f"{b}-{q}",
    "okx": lambda b, q: f"{b}-{q}",
    "bybit": lambda b, q: f"{b}{q}",
    "gateio": lambda b, q: f"{b}_{q}",
    "htx": lambda b, q: f"{b}{q}".lower(),
    "bitfinex": _bitfinex_id,
    "kraken": lambda b, q: f"{b}/{q}",
}


def _dashed(base: str, quote: str) -> str:
    return f"{base}-{quote}"


class _Done:
    """What ``client.send`` returns: ccxt only awaits or ignores it."""

    def __await__(self) -> Any:
        return iter(())


class StandInClient:
    """The attributes ccxt.pro's ``handle_*`` methods touch on a connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.subscriptions: dict[str, Any] = {}
        self.futures: dict[str, Any] = {}
        self.rejections: dict[str, Any] = {}
        self.keepAlive = 0
        self.lastPong: int | None = None
        self.resolved: list[Any] = []
        self.rejected: list[Any] = []

    def resolve(self, result: Any, message_hash: Any = None) -> Any:
        self.resolved.append(result)
        return result

    def reject(self, result: Any, message_hash: Any = None) -> None:
        self.rejected.append(result)

    def future(self, message_hash: Any) -> Any:
        return asyncio.get_event_loop_policy().get_event_loop().create_future()

    def reusableFuture(self, message_hash: Any) -> Any:
        return self.future(message_hash)

    def send(self, message: Any) -> _Done:
        return _Done()

    def reset(self, error: Any) -> None:
        self.rejected.append(error)


def synthesized_markets(ccxt_id: str, capture: Capture) -> list[dict[str, Any]]:
    form = _ID_FORMS.get(ccxt_id, _dashed)
    seen: dict[str, dict[str, Any]] = {}
    for symbols in capture.config.values():
        for name in symbols:
            base, _, quote = name.partition("-")
            if not quote:
                continue
            if "-" in quote:
                derivative = _derivative(ccxt_id, name)
                if derivative is not None:
                    seen[derivative["id"]] = derivative
                continue
            market_id = form(base, quote)
            seen[market_id] = spot_market(market_id, base, quote)
    return list(seen.values())


def spot_market(market_id: str, base: str, quote: str) -> dict[str, Any]:
    """ccxt's unified market structure for a spot pair known only by its codes: ids equal to
    the codes, no precision, no limits."""
    return {
        "id": market_id,
        "symbol": f"{base}/{quote}",
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "settle": None,
        "settleId": None,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "linear": None,
        "inverse": None,
        "contractSize": None,
        "active": True,
        "precision": {"amount": None, "price": None},
        "limits": {"amount": {}, "price": {}, "cost": {}},
        "info": {},
    }


def _derivative(ccxt_id: str, name: str) -> dict[str, Any] | None:
    """A header's perpetual (``BASE-QUOTE-PERP``) or dated future (``BASE-QUOTE-22K27`` or
    ``-YYMMDD``), settled in the quote when it is a stablecoin (linear), else in the base
    (inverse), with the venue's id: OKX ``XMR-USDT-SWAP`` / ``TRX-USDT-210924``; Bybit
    perpetuals ``BTCUSDT`` (linear, USDT), ``BTCPERP`` (linear, USDC), ``BTCUSD`` (inverse).
    Other venues' derivative ids are not derived: their frames then fail."""
    try:
        symbol = header_symbol(name)
    except ValueError:
        return None
    base, quote = symbol.base, symbol.quote
    linear = quote in ("USDT", "USDC")
    swap = symbol.kind == "perpetual"
    if ccxt_id == "okx" and symbol.kind in ("perpetual", "future"):
        suffix = "SWAP" if symbol.expiry is None else symbol.expiry.strftime("%y%m%d")
        market_id = f"{base}-{quote}-{suffix}"
    elif ccxt_id == "bybit" and swap and quote in ("USDT", "USDC", "USD"):
        market_id = f"{base}PERP" if quote == "USDC" else f"{base}{quote}"
    else:
        return None
    settle = quote if linear else base
    return {
        **spot_market(market_id, base, quote),
        "symbol": symbol.unified(settle),
        "settle": settle,
        "settleId": settle,
        "type": "swap" if swap else "future",
        "spot": False,
        "swap": swap,
        "future": not swap,
        "contract": True,
        "linear": linear,
        "inverse": not linear,
        "expiry": None,
    }


class RecordedRest:
    """ccxt's REST calls answered from the capture: same path and same query parameters
    (in any order); a path recorded once also answers a differently-queried call."""

    def __init__(self, http: dict[str, str]) -> None:
        self.bodies: list[tuple[str, frozenset[tuple[str, str]], str]] = []
        for url, body in http.items():
            parts = urlsplit(url)
            self.bodies.append((parts.path, frozenset(parse_qsl(parts.query)), body))

    async def fetch(
        self, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        parts = urlsplit(url)
        query = frozenset(parse_qsl(parts.query))
        same_path = [b for b in self.bodies if b[0] == parts.path]
        exact = [b for b in same_path if b[1] == query]
        found = exact or (same_path if len(same_path) == 1 else [])
        if not found:
            raise LookupError(f"capture has no response for {method} {parts.path}?{parts.query}")
        return json.loads(found[0][2])


async def _load_markets(client: Any, capture: Capture) -> str:
    """Where the markets came from: ``recorded``, or ``synthesized (why)``."""
    why = "no http lines"
    if capture.http:
        client.fetch = RecordedRest(capture.http).fetch
        try:
            await client.load_markets()
            return "recorded"
        except Exception as exc:  # any gap in the capture falls back to synthesis
            why = f"{type(exc).__name__}: {exc}"
    client.set_markets(synthesized_markets(client.id, capture))
    return f"synthesized ({why})"


def _is_trade(item: Any) -> bool:
    return isinstance(item, dict) and "price" in item and "amount" in item and "symbol" in item


def _is_ticker(item: Any) -> bool:
    return isinstance(item, dict) and "symbol" in item and "bid" in item and "last" in item


def _filled(ticker: Ticker) -> int:
    # one frame can resolve a bid/ask-only view (watchBidsAsks) beside the full ticker
    # (OKX's tickers channel does): the fuller one is what watch_ticker hands the adapter
    return sum(getattr(ticker, f.name) is not None for f in dataclasses.fields(ticker))


class CcxtReplay:
    def __init__(self, exchange: str, ccxt_id: str, capture: Capture) -> None:
        self.exchange = exchange
        self.client = new_client(ccxt_id)
        self.markets_from = asyncio.run(_load_markets(self.client, capture))
        self.addresses = capture.connections
        self.conns: dict[str, StandInClient] = {}
        self.conn = StandInClient(url="")
        self._classify = classifier(ccxt_id)

    def use_connection(self, conn: str) -> None:
        """One stand-in per recorded connection, with its address: some ccxt handlers tell
        markets apart by ``client.url`` (Bybit's spot and linear streams share ids)."""
        if conn not in self.conns:
            self.conns[conn] = StandInClient(url=self.addresses.get(conn, ""))
        self.conn = self.conns[conn]

    def classify(self, message: Any) -> tuple[Channel, str] | None:
        return self._classify(message)

    def _market(self, item: Mapping[str, Any]) -> Mapping[str, Any] | None:
        market = (self.client.markets or {}).get(item.get("symbol"))
        if market is not None and market.get("contractSize") is None:
            # synthesized from the header's names: the contract size is unknown, so amounts
            # stay in contracts (docs/MARKET_DATA.md, replay)
            return None
        return market if isinstance(market, Mapping) else None

    def parse(self, message: Any, received: datetime) -> list[Trade | Ticker]:
        # a fresh trade cache per frame: ccxt resolves its whole cache, only this frame's are new
        self.client.trades = {}
        self.conn.resolved.clear()
        prepare = getattr(self._classify, "prepare", None)
        if prepare is not None:
            message = prepare(message)
        self.client.handle_message(self.conn, message)
        trades: list[Trade | Ticker] = []
        tickers: dict[str, Ticker] = {}
        seen: set[int] = set()
        for result in self.conn.resolved:
            items: list[Any] = []
            if isinstance(result, list):
                items = list(result)
            elif isinstance(result, dict) and not _is_ticker(result):
                items = list(result.values())  # {symbol: ticker} for "tickers" hashes
            else:
                items = [result]
            for item in items:
                if id(item) in seen:
                    continue
                seen.add(id(item))
                if _is_trade(item):
                    trades.append(
                        ccxt_parse.trade(self.exchange, item, received, self._market(item))
                    )
                elif _is_ticker(item):
                    ticker = ccxt_parse.ticker(self.exchange, item, received, self._market(item))
                    kept = tickers.get(ticker.symbol)
                    if kept is None or _filled(ticker) > _filled(kept):
                        tickers[ticker.symbol] = ticker
        return trades + list(tickers.values())

    def close(self) -> None:
        asyncio.run(self.client.close())

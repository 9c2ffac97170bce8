"""Fits the generated market's parameters to recorded real captures and prints them, with the
``[instrument.market]`` tables they give the simulator's instruments:

    uv run python -m eip.exchange_simulator.calibrate data/recorded/*.jsonl.zst \\
        [--instruments INSTRUMENTS_TOML]

The defaults in ``config/default-market.toml`` and ``core/market_model.py`` are this command's
output for the shipped captures (a test holds them to it). What is subtle:

- **sigma from mids, not trade prints.** The captured pairs quote 5 to 35 bps wide and move about
  1 bp a second: a print alternates between bid and ask, so the bounce (half the spread) would
  swamp the move. sigma is the RMS of one-second log returns of the rebuilt book's mid, sampled on
  a one-second grid (the last mid at or before each second), averaged over ten grids offset
  within the second. A market whose mid changed fewer than ``MIN_MID_CHANGES`` times gives
  no sigma.
- **Book shape from the first depth snapshot**, both sides, the first ``SHAPE_LEVELS`` levels
  (where trading happens; deeper levels of these thin books scatter up to thousands of times
  the price): level ``i`` lies ``gap * i**growth`` bps (log distance) beyond the best; its size
  is ``top * (1 + i)**size_growth`` times a lognormal factor of sigma ``size_dispersion``. Both are
  least-squares fits in log-log space. The pooled gap curve is fitted to the median book (the
  median over every captured side of each level's distance), since per-market gaps and
  growths trade off against each other and their separate medians make no book.
- **Trade rate from the venue's own counts** where the capture has them (Kraken's ticker
  ``t``: trades over 24 h; Binance's kline ``n`` over the part of the minute elapsed), because
  30 seconds hold a handful of prints; otherwise prints per second of the capture.
- **Trade sizes** per taker order: prints of one side within ``TAKER_WINDOW_S`` of each other
  are one order walking several levels. sigma of log size is pooled over markets, each centered on
  its own mean (sizes are in each market's units). The median trade is the venue's mean print
  size (24 h volume / count) times exp(-sigma^2/2), the lognormal's median-to-mean ratio.
- **Mapping onto other instruments** (the captured pairs are small ones: NKNUSDT, BLZETH,
  LRCBTC, RUNEEUR and Kraken's ten): quantities without a scale are carried over as they are
  — sigma as a return, spreads and gaps in bps, exponents; sigma by base asset where a capture
  has it (Kraken XBT/CHF for BTC, ETH/CHF for ETH), else the median of the captured markets of the
  same quote class (fiat and dollar stablecoins, or crypto); the book's shape is the median of
  every captured market; sizes are the median top-of-book notional of the dollar-like-quoted
  markets (USD, USDT, EUR, CHF taken at par), divided by the instrument's price in dollars;
  the trade rate is the busiest captured market's, since the simulator's pairs are the most
  traded ones and a rate has a scale.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eip.exchange_simulator.core.instruments import Instrument, load_instruments
from eip.exchange_simulator.core.market_model import (
    USD_LIKE,
    MarketModel,
    format_model,
    usd_prices,
)
from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.kraken.replay import is_v1
from eip.exchanges.machinery.capture import Capture, payload_text, read_capture

MIN_MID_CHANGES = 5
PHASES = 10
SHAPE_LEVELS = 100
TAKER_WINDOW_S = 0.01
BPS = 10_000


@dataclass(frozen=True)
class Print:
    time_s: float  # the venue's trade time
    price: Decimal
    qty: Decimal
    taker_side: str  # "buy" | "sell"


@dataclass
class Observed:
    """What one captured market shows, as read from the capture."""

    venue: str
    symbol: str
    base: str
    quote: str
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    snapshot: tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]] | None = None
    mids: list[tuple[float, float, float]] = field(default_factory=list)  # ts, mid, spread bps
    level_changes: int = 0
    change_depths: list[int] = field(default_factory=list)  # each change's level, 0 = best
    # The capture's span: every market of a capture is subscribed throughout, so a quiet one
    # was watched as long as a busy one.
    window: tuple[float, float] = (0.0, 0.0)
    prints: list[Print] = field(default_factory=list)
    # The venue's own counts: (trades, base volume, seconds they cover), and a day's range.
    counts: tuple[int, Decimal, float] | None = None
    day_range: tuple[Decimal, Decimal] | None = None

    def set_snapshot(self, bids: Iterable[Sequence[Any]], asks: Iterable[Sequence[Any]]) -> None:
        self.bids = {Decimal(str(r[0])): Decimal(str(r[1])) for r in bids if Decimal(str(r[1]))}
        self.asks = {Decimal(str(r[0])): Decimal(str(r[1])) for r in asks if Decimal(str(r[1]))}
        if self.snapshot is None:
            self.snapshot = (
                sorted(self.bids.items(), reverse=True),
                sorted(self.asks.items()),
            )

    def set_level(self, side: str, price: Any, qty: Any) -> None:
        levels = self.bids if side == "bid" else self.asks
        p, q = Decimal(str(price)), Decimal(str(qty))
        if side == "bid":
            self.change_depths.append(sum(1 for x in levels if x > p))
        else:
            self.change_depths.append(sum(1 for x in levels if x < p))
        if q == 0:
            levels.pop(p, None)
        else:
            levels[p] = q
        self.level_changes += 1

    def record_mid(self, ts: float) -> None:
        if not self.bids or not self.asks:
            return
        bid, ask = max(self.bids), min(self.asks)
        if bid >= ask:  # crossed while a message is half applied; the next one settles it
            return
        mid = (bid + ask) / 2
        self.mids.append((ts, float(mid), float((ask - bid) / mid) * BPS))


# -- reading captures --------------------------------------------------------------------------


def read_markets(path: Path) -> list[Observed]:
    capture = read_capture(path)
    venue = capture.exchange.upper()
    if venue == "BINANCE":
        return _binance(capture)
    if venue == "KRAKEN":
        return _kraken(capture)
    raise ValueError(f"{path}: calibration reads Binance and Kraken captures, not {venue!r}")


def _window(capture: Capture) -> tuple[float, float]:
    if not capture.frames:
        return (0.0, 0.0)
    return (capture.frames[0].ts, capture.frames[-1].ts)


def _frames(capture: Capture) -> Iterable[tuple[float, Any]]:
    for frame in capture.frames:
        try:
            yield frame.ts, json.loads(payload_text(frame.data))
        except ValueError:
            continue  # a text ping or a binary frame that is no JSON


def _binance(capture: Capture) -> list[Observed]:
    markets: dict[str, Observed] = {}
    last_update: dict[str, int] = {}
    for url, body in capture.http.items():
        path, _, query = url.partition("?")
        if path.endswith("/exchangeInfo"):
            for row in json.loads(body).get("symbols", []):
                markets[row["symbol"]] = Observed(
                    "binance",
                    row["symbol"],
                    normalize_asset(row["baseAsset"]),
                    normalize_asset(row["quoteAsset"]),
                    window=_window(capture),
                )
    for url, body in capture.http.items():
        path, _, query = url.partition("?")
        if not path.endswith("/depth"):
            continue
        params = dict(p.partition("=")[::2] for p in query.split("&"))
        seeded = markets[params["symbol"].upper()]
        snapshot = json.loads(body)
        seeded.set_snapshot(snapshot["bids"], snapshot["asks"])
        seeded.record_mid(seeded.window[0])
        last_update[seeded.symbol] = int(snapshot["lastUpdateId"])
    for ts, message in _frames(capture):
        data = message.get("data", message) if isinstance(message, dict) else None
        if not isinstance(data, dict):
            continue
        event, market = data.get("e"), markets.get(str(data.get("s", "")).upper())
        if market is None:
            continue
        if event == "depthUpdate" and market.symbol in last_update:
            if int(data["u"]) <= last_update[market.symbol]:
                continue  # already in the snapshot (Binance's own sync procedure)
            for side, key in (("bid", "b"), ("ask", "a")):
                for price, qty in data[key]:
                    market.set_level(side, price, qty)
            market.record_mid(ts)
        elif event in ("aggTrade", "trade"):
            taker = "sell" if data["m"] else "buy"  # m: the buyer is the maker
            market.prints.append(
                Print(int(data["T"]) / 1000, Decimal(data["p"]), Decimal(data["q"]), taker)
            )
        elif event == "kline":
            kline = data["k"]
            elapsed = (int(data["E"]) - int(kline["t"])) / 1000
            if kline["i"] == "1m" and elapsed > 0:
                market.counts = (int(kline["n"]), Decimal(kline["v"]), elapsed)
    return [m for m in markets.values() if m.snapshot is not None]


def _kraken(capture: Capture) -> list[Observed]:
    names: dict[str, tuple[str, str]] = {}
    for url, body in capture.http.items():
        if url.partition("?")[0].endswith("/AssetPairs"):
            for row in json.loads(body).get("result", {}).values():
                if "wsname" in row:
                    names[row["wsname"]] = (
                        normalize_asset(row["base"]),
                        normalize_asset(row["quote"]),
                    )
    markets: dict[str, Observed] = {}

    def market(pair: str) -> Observed:
        if pair not in markets:
            base, _, quote = pair.partition("/")
            base, quote = names.get(pair, (normalize_asset(base), normalize_asset(quote)))
            markets[pair] = Observed("kraken", pair, base, quote, window=_window(capture))
        return markets[pair]

    for ts, message in _frames(capture):
        if not is_v1(message):
            continue
        channel, pair = str(message[-2]), str(message[-1])
        if channel.startswith("book"):
            book = market(pair)
            for part in message[1:-2]:
                if "as" in part or "bs" in part:
                    book.set_snapshot(part.get("bs", []), part.get("as", []))
                    continue
                for side, key in (("bid", "b"), ("ask", "a")):
                    for row in part.get(key, []):
                        book.set_level(side, row[0], row[1])
            book.record_mid(ts)
        elif channel == "trade":
            tape = market(pair)
            for price, qty, time_s, side, *_ in message[1]:
                taker = "buy" if side == "b" else "sell"
                tape.prints.append(Print(float(time_s), Decimal(price), Decimal(qty), taker))
        elif channel == "ticker":
            ticker = market(pair)
            day_trades, day_volume = int(message[1]["t"][1]), Decimal(message[1]["v"][1])
            ticker.counts = (day_trades, day_volume, 86_400.0)
            ticker.day_range = (Decimal(message[1]["l"][1]), Decimal(message[1]["h"][1]))
    return [m for m in markets.values() if m.snapshot is not None]


# -- fitting one market ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """One captured market's fitted values (None where the capture does not tell)."""

    venue: str
    symbol: str
    base: str
    quote: str
    seconds: float
    volatility: float | None  # per-second sigma of log mid returns
    returns: int  # one-second returns behind it
    mid_changes: int
    range_volatility: float | None  # per-second sigma from the day's high/low (Parkinson)
    spread_bps: float  # time-weighted mean
    bid_levels: int
    ask_levels: int
    level_gap_bps: float
    level_gap_growth: float
    offsets: tuple[tuple[float, ...], ...]  # per side, each level's bps beyond the best
    top_size: Decimal  # base units
    top_notional: Decimal  # quote units
    size_growth: float
    size_dispersion: float
    churn_rate: float  # level changes per second
    churn_depth: float | None  # the mean level (0 = best) of those changes
    trade_rate: float | None  # prints per second
    trade_rate_source: str
    mean_print: Decimal | None  # base units, per print
    taker_log_sizes: tuple[float, ...]  # log sizes of the taker orders seen


def fit_market(market: Observed) -> Fit:
    assert market.snapshot is not None
    bids, asks = market.snapshot
    best_bid, best_ask = bids[0][0], asks[0][0]
    seconds = market.window[1] - market.window[0]
    volatility, returns, changes = _volatility(market.mids, market.window)
    offsets = (_offsets(bids), _offsets(asks))
    gap, growth = _gap_fit(offsets)
    top, size_growth, dispersion = _size_fit(bids, asks)
    rate, source, mean_print = _trade_rate(market, seconds)
    return Fit(
        venue=market.venue,
        symbol=market.symbol,
        base=market.base,
        quote=market.quote,
        seconds=seconds,
        volatility=volatility,
        returns=returns,
        mid_changes=changes,
        range_volatility=_range_volatility(market.day_range),
        spread_bps=_mean_spread(market.mids, market.window[1]),
        bid_levels=len(bids),
        ask_levels=len(asks),
        level_gap_bps=gap,
        level_gap_growth=growth,
        offsets=offsets,
        top_size=_significant(top),
        top_notional=_significant(top * (best_bid + best_ask) / 2),
        size_growth=size_growth,
        size_dispersion=dispersion,
        churn_rate=market.level_changes / seconds if seconds > 0 else 0.0,
        churn_depth=statistics.fmean(market.change_depths) if market.change_depths else None,
        trade_rate=rate,
        trade_rate_source=source,
        mean_print=mean_print,
        taker_log_sizes=tuple(math.log(float(q)) for q in _taker_orders(market.prints)),
    )


def _volatility(
    mids: list[tuple[float, float, float]], window: tuple[float, float]
) -> tuple[float | None, int, int]:
    """RMS of one-second log mid returns over the window, with the number of returns and of
    mid changes behind it. Half a minute holds a few dozen changes, so where the one-second
    grid starts matters: the squares are averaged over ``PHASES`` grids offset evenly within
    the second."""
    changes = sum(1 for a, b in itertools.pairwise(mids) if a[1] != b[1])
    if changes < MIN_MID_CHANGES:
        return None, int(window[1] - window[0]), changes
    squares: list[float] = []
    for phase in range(PHASES):
        grid = _sampled(mids, window[0] + phase / PHASES, window[1])
        moves = [b - a for a, b in itertools.pairwise(grid)]
        squares.append(sum(m * m for m in moves) / len(moves))
    returns = len(_sampled(mids, window[0], window[1])) - 1
    return math.sqrt(statistics.fmean(squares)), returns, changes


def _sampled(mids: list[tuple[float, float, float]], start: float, end: float) -> list[float]:
    """The log mid at ``start``, ``start + 1`` … ``end``: the last one at or before each."""
    grid: list[float] = []
    index, last = 0, mids[0][1]
    second = start
    while second <= end:
        while index < len(mids) and mids[index][0] <= second:
            last = mids[index][1]
            index += 1
        grid.append(math.log(last))
        second += 1
    return grid


def _range_volatility(day: tuple[Decimal, Decimal] | None) -> float | None:
    if day is None or day[0] <= 0:
        return None
    low, high = day
    daily = math.log(float(high / low)) / math.sqrt(4 * math.log(2))
    return daily / math.sqrt(86_400)


def _mean_spread(mids: list[tuple[float, float, float]], end: float) -> float:
    """Time-weighted: each spread counts for as long as it stood (the last until ``end``)."""
    spans = [(a[2], b[0] - a[0]) for a, b in zip(mids, [*mids[1:], (end, 0.0, 0.0)], strict=True)]
    total = sum(span for _, span in spans)
    if total <= 0:
        return statistics.fmean(m[2] for m in mids)
    return sum(spread * span for spread, span in spans) / total


def _offsets(side: list[tuple[Decimal, Decimal]]) -> tuple[float, ...]:
    best = float(side[0][0])
    return tuple(abs(math.log(float(price) / best)) * BPS for price, _ in side[:SHAPE_LEVELS])


def _gap_fit(sides: Iterable[Sequence[float]]) -> tuple[float, float]:
    """``log(offset_i) = log(gap) + growth * log(i)``, offsets in bps of log price."""
    xs: list[float] = []
    ys: list[float] = []
    for offsets in sides:
        for i, offset in enumerate(offsets[1:], 1):
            if offset > 0:
                xs.append(math.log(i))
                ys.append(math.log(offset))
    growth, intercept = statistics.linear_regression(xs, ys)
    return math.exp(intercept), growth


def _median_book(sides: list[Sequence[float]]) -> list[float]:
    """Each level's median distance over the sides that have it, while at least half do."""
    curve = [0.0]
    for i in range(1, SHAPE_LEVELS):
        have = [s[i] for s in sides if len(s) > i]
        if 2 * len(have) < len(sides):
            break
        curve.append(statistics.median(have))
    return curve


def _size_fit(
    bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
) -> tuple[Decimal, float, float]:
    """``log(size_i) = log(top) + size_growth * log(1 + i)``; the residuals' sigma is the
    dispersion."""
    xs: list[float] = []
    ys: list[float] = []
    for side in (bids, asks):
        for i, (_, qty) in enumerate(side[:SHAPE_LEVELS]):
            xs.append(math.log(1 + i))
            ys.append(math.log(float(qty)))
    slope, intercept = statistics.linear_regression(xs, ys)
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys, strict=True)]
    return Decimal(repr(math.exp(intercept))), slope, statistics.pstdev(residuals)


def _taker_orders(prints: list[Print]) -> list[Decimal]:
    orders: list[Decimal] = []
    last: Print | None = None
    for p in sorted(prints, key=lambda p: p.time_s):
        if (
            last is not None
            and orders
            and p.taker_side == last.taker_side
            and p.time_s - last.time_s <= TAKER_WINDOW_S
        ):
            orders[-1] += p.qty
        else:
            orders.append(p.qty)
        last = p
    return orders


def _trade_rate(market: Observed, seconds: float) -> tuple[float | None, str, Decimal | None]:
    if market.counts is not None and market.counts[0] > 0:
        trades, volume, covered = market.counts
        source = "ticker (24 h)" if market.venue == "kraken" else f"kline ({covered:.0f} s)"
        return trades / covered, source, volume / trades
    if market.prints and seconds > 0:
        mean = sum((p.qty for p in market.prints), Decimal(0)) / len(market.prints)
        return len(market.prints) / seconds, f"{len(market.prints)} prints", mean
    return None, "no trades", None


def _significant(value: Decimal, digits: int = 3) -> Decimal:
    """``value`` to ``digits`` significant digits, written without an exponent."""
    if value == 0:
        return value
    exponent = value.adjusted() - digits + 1
    rounded = value.quantize(Decimal(1).scaleb(exponent)).normalize()
    return Decimal(format(rounded, "f"))


# -- pooling and mapping ----------------------------------------------------------------------


def quote_class(quote: str) -> str:
    return "fiat" if quote in USD_LIKE else "crypto"


@dataclass(frozen=True)
class Pooled:
    """The values every instrument shares (medians over the captured markets)."""

    spread_bps: float
    level_gap_bps: float
    level_gap_growth: float
    size_growth: float
    size_dispersion: float
    churn_rate: float
    churn_depth: float
    trade_rate: float
    trade_size_sigma: float
    trade_to_top: float  # median trade / median top-of-book size
    top_notional_usd: Decimal
    volatility: dict[str, float]  # quote class -> median sigma
    all_volatility: float  # every market's median sigma


def pool(fits: list[Fit]) -> Pooled:
    sigma = _pooled_log_sigma([f.taker_log_sizes for f in fits])
    ratios = [
        float(f.mean_print) * math.exp(-sigma * sigma / 2) / float(f.top_size)
        for f in fits
        if f.mean_print is not None and f.top_size > 0
    ]
    rates = [f.trade_rate for f in fits if f.trade_rate is not None]
    gap, growth = _gap_fit([_median_book([side for f in fits for side in f.offsets])])
    by_class: dict[str, list[float]] = {}
    for f in fits:
        if f.volatility is not None:
            by_class.setdefault(quote_class(f.quote), []).append(f.volatility)
    return Pooled(
        spread_bps=statistics.median(f.spread_bps for f in fits),
        level_gap_bps=gap,
        level_gap_growth=growth,
        size_growth=statistics.median(f.size_growth for f in fits),
        size_dispersion=statistics.median(f.size_dispersion for f in fits),
        churn_rate=statistics.median(f.churn_rate for f in fits),
        churn_depth=statistics.median(f.churn_depth for f in fits if f.churn_depth is not None),
        trade_rate=max(rates),
        trade_size_sigma=sigma,
        trade_to_top=statistics.median(ratios),
        top_notional_usd=_significant(
            Decimal(statistics.median(f.top_notional for f in fits if f.quote in USD_LIKE))
        ),
        volatility={k: statistics.median(v) for k, v in by_class.items()},
        all_volatility=statistics.median(v for vs in by_class.values() for v in vs),
    )


def _pooled_log_sigma(groups: Iterable[Sequence[float]]) -> float:
    """sigma of log sizes pooled over markets, each around its own mean (n - 1 per market)."""
    squares, dof = 0.0, 0
    for logs in groups:
        if len(logs) < 2:
            continue
        mean = statistics.fmean(logs)
        squares += sum((x - mean) ** 2 for x in logs)
        dof += len(logs) - 1
    if dof == 0:
        raise ValueError("no market shows two taker orders: trade size sigma cannot be fitted")
    return math.sqrt(squares / dof)


def volatility_for(base: str, quote: str, fits: list[Fit], pooled: Pooled) -> float:
    """The captured markets with the same base and quote class, else the quote class's
    median, else every market's."""
    kind = quote_class(quote)
    own = [
        f.volatility
        for f in fits
        if f.volatility is not None and f.base == base and quote_class(f.quote) == kind
    ]
    if own:
        return statistics.median(own)
    return pooled.volatility.get(quote_class(quote), pooled.all_volatility)


def model_for(
    instrument: Instrument,
    usd_price: Decimal,
    fits: list[Fit],
    pooled: Pooled,
) -> MarketModel:
    """The calibrated market for ``instrument``, whose base asset is worth ``usd_price``."""
    top = pooled.top_notional_usd / usd_price
    return MarketModel(
        volatility=_round(volatility_for(instrument.base, instrument.quote, fits, pooled)),
        spread_bps=_round(pooled.spread_bps),
        level_gap_bps=_round(pooled.level_gap_bps),
        level_gap_growth=_round(pooled.level_gap_growth),
        top_size=_significant(top),
        size_growth=_round(pooled.size_growth),
        size_dispersion=_round(pooled.size_dispersion),
        churn_rate=_round(pooled.churn_rate),
        churn_depth=_round(pooled.churn_depth),
        trade_rate=_round(pooled.trade_rate),
        trade_size_median=_significant(top * Decimal(repr(pooled.trade_to_top))),
        trade_size_sigma=_round(pooled.trade_size_sigma),
    )


def default_model(pooled: Pooled) -> MarketModel:
    """The market of an instrument without an ``[instrument.market]`` table (the constants of
    ``core/market_model.py``): every market's median sigma, sizes left to the loader."""
    return MarketModel(
        volatility=_round(pooled.all_volatility),
        spread_bps=_round(pooled.spread_bps),
        level_gap_bps=_round(pooled.level_gap_bps),
        level_gap_growth=_round(pooled.level_gap_growth),
        size_growth=_round(pooled.size_growth),
        size_dispersion=_round(pooled.size_dispersion),
        churn_rate=_round(pooled.churn_rate),
        churn_depth=_round(pooled.churn_depth),
        trade_rate=_round(pooled.trade_rate),
        trade_size_sigma=_round(pooled.trade_size_sigma),
    )


def _round(value: float) -> float:
    return float(f"{value:.3g}")


# -- the command -------------------------------------------------------------------------------


def _opt(value: float | None, width: int, fmt: str) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}"


def report(fits: list[Fit], pooled: Pooled) -> str:
    lines = [
        "Fitted per captured market: seconds observed; sigma per second from 1 s mid returns"
        " (n returns, mid changes) and from the day's range; mean spread, level gap (bps);"
        " levels in the snapshot; top-of-book median size (base units, quote notional),"
        " its growth with depth and dispersion; level changes per second and their mean"
        " level; prints per second",
        "",
        f"{'market':<18}{'s':>4}{'sigma mid':>10}{'n':>4}{'moves':>6}{'sigma rng':>10}{'spread':>7}"
        f"{'levels':>10}{'gap':>6}{'growth':>7}{'top':>9}{'notional':>9}{'size^':>7}"
        f"{'disp':>6}{'churn':>6}{'depth':>6}{'rate':>7}  rate from",
    ]
    for f in fits:
        lines.append(
            f"{f.venue + ' ' + f.symbol:<18}{f.seconds:>4.0f}{_opt(f.volatility, 10, '.2e')}"
            f"{f.returns:>4}{f.mid_changes:>6}{_opt(f.range_volatility, 10, '.2e')}"
            f"{f.spread_bps:>7.1f}{f'{f.bid_levels}/{f.ask_levels}':>10}"
            f"{f.level_gap_bps:>6.2f}{f.level_gap_growth:>7.2f}{f.top_size:>9}"
            f"{f.top_notional:>9}{f.size_growth:>7.2f}{f.size_dispersion:>6.2f}"
            f"{f.churn_rate:>6.1f}{_opt(f.churn_depth, 6, '.1f')}"
            f"{_opt(f.trade_rate, 7, '.3f')}  {f.trade_rate_source}"
        )
    takers = sum(len(f.taker_log_sizes) for f in fits)
    lines += [
        "",
        "Pooled over the captured markets",
        f"  spread_bps        {pooled.spread_bps:.3g}   (median)",
        f"  level_gap_bps     {pooled.level_gap_bps:.3g}   (the median book's first"
        f" {SHAPE_LEVELS} levels)",
        f"  level_gap_growth  {pooled.level_gap_growth:.3g}",
        f"  size_growth       {pooled.size_growth:.3g}   (median)",
        f"  size_dispersion   {pooled.size_dispersion:.3g}   (median)",
        f"  churn_rate        {pooled.churn_rate:.3g}   (median level changes/s)",
        f"  churn_depth       {pooled.churn_depth:.3g}   (median of each market's mean level)",
        f"  trade_rate        {pooled.trade_rate:.3g}   (the busiest market)",
        f"  trade_size_sigma  {pooled.trade_size_sigma:.3g}   ({takers} taker orders)",
        f"  trade / top size  {pooled.trade_to_top:.3g}   (median)",
        f"  top notional      {pooled.top_notional_usd}   (median, dollar-like quotes at par)",
        "  volatility        "
        + ", ".join(f"{k} {v:.3g}" for k, v in sorted(pooled.volatility.items()))
        + f", all {pooled.all_volatility:.3g}   (medians by quote class)",
        "",
        "# Defaults for an instrument without [instrument.market] (core/market_model.py); sizes"
        f" from a top-of-book notional of {pooled.top_notional_usd} dollars and a median trade"
        f" of {_round(pooled.trade_to_top)} of the top size",
        *format_model(default_model(pooled)),
    ]
    return "\n".join(lines)


def instrument_tables(instruments: list[Instrument], fits: list[Fit], pooled: Pooled) -> str:
    prices = usd_prices(instruments)
    out: list[str] = []
    for inst in instruments:
        usd = prices.get(inst.base)
        if usd is None:
            out.append(f"# {inst.symbol}: no dollar price for {inst.base} in the file; skipped")
            continue
        out += ["", f"# {inst.symbol}", "[instrument.market]"]
        out += format_model(model_for(inst, usd, fits, pooled))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eip.exchange_simulator.calibrate",
        description="Fit the generated market's parameters to recorded captures.",
    )
    parser.add_argument("captures", nargs="+", type=Path, help="Binance or Kraken captures")
    parser.add_argument(
        "--instruments",
        type=Path,
        help="an instruments file: print the [instrument.market] tables for its instruments",
    )
    args = parser.parse_args(argv)
    try:
        fits = [fit_market(m) for path in args.captures for m in read_markets(path)]
        pooled = pool(fits)
    except (OSError, ValueError) as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    print(report(fits, pooled))
    if args.instruments is not None:
        print(instrument_tables(load_instruments(args.instruments), fits, pooled))
    return 0


if __name__ == "__main__":
    sys.exit(main())

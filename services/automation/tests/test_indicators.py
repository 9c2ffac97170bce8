"""The incremental indicators equal a naive reference that recomputes each value from the whole
history, on the recorded Binance capture and on Hypothesis-drawn price paths.

The shipped Binance capture (data/recorded/binance-spot-2021-10) holds 31 seconds of traffic:
two in-progress ``kline_1m`` frames and two ``aggTrade``s, far too few closed candles for a
14- or 20-period indicator. Its price path is the 74 ``bookTicker`` updates of NKNUSDT, so each
mid price of that path is taken as one candle's close (an indicator never looks at a candle's
duration) — real recorded prices, with their ties and reversals — beside its two kline closes.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from eip.automation.indicators import (
    CONTEXT,
    Bollinger,
    BollingerLine,
    Ema,
    IndicatorKind,
    Rsi,
    Sma,
    make_indicator,
)
from eip.exchanges.machinery.capture import read_entries, recorded_json
from eip.testing.recorded import find_recorded

TOLERANCE = Decimal("1e-25")  # the recurrences (EMA, RSI) round at each of ~100 steps


def recorded_closes(symbol: str = "NKNUSDT") -> list[Decimal]:
    entries = read_entries(find_recorded("binance-spot-2021-10.jsonl"))
    closes: list[Decimal] = []
    for _, body in recorded_json(entries, "recv"):
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("s") != symbol:
            continue
        if "b" in data and "a" in data and "e" not in data:  # bookTicker
            closes.append((Decimal(data["b"]) + Decimal(data["a"])) / 2)
        elif data.get("e") == "kline":
            closes.append(Decimal(data["k"]["c"]))
    return closes


# -- the naive reference: every value recomputed from the whole history -------------------------


def ref_sma(closes: list[Decimal], n: int) -> list[Decimal | None]:
    return [
        CONTEXT.divide(sum(closes[i + 1 - n : i + 1], Decimal(0)), n) if i + 1 >= n else None
        for i in range(len(closes))
    ]


def ref_ema(closes: list[Decimal], n: int) -> list[Decimal | None]:
    alpha = Decimal(2) / Decimal(n + 1)
    out: list[Decimal | None] = []
    for i in range(len(closes)):
        if i + 1 < n:
            out.append(None)
            continue
        value = sum(closes[:n], Decimal(0)) / n
        for close in closes[n : i + 1]:
            value = alpha * close + (1 - alpha) * value
        out.append(value)
    return out


def ref_rsi(closes: list[Decimal], n: int) -> list[Decimal | None]:
    out: list[Decimal | None] = [None]
    for i in range(1, len(closes)):
        changes = [closes[j] - closes[j - 1] for j in range(1, i + 1)]
        if len(changes) < n:
            out.append(None)
            continue
        gain = sum((max(x, Decimal(0)) for x in changes[:n]), Decimal(0)) / n
        loss = sum((max(-x, Decimal(0)) for x in changes[:n]), Decimal(0)) / n
        for x in changes[n:]:
            gain = (gain * (n - 1) + max(x, Decimal(0))) / n
            loss = (loss * (n - 1) + max(-x, Decimal(0))) / n
        if loss == 0:
            out.append(Decimal(100) if gain > 0 else Decimal(50))
        else:
            out.append(100 - 100 / (1 + gain / loss))
    return out


def ref_bollinger(
    closes: list[Decimal], n: int, k: Decimal
) -> list[tuple[Decimal, Decimal, Decimal] | None]:
    out: list[tuple[Decimal, Decimal, Decimal] | None] = []
    for i in range(len(closes)):
        if i + 1 < n:
            out.append(None)
            continue
        window = closes[i + 1 - n : i + 1]
        mean = CONTEXT.divide(sum(window, Decimal(0)), n)
        variance = CONTEXT.divide(sum(((x - mean) ** 2 for x in window), Decimal(0)), n)
        deviation = k * variance.sqrt(CONTEXT)
        out.append((mean - deviation, mean, mean + deviation))
    return out


def close_enough(a: Decimal | None, b: Decimal | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOLERANCE * max(Decimal(1), abs(b))


def run(indicator: Sma | Ema | Rsi, closes: list[Decimal]) -> list[Decimal | None]:
    return [indicator.update(c) for c in closes]


# -- on the recorded capture -------------------------------------------------------------------


def test_the_recorded_binance_price_path_is_long_enough_for_every_indicator() -> None:
    closes = recorded_closes()
    assert len(closes) >= 40, len(closes)
    assert len(set(closes)) > 3  # it moves


def test_sma_equals_the_reference_exactly_on_the_recorded_capture() -> None:
    closes = recorded_closes()
    for n in (1, 5, 20):
        assert run(Sma(n), closes) == ref_sma(closes, n)


def test_ema_equals_the_reference_on_the_recorded_capture() -> None:
    closes = recorded_closes()
    for n in (5, 12, 26):
        got, want = run(Ema(n), closes), ref_ema(closes, n)
        assert all(close_enough(g, w) for g, w in zip(got, want, strict=True)), (n, got, want)
        assert got[-1] is not None


def test_wilder_rsi_equals_the_reference_on_the_recorded_capture() -> None:
    closes = recorded_closes()
    got, want = run(Rsi(14), closes), ref_rsi(closes, 14)
    assert all(close_enough(g, w) for g, w in zip(got, want, strict=True)), (got, want)
    assert got[14] is not None
    assert got[13] is None
    assert any(v is not None and Decimal(0) < v < Decimal(100) for v in got)


def test_bollinger_bands_equal_the_reference_on_the_recorded_capture() -> None:
    closes = recorded_closes()
    bands = Bollinger(20, Decimal(2))
    for close, want in zip(closes, ref_bollinger(closes, 20, Decimal(2)), strict=True):
        got = bands.update_bands(close)
        if want is None:
            assert got is None
            continue
        assert got is not None
        assert got.middle == want[1]
        assert close_enough(got.lower, want[0])
        assert close_enough(got.upper, want[2])
        assert got.lower <= got.middle <= got.upper


# -- properties on drawn paths -----------------------------------------------------------------

prices = st.lists(
    st.decimals(min_value="0.0001", max_value="100000", places=4, allow_nan=False),
    min_size=1,
    max_size=80,
)
periods = st.integers(min_value=1, max_value=30)


@settings(max_examples=150, deadline=None)
@given(prices, periods)
def test_sma_and_bollinger_middle_equal_the_mean_of_the_window(
    closes: list[Decimal], n: int
) -> None:
    middle = BollingerLine("middle", n)
    assert [middle.update(c) for c in closes] == ref_sma(closes, n)


@settings(max_examples=150, deadline=None)
@given(prices, periods)
def test_ema_and_rsi_follow_the_reference_on_any_path(closes: list[Decimal], n: int) -> None:
    ema, rsi = run(Ema(n), closes), run(Rsi(n), closes)
    assert all(close_enough(g, w) for g, w in zip(ema, ref_ema(closes, n), strict=True))
    assert all(close_enough(g, w) for g, w in zip(rsi, ref_rsi(closes, n), strict=True))
    assert all(v is None or Decimal(0) <= v <= Decimal(100) for v in rsi)


@settings(max_examples=150, deadline=None)
@given(prices, periods, st.decimals(min_value="0.5", max_value="4", places=1))
def test_bollinger_bands_hold_the_reference_and_are_symmetric(
    closes: list[Decimal], n: int, k: Decimal
) -> None:
    bands = Bollinger(n, k)
    for close, want in zip(closes, ref_bollinger(closes, n, k), strict=True):
        got = bands.update_bands(close)
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            assert close_enough(got.lower, want[0])
            assert close_enough(got.upper, want[2])
            assert got.upper - got.middle == got.middle - got.lower


@given(st.lists(st.decimals(min_value="1", max_value="2", places=2), min_size=20, max_size=40))
def test_a_flat_or_rising_path_keeps_rsi_at_50_or_100(closes: list[Decimal]) -> None:
    rising = sorted(closes)
    values = run(Rsi(14), rising)
    moved = rising[0] != rising[-1]
    assert values[-1] == (Decimal(100) if moved else Decimal(50))


def test_the_factory_makes_each_kind_and_refuses_a_zero_period() -> None:
    kinds: tuple[IndicatorKind, ...] = ("sma", "ema", "rsi", "bb_upper", "bb_middle", "bb_lower")
    for kind in kinds:
        indicator = make_indicator(kind, 2)
        values = [indicator.update(Decimal(c)) for c in (1, 3, 2)]
        # RSI needs `period` changes, so one close more than the others
        assert values == ([None, None, values[2]] if kind == "rsi" else [None, *values[1:]])
        assert values[2] is not None
        assert indicator.value == values[2]
    for cls in (Sma, Ema, Rsi, Bollinger):
        try:
            cls(0)
        except ValueError:
            continue
        raise AssertionError(f"{cls.__name__}(0) was accepted")

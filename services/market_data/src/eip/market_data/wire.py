"""Market data as protobuf records (``proto/eip/events/v1/market_data.proto``) and back.

Prices and amounts travel as fixed-point decimal strings (``format(d, "f")``: never an
exponent); an absent optional figure is the empty string.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from google.protobuf.timestamp_pb2 import Timestamp

from eip.events.topics import record_key
from eip.events.v1 import common_pb2, market_data_pb2
from eip.exchanges.contract.market_data import TakerSide, Ticker, Trade
from eip.market_data.candles.builder import Candle

_SIDES: dict[TakerSide | None, common_pb2.Side.ValueType] = {
    None: common_pb2.SIDE_UNSPECIFIED,
    "buy": common_pb2.SIDE_BUY,
    "sell": common_pb2.SIDE_SELL,
}
_TAKER: dict[int, TakerSide | None] = {v: k for k, v in _SIDES.items()}


def dec(value: Decimal) -> str:
    return format(value, "f")


def opt(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _set(ts: Timestamp, value: datetime) -> None:
    # Straight from the datetime's fields: Timestamp.FromDatetime goes through a time tuple and
    # was a tenth of the publishing path's cost (bench/market_data_pipeline.py).
    delta = value - _EPOCH
    ts.seconds = delta.days * 86_400 + delta.seconds
    ts.nanos = delta.microseconds * 1000


def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    _set(ts, value)
    return ts


def _times(exchange_time: datetime | None, received_time: datetime | None) -> common_pb2.EventTimes:
    times = common_pb2.EventTimes()
    if exchange_time is not None:
        _set(times.exchange_time, exchange_time)
    if received_time is not None:
        _set(times.received_time, received_time)
    return times


def _instrument(exchange: str, symbol: str) -> common_pb2.Instrument:
    return common_pb2.Instrument(exchange=exchange, symbol=symbol)


def trade_key(trade: Trade) -> bytes:
    return record_key(trade.exchange, trade.symbol)


def trade_message(trade: Trade) -> market_data_pb2.Trade:
    # Sub-messages filled in place: building them apart and passing them in copies them, a
    # third of this function's cost on the publishing path (bench/market_data_pipeline.py).
    message = market_data_pb2.Trade(
        trade_id=trade.trade_id,
        price=format(trade.price, "f"),
        amount=format(trade.amount, "f"),
        taker_side=_SIDES[trade.taker_side],
    )
    instrument = message.instrument
    instrument.exchange = trade.exchange
    instrument.symbol = trade.symbol
    times = message.times
    if trade.exchange_time is not None:
        _set(times.exchange_time, trade.exchange_time)
    if trade.received_time is not None:
        _set(times.received_time, trade.received_time)
    return message


def ticker_message(ticker: Ticker) -> market_data_pb2.Ticker:
    return market_data_pb2.Ticker(
        instrument=_instrument(ticker.exchange, ticker.symbol),
        times=_times(ticker.exchange_time, ticker.received_time),
        bid=opt(ticker.bid),
        bid_size=opt(ticker.bid_size),
        ask=opt(ticker.ask),
        ask_size=opt(ticker.ask_size),
        last=opt(ticker.last),
        open_24h=opt(ticker.open_24h),
        high_24h=opt(ticker.high_24h),
        low_24h=opt(ticker.low_24h),
        base_volume_24h=opt(ticker.base_volume_24h),
        quote_volume_24h=opt(ticker.quote_volume_24h),
    )


def candle_key(candle: Candle) -> bytes:
    k = candle.key
    return record_key(k.exchange, k.symbol, k.timeframe)


def candle_message(candle: Candle) -> market_data_pb2.Candle:
    return market_data_pb2.Candle(
        instrument=_instrument(candle.key.exchange, candle.key.symbol),
        times=_times(candle.exchange_time, candle.received_time),
        timeframe=candle.key.timeframe,
        open_time=_timestamp(candle.open_time),
        open=dec(candle.open),
        high=dec(candle.high),
        low=dec(candle.low),
        close=dec(candle.close),
        base_volume=dec(candle.base_volume),
        quote_volume=dec(candle.quote_volume),
        trade_count=candle.trade_count,
        closed=candle.closed,
    )


def _time(ts: Timestamp, present: bool) -> datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if present else None


def _decimal(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} {text!r} is not a decimal") from None
    if not value.is_finite():
        raise ValueError(f"{name} {text!r} is not finite")
    return value


def trade_from_message(message: market_data_pb2.Trade) -> Trade:
    """Raises ValueError for a record no consumer can use (the consumer dead-letters it)."""
    if not (message.instrument.exchange and message.instrument.symbol):
        raise ValueError("trade without exchange or symbol")
    if not message.times.HasField("received_time"):
        raise ValueError("trade without received_time")
    received = _time(message.times.received_time, True)
    assert received is not None
    return Trade(
        exchange=message.instrument.exchange,
        symbol=message.instrument.symbol,
        trade_id=message.trade_id,
        price=_decimal(message.price, "price"),
        amount=_decimal(message.amount, "amount"),
        taker_side=_TAKER.get(message.taker_side),
        exchange_time=_time(message.times.exchange_time, message.times.HasField("exchange_time")),
        received_time=received,
    )

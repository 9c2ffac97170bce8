from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from eip.events.topics import MD_TRADES
from eip.exchanges.contract.market_data import Trade
from eip.market_data.live.outbox import OutboundRecord, Outbox
from eip.market_data.metrics import OUTBOX_DROPPED
from eip.market_data.wire import trade_from_message, trade_key, trade_message

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)


def test_a_trade_round_trips_with_exact_decimals_and_both_times() -> None:
    trade = Trade(
        "binance", "BTC/USDT", "42", Decimal("0.00000638"), Decimal("1E+2"), "sell", WHEN, WHEN
    )
    message = trade_message(trade)
    assert message.price == "0.00000638"
    assert message.amount == "100"  # never an exponent on the wire
    assert trade_from_message(message) == trade
    assert trade_key(trade) == b"binance:BTC/USDT"


def test_a_trade_without_exchange_time_keeps_it_absent() -> None:
    trade = Trade("kraken", "BTC/USD", "1", Decimal(1), Decimal(2), None, None, WHEN)
    back = trade_from_message(trade_message(trade))
    assert back.exchange_time is None
    assert back.taker_side is None


def test_bad_records_are_refused_clearly() -> None:
    message = trade_message(
        Trade("binance", "BTC/USDT", "1", Decimal(1), Decimal(1), "buy", WHEN, WHEN)
    )
    message.price = "1,5"
    with pytest.raises(ValueError, match="price"):
        trade_from_message(message)
    message.price = "NaN"
    with pytest.raises(ValueError, match="not finite"):
        trade_from_message(message)
    message.price = "1"
    message.times.ClearField("received_time")
    with pytest.raises(ValueError, match="received_time"):
        trade_from_message(message)


async def test_a_full_outbox_drops_new_records_and_counts_them() -> None:
    outbox = Outbox(capacity=10)
    record = OutboundRecord(
        MD_TRADES,
        b"k",
        trade_message(Trade("binance", "BTC/USDT", "1", Decimal(1), Decimal(1), None, WHEN, WHEN)),
    )
    before = OUTBOX_DROPPED.labels(MD_TRADES.name)._value.get()
    accepted = [outbox.offer(record) for _ in range(13)]
    assert accepted == [True] * 10 + [False] * 3
    assert outbox.dropped == 3
    assert len(outbox) == 10
    assert OUTBOX_DROPPED.labels(MD_TRADES.name)._value.get() == before + 3

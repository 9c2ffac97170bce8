import re
from pathlib import Path

import pytest

from eip.bus.codec import DecodeError, decode, encode
from eip.events import codegen
from eip.events.topics import MD_TRADES, ORDERS_EVENTS, TOPICS, all_topic_specs, record_key
from eip.events.v1 import common_pb2, market_data_pb2

DESIGN_TOPICS = {
    "md.trades.v1",
    "md.tickers.v1",
    "md.candles.v1",
    "md.book.deltas.v1",
    "md.book.snapshots.v1",
    "account.balances.v1",
    "orders.commands.v1",
    "orders.events.v1",
    "auth.credentials.v1",
    "audit.events.v1",
    "automation.rules.v1",
    "alerts.arbitrage.v1",
    "alerts.arbitrage.executions.v1",
}


def test_generated_code_matches_the_proto_files() -> None:
    assert codegen.stale_files() == [], "generated code is stale: run `make proto`"


def test_registry_holds_every_topic_of_the_design_with_a_dlq() -> None:
    assert set(TOPICS) == DESIGN_TOPICS
    names = {s.name for s in all_topic_specs()}
    assert {f"{t}.dlq" for t in DESIGN_TOPICS} <= names
    compacted = {t.name for t in TOPICS.values() if t.compacted}
    assert compacted == {"md.book.snapshots.v1", "account.balances.v1"}
    assert TOPICS["md.book.snapshots.v1"].config()["cleanup.policy"] == "compact"


def test_money_fields_are_strings_never_floats() -> None:
    proto_dir = Path(codegen.PROTO_ROOT)
    text = "\n".join(p.read_text() for p in proto_dir.rglob("*.proto"))
    assert not re.search(r"\b(float|double)\b", text), "money must be decimal strings"


def test_codec_round_trip_and_refusals() -> None:
    trade = market_data_pb2.Trade(
        instrument=common_pb2.Instrument(exchange="binance", symbol="BTC/USDT"),
        trade_id="1",
        price="65000.10",
        amount="0.002",
        taker_side=common_pb2.SIDE_BUY,
    )
    value, headers = encode(MD_TRADES, trade)
    assert decode(MD_TRADES, value, headers) == trade
    with pytest.raises(DecodeError, match="schema header"):
        decode(ORDERS_EVENTS, value, headers)
    with pytest.raises(DecodeError):
        decode(MD_TRADES, b"\xff\xff\xff", headers)
    with pytest.raises(DecodeError, match="missing"):
        decode(MD_TRADES, value, [])
    with pytest.raises(TypeError):
        encode(ORDERS_EVENTS, trade)


def test_record_key() -> None:
    assert record_key("binance", "BTC/USDT") == b"binance:BTC/USDT"
    with pytest.raises(ValueError, match="non-empty"):
        record_key("binance", "")

"""The Kraken dialect's pieces without a running simulator: the signature against Kraken's
documented vector, ids, names, rate counters, order parameters, ccxt URL mapping."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from eip.exchange_simulator.ccxt_urls import simulator_urls
from eip.exchange_simulator.core.exchange import Exchange, OrderRequest
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from eip.exchange_simulator.core.trailing import Offset, OffsetUnit, Trailing
from eip.exchange_simulator.kraken import ids, names
from eip.exchange_simulator.kraken.dialect import OrderExtras
from eip.exchange_simulator.kraken.errors import KrakenError
from eip.exchange_simulator.kraken.order_params import OrderFields, parse_new_order
from eip.exchange_simulator.kraken.ratelimit import KrakenLimits, KrakenRateLimiter
from eip.exchange_simulator.kraken.signing import sign, verify
from eip.exchange_simulator.kraken.wire import Num, encode

from .kraken_client import api_sign

D = Decimal

# docs.kraken.com/api/docs/guides/spot-rest-auth, "Example": the documented inputs and API-Sign.
DOC_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
DOC_NONCE = "1616492376594"
DOC_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
DOC_SIGN = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)


def test_signature_matches_krakens_documented_example() -> None:
    assert sign(DOC_SECRET, "/0/private/AddOrder", DOC_NONCE, DOC_BODY) == DOC_SIGN
    assert api_sign(DOC_SECRET, "/0/private/AddOrder", DOC_NONCE, DOC_BODY) == DOC_SIGN
    assert verify(DOC_SECRET, "/0/private/AddOrder", DOC_NONCE, DOC_BODY, DOC_SIGN)
    assert not verify(DOC_SECRET, "/0/private/Balance", DOC_NONCE, DOC_BODY, DOC_SIGN)
    assert not verify(DOC_SECRET, "/0/private/AddOrder", "1616492376595", DOC_BODY, DOC_SIGN)
    assert not verify("not base64!", "/0/private/AddOrder", DOC_NONCE, DOC_BODY, DOC_SIGN)


def test_ids_look_like_krakens_and_decode_back() -> None:
    txids = [ids.order_txid(n) for n in range(1, 200)]
    assert all(len(t) == 19 and t[0] == "O" and t[6] == t[12] == "-" for t in txids)
    assert len(set(txids)) == len(txids)
    assert [ids.order_id_of(t) for t in txids] == list(range(1, 200))
    assert ids.order_id_of(txids[0].lower()) == 1
    assert ids.order_id_of("not-an-id") is None
    trades = ids.TradeIds(["BTCUSD", "ETHUSD"])
    a, b = trades.txid("BTCUSD", 5), trades.txid("ETHUSD", 5)
    assert a != b
    assert a.startswith("T")
    assert (trades.parse(a), trades.parse(b)) == (("BTCUSD", 5), ("ETHUSD", 5))
    assert ids.order_id_of(a) is None  # a trade id is no order id


def instrument(symbol: str, base: str, quote: str, tick: str = "0.1") -> Instrument:
    return Instrument(
        symbol=symbol,
        base=base,
        quote=quote,
        tick_size=D(tick),
        step_size=D("0.00000001"),
        min_qty=D("0.0001"),
        max_qty=D("1000"),
        min_notional=D("0.5"),
    )


@pytest.mark.parametrize(
    ("symbol", "base", "quote", "key", "altname", "wsname"),
    [
        ("BTCUSD", "BTC", "USD", "XXBTZUSD", "XBTUSD", "XBT/USD"),
        ("ETHUSD", "ETH", "USD", "XETHZUSD", "ETHUSD", "ETH/USD"),
        ("ETHBTC", "ETH", "BTC", "XETHXXBT", "ETHXBT", "ETH/XBT"),
        ("BTCUSDT", "BTC", "USDT", "XBTUSDT", "XBTUSDT", "XBT/USDT"),
        ("SOLUSDT", "SOL", "USDT", "SOLUSDT", "SOLUSDT", "SOL/USDT"),
        ("DOGEUSD", "DOGE", "USD", "XXDGZUSD", "XDGUSD", "XDG/USD"),
    ],
)
def test_pair_names_follow_krakens_rules(
    symbol: str, base: str, quote: str, key: str, altname: str, wsname: str
) -> None:
    pair = names.pair_names(instrument(symbol, base, quote))
    assert (pair.key, pair.altname, pair.wsname, pair.v2) == (
        key,
        altname,
        wsname,
        f"{base}/{quote}",
    )
    pairs = names.Pairs([pair.instrument])
    for spelling in (key, altname, wsname, f"{base}/{quote}", symbol, key.lower()):
        assert pairs.find(spelling) is not None, spelling
    assert pairs.find("BTCEUR") is None


def test_assets_map_both_ways() -> None:
    assert [names.asset_id(a) for a in ("BTC", "ETH", "USD", "USDT", "SOL")] == [
        "XXBT",
        "XETH",
        "ZUSD",
        "USDT",
        "SOL",
    ]
    assert [names.core_asset(a) for a in ("XXBT", "XBT", "btc", "ZUSD", "USDT", "XDG")] == [
        "BTC",
        "BTC",
        "BTC",
        "USD",
        "USDT",
        "DOGE",
    ]


def test_api_counter_costs_decay_and_refusals() -> None:
    limiter = KrakenRateLimiter(KrakenLimits.of_tier("starter"))
    assert limiter.limits.api_max == 15
    for n in range(15):
        assert limiter.charge_call("k", "Balance", 0) == n + 1
    with pytest.raises(KrakenError, match="EAPI:Rate limit exceeded"):
        limiter.charge_call("k", "Balance", 0)
    assert limiter.charge_call("k", "AddOrder", 0) == 15  # order entry is counted elsewhere
    assert limiter.charge_call("other-key", "TradesHistory", 0) == 2
    # 0.33 per second: after 6 s two calls' worth has drained.
    assert limiter.charge_call("k", "Balance", 6000) == pytest.approx(15 - 1.98 + 1)
    limiter.reset("pro")
    assert (limiter.limits.api_max, limiter.limits.api_decay_per_s) == (20, 1.0)
    assert limiter.charge_call("k", "Balance", 0) == 1


def test_trading_counter_penalises_young_cancels() -> None:
    limiter = KrakenRateLimiter(KrakenLimits(order_max=20, order_decay_per_s=0))
    limiter.charge_order("a", "BTCUSD", 0, open_orders=0)
    limiter.charge_cancel("a", "BTCUSD", 0, age_ms=1_000)  # +8
    limiter.charge_cancel("a", "BTCUSD", 0, age_ms=50_000)  # +2
    limiter.charge_cancel("a", "BTCUSD", 0, age_ms=600_000)  # +0
    limiter.charge_edit("a", "BTCUSD", 0, age_ms=1_000)  # 1 + 6 = 18 in all
    limiter.charge_order("a", "BTCUSD", 0, open_orders=0)
    limiter.charge_order("a", "BTCUSD", 0, open_orders=0)
    with pytest.raises(KrakenError, match="EOrder:Rate limit exceeded"):
        limiter.charge_order("a", "BTCUSD", 0, open_orders=0)
    limiter.charge_cancel("a", "BTCUSD", 0, age_ms=1_000)  # a cancel is never refused
    limiter.charge_order("a", "ETHUSD", 0, open_orders=0)  # each pair its own counter
    with pytest.raises(KrakenError, match="EOrder:Orders limit exceeded"):
        limiter.charge_order("a", "ETHUSD", 0, open_orders=limiter.limits.open_orders_max)


@pytest.fixture
def market() -> Exchange:
    ex = Exchange([instrument("BTCUSD", "BTC", "USD")])
    ex.engines["BTCUSD"].last_price = D("60000")
    return ex


def order(market: Exchange, **fields: Any) -> tuple[OrderRequest, OrderExtras]:
    base: dict[str, Any] = {"pair": "XBTUSD", "side": "buy", "ordertype": "limit", "volume": "1"}
    new = parse_new_order(
        OrderFields(**{**base, **fields}), "acct", names.Pairs(market.instruments.values()), market
    )
    return new.request, new.extras


def test_relative_prices_resolve_against_the_last_trade(market: Exchange) -> None:
    request, extras = order(market, price="-100")
    assert request.price == D("59900")
    assert extras.price_text == "-100"
    request, _ = order(market, price="+2.5%")
    assert request.price == D("61500")
    request, _ = order(market, price="#10")  # a resting buy belongs below
    assert request.price == D("59990")
    request, _ = order(market, ordertype="stop-loss", side="buy", price="#10")  # a buy stop above
    assert request.stop_price == D("60010")
    request, extras = order(market, price="60000")
    assert extras.price_text is None


def test_order_fields_become_core_orders(market: Exchange) -> None:
    request, extras = order(market, price="59000", flags=("post",), cl_ord_id="abc")
    assert (request.type, request.time_in_force) == (OrderType.LIMIT_MAKER, None)
    assert extras.oflags == ("fcib", "post")
    request, extras = order(market, ordertype="market", side="sell", volume="100", flags=("viqc",))
    assert (request.quantity, request.quote_quantity) == (None, D(100))
    assert request.side is Side.SELL
    assert extras.oflags == ("fciq", "viqc")
    request, _ = order(
        market, ordertype="take-profit-limit", side="sell", price="61000", price2="60900"
    )
    assert (request.stop_price, request.price) == (D(61000), D(60900))
    request, _ = order(market, price="59000", time_in_force="ioc")
    assert request.time_in_force is TimeInForce.IOC


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"price": "59000", "time_in_force": "GTD"}, "timeinforce"),
        ({"price": "59000", "cl_ord_id": "x" * 19}, "cl_ord_id"),
        ({"price": "59000", "cl_ord_id": "a", "userref": "1"}, "mutually exclusive"),
        ({"price": "59000", "userref": str(2**31)}, "userref"),
        ({"ordertype": "iceberg", "price": "59000"}, "ordertype"),
        ({"ordertype": "trailing-stop", "price": "-100"}, "price"),
        ({"ordertype": "trailing-stop", "price": "+100", "price2": "-5"}, "price2"),
        ({"ordertype": "trailing-stop-limit", "price": "+100", "price2": "59000"}, "price2"),
        ({"price": "59000", "stp_type": "cancel-none"}, "stptype"),
        ({"ordertype": "market", "price": "1"}, "price"),
        ({"ordertype": "stop-loss-limit", "price": "59000"}, "price2"),
        ({"price": "59000", "flags": ("post",), "time_in_force": "IOC"}, "timeinforce"),
        ({"price": "59000.01"}, "up to 1 decimals"),
        ({"price": "59000", "volume": "1e-3"}, "volume"),
    ],
)
def test_bad_order_fields_get_krakens_errors(
    market: Exchange, fields: dict[str, Any], error: str
) -> None:
    with pytest.raises(KrakenError, match=error):
        order(market, **fields)


def test_trailing_stops_become_core_trailing_stops(market: Exchange) -> None:
    request, extras = order(market, ordertype="trailing-stop", side="sell", price="+50")
    assert request.type is OrderType.STOP_LOSS
    assert request.stop_price is None
    assert request.trailing == Trailing(Offset(D(50), OffsetUnit.PRICE))
    assert extras.price_text == "+50"
    request, _ = order(
        market, ordertype="trailing-stop-limit", side="buy", price="+2%", price2="+0.5%"
    )
    assert request.trailing == Trailing(
        Offset(D(200), OffsetUnit.BPS), None, Offset(D(50), OffsetUnit.BPS)
    )
    assert request.price is None  # set from the level that fires it
    request, _ = order(market, price="59000", stp_type="cancel-both")
    assert request.self_trade_prevention is SelfTradePrevention.EXPIRE_BOTH
    request, _ = order(market, price="59000")
    assert request.self_trade_prevention is SelfTradePrevention.EXPIRE_TAKER  # cancel-newest


def test_uuid_client_ids_are_accepted(market: Exchange) -> None:
    for client_id in ("6d1b345e-2821-40e2-ad83-4ecb18a06876", "6d1b345e282140e2ad834ecb18a06876"):
        _, extras = order(market, price="59000", cl_ord_id=client_id)
        assert extras.cl_ord_id == client_id


def test_v2_numbers_are_exact_literals() -> None:
    text = encode({"price": Num(D("65000.1"), 2), "qty": Num(D("0.000000015"), 8), "n": 3})
    assert text == '{"price":65000.10,"qty":0.000000015,"n":3}'


def test_ccxt_urls_reach_krakens_simulated_endpoints() -> None:
    base = "http://127.0.0.1:8300"
    rest = simulator_urls(ccxt_async.kraken().urls, base)["api"]
    assert (rest["public"], rest["private"]) == (base, base)
    ws = simulator_urls(ccxt_pro.kraken().urls, base)["api"]["ws"]
    assert ws["publicV2"] == "ws://127.0.0.1:8300/kraken/v2"
    assert ws["privateV2"] == "ws://127.0.0.1:8300/kraken/v2-auth"
    assert ws["public"] == "ws://127.0.0.1:8300/kraken/v1"  # v1: not served
    spot = simulator_urls(ccxt_pro.binance().urls, base)["api"]["ws"]["spot"]
    assert spot == "ws://127.0.0.1:8300/ws"  # Binance: host rewritten, path kept

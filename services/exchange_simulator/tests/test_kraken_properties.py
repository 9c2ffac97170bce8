"""Property test: whatever Kraken requests arrive (orders of every supported type, trailing
stops included, batches, edits, amendments, cancels, self-trades — accepted or refused), no
asset is created or destroyed and every account's locked funds are exactly what its open orders
still reserve."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.kraken.dialect import KrakenDialect
from eip.exchange_simulator.kraken.errors import KrakenError
from eip.exchange_simulator.kraken.private_api import PrivateCall
from eip.exchange_simulator.kraken.ratelimit import KrakenLimits
from eip.exchange_simulator.kraken.rest_private import PrivateEndpoints

from .conftest import FakeClock, btcusdt

ACCOUNTS = ("a", "b", "c")
START = {"USDT": D(300_000), "BTC": D(6)}

prices = st.integers(min_value=49_900, max_value=50_100).map(lambda p: f"{p}.00")
volumes = st.integers(min_value=1, max_value=300).map(lambda n: str(D(n) / 100))
sides = st.sampled_from(["buy", "sell"])

add_order = st.fixed_dictionaries(
    {
        "type": sides,
        "ordertype": st.sampled_from(
            [
                "limit",
                "limit",
                "market",
                "stop-loss",
                "stop-loss-limit",
                "take-profit-limit",
                "trailing-stop",
                "trailing-stop-limit",
            ]
        ),
        "volume": volumes,
        "price": prices,
        "price2": prices,
        "post": st.booleans(),
        "viqc": st.booleans(),
        "ioc": st.booleans(),
        "offset": st.sampled_from(["+5", "+20", "+0.1%"]),
        "stp": st.sampled_from([None, "cancel-newest", "cancel-oldest", "cancel-both"]),
    }
)
actions = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from(["add", "add", "add", "batch", "edit", "amend", "cancel", "cancel_all"]),
    add_order,
    st.lists(add_order, min_size=2, max_size=4),
)


def order_params(raw: dict[str, Any]) -> dict[str, Any]:
    kind = raw["ordertype"]
    params: dict[str, Any] = {"pair": "XBTUSDT", "type": raw["type"], "ordertype": kind}
    flags = []
    if raw.get("stp"):
        params["stptype"] = raw["stp"]
    if kind.startswith("trailing"):
        params["volume"] = raw["volume"]
        params["price"] = raw["offset"]
        if kind.endswith("-limit"):
            params["price2"] = "-10"
        return params
    if kind == "market":
        if raw["viqc"]:
            flags.append("viqc")
            params["volume"] = str(D(raw["volume"]) * 1000)
        else:
            params["volume"] = raw["volume"]
    else:
        params["volume"] = raw["volume"]
        params["price"] = raw["price"]
        if kind.endswith("-limit"):
            params["price2"] = raw["price2"]
        if kind == "limit" and raw["post"]:
            flags.append("post")
        elif kind == "limit" and raw["ioc"]:
            params["timeinforce"] = "IOC"
    if flags:
        params["oflags"] = ",".join(flags)
    return params


def run(steps: list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]) -> Exchange:
    ex = Exchange([btcusdt()], clock=FakeClock())
    dialect = KrakenDialect(ex, Faults())
    dialect.limiter.limits = KrakenLimits(order_max=10**9, open_orders_max=10**9)
    api = PrivateEndpoints(dialect)
    keys = {}
    for name in ACCOUNTS:
        ex.create_account(name, dict(START))
        keys[name] = ex.create_api_key(name, venue="kraken")

    def call(account: str, method: str, params: dict[str, Any]) -> Any:
        return api.endpoints()[method].handler(
            PrivateCall(method, params, keys[account], ex.now_ms())
        )

    for account, action, raw, batch in steps:
        try:
            if action == "add":
                call(account, "AddOrder", order_params(raw))
            elif action == "batch":
                orders = [{k: v for k, v in order_params(r).items() if k != "pair"} for r in batch]
                call(account, "AddOrderBatch", {"pair": "XBTUSDT", "orders": orders})
            elif action == "cancel_all":
                call(account, "CancelAll", {})
            else:
                open_orders = ex.open_orders(account)
                if not open_orders:
                    continue
                txid = next(iter(call(account, "OpenOrders", {})["open"]))
                if action == "cancel":
                    call(account, "CancelOrder", {"txid": txid})
                elif action == "amend":
                    change = {"order_qty": raw["volume"]}
                    if raw["ioc"]:
                        change["limit_price"] = raw["price"]
                    call(account, "AmendOrder", {"txid": txid, **change})
                else:
                    call(account, "EditOrder", {"txid": txid, "volume": raw["volume"]})
        except KrakenError:
            pass
    return ex


@settings(max_examples=120, deadline=None)
@given(st.lists(actions, max_size=40))
def test_balances_are_conserved_through_the_kraken_dialect(
    steps: list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]],
) -> None:
    ex = run(steps)
    totals: dict[str, D] = {}
    for account in ex.accounts.values():
        for asset, bal in account.balances.items():
            assert bal.free >= 0, (account.account_id, asset, bal)
            assert bal.locked >= 0, (account.account_id, asset, bal)
            totals[asset] = totals.get(asset, D(0)) + bal.total
    assert totals == {asset: amount * len(ACCOUNTS) for asset, amount in START.items()}
    for name in ACCOUNTS:
        reserved: dict[str, D] = {}
        for order in ex.open_orders(name):
            reserved[order.reserved_asset] = (
                reserved.get(order.reserved_asset, D(0)) + order.reserved
            )
        for asset, bal in ex.accounts[name].balances.items():
            assert bal.locked == reserved.get(asset, D(0)), (name, asset)


def test_the_actions_reach_the_book_and_fill() -> None:
    """The property is not vacuous: its actions rest, cross and fill through the dialect."""
    sell = {"type": "sell", "ordertype": "limit", "volume": "2.00", "price": "50000.00"}
    defaults = {"price2": "50000.00", "post": False, "viqc": False, "ioc": False, "stp": None}
    buy = {**sell, "type": "buy", "price": "50010.00", "volume": "0.40"}
    ex = run(
        [
            ("a", "add", {**defaults, **sell}, []),
            ("b", "add", {**defaults, **buy}, []),
            ("c", "batch", {}, [{**defaults, **buy}, {**defaults, **buy, "ordertype": "market"}]),
        ]
    )
    (resting,) = ex.open_orders("a")
    assert resting.executed_qty == D("0.40") * 3
    assert len(resting.fills) == 3
    assert ex.accounts["b"].balance("BTC").total > START["BTC"]

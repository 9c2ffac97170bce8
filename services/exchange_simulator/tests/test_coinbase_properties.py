"""Property tests of the Coinbase dialect's order entry (the same functions its endpoints call):
whatever Coinbase requests arrive — every order configuration (brackets included), repeated
client order ids, batch cancels, edits — no asset is created or destroyed, holds are exactly
the open orders' reservations, a client order id never places a second order, and Coinbase's
accounts and orders say what the core holds."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal as D
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from eip.exchange_simulator.coinbase import rest_trading
from eip.exchange_simulator.coinbase.rest_accounts import v3_account, wallets
from eip.exchange_simulator.coinbase.venue import CoinbaseVenue
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.faults import Faults

from .conftest import FakeClock, btcusdt

ACCOUNTS = ["a", "b", "c"]
START = {"USDT": D(300_000), "BTC": D(6)}

sizes = st.integers(min_value=1, max_value=300).map(lambda n: str(D(n) / 100))
prices = st.integers(min_value=0, max_value=200).map(lambda n: str(D(49_900) + n))
configs = st.one_of(
    st.builds(lambda s: {"market_market_ioc": {"base_size": s}}, sizes),
    st.builds(
        lambda n: {"market_market_ioc": {"quote_size": f"{n}.00"}},
        st.integers(min_value=5, max_value=20_000),
    ),
    st.builds(
        lambda s, p, po: {"limit_limit_gtc": {"base_size": s, "limit_price": p, "post_only": po}},
        sizes,
        prices,
        st.booleans(),
    ),
    st.builds(lambda s, p: {"sor_limit_ioc": {"base_size": s, "limit_price": p}}, sizes, prices),
    st.builds(lambda s, p: {"limit_limit_fok": {"base_size": s, "limit_price": p}}, sizes, prices),
    st.builds(
        lambda s, p, offset, above: {
            "trigger_bracket_gtc": {
                "base_size": s,
                "limit_price": p,
                # beyond the limit on the losing side for one side, refused for the other
                "stop_trigger_price": str(D(p) + offset if above else D(p) - offset),
            }
        },
        sizes,
        prices,
        st.integers(min_value=1, max_value=150),
        st.booleans(),
    ),
    st.builds(
        lambda s, p, stop, up: {
            "stop_limit_stop_limit_gtc": {
                "base_size": s,
                "limit_price": p,
                "stop_price": stop,
                "stop_direction": "STOP_DIRECTION_STOP_UP" if up else "STOP_DIRECTION_STOP_DOWN",
            }
        },
        sizes,
        prices,
        prices,
        st.booleans(),
    ),
)
actions = st.one_of(
    st.tuples(
        st.just("order"),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(["BUY", "SELL"]),
        configs,
        st.integers(min_value=0, max_value=12),  # client order ids: few values, so some repeat
    ),
    st.tuples(st.just("cancel"), st.sampled_from(ACCOUNTS), st.integers(0, 40)),
    st.tuples(st.just("edit"), st.sampled_from(ACCOUNTS), st.integers(0, 40), sizes, prices),
)


def totals(ex: Exchange) -> Counter[str]:
    out: Counter[str] = Counter()
    for account in ex.accounts.values():
        for asset, balance in account.balances.items():
            out[asset] += balance.total  # type: ignore[assignment]
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(actions, min_size=1, max_size=40))
def test_coinbase_order_entry_keeps_every_balance_invariant(script: list[Any]) -> None:
    ex = Exchange([btcusdt()], clock=FakeClock())
    venue = CoinbaseVenue(ex, Faults())
    for name in ACCOUNTS:
        ex.create_account(name, dict(START))
    before = totals(ex)
    order_ids: list[str] = []
    owned: dict[str, list[str]] = {name: [] for name in ACCOUNTS}
    for action in script:
        if action[0] == "order":
            _, account, side, config, client_n = action
            body = {
                "client_order_id": f"{account}-{client_n}",
                "product_id": "BTC-USDT",
                "side": side,
                "order_configuration": config,
            }
            answer = rest_trading.place(venue, account, body, ex.now_ms())
            if answer["success"]:
                order_ids.append(answer["order_id"])
                owned[account].append(answer["order_id"])
            else:
                assert answer["error_response"]["error"]
        elif action[0] == "cancel":
            _, account, n = action
            if order_ids:
                rest_trading.cancel(venue, account, {"order_ids": [order_ids[n % len(order_ids)]]})
        else:
            _, account, n, size, price = action
            if owned[account]:  # mostly its own orders; others' are ORDER_NOT_FOUND
                body = {
                    "order_id": owned[account][n % len(owned[account])],
                    "size": size,
                    "price": price,
                }
                answer = rest_trading.edit(venue, account, body, apply=True)
                assert answer["success"] or answer["errors"][0]["edit_failure_reason"]

        assert totals(ex) == before  # fees move to the exchange's account, nothing else
        for name in ACCOUNTS:
            account = ex.accounts[name]
            held: Counter[str] = Counter()
            for order in ex.open_orders(name):
                held[order.reserved_asset] += order.reserved  # type: ignore[assignment]
            for asset, balance in account.balances.items():
                assert balance.free >= 0
                assert balance.locked == held[asset]
            shown = {code: v3_account(venue, account, code) for code in wallets(venue, account)}
            for asset, balance in account.balances.items():
                assert D(shown[asset]["available_balance"]["value"]) == balance.free
                assert D(shown[asset]["hold"]["value"]) == balance.locked
            client_ids = Counter(o.client_order_id for o in venue.orders.of_account(name))
            assert max(client_ids.values(), default=1) == 1
            for order in venue.orders.of_account(name):
                shown_order = venue.orders.order_json(order)
                legs = venue.orders.legs(order)  # a bracket has two
                assert (shown_order["status"] == "OPEN") == any(o.status.is_open for o in legs)
                assert D(shown_order["filled_size"]) == sum(o.executed_qty for o in legs)
                assert D(shown_order["filled_value"]) == sum(o.cumulative_quote for o in legs)
                assert order.quantity is None or D(shown_order["filled_size"]) <= order.quantity

"""Client order ids: the same command always names the same order, in what each venue accepts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eip.exchanges.contract.client_order_ids import client_order_id, fits
from eip.exchanges.contract.trading import ClientOrderIdRules

BINANCE = ClientOrderIdRules(max_length=36, alphabet="A-Za-z0-9_-")
KRAKEN_TEXT = ClientOrderIdRules(max_length=18, alphabet="A-Za-z0-9")
COINBASE = ClientOrderIdRules(max_length=36, alphabet="0-9a-f-", kind="uuid")
BITFINEX = ClientOrderIdRules(max_length=19, alphabet="0-9", kind="integer")
GATE = ClientOrderIdRules(max_length=30, alphabet="A-Za-z0-9_.-", prefix="t-")
HEX_ONLY = ClientOrderIdRules(max_length=32, alphabet="a-f0-9")
RULES = [BINANCE, KRAKEN_TEXT, COINBASE, BITFINEX, GATE, HEX_ONLY]

keys = st.text(min_size=1, max_size=80)
accounts = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0-9-", min_size=1, max_size=20)


@given(accounts, keys, st.sampled_from(RULES))
def test_every_id_fits_its_venue_and_is_the_same_on_every_call(
    account: str, key: str, rules: ClientOrderIdRules
) -> None:
    first = client_order_id(account, key, rules)
    assert fits(first, rules)
    assert client_order_id(account, key, rules) == first


@given(st.lists(st.tuples(accounts, keys), min_size=2, max_size=50, unique=True))
def test_distinct_commands_get_distinct_ids(commands: list[tuple[str, str]]) -> None:
    for rules in (KRAKEN_TEXT, COINBASE, BINANCE):
        ids = {client_order_id(a, k, rules) for a, k in commands}
        assert len(ids) == len(commands)


def test_the_account_is_part_of_the_id() -> None:
    assert client_order_id("a", "bc", BINANCE) != client_order_id("ab", "c", BINANCE)
    assert client_order_id("alice", "k1", BINANCE) != client_order_id("bob", "k1", BINANCE)


def test_fits_refuses_what_the_venue_would_refuse() -> None:
    assert not fits("x" * 37, BINANCE)
    assert not fits("has space", BINANCE)
    assert not fits("abc-def", KRAKEN_TEXT)
    assert not fits("not-a-uuid", COINBASE)
    assert not fits("12a", BITFINEX)
    assert not fits("no-prefix", GATE)
    assert fits("t-abc", GATE)


def test_rules_that_leave_no_room_for_a_safe_id_are_refused() -> None:
    with pytest.raises(ValueError, match="too little room"):
        client_order_id("a", "k", ClientOrderIdRules(max_length=10, alphabet="A-Za-z0-9"))
    with pytest.raises(ValueError, match="no encoding fits"):
        client_order_id("a", "k", ClientOrderIdRules(max_length=30, alphabet="xyz"))

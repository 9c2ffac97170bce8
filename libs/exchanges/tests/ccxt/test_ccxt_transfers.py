"""Deposit and withdrawal history of the six ccxt venues (``ccxt/transfers.py``) through
unmodified ccxt, against a local server answering with bodies in the layout of each venue's
API documentation (``trading_fixtures/transfers.json``): ccxt builds and signs the request with
the credential handed out for that call, and what comes back is the platform's transfer —
asset through the venue's table (Bitfinex ``UST`` → USDT), exact Decimals, fee, network, hash,
status in the platform's vocabulary beside the venue's own — with a cursor that waits at the
pending deposit. Pages are walked (back in time; HTX forward by id) so a full page leaves no
hole.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest

from eip.exchanges import registry
from eip.exchanges.ccxt.transfers import CcxtTransfers
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.transfers import TransferCursor, TransferKind, TransferStatus
from eip.exchanges.registry import VENUES

from .venue_server import FixedSecret, adapter_at, fixture, venue_server

NOW_MS = 1_700_000_000_000
BTC_MS, USDT_MS, ETH_MS = 1_699_992_800_000, 1_699_996_400_000, 1_699_995_000_000
DATA = fixture("transfers")
SECRETS = {
    "kucoin": ExchangeSecret("kc-key-7a1", "kc-secret-93f", passphrase="kc-pass-5"),
    "okx": ExchangeSecret("okx-key-2b4", "okx-secret-1ce", passphrase="okx-pass-8"),
}


def body(answer: Any) -> dict[str, Any]:
    return {"body": answer}


def htx_route(query: Mapping[str, str]) -> dict[str, Any]:
    kind = "deposits" if query.get("type") == "deposit" else "withdrawals"
    return body(DATA["htx"][kind])


# venue → (routes, the venue's ids of the BTC and USDT deposits and the ETH withdrawal, the
# venue's own statuses of those three, the header that carries the API key)
CASES: dict[str, tuple[dict[str, Any], tuple[str, str, str], tuple[str, str, str], str]] = {
    "kucoin": (
        {
            "GET /api/v1/deposits": body(DATA["kucoin"]["deposits"]),
            "GET /api/v1/withdrawals": body(DATA["kucoin"]["withdrawals"]),
        },
        ("7d4c9b0e11aa", "b2f1e0c4a9d3", "67e6515f7960ba0007b42025"),
        ("SUCCESS", "PROCESSING", "SUCCESS"),
        "KC-API-KEY",
    ),
    "bybit": (
        {
            "GET /v5/asset/deposit/query-record": body(DATA["bybit"]["deposits"]),
            "GET /v5/asset/withdraw/query-record": body(DATA["bybit"]["withdrawals"]),
        },
        ("180001", "180002", "10213"),
        ("3", "1", "success"),
        "X-BAPI-API-KEY",
    ),
    "okx": (
        {
            "GET /api/v5/asset/deposit-history": body(DATA["okx"]["deposits"]),
            "GET /api/v5/asset/withdrawal-history": body(DATA["okx"]["withdrawals"]),
        },
        ("88001", "88002", "15447421"),
        ("2", "0", "2"),
        "OK-ACCESS-KEY",
    ),
    "gateio": (
        {
            "GET /api/v4/wallet/deposits": body(DATA["gateio"]["deposits"]),
            "GET /api/v4/wallet/withdrawals": body(DATA["gateio"]["withdrawals"]),
        },
        ("210496", "210497", "w2387"),
        ("DONE", "PEND", "DONE"),
        "KEY",
    ),
    "htx": (
        {"GET /v1/query/deposit-withdraw": htx_route},
        ("1171", "1172", "2001"),
        ("safe", "confirming", "confirmed"),
        "",  # HTX signs in the query (AccessKeyId)
    ),
    "bitfinex": (
        {"POST /v2/auth/r/movements/hist": body(DATA["bitfinex"]["movements"])},
        ("13293039", "13293040", "13105603"),
        ("COMPLETED", "PENDING", "COMPLETED"),
        "bfx-apikey",
    ),
}


def secret_of(venue: str) -> ExchangeSecret:
    return SECRETS.get(venue, ExchangeSecret(f"{venue}-key-4d2", f"{venue}-secret-e07"))


def history_at(venue: str, url: str) -> CcxtTransfers:
    """The registry's transfer history of the venue, over its trading adapter moved to ``url``,
    with the clock at ``NOW_MS``."""
    trading = importlib.import_module(f"eip.exchanges.{venue}.trading")
    adapter = adapter_at(trading.PROFILE, secret_of(venue), url, [], nonce=NOW_MS)
    history = registry.create_transfer_history(venue, adapter)
    assert isinstance(history, CcxtTransfers)
    if venue == "htx":  # ccxt names HTX's chains from its currencies (loaded with markets)
        currencies = DATA["htx"]["currencies"]["data"]
        adapter.client.currencies = adapter.client.parse_currencies(currencies)
    return CcxtTransfers(adapter, history.profile, clock=lambda: NOW_MS / 1000)


def test_every_ccxt_venue_with_a_trading_adapter_reads_transfers() -> None:
    served = {v.id for v in VENUES if v.trading and v.trading.startswith("eip.exchanges.")}
    ccxt_venues = {"kucoin", "bitfinex", "htx", "bybit", "okx", "gateio"}
    assert ccxt_venues <= served
    assert ccxt_venues <= set(registry.transfer_exchanges())
    assert set(CASES) == ccxt_venues


@pytest.mark.parametrize("venue", sorted(CASES))
async def test_a_venues_documented_rows_become_the_platforms_transfers(venue: str) -> None:
    routes, (btc_id, usdt_id, eth_id), (btc_st, usdt_st, eth_st), key_header = CASES[venue]
    async with venue_server(routes) as server:
        history = history_at(venue, server.url)
        try:
            deposits = await history.fetch_transfers(TransferKind.DEPOSIT)
            withdrawals = await history.fetch_transfers(TransferKind.WITHDRAWAL)
            secrets = history.adapter._secrets
            assert isinstance(secrets, FixedSecret)
            # the secret is asked for every call and not kept between calls
            assert secrets.handed_out == len(server.requests)
            assert history.adapter.client.secret == ""
        finally:
            await history.adapter.close()

    key = secret_of(venue).api_key
    for sent in server.requests:
        assert secret_of(venue).secret not in sent.path_qs + sent.body
        if key_header:
            assert sent.headers[key_header] == key
        else:
            assert f"AccessKeyId={key}" in sent.path_qs

    btc, usdt = deposits.transfers
    assert (btc.id, btc.asset, btc.amount, btc.status, btc.venue_status) == (
        btc_id,
        "BTC",
        Decimal("0.0125"),
        TransferStatus.COMPLETED,
        btc_st,
    )
    assert (btc.tx_id, btc.address) == ("7d4c9b0e11aa", "bc1qdepositaddr0")
    assert int(btc.time.timestamp() * 1000) == BTC_MS
    assert (usdt.id, usdt.asset, usdt.amount, usdt.status, usdt.venue_status) == (
        usdt_id,
        "USDT",
        Decimal("25.5"),
        TransferStatus.PENDING,
        usdt_st,
    )
    assert usdt.kind is TransferKind.DEPOSIT
    [eth] = withdrawals.transfers
    assert (eth.id, eth.kind, eth.asset, eth.amount, eth.fee, eth.status, eth.venue_status) == (
        eth_id,
        TransferKind.WITHDRAWAL,
        "ETH",
        # Gate.io's amount includes the fee: ccxt gives what was sent, the fee on top
        Decimal("0.498") if venue == "gateio" else Decimal("0.5"),
        Decimal("0.002"),
        TransferStatus.COMPLETED,
        eth_st,
    )
    # each venue's chain names (``trc20usdt``, ``USDT-TRC20``, ``TRX``) as ccxt unifies them
    assert (btc.network, usdt.network, eth.network) == ("BTC", "TRC20", "ERC20")
    assert (eth.tx_id, eth.address) == ("0xwtx01", "0xabc0000000000000000000000000000000000001")
    if venue == "htx":  # by id: the pending deposit's id, the withdrawal's
        assert (deposits.next_cursor.value, withdrawals.next_cursor.value) == (usdt_id, eth_id)
    else:  # by time: the pending deposit holds the cursor; the withdrawal's time otherwise
        assert deposits.next_cursor.value == str(USDT_MS)
        assert withdrawals.next_cursor.value == str(ETH_MS)
    assert not deposits.more
    assert not withdrawals.more


def okx_pages(rows: list[dict[str, Any]], size: int) -> Callable[[Mapping[str, str]], Any]:
    """OKX's history as documented: newest first, ``before``/``after`` exclusive ms bounds,
    at most ``limit`` rows."""

    def answer(query: Mapping[str, str]) -> dict[str, Any]:
        after = int(query.get("after", 2**62))
        before = int(query.get("before", -1))
        limit = min(int(query.get("limit", 100)), size)
        inside = [r for r in rows if before < int(r["ts"]) < after]
        inside.sort(key=lambda r: -int(r["ts"]))
        return body({"code": "0", "msg": "", "data": inside[:limit]})

    return answer


async def test_full_pages_are_walked_back_so_a_busy_range_has_no_hole() -> None:
    template = DATA["okx"]["withdrawals"]["data"][0]
    rows = [
        {**template, "wdId": str(1000 + i), "ts": str(NOW_MS - 3_600_000 + i * 1000)}
        for i in range(7)
    ]
    routes = {"GET /api/v5/asset/withdrawal-history": okx_pages(rows, 100)}
    async with venue_server(routes) as server:
        history = history_at("okx", server.url)
        try:
            start = TransferCursor(TransferKind.WITHDRAWAL, str(NOW_MS - 7_200_000))
            page = await history.fetch_transfers(TransferKind.WITHDRAWAL, start, limit=3)
        finally:
            await history.adapter.close()
    assert [t.id for t in page.transfers] == [str(1000 + i) for i in range(7)]
    # newest first, three a page, each next page up to the oldest seen (+1 ms: it is read again)
    assert len(server.requests) == 4
    assert page.next_cursor.value == rows[-1]["ts"]


async def test_htx_is_read_forward_by_id_and_resumes_from_the_id() -> None:
    template = DATA["htx"]["withdrawals"]["data"][0]
    rows = [
        {**template, "id": 2001 + i, "created-at": NOW_MS - 3_600_000 + i * 1000} for i in range(5)
    ]

    def answer(query: Mapping[str, str]) -> dict[str, Any]:
        start = int(query.get("from", 0))
        size = int(query["size"])
        assert query["direct"] == "next"
        return body({"status": "ok", "data": [r for r in rows if r["id"] >= start][:size]})

    async with venue_server({"GET /v1/query/deposit-withdraw": answer}) as server:
        history = history_at("htx", server.url)
        try:
            first = await history.fetch_transfers(TransferKind.WITHDRAWAL, limit=2)
            rows.append({**template, "id": 2006, "created-at": NOW_MS - 1_800_000})
            again = await history.fetch_transfers(TransferKind.WITHDRAWAL, first.next_cursor)
        finally:
            await history.adapter.close()
    assert [t.id for t in first.transfers] == ["2001", "2002", "2003", "2004", "2005"]
    assert first.next_cursor.value == "2005"
    # from one below the cursor (the venue's ``from`` may be exclusive): 2005 is read again
    assert [t.id for t in again.transfers] == ["2004", "2005", "2006"]
    assert again.next_cursor.value == "2006"


async def test_an_old_cursor_walks_forward_one_30_day_window_at_a_time() -> None:
    empty = {"retCode": 0, "retMsg": "OK", "result": {"rows": [], "nextPageCursor": ""}}
    routes = {"GET /v5/asset/deposit/query-record": body(empty)}
    old = NOW_MS - 100 * 86_400_000
    async with venue_server(routes) as server:
        history = history_at("bybit", server.url)
        try:
            page = await history.fetch_transfers(
                TransferKind.DEPOSIT, TransferCursor(TransferKind.DEPOSIT, str(old))
            )
            later = await history.fetch_transfers(TransferKind.DEPOSIT, page.next_cursor)
        finally:
            await history.adapter.close()
    window = 30 * 86_400_000
    sent = server.requests[0].path_qs
    assert f"startTime={old}" in sent
    assert f"endTime={old + window}" in sent  # Bybit answers at most 30 days at once
    assert page.more
    assert page.next_cursor.value == str(old + window)
    assert later.more
    assert later.next_cursor.value == str(old + 2 * window)


async def test_bitfinex_pages_full_of_the_other_kind_are_walked_past() -> None:
    """Bitfinex lists both kinds in one history (``end`` inclusive, newest first): pages of
    withdrawals only still move the walk back to the deposits under them."""
    deposit, withdrawal = DATA["bitfinex"]["movements"][2], DATA["bitfinex"]["movements"][1]
    base = NOW_MS - 3_600_000
    movements = [
        [90 + i, *withdrawal[1:5], base + i * 1000, *withdrawal[6:]] for i in (4, 3, 2)
    ] + [[80 + i, *deposit[1:5], base + i * 1000, *deposit[6:]] for i in (1, 0)]

    def answer(sent: Mapping[str, Any]) -> dict[str, Any]:
        end, limit = int(sent.get("end", 2**62)), int(sent["limit"])
        start = int(sent.get("start", 0))
        return body([m for m in movements if start <= m[5] <= end][:limit])

    async with venue_server({"POST /v2/auth/r/movements/hist": answer}) as server:
        history = history_at("bitfinex", server.url)
        try:
            page = await history.fetch_transfers(TransferKind.DEPOSIT, limit=2)
        finally:
            await history.adapter.close()
    assert [t.id for t in page.transfers] == ["80", "81"]
    assert page.next_cursor.value == str(base + 1000)  # past them, not stuck before them
    assert len(server.requests) == 5

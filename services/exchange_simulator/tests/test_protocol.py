"""Binance wire details a client depends on, checked at the wire."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx
import websockets

from eip.exchange_simulator.binance.signing import rest_payload, sign, ws_api_payload
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient

from .test_faults import next_messages, ws_url

DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PAYLOAD = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
    "&timestamp=1499827319559"
)


def test_rest_signature_matches_binance_documentation_vector() -> None:
    assert sign(DOC_SECRET, DOC_PAYLOAD) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
    # query and body concatenate without a separator; the signature itself is left out
    assert rest_payload("symbol=LTCBTC&side=BUY&signature=abc", "type=LIMIT") == (
        "symbol=LTCBTC&side=BUYtype=LIMIT"
    )
    assert ws_api_payload({"timestamp": 2, "apiKey": "k", "signature": "x", "b": True}) == (
        "apiKey=k&b=true&timestamp=2"
    )


def signed_query(
    creds: ApiCredentials,
    params: Mapping[str, str | int],
    ts: int | None = None,
) -> str:
    query = urllib.parse.urlencode({**params, "timestamp": ts or int(time.time() * 1000)})
    return f"{query}&signature={sign(creds.secret, query)}"


async def test_authentication_failures(simulator: SimulatorClient) -> None:
    account = f"auth-{uuid.uuid4().hex[:8]}"
    creds = await simulator.create_account_with_key(account, {"USDT": "100"})
    async with httpx.AsyncClient(base_url=simulator.base_url) as http:
        headers = {"X-MBX-APIKEY": creds.api_key}
        ok = await http.get(f"/api/v3/account?{signed_query(creds, {})}", headers=headers)
        assert ok.status_code == 200
        assert ok.json()["balances"] == [
            {"asset": "USDT", "free": "100.00000000", "locked": "0.00000000"}
        ]
        forged = await http.get(
            f"/api/v3/account?{signed_query(creds, {})[:-4]}beef",
            headers=headers,
        )
        assert (forged.status_code, forged.json()["code"]) == (400, -1022)
        stale = await http.get(
            f"/api/v3/account?{signed_query(creds, {}, ts=int(time.time() * 1000) - 60_000)}",
            headers=headers,
        )
        assert (stale.status_code, stale.json()["code"]) == (400, -1021)
        no_key = await http.get(f"/api/v3/account?{signed_query(creds, {})}")
        assert (no_key.status_code, no_key.json()["code"]) == (401, -2014)
        unknown = await http.get(
            f"/api/v3/account?{signed_query(creds, {})}",
            headers={"X-MBX-APIKEY": "abc123"},
        )
        assert (unknown.status_code, unknown.json()["code"]) == (401, -2015)
        elsewhere = await simulator.create_key(account, "trading", ip_allowlist=["10.1.2.0/24"])
        blocked = await http.get(
            f"/api/v3/account?{signed_query(elsewhere, {})}",
            headers={"X-MBX-APIKEY": elsewhere.api_key},
        )
        assert (blocked.status_code, blocked.json()["code"]) == (401, -2015)
        here = await simulator.create_key(account, "trading", ip_allowlist=["127.0.0.1"])
        allowed = await http.get(
            f"/api/v3/account?{signed_query(here, {})}",
            headers={"X-MBX-APIKEY": here.api_key},
        )
        assert allowed.status_code == 200
        withdrawing = await simulator.create_key(account, "trading+withdrawal")
        perms = await http.get(
            f"/api/v3/account?{signed_query(withdrawing, {})}",
            headers={"X-MBX-APIKEY": withdrawing.api_key},
        )
        assert perms.json()["canWithdraw"] is True
        assert ok.json()["canWithdraw"] is False


async def test_order_parameter_errors(simulator: SimulatorClient) -> None:
    creds = await simulator.create_account_with_key(
        f"params-{uuid.uuid4().hex[:8]}", {"USDT": "1000"}
    )
    cases = [
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "1"},
            -1102,
            "timeInForce",
        ),
        ({"symbol": "BTCUSDT", "side": "UP", "type": "LIMIT"}, -1117, "side"),
        (
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.001",
                "price": "1",
            },
            -1106,
            "price",
        ),
        (
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.0010000001",
                "price": "1",
            },
            -1111,
            "precision",
        ),
        ({"symbol": "NOPE", "side": "BUY", "type": "MARKET", "quantity": "1"}, -1121, "symbol"),
    ]
    async with httpx.AsyncClient(base_url=simulator.base_url) as http:
        for params, code, _words in cases:
            body = signed_query(creds, params)
            response = await http.post(
                "/api/v3/order",
                content=body,
                headers={
                    "X-MBX-APIKEY": creds.api_key,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            assert response.status_code == 400, params
            assert response.json()["code"] == code, (params, response.json())
            assert response.headers["content-type"] == "application/json"
        test_order = await http.post(
            "/api/v3/order/test",
            content=signed_query(
                creds,
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "LIMIT",
                    "timeInForce": "GTC",
                    "quantity": "0.001",
                    "price": "20000",
                },
            ),
            headers={"X-MBX-APIKEY": creds.api_key},
        )
        assert (test_order.status_code, test_order.json()) == (200, {})
        opened = await http.get(
            f"/api/v3/openOrders?{signed_query(creds, {})}", headers={"X-MBX-APIKEY": creds.api_key}
        )
        assert opened.json() == []  # order/test placed nothing


async def test_combined_stream_and_live_subscriptions(simulator: SimulatorClient) -> None:
    async with websockets.connect(
        ws_url(simulator, "/stream?streams=btcusdt@depth@100ms/ethusdt@bookTicker"),
    ) as ws:
        first = await next_messages(ws, 4)
        assert {m["stream"] for m in first} <= {"btcusdt@depth@100ms", "ethusdt@bookTicker"}
        assert all("data" in m for m in first)
    async with websockets.connect(ws_url(simulator, "/ws/0")) as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 7}))
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["nope@trade"], "id": 9}))
        replies: dict[int, dict[str, object]] = {}
        kline = None
        async with asyncio.timeout(10):
            while len(replies) < 3 or kline is None:
                message = json.loads(await ws.recv())
                if "id" in message:
                    replies[int(message["id"])] = message
                elif message.get("e") == "kline":
                    kline = message
        assert replies[7] == {"result": None, "id": 7}
        assert replies[8] == {"result": ["btcusdt@kline_1m"], "id": 8}
        assert replies[9]["code"] == 2
        assert kline["k"]["i"] == "1m"


async def test_legacy_listen_key_stream(simulator: SimulatorClient) -> None:
    creds = await simulator.create_account_with_key(f"lk-{uuid.uuid4().hex[:8]}", {"USDT": "1000"})
    async with httpx.AsyncClient(base_url=simulator.base_url) as http:
        headers = {"X-MBX-APIKEY": creds.api_key}
        listen_key = (await http.post("/api/v3/userDataStream", headers=headers)).json()[
            "listenKey"
        ]
        assert (
            await http.put(f"/api/v3/userDataStream?listenKey={listen_key}", headers=headers)
        ).json() == {}
        async with websockets.connect(ws_url(simulator, f"/ws/{listen_key}")) as ws:
            await asyncio.sleep(0.2)
            await http.post(
                "/api/v3/order",
                content=signed_query(
                    creds,
                    {
                        "symbol": "BTCUSDT",
                        "side": "BUY",
                        "type": "LIMIT",
                        "timeInForce": "GTC",
                        "quantity": "0.001",
                        "price": "20000",
                    },
                ),
                headers=headers,
            )
            events = await next_messages(ws, 2)
            assert {e["e"] for e in events} == {"executionReport", "outboundAccountPosition"}
            report = next(e for e in events if e["e"] == "executionReport")
            assert (report["x"], report["X"], report["p"]) == ("NEW", "NEW", "20000.00000000")
            assert report["C"] == ""
            cancel = {
                "symbol": "BTCUSDT",
                "orderId": report["i"],
                "newClientOrderId": "my-cancel-1",
            }
            await http.delete(f"/api/v3/order?{signed_query(creds, cancel)}", headers=headers)
            cancelled = next(e for e in await next_messages(ws, 2) if e["e"] == "executionReport")
        # a cancel is reported under the cancel request's id, the order's own id in "C"
        assert (cancelled["x"], cancelled["c"], cancelled["C"]) == (
            "CANCELED",
            "my-cancel-1",
            report["c"],
        )
        closed = await http.delete(
            f"/api/v3/userDataStream?listenKey={listen_key}", headers=headers
        )
        assert closed.json() == {}
        again = await http.put(f"/api/v3/userDataStream?listenKey={listen_key}", headers=headers)
        assert again.json()["code"] == -1125


def apply_diff(book: dict[str, dict[str, str]], event: dict[str, Any]) -> None:
    for side in ("b", "a"):
        for price, qty in event[side]:
            if Decimal(qty) == 0:
                book[side].pop(price, None)
            else:
                book[side][price] = qty


async def test_depth_snapshot_and_diffs_follow_binance_sync_rules(
    simulator: SimulatorClient,
) -> None:
    """The documented procedure: buffer diffs, fetch a snapshot, drop u <= lastUpdateId, then
    every event continues the last one — applied here by hand, compared with the truth."""
    async with websockets.connect(ws_url(simulator, "/ws/solusdt@depth@100ms")) as ws:
        buffered = await next_messages(ws, 2)
        async with httpx.AsyncClient(base_url=simulator.base_url) as http:
            snapshot = (
                await http.get("/api/v3/depth", params={"symbol": "SOLUSDT", "limit": 5000})
            ).json()
        book = {"b": {p: q for p, q in snapshot["bids"]}, "a": {p: q for p, q in snapshot["asks"]}}
        local_id = snapshot["lastUpdateId"]
        assert buffered[0]["U"] <= local_id + 1 or buffered[0]["u"] > local_id
        events = buffered + await next_messages(ws, 20)
        applied = 0
        for event in events:
            if event["u"] <= local_id:
                continue
            if applied == 0:  # the first event straddles the snapshot
                assert event["U"] <= local_id + 1 <= event["u"]
            else:
                assert event["U"] == local_id + 1, "a gap in update ids"
            apply_diff(book, event)
            local_id = event["u"]
            applied += 1
        assert applied > 10
        await simulator.pause_market()
        try:
            truth = await simulator.book("SOLUSDT", 5000)
            async with asyncio.timeout(5):
                while local_id < truth["update_id"]:
                    event = json.loads(await ws.recv())
                    assert event["U"] == local_id + 1
                    apply_diff(book, event)
                    local_id = event["u"]
        finally:
            await simulator.resume_market()

    def norm(levels: dict[str, str]) -> dict[Decimal, Decimal]:
        return {Decimal(p): Decimal(q) for p, q in levels.items()}

    assert norm(book["b"]) == {Decimal(p): Decimal(q) for p, q in truth["bids"]}
    assert norm(book["a"]) == {Decimal(p): Decimal(q) for p, q in truth["asks"]}


async def test_api_restrictions_report_each_profile_and_ip_restriction(
    simulator: SimulatorClient,
) -> None:
    """GET /sapi/v1/account/apiRestrictions: the Binance way to read a key's permissions."""
    account = f"restrict-{uuid.uuid4().hex[:8]}"
    await simulator.create_account(account, {"USDT": "1"})
    before_ms = int(time.time() * 1000) - 1000
    expected = {
        "read-only": (True, False, False),
        "trading": (True, True, False),
        "trading+withdrawal": (True, True, True),
    }
    async with httpx.AsyncClient(base_url=simulator.base_url) as http:
        for profile, (read, trade, withdraw) in expected.items():
            creds = await simulator.create_key(account, profile)
            response = await http.get(
                f"/sapi/v1/account/apiRestrictions?{signed_query(creds, {})}",
                headers={"X-MBX-APIKEY": creds.api_key},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert (
                body["enableReading"],
                body["enableSpotAndMarginTrading"],
                body["enableWithdrawals"],
            ) == (read, trade, withdraw)
            assert body["ipRestrict"] is False
            assert body["createTime"] >= before_ms
            assert not any(
                body[f]
                for f in (
                    "enableInternalTransfer",
                    "enableMargin",
                    "enableFutures",
                    "permitsUniversalTransfer",
                    "enableVanillaOptions",
                    "enablePortfolioMarginTrading",
                )
            )
        restricted = await simulator.create_key(account, "trading", ip_allowlist=["127.0.0.1"])
        response = await http.get(
            f"/sapi/v1/account/apiRestrictions?{signed_query(restricted, {})}",
            headers={"X-MBX-APIKEY": restricted.api_key},
        )
        assert response.json()["ipRestrict"] is True
        # signed like every USER_DATA call: a wrong signature is refused
        bad = f"timestamp={int(time.time() * 1000)}&signature={'0' * 64}"
        response = await http.get(
            f"/sapi/v1/account/apiRestrictions?{bad}",
            headers={"X-MBX-APIKEY": restricted.api_key},
        )
        assert response.status_code == 400
        assert response.json()["code"] == -1022

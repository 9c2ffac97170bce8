"""The Coinbase dialect's JWT checks, on the wire: each way a request can fail authentication
gets a bare ``401 Unauthorized`` (as Coinbase's gateway answers) with the reason in
``WWW-Authenticate``, and a read-only key placing an order gets ``403 PERMISSION_DENIED``."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from eip.exchange_simulator.client import SimulatorClient
from eip.exchange_simulator.core.key_formats import new_key

from .coinbase_helpers import API, coinbase_http, coinbase_jwt, new_coinbase_trader

ACCOUNTS = f"{API}/accounts"


def rejected(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401
    assert response.text == "Unauthorized"
    assert reason in response.headers["www-authenticate"]


async def test_a_fresh_jwt_for_the_request_is_accepted(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        response = await cb.request("GET", ACCOUNTS)
        # ccxt writes the simulator's host with its scheme (it strips only "https://"); the
        # real host name is accepted too.
        ccxt_style = coinbase_jwt(key, f"GET http://{cb.host}{ACCOUNTS}")
        by_ccxt = await cb.request("GET", ACCOUNTS, token=ccxt_style)
        real_host = coinbase_jwt(key, f"GET api.coinbase.com{ACCOUNTS}")
        with_real_host = await cb.request("GET", ACCOUNTS, token=real_host, params={"limit": 5})
    assert response.status_code == by_ccxt.status_code == with_real_host.status_code == 200
    assert len(with_real_host.json()["accounts"]) == 5


async def test_an_expired_jwt_is_refused(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        token = coinbase_jwt(key, cb.uri("GET", ACCOUNTS), now=time.time() - 180)
        rejected(await cb.request("GET", ACCOUNTS, token=token), "expired")


async def test_a_jwt_not_valid_yet_is_refused(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        token = coinbase_jwt(key, cb.uri("GET", ACCOUNTS), now=time.time() + 60)
        rejected(await cb.request("GET", ACCOUNTS, token=token), "not valid yet")


async def test_a_jwt_living_longer_than_two_minutes_is_refused(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        token = coinbase_jwt(key, cb.uri("GET", ACCOUNTS), lifetime_s=3600)
        rejected(await cb.request("GET", ACCOUNTS, token=token), "longer than the 2 minutes")


@pytest.mark.parametrize(
    "uri",
    [
        f"POST {{host}}{ACCOUNTS}",  # another method
        f"GET {{host}}{API}/portfolios",  # another path
        "GET {host}",  # no path
        None,  # no uri claim at all (a WebSocket token)
    ],
)
async def test_a_jwt_for_another_request_is_refused(
    clean_simulator: SimulatorClient, uri: str | None
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        token = coinbase_jwt(key, None if uri is None else uri.format(host=cb.host))
        rejected(await cb.request("GET", ACCOUNTS, token=token), "uri")


async def test_a_jwt_signed_with_another_key_is_refused(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    _, other_pem = new_key("coinbase")
    async with coinbase_http(clean_simulator, key) as cb:
        token = coinbase_jwt(key, cb.uri("GET", ACCOUNTS), signing_pem=other_pem)
        rejected(await cb.request("GET", ACCOUNTS, token=token), "signature")


async def test_an_unknown_key_is_refused(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    name = f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
    async with coinbase_http(clean_simulator, key) as cb:
        token = coinbase_jwt(
            key, cb.uri("GET", ACCOUNTS), header={"kid": name}, claims={"sub": name}
        )
        rejected(await cb.request("GET", ACCOUNTS, token=token), "unknown API key")


async def test_a_binance_key_of_the_same_account_is_unknown_here(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    binance = await clean_simulator.create_key(key.account_id, venue="binance")
    async with coinbase_http(clean_simulator, key) as cb:
        token = coinbase_jwt(
            key,
            cb.uri("GET", ACCOUNTS),
            header={"kid": binance.api_key},
            claims={"sub": binance.api_key},
        )
        rejected(await cb.request("GET", ACCOUNTS, token=token), "unknown API key")


async def test_a_revoked_key_is_refused(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        assert (await cb.request("GET", ACCOUNTS)).status_code == 200
        await clean_simulator.revoke_key(key.api_key)
        rejected(await cb.request("GET", ACCOUNTS), "unknown API key")


@pytest.mark.parametrize(
    ("header", "claims", "reason"),
    [
        ({"alg": "HS256"}, {}, "ES256"),
        ({}, {"sub": "organizations/x/apiKeys/y"}, "sub"),
        ({}, {"iss": "someone"}, "iss"),
        ({}, {"exp": "soon"}, "integers"),
    ],
)
async def test_a_jwt_with_a_wrong_header_or_claim_is_refused(
    clean_simulator: SimulatorClient, header: dict[str, Any], claims: dict[str, Any], reason: str
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        token = coinbase_jwt(key, cb.uri("GET", ACCOUNTS), header=header, claims=claims)
        rejected(await cb.request("GET", ACCOUNTS, token=token), reason)


async def test_no_token_or_garbage_is_refused(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        rejected(await cb.http.get(ACCOUNTS), "Authorization")
        rejected(await cb.request("GET", ACCOUNTS, token="not.a-jwt"), "not a JWT")


async def test_a_jwt_is_good_for_one_request_only(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        token = coinbase_jwt(key, cb.uri("GET", ACCOUNTS))
        first = await cb.request("GET", ACCOUNTS, token=token)
        again = await cb.request("GET", ACCOUNTS, token=token)
    assert first.status_code == 200
    rejected(again, "already used")


async def test_a_skewed_exchange_clock_expires_a_fresh_jwt(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    await clean_simulator.skew_clock(300_000)
    async with coinbase_http(clean_simulator, key) as cb:
        rejected(await cb.request("GET", ACCOUNTS), "expired")
        await clean_simulator.skew_clock(0)
        assert (await cb.request("GET", ACCOUNTS)).status_code == 200


async def test_a_key_outside_its_ip_allow_list_is_refused(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    fenced = await clean_simulator.create_key(
        key.account_id, ip_allowlist=["10.1.2.0/24"], venue="coinbase"
    )
    async with coinbase_http(clean_simulator, fenced) as cb:
        rejected(await cb.request("GET", ACCOUNTS), "does not accept requests from 127.0.0.1")


async def test_a_read_only_key_reads_but_may_not_trade(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator, profile="read-only")
    async with coinbase_http(clean_simulator, key) as cb:
        permissions = await cb.get(f"{API}/key_permissions")
        response = await cb.request(
            "POST",
            f"{API}/orders",
            json={
                "client_order_id": str(uuid.uuid4()),
                "product_id": "BTC-USDT",
                "side": "BUY",
                "order_configuration": {
                    "limit_limit_gtc": {"base_size": "0.001", "limit_price": "30000"}
                },
            },
        )
        cancel = await cb.request("POST", f"{API}/orders/batch_cancel", json={"order_ids": ["x"]})
    assert permissions["can_view"] is True
    assert permissions["can_trade"] is False
    assert response.status_code == cancel.status_code == 403
    assert response.json() == {
        "error": "PERMISSION_DENIED",
        "error_details": "Missing required scopes",
        "message": "Missing required scopes",
    }
    assert (await clean_simulator.balances(key.account_id))["USDT"]["locked"] == 0

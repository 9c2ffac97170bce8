"""Deposits and withdrawals end to end: the exchange simulator's ledger (Binance dialect,
``capital/deposit/hisrec`` and ``withdraw/history``), the real Binance adapter signing through a
real auth service, and the account service run as a process on real PostgreSQL and Kafka.

A deposit credited at the venue appears in ``/v1/accounts/{id}/transfers`` and in the balances;
a pending one is listed as pending and updated when it completes; the service stopped and
started again on the same schema continues from its stored cursors with every transfer once;
the endpoint pages with its cursor and keeps to the token's accounts.

Reuses the platform of ``test_simulator_e2e`` (auth, market data, simulator without a
background market); the platform's own account service stands aside and one with a one-second
transfer sync runs in its place, in process.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from psycopg import sql
from pydantic import SecretStr

from eip.account.app import build_app
from eip.account.runtime import AccountRuntime
from eip.account.settings import AccountSettings
from eip.testing.tokens import TokenIssuer
from eip.testing.venues import BINANCE

from .test_simulator_e2e import FAST, Platform, platform, quiet_simulator_url, until, venue

pytestmark = pytest.mark.integration
D = Decimal
__all__ = ["platform", "quiet_simulator_url", "venue"]  # the fixtures this module uses


@asynccontextmanager
async def account_service(
    platform: Platform,
    schema: str,
    kafka_bootstrap_servers: str,
    database_url: str,
    token_issuer: TokenIssuer,
) -> AsyncIterator[httpx.AsyncClient]:
    """The account service with a one-second transfer sync, on ``schema``, until the block
    ends (a stop as a deployment does it)."""
    rt = platform.rt
    settings = AccountSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=SecretStr(database_url),
        connect_timeout_s=3.0,
        **token_issuer.settings(),
        db_schema=schema,
        group_id=f"account-xfer-{uuid.uuid4().hex[:8]}",
        auth_url=platform.auth.base_url,
        auth_client_id=platform.client_id,
        auth_client_secret=SecretStr(platform.client_secret),
        market_data_url="http://127.0.0.1:9",
        exchange_urls={"binance": platform.sim.base_url},
        reconcile_interval_s=600,  # balances move by the stream or the transfers' refresh
        transfer_sync_interval_s=1,
        retry_base_delay_s=0.1,
        retry_max_delay_s=1,
    )
    app = build_app(settings, topics=rt.topics, adapter_options=FAST)
    async with app.router.lifespan_context(app):
        service: AccountRuntime = app.state.account
        await asyncio.wait_for(service.ready.wait(), 60)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            yield http


@pytest.mark.parametrize("venue", [BINANCE], ids=str)  # the venue whose transfers are read
async def test_deposits_and_withdrawals_reach_transfers_and_balances_and_a_restart_continues(
    platform: Platform,
    kafka_bootstrap_servers: str,
    database_url: str,
    token_issuer: TokenIssuer,
) -> None:
    sim = platform.sim
    account_id, key, _ = await platform.account({"USDT": "100"})
    await platform.rt.manager.stop_all()  # the platform's service stands aside
    schema = f"test_{uuid.uuid4().hex[:10]}_xfer"
    headers = platform.headers(account_id)
    http: httpx.AsyncClient | None = None

    def service() -> Any:
        return account_service(
            platform, schema, kafka_bootstrap_servers, database_url, token_issuer
        )

    async def transfers(**params: Any) -> list[dict[str, Any]]:
        assert http is not None
        answer = await http.get(
            f"/v1/accounts/{account_id}/transfers", params=params, headers=headers
        )
        if answer.status_code != 200:
            return []
        rows: list[dict[str, Any]] = answer.json()["transfers"]
        return rows

    async def totals() -> dict[str, Decimal]:
        assert http is not None
        answer = await http.get(f"/v1/accounts/{account_id}/balances", headers=headers)
        if answer.status_code != 200:
            return {}
        return {a["asset"]: D(a["total"]) for a in answer.json()["consolidated"] if D(a["total"])}

    await platform.connect(account_id, key)
    try:
        async with service() as http:
            btc = await sim.record_transfer(
                account_id, "deposit", "BTC", "0.25", network="BTC", tx_id="btc-tx-1"
            )
            eth = await sim.record_transfer(account_id, "deposit", "ETH", "2", status="pending")
            usdt = await sim.record_transfer(
                account_id, "withdrawal", "USDT", "10", fee="1", network="TRX", address="T9yD"
            )

            async def first_three() -> bool:
                return {t["id"]: t["status"] for t in await transfers()} == {
                    btc["id"]: "completed",
                    eth["id"]: "pending",
                    usdt["id"]: "completed",
                }

            await until(first_three, 60, "the deposits and the withdrawal in /transfers")
            by_id = {t["id"]: t for t in await transfers()}
            assert by_id[btc["id"]] | {"time": None, "completed_time": None} == {
                **by_id[btc["id"]],
                "kind": "deposit",
                "exchange": "binance",
                "asset": "BTC",
                "amount": by_id[btc["id"]]["amount"],
                "fee": None,
                "venue_status": "1",
                "network": "BTC",
                "tx_id": "btc-tx-1",
                "time": None,
                "completed_time": None,
            }
            assert D(by_id[btc["id"]]["amount"]) == D("0.25")  # the venue's text, exactly
            assert (D(by_id[usdt["id"]]["amount"]), D(by_id[usdt["id"]]["fee"])) == (D(10), D(1))

            async def first_balances() -> bool:
                return await totals() == {"USDT": D(89), "BTC": D("0.25")}

            await until(first_balances, 30, "the deposit and the withdrawal in the balances")

        # while the service is down: the pending deposit is credited, a new one arrives
        await sim.settle_transfer(eth["id"], "completed")
        sol = await sim.record_transfer(account_id, "deposit", "SOL", "5")
        async with service() as http:

            async def all_four() -> bool:
                return {t["id"]: t["status"] for t in await transfers()} == {
                    btc["id"]: "completed",
                    eth["id"]: "completed",
                    usdt["id"]: "completed",
                    sol["id"]: "completed",
                }

            await until(all_four, 60, "the restarted sync to update and add")

            async def later_balances() -> bool:
                return await totals() == {
                    "USDT": D(89),
                    "BTC": D("0.25"),
                    "ETH": D(2),
                    "SOL": D(5),
                }

            await until(later_balances, 30, "the credited deposits in the balances")

            async with platform.rt.store._conn() as conn:
                cur = await conn.execute(
                    sql.SQL("SELECT kind, transfer_id FROM {}").format(
                        sql.Identifier(schema, "transfers")
                    )
                )
                stored = [(str(k), str(i)) for k, i in await cur.fetchall()]
            assert sorted(stored) == sorted(
                [
                    ("deposit", btc["id"]),
                    ("deposit", eth["id"]),
                    ("deposit", sol["id"]),
                    ("withdrawal", usdt["id"]),
                ]
            )

            # cursor paging: two pages of two, oldest first, nothing twice
            url = f"/v1/accounts/{account_id}/transfers"
            page = (await http.get(url, params={"limit": 2}, headers=headers)).json()
            rest = (
                await http.get(
                    url, params={"limit": 2, "cursor": page["next_cursor"]}, headers=headers
                )
            ).json()
            paged = [t["id"] for t in page["transfers"] + rest["transfers"]]
            assert paged == [t["id"] for t in await transfers()]
            assert len(set(paged)) == 4
            assert rest["next_cursor"] is None
            deposits = await transfers(kind="deposit", asset="eth")
            assert [t["id"] for t in deposits] == [eth["id"]]

            # scopes as the other endpoints: another account's token is refused; a bad cursor
            other = platform.headers("someone-else")
            refused = await http.get(url, headers=other)
            assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
            bad = await http.get(url, params={"cursor": "x"}, headers=headers)
            assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_cursor")
    finally:
        async with platform.rt.store._conn() as conn:
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
            await conn.commit()

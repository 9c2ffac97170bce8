"""Deposits and withdrawals end to end: the exchange simulator's ledger (Binance's
``capital/deposit/hisrec`` and ``withdraw/history``; Coinbase's v2 account transactions), the
real venue adapter signing through a real auth service, and the account service on real
PostgreSQL and Kafka.

A deposit credited at the venue appears in ``/v1/accounts/{id}/transfers`` and in the balances;
a pending one is listed as pending and updated when it completes. The service runs first as
its own process (``python -m eip.account``) and is SIGKILLed half-way — while the venue's
ledger grows under its one-second sync, some new transfers stored and some not — then one
started again on the same schema continues from its stored cursors: every transfer at the
venue stored exactly once, none missing, statuses moved on. The endpoint pages with its
cursor and keeps to the token's accounts.

Reuses the platform of ``test_simulator_e2e`` (auth, market data, simulator without a
background market); the platform's own account service stands aside. The restarted service
runs in process, with a one-second transfer sync."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg import sql
from pydantic import SecretStr

from eip.account.app import build_app
from eip.account.runtime import AccountRuntime
from eip.account.settings import AccountSettings
from eip.testing.simulator import free_port
from eip.testing.tokens import TokenIssuer
from eip.testing.venues import BINANCE, COINBASE

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
    """The account service with a one-second transfer sync, on ``schema``, in process, until
    the block ends."""
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
        exchange_urls={platform.venue.venue: platform.sim.base_url},
        reconcile_interval_s=600,  # balances move by the stream or the transfers' refresh
        transfer_sync_interval_s=1,
        retry_base_delay_s=0.1,
        retry_max_delay_s=1,
    )
    options = {**platform.venue.adapter_options, **FAST}
    app = build_app(settings, topics=rt.topics, adapter_options=options)
    async with app.router.lifespan_context(app):
        service: AccountRuntime = app.state.account
        await asyncio.wait_for(service.ready.wait(), 60)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            yield http


# arriving one by one (every ARRIVAL_S) while the first service syncs every second: it is
# killed with some stored and some not (a loaded machine's slower sync still stores them apart)
NEW_DEPOSITS = 8
ARRIVAL_S = 0.5


# the venues whose transfers the simulator serves: Binance's capital endpoints, Coinbase's v2
# account transactions (the venue's own status of a credited deposit in each)
COMPLETED = {"binance": "1", "coinbase": "completed"}


@pytest.mark.parametrize("venue", [BINANCE, COINBASE], ids=str)
async def test_transfers_reach_the_api_and_a_sync_killed_half_way_resumes_with_each_once(
    platform: Platform,
    kafka_bootstrap_servers: str,
    database_url: str,
    token_issuer: TokenIssuer,
    tmp_path: Path,
) -> None:
    sim = platform.sim
    account_id, key, _ = await platform.account({"USDT": "100"})
    await platform.rt.manager.stop_all()  # the platform's service stands aside
    schema = f"test_{uuid.uuid4().hex[:10]}_xfer"
    headers = platform.headers(account_id)
    http: httpx.AsyncClient | None = None
    env = {
        **os.environ,
        **platform.env,
        "ACCOUNT_DB_SCHEMA": schema,
        "ACCOUNT_GROUP_ID": f"account-xfer-{uuid.uuid4().hex[:8]}",
        "ACCOUNT_CREDENTIALS_TOPIC": platform.rt.topics.credentials.name,
        "ACCOUNT_HTTP_PORT": str(free_port()),
        "ACCOUNT_TRANSFER_SYNC_INTERVAL_S": "1",
        "ACCOUNT_RECONCILE_INTERVAL_S": "600",
    }

    async def stored() -> list[tuple[str, str, str]]:
        """(kind, venue id, status) of every stored transfer, duplicates kept."""
        async with platform.rt.store._conn() as conn:
            cur = await conn.execute("SELECT to_regclass(%s)", (f"{schema}.transfers",))
            row = await cur.fetchone()
            if row is None or row[0] is None:
                return []
            cur = await conn.execute(
                sql.SQL("SELECT kind, transfer_id, status FROM {}").format(
                    sql.Identifier(schema, "transfers")
                )
            )
            return [(str(k), str(i), str(s)) for k, i, s in await cur.fetchall()]

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

    def start(name: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "eip.account"], env=env, stdout=log, stderr=subprocess.STDOUT
        )

    await platform.connect(account_id, key)
    first = start("first")
    try:
        btc = await sim.record_transfer(
            account_id, "deposit", "BTC", "0.25", network="BTC", tx_id="btc-tx-1"
        )
        eth = await sim.record_transfer(account_id, "deposit", "ETH", "2", status="pending")
        usdt = await sim.record_transfer(
            account_id, "withdrawal", "USDT", "10", fee="1", network="TRX", address="T9yD"
        )
        first_three = {
            ("deposit", btc["id"], "completed"),
            ("deposit", eth["id"], "pending"),
            ("withdrawal", usdt["id"], "completed"),
        }

        async def synced() -> bool:
            return set(await stored()) == first_three

        await until(synced, 90, "the first process to store the first three transfers")

        new: list[dict[str, Any]] = []

        async def arrive() -> None:
            for _ in range(NEW_DEPOSITS):
                new.append(await sim.record_transfer(account_id, "deposit", "SOL", "1"))
                await asyncio.sleep(ARRIVAL_S)

        arriving = asyncio.create_task(arrive())
        killed_with = 0

        async def half_way() -> bool:
            nonlocal killed_with
            rows = await stored()
            if len(first_three) < len(rows) < len(first_three) + NEW_DEPOSITS:
                first.send_signal(signal.SIGKILL)
                killed_with = len(rows) - len(first_three)
                return True
            assert len(rows) < len(first_three) + NEW_DEPOSITS, "synced before it was killed"
            return False

        await until(half_way, 60, "the sync to be half-way through the new deposits")
        first.wait(10)
        assert first.returncode == -signal.SIGKILL
        assert 0 < killed_with < NEW_DEPOSITS
        await arriving
        # while the service is down: the pending deposit is credited, one more arrives
        await sim.settle_transfer(eth["id"], "completed")
        new.append(await sim.record_transfer(account_id, "deposit", "SOL", "1"))
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)

    def service() -> Any:
        return account_service(
            platform, schema, kafka_bootstrap_servers, database_url, token_issuer
        )

    at_venue = {
        ("deposit", btc["id"], "completed"),
        ("deposit", eth["id"], "completed"),
        ("withdrawal", usdt["id"], "completed"),
        *(("deposit", n["id"], "completed") for n in new),
    }
    try:
        async with service() as http:

            async def resumed() -> bool:
                return set(await stored()) == at_venue

            await until(resumed, 90, "the restarted sync to add the rest and update the pending")
            await asyncio.sleep(2)  # anything more it would write
            rows = await stored()
            assert len(rows) == len(set(rows)) == len(at_venue)  # each once, none missing

            by_id = {t["id"]: t for t in await transfers()}
            assert by_id[btc["id"]] | {"time": None, "completed_time": None} == {
                **by_id[btc["id"]],
                "kind": "deposit",
                "exchange": platform.venue.venue,
                "asset": "BTC",
                "amount": by_id[btc["id"]]["amount"],
                "fee": None,
                "venue_status": COMPLETED[platform.venue.venue],
                "network": "BTC",
                "tx_id": "btc-tx-1",
                "time": None,
                "completed_time": None,
            }
            assert D(by_id[btc["id"]]["amount"]) == D("0.25")  # the venue's text, exactly
            assert (D(by_id[usdt["id"]]["amount"]), D(by_id[usdt["id"]]["fee"])) == (D(10), D(1))

            async def balances() -> bool:
                return await totals() == {
                    "USDT": D(89),
                    "BTC": D("0.25"),
                    "ETH": D(2),
                    "SOL": D(len(new)),
                }

            await until(balances, 30, "the credited deposits in the balances")

            # cursor paging: pages of four, oldest first, nothing twice, then no cursor
            url = f"/v1/accounts/{account_id}/transfers"
            paged: list[str] = []
            cursor: str | None = None
            for _ in range(10):
                params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
                page = (await http.get(url, params=params, headers=headers)).json()
                paged += [t["id"] for t in page["transfers"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert paged == [t["id"] for t in await transfers()]
            assert len(set(paged)) == len(at_venue)
            assert cursor is None
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

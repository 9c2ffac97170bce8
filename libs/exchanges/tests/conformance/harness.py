"""What the trading conformance suite needs to know about a venue, and the desk the tests work
at: a simulator account per trader, its key stored in a real auth service, and the venue's
trading adapter signing through that auth service.

The venues themselves (``VenueHarness``, ``HARNESSES``: Binance, Kraken, Coinbase) live in
``eip.testing.venues``, shared with the account service's end-to-end tests: adding a venue whose
simulator dialect trades is one entry there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from eip.credentials_client import AuthRequestSigner, ClientCredentials, CredentialsClient
from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.contract.client_order_ids import client_order_id
from eip.exchanges.contract.trading import (
    InstrumentRules,
    OrderRequest,
    OrderType,
    PrivateEvent,
    TimeInForce,
    TradingAdapter,
    VenueOrder,
)
from eip.exchanges.registry import create_trading_adapter
from eip.resilience import RetryPolicy
from eip.testing.auth import AuthService
from eip.testing.proxy import TcpProxy
from eip.testing.venues import VenueHarness
from eip.vault import VaultClient

FAST_RECONNECT = RetryPolicy(attempts=1_000_000, base_delay_s=0.05, max_delay_s=0.3)


ZERO = Decimal(0)
PRICE = Decimal("1000")  # the market is empty (SIMULATOR_MARKET=none): tests make the book
QUANTITY = Decimal("0.01")  # notional 10, above BTCUSDT's minimum of 5


@dataclass
class Trader:
    account_id: str
    credential_id: str
    adapter: TradingAdapter
    api_key: str
    secret: str = field(repr=False)  # the test's copy, to prove the adapter has none
    desk: Desk = field(repr=False)
    _keys: int = 0

    def next_client_id(self) -> str:
        """A client order id derived as order management derives it (from an idempotency key)."""
        self._keys += 1
        return client_order_id(
            self.account_id, f"key-{self._keys}", self.adapter.capabilities.client_order_ids
        )

    def limit(
        self,
        side: str,
        quantity: Decimal = QUANTITY,
        price: Decimal = PRICE,
        **extra: Any,
    ) -> OrderRequest:
        return OrderRequest(
            symbol=self.desk.harness.symbol,
            side="buy" if side == "buy" else "sell",
            type=OrderType.LIMIT,
            client_order_id=extra.pop("client_order_id", None) or self.next_client_id(),
            quantity=quantity,
            price=price,
            time_in_force=extra.pop("time_in_force", TimeInForce.GTC),
            **extra,
        )

    def market(self, side: str, quantity: Decimal | None = QUANTITY, **extra: Any) -> OrderRequest:
        return OrderRequest(
            symbol=self.desk.harness.symbol,
            side="buy" if side == "buy" else "sell",
            type=OrderType.MARKET,
            client_order_id=self.next_client_id(),
            quantity=quantity,
            **extra,
        )

    async def place(self, request: OrderRequest) -> VenueOrder:
        return await self.adapter.place_order(request)

    async def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        """(free, locked) of ``asset`` as the adapter reads it."""
        for row in await self.adapter.fetch_balances():
            if row.asset == asset:
                return row.free, row.locked
        return Decimal(0), Decimal(0)


class EventLog:
    """A trader's private events, read in the background."""

    def __init__(self, adapter: TradingAdapter) -> None:
        self.adapter = adapter
        self.events: list[PrivateEvent] = []
        self.error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        try:
            async for event in self.adapter.private_events():
                self.events.append(event)
        except Exception as exc:
            self.error = exc

    async def start(self) -> EventLog:
        self._task = asyncio.create_task(self._read())
        await until(
            lambda: self.adapter.status().connected or self.error is not None,
            what="the private stream to subscribe",
        )
        if self.error is not None:
            raise self.error
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


async def until(condition: Callable[[], bool], timeout_s: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)


class Desk:
    """Where a test trades on one venue: ``await desk.trader(...)`` opens an account."""

    def __init__(
        self, harness: VenueHarness, sim: SimulatorClient, auth: AuthService, vault: VaultClient
    ) -> None:
        self.harness = harness
        self.sim = sim
        self.auth = auth
        self.vault = vault
        self.traders: list[Trader] = []
        self._closers: list[Callable[[], Any]] = []
        self._admin = httpx.AsyncClient(base_url=sim.base_url, timeout=10)

    @property
    def sim_symbol(self) -> str:
        return self.harness.symbol.replace("/", "")

    @contextlib.asynccontextmanager
    async def limits(self, **tighter: int) -> AsyncIterator[None]:
        """The simulator's rate limits tightened for a block, then as they were (clearing
        faults leaves limits as they are)."""
        before = await self.sim.set_rate_limits()
        await self.sim.set_rate_limits(**tighter)
        try:
            yield
        finally:
            await self.sim.set_rate_limits(**{k: before[k] for k in tighter})
            await self.sim.reset_rate_limits()

    @contextlib.asynccontextmanager
    async def order_rate(self, orders: int) -> AsyncIterator[None]:
        """New orders capped at ``orders`` for a block, in the venue's own terms."""
        path, name = self.harness.order_rate_limit
        if path == "/admin/v1/rate-limits":
            async with self.limits(**{name: orders}):
                yield
            return
        before = (await self._admin.post(path, json={})).json()
        tighter = {name: orders, "order_decay_per_s": 0.01}
        (await self._admin.post(path, json=tighter)).raise_for_status()
        try:
            yield
        finally:
            restore = {key: before[key] for key in tighter}
            (await self._admin.post(path, json=restore)).raise_for_status()

    async def rules(self, trader: Trader) -> InstrumentRules:
        return (await trader.adapter.load_rules())[self.harness.symbol]

    async def proxy(self) -> TcpProxy:
        """A relay to the simulator this test can cut or make lose answers."""
        url = httpx.URL(self.sim.base_url)
        proxy = TcpProxy(url.host, url.port or 80)
        await proxy.start()
        self._closers.append(proxy.stop)
        return proxy

    async def trader(
        self,
        balances: dict[str, str | Decimal] | None = None,
        *,
        profile: str = "trading",
        rest_via: TcpProxy | None = None,
        stream_via: TcpProxy | None = None,
        **options: Any,
    ) -> Trader:
        account_id = f"conf-{uuid.uuid4().hex[:12]}"
        await self.sim.create_account(account_id, balances or {"USDT": "100000", "BTC": "10"})
        key = await self.sim.create_key(account_id, profile, venue=self.harness.venue)
        credential_id = await self.auth.create_credential(
            account_id, self.harness.venue, key.api_key, key.secret
        )
        client_id = f"trader-{uuid.uuid4().hex[:8]}"
        secret = await self.auth.create_client(client_id, ["credentials:use"], [account_id])
        tokens = ClientCredentials(
            self.auth.base_url, client_id, secret, scope="credentials:use", accounts=[account_id]
        )
        credentials = CredentialsClient(self.auth.base_url, tokens.token)
        signer = AuthRequestSigner(credentials, credential_id, self.harness.venue)
        rest = f"http://127.0.0.1:{rest_via.port}" if rest_via else self.sim.base_url
        ws_host = f"127.0.0.1:{stream_via.port}" if stream_via else httpx.URL(rest).netloc.decode()
        ws = f"ws://{ws_host}" if stream_via or rest_via else None
        adapter = create_trading_adapter(
            self.harness.venue,
            signer,
            base_url=rest,
            ws_base_url=ws,
            reconnect_policy=FAST_RECONNECT,
            retry_policy=RetryPolicy(attempts=3, base_delay_s=0.05, max_delay_s=0.2),
            **{**self.harness.adapter_options, **options},
        )
        trader = Trader(account_id, credential_id, adapter, key.api_key, key.secret, self)
        self.traders.append(trader)
        self._closers.extend([adapter.close, credentials.aclose, tokens.aclose])
        return trader

    async def events(self, trader: Trader) -> EventLog:
        log = await EventLog(trader.adapter).start()
        self._closers.insert(0, log.stop)
        return log

    async def close(self) -> None:
        for trader in self.traders:  # nothing of this test rests in the shared book
            with contextlib.suppress(httpx.HTTPError):
                await self._admin.post(
                    f"/admin/v1/orders/{self.sim_symbol}/cancel-all",
                    params={"account_id": trader.account_id},
                )
        for close in self._closers:
            with contextlib.suppress(Exception):
                result = close()
                if asyncio.iscoroutine(result):
                    await result
        for trader in self.traders:
            path = f"exchange-credentials/{trader.account_id}/{trader.credential_id}"
            with contextlib.suppress(Exception):
                await self.vault.kv_destroy_all(path)
        await self._admin.aclose()


@contextlib.asynccontextmanager
async def desk_for(
    harness: VenueHarness, sim: SimulatorClient, auth: AuthService, vault: VaultClient
) -> AsyncIterator[Desk]:
    desk = Desk(harness, sim, auth, vault)
    await harness.set_up(sim)
    try:
        yield desk
    finally:
        await desk.close()

"""What a test driving a venue's dialect of the exchange simulator needs to know about that
venue: its key format and auth validator (the exchange id), the REST paths and private-stream
filter that faults aim at, the simulator's admin calls that set the venue's account up (Kraken's
pro tier), and the options its trading adapter takes for that account.

The trading conformance suite and the account service's end-to-end tests share these entries:
adding a venue whose simulator dialect trades (Coinbase) is one ``VenueHarness`` in
``HARNESSES`` — once ``create_trading_adapter`` builds its adapter and the auth service
validates its keys (an ``AUTH_<VENUE>_BASE_URL`` pointing at the simulator, see
``eip.testing.auth``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient


@dataclass(frozen=True)
class VenueHarness:
    """One venue as the tests drive it through the simulator."""

    venue: str  # the exchange id: the adapter, the simulator key format, the auth validator
    symbol: str  # normalized, traded by every test
    order_path: str  # REST path of a placement (the prefix a /faults/rest fault aims at)
    open_orders_path: str  # REST path of the open-orders query
    private_stream: str  # the /faults/streams/drop filter that cuts the private stream
    # the REST reads an account sync makes (balances, own trades): a REST outage fails these
    account_paths: tuple[str, ...] = ()
    # whether ccxt's fetch_my_trades needs a symbol (Binance) or reads every symbol at once
    # (Kraken: one call, which also spares the account's API counter)
    my_trades_per_symbol: bool = True
    # Features the venue has and the adapter sends but the simulator on main does not serve
    # yet: their tests assert the adapter's NotSupported and fail once the simulator serves
    # them, so the entry is removed then.
    pending: frozenset[str] = frozenset()
    # Fees as the venue reports them: in the asset received (Binance's commission) or in the
    # quote currency whatever the side (Coinbase's commission); balances are the same either way.
    fees_in_quote: bool = False
    adapter_options: dict[str, Any] = field(default_factory=dict)
    # the simulator's admin call that caps new orders, and the number's field in it
    order_rate_limit: tuple[str, str] = ("/admin/v1/rate-limits", "orders_per_10s")
    # admin calls (path, body) that set the venue up for each test (the simulator's
    # clear_faults undoes them after)
    admin_setup: tuple[tuple[str, dict[str, Any]], ...] = ()

    def __str__(self) -> str:
        return self.venue

    def ccxt(self, sim: SimulatorClient, credentials: ApiCredentials | None = None) -> Any:
        """An unmodified ccxt client of this venue aimed at the simulator's dialect."""
        factory = getattr(sim, f"ccxt_{self.venue}")
        return factory(credentials)

    async def set_up(self, sim: SimulatorClient) -> None:
        """The simulator's admin calls this venue's tests expect (undone by ``clear_faults``)."""
        async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as admin:
            for path, body in self.admin_setup:
                (await admin.post(path, json=body)).raise_for_status()


BINANCE = VenueHarness(
    venue="binance",
    symbol="BTC/USDT",
    order_path="/api/v3/order",
    open_orders_path="/api/v3/openOrders",
    private_stream="userData",
    account_paths=("/api/v3/account", "/api/v3/myTrades"),
    adapter_options={"stale_after_s": 3.0},
)
KRAKEN = VenueHarness(
    venue="kraken",
    symbol="BTC/USDT",
    order_path="/0/private/AddOrder",
    open_orders_path="/0/private/OpenOrders",
    private_stream="kraken-auth",
    account_paths=("/0/private/BalanceEx", "/0/private/TradesHistory"),
    my_trades_per_symbol=False,
    # an account of Kraken's pro tier (API counter 20, -1/s), at the simulator and in the
    # adapter's own pacing: the starter tier's 0.33/s would make each test wait for seconds
    adapter_options={"stale_after_s": 3.0, "tier": "pro"},
    admin_setup=(("/admin/v1/kraken/rate-limits", {"tier": "pro"}),),
    # the trading counter: a new order adds 1 (decay slowed so the cap holds for the test)
    order_rate_limit=("/admin/v1/kraken/rate-limits", "order_max"),
    # Kraken has GTD (expiretm), the simulator refuses scheduled orders
    pending=frozenset({"gtd"}),
)
COINBASE = VenueHarness(
    venue="coinbase",
    symbol="BTC/USDT",
    order_path="/api/v3/brokerage/orders",
    open_orders_path="/api/v3/brokerage/orders/historical/batch",
    private_stream="user",
    account_paths=("/api/v3/brokerage/accounts", "/api/v3/brokerage/orders/historical/fills"),
    my_trades_per_symbol=False,
    # The simulator has no rate limits on its Coinbase dialect (docs/SIMULATOR.md); the
    # adapter's 429 mapping is tested on recorded answers (test_coinbase_trading_units.py).
    pending=frozenset({"order_rate_limit"}),
    fees_in_quote=True,
    adapter_options={"stale_after_s": 3.0},
)
HARNESSES = [BINANCE, KRAKEN, COINBASE]

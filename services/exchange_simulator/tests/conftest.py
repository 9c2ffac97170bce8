from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest
import pytest_asyncio

from eip.exchange_simulator.client import SimulatorClient
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.instruments import Instrument
from eip.testing.simulator import SimulatorProcess, run_simulator

from .kraken_client import set_kraken_limits


def btcusdt() -> Instrument:
    return Instrument(
        symbol="BTCUSDT",
        base="BTC",
        quote="USDT",
        tick_size=Decimal("0.01"),
        step_size=Decimal("0.00001"),
        min_qty=Decimal("0.00001"),
        max_qty=Decimal("9000"),
        min_notional=Decimal("5"),
        maker_fee=Decimal("0.001"),
        taker_fee=Decimal("0.002"),
    )


class FakeClock:
    """Deterministic time for engine tests (the exchange's clock is injectable)."""

    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        self.t += 0.001
        return self.t


@pytest.fixture
def exchange() -> Exchange:
    ex = Exchange([btcusdt()], clock=FakeClock())
    ex.create_account("alice", {"USDT": Decimal("100000"), "BTC": Decimal("10")})
    ex.create_account("bob", {"USDT": Decimal("100000"), "BTC": Decimal("10")})
    return ex


@pytest.fixture(scope="module")
def quiet_simulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    """A simulator with no background market (``SIMULATOR_MARKET=none``): only what the test
    does moves its books and last prices, so triggers and fills are deterministic."""
    with run_simulator(tmp_path_factory.mktemp("quiet"), {"SIMULATOR_MARKET": "none"}) as process:
        yield process


@pytest_asyncio.fixture(scope="module")
async def quiet_simulator(
    quiet_simulator_process: SimulatorProcess,
) -> AsyncIterator[SimulatorClient]:
    client = SimulatorClient(quiet_simulator_process.base_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def kraken_wire(clean_simulator: SimulatorClient) -> AsyncIterator[SimulatorClient]:
    """The clean simulator with Kraken's API counter out of the way of tests that send bursts
    (clearing faults afterwards restores the default tier; the rate-limit tests set their own
    numbers)."""
    await set_kraken_limits(clean_simulator, api_max=100_000)
    yield clean_simulator

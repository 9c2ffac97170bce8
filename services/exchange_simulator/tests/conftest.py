from decimal import Decimal

import pytest

from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.instruments import Instrument


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

"""The one place the account service gets a ``TradingAdapter`` for a connection.

Services never name a venue: the exchange id comes from the credential, and the venue code
behind it lives in ``eip.exchanges``. Until the trading adapters' factory (and then the venue
registry) is on main, this says plainly that no adapter exists for the exchange; the sync of
such a connection is then ``degraded`` with that reason instead of crashing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eip.account.auth_clients import AuthClients
from eip.account.store import ConnectionRecord
from eip.exchanges.contract.trading import TradingAdapter
from eip.exchanges.errors import UnknownExchange

AdapterFactory = Callable[[ConnectionRecord], TradingAdapter]


def adapter_factory(
    auth: AuthClients,
    exchange_urls: Mapping[str, str],
    options: Mapping[str, Any] | None = None,
) -> AdapterFactory:
    """Adapters signing through the auth service with the connection's credential;
    ``exchange_urls`` moves a venue to another host (the simulator); ``options`` go to every
    adapter (reconnect policy, staleness)."""

    def build(rec: ConnectionRecord) -> TradingAdapter:
        raise UnknownExchange(f"no trading adapter for {rec.exchange!r} on this platform yet")

    return build

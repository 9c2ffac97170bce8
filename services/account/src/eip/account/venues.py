"""The one place the account service gets a ``TradingAdapter`` for a connection.

Services never name a venue: the exchange id comes from the credential, and the venue code
behind it is found in the venue registry (``eip.exchanges.registry.create_trading_adapter``).
Every adapter signs through the auth service with the connection's credential
(``AuthRequestSigner``): the secret never reaches this service. An exchange without a trading
adapter yet raises ``UnknownExchange``; the sync of such a connection is then ``degraded`` with
that reason instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eip.account.auth_clients import AuthClients
from eip.account.store import ConnectionRecord
from eip.credentials_client import AuthRequestSigner
from eip.exchanges.contract.trading import TradingAdapter
from eip.exchanges.registry import create_trading_adapter

AdapterFactory = Callable[[ConnectionRecord], TradingAdapter]
PURPOSE = "account-sync"  # what the auth service's audit trail records for each signature


def adapter_factory(
    auth: AuthClients,
    exchange_urls: Mapping[str, str],
    options: Mapping[str, Any] | None = None,
) -> AdapterFactory:
    """Adapters signing through the auth service; ``exchange_urls`` moves a venue to another
    host (the simulator); ``options`` go to every adapter (reconnect policy, staleness)."""

    def build(rec: ConnectionRecord) -> TradingAdapter:
        signer = AuthRequestSigner(
            auth.for_account(rec.account_id), rec.credential_id, rec.exchange, purpose=PURPOSE
        )
        return create_trading_adapter(
            rec.exchange,
            signer,
            base_url=exchange_urls.get(rec.exchange),
            **dict(options or {}),
        )

    return build

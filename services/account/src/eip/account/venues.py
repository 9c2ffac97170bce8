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
from eip.exchanges.contract.transfers import TransferHistory
from eip.exchanges.registry import create_trading_adapter, create_transfer_history

AdapterFactory = Callable[[ConnectionRecord], TradingAdapter]
# The deposit/withdrawal history of the account a connection's adapter trades; None where the
# venue's package reads none (the sync then has no transfers loop).
TransferFactory = Callable[[ConnectionRecord, TradingAdapter], TransferHistory | None]
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


def transfer_factory() -> TransferFactory:
    """The venue package's transfer history, reading through the connection's own adapter
    (its signer, clock and rate budget: one REST client per connection)."""

    def build(rec: ConnectionRecord, adapter: TradingAdapter) -> TransferHistory | None:
        return create_transfer_history(rec.exchange, adapter)

    return build

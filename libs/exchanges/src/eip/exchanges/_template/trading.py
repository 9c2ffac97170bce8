"""Private trading: ``eip.exchanges.contract.trading.TradingAdapter``.

Place, cancel and amend (natively where the venue can, and ``TradingCapabilities`` says so),
query one order by the platform's client order id or the venue's id, open and closed orders,
own fills behind a ``FillCursor``, balances, instrument rules; private streams as async
iterators of ``OrderUpdate``, ``FillEvent``, ``BalanceUpdate`` and ``StreamResumed`` (after a
REST catch-up; ``machinery.private_state`` keeps each order moving forward and each fill
once). Errors are the contract's closed set: ``OrderRejected`` with a ``RejectReason``,
``OrderNotFound``, and ``OutcomeUnknown`` when a placement's answer never came — never retry a
placement (``VenueRest.request`` with ``once``). Every request is signed through a
``contract.signing.RequestSigner`` (the auth service); the adapter never holds the secret.
Client order ids must fit the venue's ``ClientOrderIdRules``. Message parsing goes beside it in
``trading_wire.py``, a private stream in ``user_stream.py``.

``create_adapter`` is what the registry calls (``Venue.trading``;
``registry.create_trading_adapter``). The conformance suite
(``libs/exchanges/tests/conformance/``) runs every test against it once the simulator trades
in the venue's dialect: one ``VenueHarness`` in ``harness.HARNESSES`` (symbol, placement and
open-orders paths, the private stream's drop filter, what the simulator does not serve yet) and
the test auth service validating the venue's keys at the simulator. Model:
``binance/trading.py``; docs/TRADING_ADAPTERS.md, docs/ADDING_A_VENUE.md (trading).
"""

from __future__ import annotations

from typing import Any

from eip.exchanges.contract.signing import RequestSigner
from eip.exchanges.contract.trading import TradingAdapter


def create_adapter(
    signer: RequestSigner,
    *,
    base_url: str | None = None,
    ws_base_url: str | None = None,
    **options: Any,
) -> TradingAdapter:
    """The registry's factory: one account's adapter, signing through ``signer``; ``base_url``
    (and ``ws_base_url``) move REST (and the private stream) to one host, e.g. the simulator."""
    raise NotImplementedError

"""Gate.io deposits and withdrawals through ccxt (``ccxt/transfers.py``): ``GET
/api/v4/wallet/deposits`` and ``/wallet/withdrawals`` (``from`` / ``to`` in seconds, at most
30 days apart; ``limit``, newest first). Statuses: ``DONE`` final, ``CANCEL`` / ``FAIL`` failed,
the others (``PEND``, ``REQUEST``, ``MANUAL``, ...) not final."""

from __future__ import annotations

from eip.exchanges.ccxt.transfers import CcxtTransferProfile, status_key, transfers_factory

PROFILE = CcxtTransferProfile(page_limit=100, venue_status=status_key("status"))

create_transfers = transfers_factory(PROFILE)

"""OKX deposits and withdrawals through ccxt (``ccxt/transfers.py``): ``GET
/api/v5/asset/deposit-history`` and ``/withdrawal-history`` (``before`` / ``after`` are
exclusive ms bounds, ``limit`` up to 100, newest first). The venue's status is ``state``
(deposit 2 successful, 0/1/8 not final; withdrawal 2 sent, -1 failed, -2 canceled, the
others waiting)."""

from __future__ import annotations

from eip.exchanges.ccxt.transfers import CcxtTransferProfile, status_key, transfers_factory

PROFILE = CcxtTransferProfile(page_limit=100, venue_status=status_key("state"))

create_transfers = transfers_factory(PROFILE)

"""KuCoin deposits and withdrawals through ccxt (``ccxt/transfers.py``): ``GET /api/v1/deposits``
and ``/api/v1/withdrawals`` (``startAt`` / ``endAt`` in ms, ``pageSize`` up to 500, newest
first). A deposit has no id of its own: it is known by its ``walletTxId``. Statuses
``PROCESSING`` / ``WALLET_PROCESSING`` are pending, ``SUCCESS`` and ``FAILURE`` final."""

from __future__ import annotations

from eip.exchanges.ccxt.transfers import CcxtTransferProfile, status_key, transfers_factory

PROFILE = CcxtTransferProfile(page_limit=500, venue_status=status_key("status"))

create_transfers = transfers_factory(PROFILE)

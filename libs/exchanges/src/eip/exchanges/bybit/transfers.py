"""Bybit deposits and withdrawals through ccxt (``ccxt/transfers.py``): ``GET
/v5/asset/deposit/query-record`` and ``/v5/asset/withdraw/query-record`` (``startTime`` /
``endTime`` at most 30 days apart, ``limit`` up to 50, newest first). Deposit statuses are
numbers (3 success; 0-2 and 10011-10012 pending; 4 failed), withdrawal statuses words
(``success``; ``SecurityCheck``, ``Pending``; ``CancelByUser``, ``Reject``, ``Fail``)."""

from __future__ import annotations

from eip.exchanges.ccxt.transfers import CcxtTransferProfile, status_key, transfers_factory

PROFILE = CcxtTransferProfile(page_limit=50, venue_status=status_key("status"))

create_transfers = transfers_factory(PROFILE)

"""Bitfinex deposits and withdrawals through ccxt (``ccxt/transfers.py``): ``POST
/v2/auth/r/movements/hist`` lists both kinds (``start`` / ``end`` in ms, ``limit`` up to 1,000,
newest first); ccxt tells them apart by the amount's sign. Rows are arrays: the venue's status
is field 9 (``COMPLETED``; ``PENDING`` and the like; ``CANCELED``, ``ERROR``)."""

from __future__ import annotations

from typing import Any

from eip.exchanges.ccxt.transfers import CcxtTransferProfile, transfers_factory


def venue_status(info: Any) -> str | None:
    if isinstance(info, list) and len(info) > 9 and info[9] is not None:
        return str(info[9])
    return None


PROFILE = CcxtTransferProfile(
    page_limit=1000,
    venue_status=venue_status,
    window_ms=None,
    until_param="end",
    combined=True,
)

create_transfers = transfers_factory(PROFILE)

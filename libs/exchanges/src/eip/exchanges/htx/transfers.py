"""HTX deposits and withdrawals through ccxt (``ccxt/transfers.py``): ``GET
/v1/query/deposit-withdraw`` (``type``; ``from`` an id, ``direct=next``: oldest first; ``size``
up to 100). It pages by id, not time: the cursor is the id to read from. The venue's status is
``state`` (deposit ``safe`` final; withdrawal ``confirmed`` sent, ``canceled`` / ``reject`` /
``wallet-reject`` / ``confirm-error`` / ``repealed`` failed)."""

from __future__ import annotations

from eip.exchanges.ccxt.transfers import CcxtTransferProfile, status_key, transfers_factory

PROFILE = CcxtTransferProfile(
    page_limit=100,
    venue_status=status_key("state"),
    window_ms=None,
    until_param=None,
    id_param="from",
    id_params={"direct": "next"},
)

create_transfers = transfers_factory(PROFILE)

"""Deposits and withdrawals: the ledger the dialects' transfer history endpoints serve.

Fed by the admin API (``POST /admin/v1/accounts/{id}/transfers``), never by trading. A transfer
moves the account's balance when it becomes ``completed`` (a deposit credits ``amount``) or, for
a withdrawal, when it is recorded (``amount`` + ``fee`` leave the free balance at once, as a
venue holds them while it processes); a withdrawal that then ``failed`` gives them back. So a
test can show a pending deposit in the history before the balance moves, and the venue's
status codes as they change.

Ids: deposits get a numeric string, withdrawals a 32-character hex id, as Binance's look.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class TransferKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class TransferState(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass
class Transfer:
    transfer_id: str
    account_id: str
    kind: TransferKind
    asset: str
    amount: Decimal
    fee: Decimal
    network: str
    address: str
    tx_id: str
    state: TransferState
    time_ms: int  # deposit insert time / withdrawal apply time
    completed_ms: int | None = None


class TransferLedger:
    def __init__(self) -> None:
        self._deposit_ids = itertools.count(769800519366885376)
        self.transfers: dict[str, Transfer] = {}

    def new_id(self, kind: TransferKind) -> str:
        if kind is TransferKind.DEPOSIT:
            return str(next(self._deposit_ids))
        return secrets.token_hex(16)

    def add(self, transfer: Transfer) -> Transfer:
        self.transfers[transfer.transfer_id] = transfer
        return transfer

    def of(self, account_id: str, kind: TransferKind) -> list[Transfer]:
        """The account's transfers of ``kind``, newest first (as the venues list them)."""
        return sorted(
            (t for t in self.transfers.values() if t.account_id == account_id and t.kind is kind),
            key=lambda t: (t.time_ms, t.transfer_id),
            reverse=True,
        )

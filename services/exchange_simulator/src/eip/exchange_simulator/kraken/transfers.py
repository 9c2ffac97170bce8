"""Kraken's deposit and withdrawal status (``POST /0/private/DepositStatus``,
``/0/private/WithdrawStatus``), served from the simulator's transfer ledger
(``core/transfers.py``, fed by the admin API).

As the venue: ``asset`` filters (any of Kraken's names), ``start``/``end`` are unix seconds
(``start`` inclusive, ``end`` inclusive), rows come newest first; with ``cursor`` (``true`` or
the last answer's ``next_cursor``) the answer is ``{"deposit"|"withdrawal": [...],
"next_cursor"}`` in pages of ``limit`` (default 25, at most 500) and ``next_cursor`` is null on
the last page; without it, a bare list of every match. Statuses: ``Pending`` while pending,
``Success``, ``Failure``; amounts in the asset's balance decimals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.transfers import Transfer, TransferKind, TransferState
from eip.exchange_simulator.kraken import errors, names
from eip.exchange_simulator.kraken.dialect import KrakenDialect
from eip.exchange_simulator.kraken.order_params import integer, text
from eip.exchange_simulator.kraken.private_api import PrivateCall

STATUS = {
    TransferState.PENDING: "Pending",
    TransferState.COMPLETED: "Success",
    TransferState.FAILED: "Failure",
}
KEYS = {TransferKind.DEPOSIT: "deposit", TransferKind.WITHDRAWAL: "withdrawal"}


class KrakenTransfers:
    def __init__(self, dialect: KrakenDialect) -> None:
        self.ex = dialect.exchange

    def deposit_status(self, call: PrivateCall) -> Any:
        return self._status(call, TransferKind.DEPOSIT)

    def withdraw_status(self, call: PrivateCall) -> Any:
        return self._status(call, TransferKind.WITHDRAWAL)

    def _status(self, call: PrivateCall, kind: TransferKind) -> Any:
        start, end = _seconds(call, "start"), _seconds(call, "end")
        asset = text(call.get("asset"))
        wanted = names.core_asset(asset) if asset else None
        rows = [
            t
            for t in self.ex.transfers.of(call.account_id, kind)
            if (start is None or t.time_ms // 1000 >= start)
            and (end is None or t.time_ms // 1000 <= end)
            and (wanted is None or t.asset == wanted)
        ]
        paging = text(call.get("cursor"))
        if paging is None or paging.lower() == "false":
            return [transfer_json(t) for t in rows]
        limit = integer("limit", call.get("limit"), lo=1, hi=500) or 25
        offset = 0 if paging.lower() == "true" else _offset(paging)
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        return {
            KEYS[kind]: [transfer_json(t) for t in page],
            "next_cursor": str(offset + limit) if more else None,
        }


def _seconds(call: PrivateCall, name: str) -> int | None:
    raw = text(call.get(name))
    if raw is None:
        return None
    try:
        return int(Decimal(raw))
    except ArithmeticError:
        raise errors.invalid(name) from None


def _offset(cursor: str) -> int:
    if not cursor.isdigit():
        raise errors.invalid("cursor")
    return int(cursor)


def transfer_json(t: Transfer) -> dict[str, Any]:
    places = names.decimals(t.asset)[0]
    body: dict[str, Any] = {
        "method": t.network,
        "aclass": "currency",
        "asset": names.asset_id(t.asset),
        "refid": t.transfer_id,
        "txid": t.tx_id,
        "info": t.address,
        "amount": fixed(t.amount, places),
        "fee": fixed(t.fee, places),
        "time": t.time_ms // 1000,
        "status": STATUS[t.state],
        "network": t.network,
    }
    if t.state is TransferState.FAILED and t.kind is TransferKind.WITHDRAWAL:
        body["status-prop"] = "canceled"
    return body

"""Binance's deposit and withdrawal history (``/sapi/v1/capital/deposit/hisrec``,
``/sapi/v1/capital/withdraw/history``), served from the simulator's transfer ledger
(``core/transfers.py``, fed by the admin API).

As the venue: ``startTime``/``endTime`` filter on the deposit's ``insertTime`` / the
withdrawal's ``applyTime`` and must be less than 90 days apart (default: the last 90 days), rows
come newest first, ``offset``/``limit`` (default 1000, at most 1000) page inside the window,
``coin`` and ``status`` filter. ``applyTime`` is ``YYYY-MM-DD HH:MM:SS`` in UTC, whole seconds,
so a withdrawal is filtered on its time truncated to the second.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eip.exchange_simulator.binance import errors, wire
from eip.exchange_simulator.binance.venue import Ctx, Venue
from eip.exchange_simulator.core.accounts import Permission
from eip.exchange_simulator.core.transfers import Transfer, TransferKind, TransferState

WINDOW_MS = 90 * 86_400_000
# Binance's status codes
DEPOSIT_STATUS = {TransferState.PENDING: 0, TransferState.COMPLETED: 1, TransferState.FAILED: 2}
WITHDRAWAL_STATUS = {
    TransferState.PENDING: 4,  # processing
    TransferState.COMPLETED: 6,
    TransferState.FAILED: 5,  # failure
}


def transfers_router(venue: Venue) -> APIRouter:
    router = APIRouter(tags=["binance transfers"])
    ex = venue.exchange

    def rows(ctx: Ctx, kind: TransferKind) -> list[Transfer]:
        end = ctx.integer("endTime")
        start = ctx.integer("startTime")
        end = ctx.now_ms if end is None else end
        start = end - WINDOW_MS if start is None else start
        if end < start or end - start >= WINDOW_MS:
            raise errors.invalid("startTime")
        offset = ctx.integer("offset", 0, lo=0)
        limit = ctx.integer("limit", 1000, lo=1, hi=1000)
        assert offset is not None
        assert limit is not None
        coin, status = ctx.get("coin"), ctx.integer("status")
        codes = DEPOSIT_STATUS if kind is TransferKind.DEPOSIT else WITHDRAWAL_STATUS
        found = [
            t
            for t in ex.transfers.of(ctx.account_id, kind)
            if start <= _filter_time(t) <= end
            and (coin is None or t.asset == coin.upper())
            and (status is None or codes[t.state] == status)
        ]
        return found[offset : offset + limit]

    @router.get("/sapi/v1/capital/deposit/hisrec")
    async def deposits(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return [deposit_json(t) for t in rows(ctx, TransferKind.DEPOSIT)]

        return await venue.call(request, handle, weight=1, signed=True, permission=Permission.READ)

    @router.get("/sapi/v1/capital/withdraw/history")
    async def withdrawals(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return [withdrawal_json(t) for t in rows(ctx, TransferKind.WITHDRAWAL)]

        return await venue.call(request, handle, weight=1, signed=True, permission=Permission.READ)

    return router


def _filter_time(t: Transfer) -> int:
    return t.time_ms if t.kind is TransferKind.DEPOSIT else t.time_ms // 1000 * 1000


def _text_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def deposit_json(t: Transfer) -> dict[str, Any]:
    return {
        "id": t.transfer_id,
        "amount": wire.d8(t.amount),
        "coin": t.asset,
        "network": t.network,
        "status": DEPOSIT_STATUS[t.state],
        "address": t.address,
        "addressTag": "",
        "txId": t.tx_id,
        "insertTime": t.time_ms,
        "completeTime": t.completed_ms or 0,
        "transferType": 0,
        "confirmTimes": "1/1" if t.state is TransferState.COMPLETED else "0/1",
        "unlockConfirm": 0,
        "walletType": 0,
        "travelRuleStatus": 0,
    }


def withdrawal_json(t: Transfer) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": t.transfer_id,
        "amount": wire.d8(t.amount),
        "transactionFee": wire.d8(t.fee),
        "coin": t.asset,
        "status": WITHDRAWAL_STATUS[t.state],
        "address": t.address,
        "txId": t.tx_id,
        "applyTime": _text_time(t.time_ms),
        "network": t.network,
        "transferType": 0,
        "confirmNo": 1 if t.state is TransferState.COMPLETED else 0,
        "walletType": 0,
        "txKey": "",
    }
    if t.completed_ms is not None and t.state is TransferState.COMPLETED:
        body["completeTime"] = _text_time(t.completed_ms)
    return body

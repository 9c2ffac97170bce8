"""Coinbase's deposits and withdrawals, as the Coinbase App API (``/v2``) lists them per
account: ``GET /v2/accounts/{account_id}/transactions``, served from the simulator's transfer
ledger (``core/transfers.py``, fed by the admin API).

As the venue: one account is one currency (the ids ``/v2/accounts`` and Advanced Trade's
``accounts`` give), rows newest first (``order=asc`` for oldest first), pages of ``limit``
(default 25, at most 100) after ``starting_after`` (a transaction id of the last page, as
``pagination.next_starting_after`` says). A crypto deposit is a ``receive``, a crypto
withdrawal a ``send`` with a negative amount (its network fee in ``network.transaction_fee``,
its destination in ``to``; a receive carries no fee); fiat ones ``fiat_deposit`` /
``fiat_withdrawal``. Statuses ``pending``, ``completed``, ``failed``. Only transfers are
listed: the simulator's trades are not (Advanced Trade fills carry them).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eip.exchange_simulator.coinbase import currencies, errors, wire
from eip.exchange_simulator.coinbase.paging import page
from eip.exchange_simulator.coinbase.rest_accounts import wallets
from eip.exchange_simulator.coinbase.venue import CoinbaseVenue, Ctx
from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.transfers import Transfer, TransferKind, TransferState


def transaction(venue: CoinbaseVenue, uuid: str, t: Transfer) -> dict[str, Any]:
    code = t.asset
    places = currencies.exponent(code)
    fiat = currencies.is_fiat(code)
    sign = "-" if t.kind is TransferKind.WITHDRAWAL else ""
    if t.kind is TransferKind.DEPOSIT:
        kind = "fiat_deposit" if fiat else "receive"
    else:
        kind = "fiat_withdrawal" if fiat else "send"
    created = wire.timestamp_s(t.time_ms)
    row: dict[str, Any] = {
        "id": t.transfer_id,
        "type": kind,
        "status": t.state.value,
        "amount": {"amount": sign + fixed(t.amount, places), "currency": code},
        "description": None,
        "created_at": created,
        "updated_at": wire.timestamp_s(t.completed_ms or t.time_ms),
        "resource": "transaction",
        "resource_path": f"/v2/accounts/{uuid}/transactions/{t.transfer_id}",
    }
    if not fiat:
        row["network"] = {
            "status": "confirmed" if t.state is TransferState.COMPLETED else "pending",
            "hash": t.tx_id or None,
            "name": t.network or None,
        }
        if t.kind is TransferKind.WITHDRAWAL:  # the sender pays the network fee
            row["network"]["transaction_fee"] = {"amount": fixed(t.fee, places), "currency": code}
            row["to"] = {"resource": "address", "address": t.address}
    return row


def transfers_router(venue: CoinbaseVenue) -> APIRouter:
    router = APIRouter(tags=["coinbase transfers"])
    ex, ids = venue.exchange, venue.ids

    @router.get("/v2/accounts/{account_uuid}/transactions")
    async def transactions(request: Request, account_uuid: str) -> Response:
        async def handle(ctx: Ctx) -> Any:
            account = ex.accounts[ctx.account_id]
            code = next(
                (
                    c
                    for c in wallets(venue, account)
                    if ids.account(account.account_id, c) == account_uuid
                ),
                None,
            )
            if code is None:
                raise errors.not_found("account not found")
            limit = ctx.query_int("limit", 25, 1, 100)
            order = ctx.query("order") or "desc"
            if order not in ("asc", "desc"):
                raise errors.invalid("order must be asc or desc")
            rows = [
                t
                for kind in TransferKind
                for t in ex.transfers.of(account.account_id, kind)
                if t.asset == code
            ]
            rows.sort(key=lambda t: (t.time_ms, t.transfer_id), reverse=order == "desc")
            after = ctx.query("starting_after")
            keys = {t.transfer_id: (t.time_ms, t.transfer_id) for t in rows}
            if after is not None and after not in keys:
                raise errors.invalid("starting_after is not a transaction of this account")
            found, last = page(
                rows,
                lambda t: (t.time_ms, t.transfer_id),
                None if after is None else keys[after],
                limit,
                descending=order == "desc",
            )
            last_id = None if last is None else last[1]
            base = f"/v2/accounts/{account_uuid}/transactions?limit={limit}&order={order}"
            return {
                "pagination": {
                    "ending_before": None,
                    "starting_after": after,
                    "previous_ending_before": None,
                    "next_starting_after": last_id,
                    "limit": limit,
                    "order": order,
                    "previous_uri": None,
                    "next_uri": f"{base}&starting_after={last_id}" if last_id else None,
                },
                "data": [transaction(venue, account_uuid, t) for t in found],
            }

        return await venue.call(request, handle, private=True, api="v2")

    return router

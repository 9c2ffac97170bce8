"""The simulator's own HTTP API (``/admin/v1``): accounts and keys, the true state of books,
market control, and fault injection. Dialect-neutral; errors use the platform's error body."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from eip.exchange_simulator.core.accounts import KEY_PROFILES, InsufficientBalance
from eip.exchange_simulator.core.faults import RestFault
from eip.exchange_simulator.core.key_formats import Venue
from eip.exchange_simulator.core.market import PrintTrade, apply
from eip.exchange_simulator.core.orders import Rejection, Side
from eip.exchange_simulator.core.transfers import Transfer, TransferKind, TransferState
from eip.exchange_simulator.simulator import Simulator
from eip.observability.http import ApiError


class NewAccount(BaseModel):
    account_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    balances: dict[str, Decimal] = Field(default_factory=dict)


class Deposit(BaseModel):
    asset: str = Field(min_length=1, max_length=16)
    amount: Decimal = Field(gt=0)


class NewTransfer(BaseModel):
    kind: Literal["deposit", "withdrawal"]
    asset: str = Field(min_length=1, max_length=16)
    amount: Decimal = Field(gt=0)
    fee: Decimal = Field(default=Decimal(0), ge=0)
    network: str = Field(default="", max_length=32)
    address: str = Field(default="", max_length=128)
    tx_id: str = Field(default="", max_length=128)
    # pending: listed, balance not credited yet (a withdrawal's amount + fee is held at once)
    status: Literal["pending", "completed", "failed"] = "completed"


class TransferOutcome(BaseModel):
    status: Literal["completed", "failed"]


class NewKey(BaseModel):
    profile: Literal["read-only", "trading", "trading+withdrawal"] = "trading"
    ip_allowlist: list[str] = Field(default_factory=list)
    # The dialect the key is for, in that venue's format (see core/key_formats.py).
    venue: Venue = "binance"


VenueName = Literal["binance", "kraken", "coinbase"]


class RestFaultSpec(BaseModel):
    # error: a 5xx, not executed; timeout: no answer, not executed; drop-response: executed,
    # the answer lost (the client times out; see rest_faults.py)
    mode: Literal["error", "timeout", "drop-response"] = "error"
    count: int = Field(default=1, ge=1, le=10_000)
    status: int = Field(default=503, ge=500, le=599)
    path_prefix: str = ""
    method: Literal["GET", "POST", "PUT", "DELETE"] | None = None  # None: any method
    venue: VenueName | None = None  # only this dialect's endpoints; None: any


class SymbolCount(BaseModel):
    symbol: str
    count: int = Field(default=1, ge=1, le=10_000)
    # Only this dialect's stream; None: whichever dialect next sends a diff of the symbol.
    venue: VenueName | None = None


class Seconds(BaseModel):
    seconds: float = Field(gt=0, le=3600)
    venue: VenueName | None = None  # only this dialect's sockets (public and private); None: all


class Millis(BaseModel):
    ms: int = Field(ge=0, le=60_000)
    venue: VenueName | None = None


class Skew(BaseModel):
    skew_ms: int = Field(ge=-86_400_000, le=86_400_000)


class Drop(BaseModel):
    stream: str | None = None  # a substring of stream names; None drops every connection
    venue: VenueName | None = None  # only this dialect's connections, user data ones included


class Limits(BaseModel):
    weight_per_minute: int | None = Field(default=None, ge=1)
    orders_per_10s: int | None = Field(default=None, ge=1)
    orders_per_day: int | None = Field(default=None, ge=1)
    ban_after_violations: int | None = Field(default=None, ge=0)
    ban_seconds: int | None = Field(default=None, ge=1)
    ws_messages_per_second: int | None = Field(default=None, ge=1)
    ws_connections_per_5min: int | None = Field(default=None, ge=1)


class Prints(BaseModel):
    symbol: str
    count: int = Field(ge=1, le=1_000_000)
    price: Decimal = Field(gt=0)
    quantity: Decimal = Field(gt=0)


def admin_router(sim: Simulator) -> APIRouter:
    router = APIRouter(prefix="/admin/v1", tags=["admin"])
    ex = sim.exchange

    def symbol_of(symbol: str) -> str:
        if symbol not in ex.instruments:
            raise ApiError(
                404,
                "unknown_symbol",
                f"no instrument {symbol!r}",
                {"symbols": sorted(ex.instruments)},
            )
        return symbol

    def account_of(account_id: str) -> Any:
        account = ex.accounts.get(account_id)
        if account is None:
            raise ApiError(404, "unknown_account", f"no account {account_id!r}")
        return account

    @router.get("/status")
    async def status() -> dict[str, Any]:
        return {
            "market": sim.settings.market,
            "market_running": sim.market_running.is_set(),
            "replay_done": sim.replay_done.is_set(),
            "instruments": {
                s: {"status": i.status, "update_id": ex.update_ids[s]}
                for s, i in ex.instruments.items()
            },
            "clock_skew_ms": ex.clock_skew_ms,
            "server_time": ex.now_ms(),
            "stream_connections": len(sim.streams.connections),
            "kraken_connections": len(sim.kraken.connections),
            "coinbase_connections": len(sim.coinbase.connections),
        }

    @router.post("/accounts", status_code=201)
    async def create_account(body: NewAccount) -> dict[str, Any]:
        if body.account_id in ex.accounts:
            raise ApiError(409, "account_exists", f"account {body.account_id!r} exists")
        if any(v < 0 for v in body.balances.values()):
            raise ApiError(400, "invalid_request", "balances must not be negative")
        ex.create_account(body.account_id, dict(body.balances))
        return {"account_id": body.account_id}

    @router.get("/accounts/{account_id}")
    async def get_account(account_id: str) -> dict[str, Any]:
        account = account_of(account_id)
        return {
            "account_id": account_id,
            "balances": {
                a: {"free": str(b.free), "locked": str(b.locked)}
                for a, b in account.balances.items()
            },
        }

    @router.post("/accounts/{account_id}/deposit")
    async def deposit(account_id: str, body: Deposit) -> dict[str, Any]:
        account_of(account_id)
        ex.deposit(account_id, body.asset.upper(), body.amount)
        return await get_account(account_id)

    def transfer_json(t: Transfer) -> dict[str, Any]:
        return {
            "id": t.transfer_id,
            "account_id": t.account_id,
            "kind": t.kind.value,
            "asset": t.asset,
            "amount": str(t.amount),
            "fee": str(t.fee),
            "network": t.network,
            "address": t.address,
            "tx_id": t.tx_id,
            "status": t.state.value,
            "time_ms": t.time_ms,
            "completed_ms": t.completed_ms,
        }

    @router.post("/accounts/{account_id}/transfers", status_code=201)
    async def record_transfer(account_id: str, body: NewTransfer) -> dict[str, Any]:
        """A deposit credited / withdrawal debited, kept in the ledger the dialects' transfer
        history serves (Binance ``capital/deposit/hisrec``, ``capital/withdraw/history``)."""
        account_of(account_id)
        try:
            transfer = ex.record_transfer(
                account_id,
                TransferKind(body.kind),
                body.asset.upper(),
                body.amount,
                fee=body.fee,
                network=body.network,
                address=body.address,
                tx_id=body.tx_id,
                state=TransferState(body.status),
            )
        except InsufficientBalance as exc:
            raise ApiError(409, "insufficient_balance", str(exc)) from None
        return transfer_json(transfer)

    @router.get("/accounts/{account_id}/transfers")
    async def list_transfers(account_id: str) -> dict[str, Any]:
        account_of(account_id)
        rows = [
            *ex.transfers.of(account_id, TransferKind.DEPOSIT),
            *ex.transfers.of(account_id, TransferKind.WITHDRAWAL),
        ]
        return {"transfers": [transfer_json(t) for t in rows]}

    @router.post("/transfers/{transfer_id}/settle")
    async def settle_transfer(transfer_id: str, body: TransferOutcome) -> dict[str, Any]:
        if transfer_id not in ex.transfers.transfers:
            raise ApiError(404, "unknown_transfer", f"no transfer {transfer_id!r}")
        try:
            transfer = ex.settle_transfer(transfer_id, TransferState(body.status))
        except ValueError as exc:
            raise ApiError(409, "transfer_final", str(exc)) from None
        return transfer_json(transfer)

    @router.post("/accounts/{account_id}/keys", status_code=201)
    async def create_key(account_id: str, body: NewKey) -> dict[str, Any]:
        account_of(account_id)
        key = ex.create_api_key(
            account_id, body.profile, tuple(body.ip_allowlist), venue=body.venue
        )
        return {
            "api_key": key.key,
            "secret": key.secret,
            "venue": key.venue,
            "profile": body.profile,
            "permissions": sorted(p.value for p in KEY_PROFILES[body.profile]),
            "ip_allowlist": body.ip_allowlist,
        }

    @router.delete("/keys/{api_key:path}", status_code=204)
    async def revoke_key(api_key: str) -> None:
        # A path: Coinbase key names (organizations/{org}/apiKeys/{key}) and base64 Kraken
        # keys hold slashes.
        ex.revoke_api_key(api_key)

    @router.get("/books/{symbol}")
    async def book(symbol: str, limit: int = Query(1000, ge=1, le=10_000)) -> dict[str, Any]:
        update_id, bids, asks = ex.depth(symbol_of(symbol), limit)
        return {
            "symbol": symbol,
            "update_id": update_id,
            "bids": [[str(p), str(q)] for p, q in bids],
            "asks": [[str(p), str(q)] for p, q in asks],
        }

    @router.post("/market/pause")
    async def pause() -> dict[str, bool]:
        sim.market_running.clear()
        return {"running": False}

    @router.post("/market/resume")
    async def resume() -> dict[str, bool]:
        sim.market_running.set()
        return {"running": True}

    @router.post("/market/step")
    async def step(steps: int = Query(1, ge=1, le=10_000)) -> dict[str, int]:
        """Run ``steps`` steps of the generated market now; the simulator keeps answering
        meanwhile (the steps run in slices of about 10 ms)."""
        await sim.run_steps(steps)
        return {"steps": steps}

    @router.post("/market/prints")
    async def prints(body: Prints) -> dict[str, int]:
        """Print trades to the tape (no book change): load for stream benchmarks."""
        symbol = symbol_of(body.symbol)
        for n in range(body.count):
            side = Side.BUY if n % 2 else Side.SELL
            apply(ex, sim.provider, PrintTrade(symbol, body.price, body.quantity, side))
        return {"printed": body.count}

    @router.post("/symbols/{symbol}/halt")
    async def halt(symbol: str) -> dict[str, str]:
        ex.set_status(symbol_of(symbol), "HALT")
        return {"symbol": symbol, "status": "HALT"}

    @router.post("/symbols/{symbol}/resume")
    async def resume_symbol(symbol: str) -> dict[str, str]:
        ex.set_status(symbol_of(symbol), "TRADING")
        return {"symbol": symbol, "status": "TRADING"}

    @router.post("/clock")
    async def clock(body: Skew) -> dict[str, int]:
        ex.clock_skew_ms = body.skew_ms
        return {"clock_skew_ms": body.skew_ms, "server_time": ex.now_ms()}

    @router.post("/faults/rest")
    async def rest_fault(body: RestFaultSpec) -> dict[str, Any]:
        """The next ``count`` requests whose path starts with ``path_prefix`` (of ``method``,
        on ``venue``'s endpoints, when given) fail: ``error`` answers a 5xx, ``timeout`` holds
        the request unanswered, ``drop-response`` executes it and loses the answer."""
        sim.faults.rest.append(
            RestFault(body.mode, body.count, body.status, body.path_prefix, body.method, body.venue)
        )
        return body.model_dump()

    @router.post("/faults/streams/drop")
    async def drop(body: Drop) -> dict[str, int]:
        return {"dropped": sim.faults.drop(body.stream, body.venue)}

    @router.post("/faults/streams/stall")
    async def stall(body: Seconds) -> dict[str, Any]:
        sim.faults.stall(body.seconds, body.venue)
        return {"stalled_for_s": body.seconds, "venue": body.venue}

    @router.post("/faults/streams/delay")
    async def delay(body: Millis) -> dict[str, Any]:
        sim.faults.delay(body.ms, body.venue)
        return {"delay_ms": body.ms, "venue": body.venue}

    @router.post("/faults/streams/skip-sequence")
    async def skip(body: SymbolCount) -> dict[str, Any]:
        sim.faults.skip_sequence[sim.faults.key(symbol_of(body.symbol), body.venue)] = body.count
        return body.model_dump()

    @router.post("/faults/streams/repeat-sequence")
    async def repeat(body: SymbolCount) -> dict[str, Any]:
        sim.faults.repeat_sequence[sim.faults.key(symbol_of(body.symbol), body.venue)] = body.count
        return body.model_dump()

    @router.post("/faults/streams/corrupt-checksum")
    async def corrupt_checksum(body: SymbolCount) -> dict[str, Any]:
        """The next ``count`` book updates of the symbol carry a wrong checksum (Kraken)."""
        sim.faults.corrupt_checksum[sim.faults.key(symbol_of(body.symbol), body.venue)] = body.count
        return body.model_dump()

    @router.delete("/faults", status_code=204)
    async def clear_faults() -> None:
        """Clear everything a test can inject: REST and stream faults, tightened rate limits
        (back to the configured values, counters and bans forgotten), the clock's skew and
        halted symbols."""
        sim.clear_faults()

    @router.post("/rate-limits")
    async def set_limits(body: Limits) -> dict[str, Any]:
        for name, value in body.model_dump(exclude_none=True).items():
            setattr(sim.limiter.limits, name, value)
        return vars(sim.limiter.limits)

    @router.post("/rate-limits/reset")
    async def reset_limits() -> dict[str, bool]:
        sim.limiter.reset()
        return {"reset": True}

    @router.post("/orders/{symbol}/cancel-all")
    async def cancel_everything(symbol: str, account_id: str) -> dict[str, int]:
        account_of(account_id)
        cancelled = 0
        for order in ex.open_orders(account_id, symbol_of(symbol)):
            try:
                ex.cancel(account_id, symbol, order.order_id)
                cancelled += 1
            except Rejection:
                pass
        return {"cancelled": cancelled}

    return router

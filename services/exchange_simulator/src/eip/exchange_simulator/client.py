"""Python client of the simulator's admin API, and ccxt exchanges pointed at a simulator.

sim = SimulatorClient("http://127.0.0.1:8300")
key = await sim.create_account_with_key("alice", {"USDT": "10000"})
binance = sim.ccxt_binance(key)            # ccxt.async_support, only urls changed
await sim.skip_sequence("BTCUSDT", 1)      # the next diff event is lost
await sim.corrupt_checksum("BTCUSDT", 1, venue="kraken")
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from eip.exchange_simulator.ccxt_urls import ccxt_exchange


@dataclass(frozen=True)
class ApiCredentials:
    api_key: str
    secret: str
    account_id: str


class SimulatorClient:
    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, json: Any = None, **params: Any) -> Any:
        response = await self._http.request(
            method, f"/admin/v1{path}", json=json, params=params or None
        )
        response.raise_for_status()
        return response.json() if response.content else None

    # -- accounts ------------------------------------------------------------------------------

    async def create_account(self, account_id: str, balances: dict[str, str | Decimal]) -> None:
        await self._call(
            "POST",
            "/accounts",
            {
                "account_id": account_id,
                "balances": {k: str(v) for k, v in balances.items()},
            },
        )

    async def create_key(
        self,
        account_id: str,
        profile: str = "trading",
        ip_allowlist: list[str] | None = None,
        venue: str = "binance",
    ) -> ApiCredentials:
        """A key of ``venue``'s dialect (binance | kraken | coinbase) in that venue's format."""
        body = await self._call(
            "POST",
            f"/accounts/{account_id}/keys",
            {
                "profile": profile,
                "ip_allowlist": ip_allowlist or [],
                "venue": venue,
            },
        )
        return ApiCredentials(body["api_key"], body["secret"], account_id)

    async def create_account_with_key(
        self,
        account_id: str,
        balances: dict[str, str | Decimal],
        profile: str = "trading",
    ) -> ApiCredentials:
        await self.create_account(account_id, balances)
        return await self.create_key(account_id, profile)

    async def revoke_key(self, api_key: str) -> None:
        await self._call("DELETE", f"/keys/{api_key}")

    async def balances(self, account_id: str) -> dict[str, dict[str, Decimal]]:
        body = await self._call("GET", f"/accounts/{account_id}")
        return {a: {k: Decimal(v) for k, v in b.items()} for a, b in body["balances"].items()}

    async def cancel_all(self, account_id: str, symbol: str) -> int:
        """Cancel every open order of an account on ``symbol`` (as the simulator spells it);
        returns how many."""
        body = await self._call("POST", f"/orders/{symbol}/cancel-all", account_id=account_id)
        return int(body["cancelled"])

    async def deposit(self, account_id: str, asset: str, amount: str | Decimal) -> None:
        await self._call(
            "POST", f"/accounts/{account_id}/deposit", {"asset": asset, "amount": str(amount)}
        )

    async def record_transfer(
        self,
        account_id: str,
        kind: str,
        asset: str,
        amount: str | Decimal,
        *,
        fee: str | Decimal = "0",
        network: str = "",
        address: str = "",
        tx_id: str = "",
        status: str = "completed",
    ) -> dict[str, Any]:
        """A deposit (credited when ``completed``) or withdrawal (``amount`` + ``fee`` debited
        at once) in the simulator's ledger; the transfer as the admin API shows it."""
        body = {
            "kind": kind,
            "asset": asset,
            "amount": str(amount),
            "fee": str(fee),
            "network": network,
            "address": address,
            "tx_id": tx_id,
            "status": status,
        }
        result: dict[str, Any] = await self._call("POST", f"/accounts/{account_id}/transfers", body)
        return result

    async def settle_transfer(self, transfer_id: str, status: str) -> dict[str, Any]:
        """A pending transfer ``completed`` or ``failed``."""
        result: dict[str, Any] = await self._call(
            "POST", f"/transfers/{transfer_id}/settle", {"status": status}
        )
        return result

    # -- market --------------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/status")
        return result

    async def book(self, symbol: str, limit: int = 1000) -> dict[str, Any]:
        """The true book; ``symbol`` as the simulator spells it (``BTCUSDT``) or in the Kraken /
        Coinbase / normalized forms (``BTC/USDT``, ``BTC-USDT``), which map to it 1:1."""
        native = symbol.replace("/", "").replace("-", "").upper()
        result: dict[str, Any] = await self._call("GET", f"/books/{native}", limit=limit)
        return result

    async def pause_market(self) -> None:
        await self._call("POST", "/market/pause")

    async def resume_market(self) -> None:
        await self._call("POST", "/market/resume")

    async def step_market(self, steps: int = 1) -> None:
        await self._call("POST", "/market/step", steps=steps)

    async def print_trades(self, symbol: str, count: int, price: str, quantity: str) -> None:
        await self._call(
            "POST",
            "/market/prints",
            {
                "symbol": symbol,
                "count": count,
                "price": price,
                "quantity": quantity,
            },
        )

    # -- faults --------------------------------------------------------------------------------

    async def fail_requests(
        self,
        count: int = 1,
        status: int = 503,
        path_prefix: str = "",
        mode: str = "error",
        method: str | None = None,
        venue: str | None = None,
    ) -> None:
        """The next ``count`` matching REST requests fail: ``mode`` "error" (a 5xx), "timeout"
        (held unanswered) or "drop-response" (executed, the answer lost). ``method`` ("POST")
        and ``venue`` ("binance", "kraken", "coinbase") narrow what matches."""
        await self._call(
            "POST",
            "/faults/rest",
            {
                "mode": mode,
                "count": count,
                "status": status,
                "path_prefix": path_prefix,
                "method": method,
                "venue": venue,
            },
        )

    async def drop_responses(
        self,
        path_prefix: str,
        count: int = 1,
        method: str | None = None,
        venue: str | None = None,
    ) -> None:
        """The next ``count`` matching requests are executed but never answered: e.g. an
        order the venue has while the client sees a timeout."""
        await self.fail_requests(count, 504, path_prefix, "drop-response", method, venue)

    async def drop_streams(self, stream: str | None = None, venue: str | None = None) -> int:
        """Close stream connections now (private ones too): all, or those of ``venue``, or
        those carrying ``stream`` (``userData`` for Binance's user data sockets)."""
        body = await self._call("POST", "/faults/streams/drop", {"stream": stream, "venue": venue})
        return int(body["dropped"])

    async def stall_streams(self, seconds: float, venue: str | None = None) -> None:
        await self._call("POST", "/faults/streams/stall", {"seconds": seconds, "venue": venue})

    async def delay_streams(self, ms: int, venue: str | None = None) -> None:
        await self._call("POST", "/faults/streams/delay", {"ms": ms, "venue": venue})

    async def skip_sequence(self, symbol: str, count: int = 1, venue: str | None = None) -> None:
        """Lose the next ``count`` diffs of ``symbol`` in transit: a gap in Binance's ``U``/``u``
        or Coinbase's ``sequence_num``, a failing checksum on Kraken. ``venue`` ("binance",
        "kraken", "coinbase") aims at one dialect; None: whichever next sends that symbol."""
        await self._call(
            "POST",
            "/faults/streams/skip-sequence",
            {"symbol": symbol, "count": count, "venue": venue},
        )

    async def repeat_sequence(self, symbol: str, count: int = 1, venue: str | None = None) -> None:
        """Send the next ``count`` diffs of ``symbol`` twice (Binance, Coinbase)."""
        await self._call(
            "POST",
            "/faults/streams/repeat-sequence",
            {"symbol": symbol, "count": count, "venue": venue},
        )

    async def corrupt_checksum(self, symbol: str, count: int = 1, venue: str | None = None) -> None:
        """The next ``count`` Kraken book updates of ``symbol`` carry a wrong checksum."""
        await self._call(
            "POST",
            "/faults/streams/corrupt-checksum",
            {"symbol": symbol, "count": count, "venue": venue},
        )

    async def halt(self, symbol: str) -> None:
        await self._call("POST", f"/symbols/{symbol}/halt")

    async def resume_symbol(self, symbol: str) -> None:
        await self._call("POST", f"/symbols/{symbol}/resume")

    async def skew_clock(self, skew_ms: int) -> None:
        await self._call("POST", "/clock", {"skew_ms": skew_ms})

    async def clear_faults(self) -> None:
        """Every fault, tightened rate limit, clock skew and halt gone."""
        await self._call("DELETE", "/faults")

    async def set_rate_limits(self, **limits: int) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "/rate-limits", limits)
        return result

    async def reset_rate_limits(self) -> None:
        await self._call("POST", "/rate-limits/reset")

    # -- clients -------------------------------------------------------------------------------

    @property
    def ws_base_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    @property
    def kraken_ws_url(self) -> str:
        """Kraken WebSocket v2 public market data (real: ``wss://ws.kraken.com/v2``)."""
        return f"{self.ws_base_url}/kraken/v2"

    @property
    def coinbase_ws_url(self) -> str:
        """Coinbase Advanced Trade market data (real: ``wss://advanced-trade-ws.coinbase.com``)."""
        return f"{self.ws_base_url}/coinbase/ws"

    def ccxt_binance(self, credentials: ApiCredentials | None = None, pro: bool = False) -> Any:
        """An unmodified ccxt binance (async, or pro for WebSocket) aimed at this simulator."""
        return self._ccxt("binance", credentials, pro)

    def ccxt_coinbase(self, credentials: ApiCredentials | None = None, pro: bool = False) -> Any:
        """An unmodified ccxt coinbase (async, or pro for WebSocket) aimed at this simulator's
        Coinbase Advanced Trade dialect; ``credentials`` from ``create_key(..., venue="coinbase")``
        (the key name and its EC private key in PEM, which ccxt signs its JWTs with)."""
        return self._ccxt("coinbase", credentials, pro)

    def ccxt_kraken(self, credentials: ApiCredentials | None = None, pro: bool = False) -> Any:
        """An unmodified ccxt kraken (async, or pro for WebSocket v2) aimed at this simulator's
        Kraken dialect; ``credentials`` of a ``venue="kraken"`` key for the private API."""
        return self._ccxt("kraken", credentials, pro)

    def _ccxt(self, exchange_id: str, credentials: ApiCredentials | None, pro: bool) -> Any:
        if credentials is None:
            return ccxt_exchange(exchange_id, self.base_url, pro=pro)
        return ccxt_exchange(
            exchange_id, self.base_url, credentials.api_key, credentials.secret, pro
        )

"""Binance's WebSocket API (``/ws-api/v3``): request/response over one socket, and the user
data stream subscription current clients use (``userDataStream.subscribe.signature``), whose
events arrive as ``{"subscriptionId": n, "event": {...}}``. Also the legacy ``/ws/<listenKey>``
stream, whose events arrive bare.

Trading (``order.place``, ``order.test``, ``order.status``, ``order.cancel``,
``order.cancelReplace``, ``order.amend.keepPriority``, ``openOrders.status``,
``openOrders.cancelAll``, ``allOrders``, ``orderList.place.oco``, ``orderList.status``,
``orderList.cancel``, ``openOrderLists.status``, ``allOrderLists``): every request is signed
(``apiKey``, ``timestamp``, ``signature`` over the sorted params), costs the same request weight
against the client's IP as its REST twin, counts orders the same way, and runs the same
operation (``trading.py``). ``rateLimits`` comes back unless ``returnRateLimits`` is false.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from eip.exchange_simulator.binance import errors
from eip.exchange_simulator.binance.errors import BinanceError
from eip.exchange_simulator.binance.signing import verify, ws_api_payload, ws_value
from eip.exchange_simulator.binance.trading import Trading
from eip.exchange_simulator.binance.user_streams import Sink, UserStreams
from eip.exchange_simulator.binance.venue import MAX_RECV_WINDOW, VENUE, Ctx
from eip.exchange_simulator.core.accounts import ApiKey, Permission
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.core.orders import Rejection

TRADE, READ = Permission.TRADE, Permission.READ
Operation = Callable[[Trading, Ctx], Any]
# method: (operation, request weight, permission), as the REST twin
TRADING_METHODS: dict[str, tuple[Operation, int | Callable[[Ctx], int], Permission]] = {
    "order.place": (Trading.place, 1, TRADE),
    "order.test": (Trading.test, 1, TRADE),
    "order.status": (Trading.status, 4, READ),
    "order.cancel": (Trading.cancel, 1, TRADE),
    "order.cancelReplace": (Trading.cancel_replace, 1, TRADE),
    "order.amend.keepPriority": (Trading.amend_keep_priority, 4, TRADE),
    "openOrders.status": (Trading.open_orders, lambda c: 6 if c.get("symbol") else 80, READ),
    "openOrders.cancelAll": (Trading.cancel_all, 1, TRADE),
    "allOrders": (Trading.all_orders, 20, READ),
    "orderList.place.oco": (Trading.place_oco, 1, TRADE),
    "orderList.status": (Trading.order_list, 4, READ),
    "orderList.cancel": (Trading.cancel_list, 1, TRADE),
    "openOrderLists.status": (Trading.open_lists, 6, READ),
    "allOrderLists": (Trading.all_lists, 20, READ),
}

log = logging.getLogger(__name__)


class _Socket:
    """An outgoing queue per socket so that events and responses never interleave mid-send."""

    def __init__(self, ws: WebSocket, faults: Faults) -> None:
        self.ws = ws
        self.faults = faults
        self.ip = ws.client.host if ws.client else "unknown"
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def push(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(json.dumps(payload, separators=(",", ":")))

    async def writer(self) -> None:
        while (text := await self.queue.get()) is not None:
            await self.faults.before_send(VENUE)
            await self.ws.send_text(text)


class WsApi:
    def __init__(
        self, exchange: Exchange, user_streams: UserStreams, faults: Faults, trading: Trading
    ) -> None:
        self.exchange = exchange
        self.user_streams = user_streams
        self.faults = faults
        self.trading = trading
        self._subscription_ids = itertools.count(0)
        self._sockets: set[_Socket] = set()
        faults.on_drop(VENUE, self._drop)

    def _drop(self, stream_filter: str | None) -> int:
        if stream_filter not in (None, "userData"):
            return 0
        for sock in list(self._sockets):
            sock.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().create_task(sock.ws.close(1001))
        return len(self._sockets)

    async def serve(self, ws: WebSocket) -> None:
        sock = _Socket(ws, self.faults)
        self._sockets.add(sock)
        writer = asyncio.create_task(sock.writer())
        subscriptions: dict[int, tuple[str, Sink]] = {}
        try:
            while not writer.done():
                try:
                    text = await ws.receive_text()
                except (WebSocketDisconnect, RuntimeError):
                    break
                sock.push(self._handle(text, sock, subscriptions))
        finally:
            for account_id, sink in subscriptions.values():
                self.user_streams.detach(account_id, sink)
            self._sockets.discard(sock)
            sock.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 2)

    def _handle(
        self,
        text: str,
        sock: _Socket,
        subscriptions: dict[int, tuple[str, Sink]],
    ) -> dict[str, Any]:
        try:
            request = json.loads(text)
            req_id, method = request.get("id"), request.get("method")
            params = request.get("params") or {}
            if not isinstance(params, dict):
                raise BinanceError(400, -1130, "Data sent for parameter 'params' is not valid.")
        except (ValueError, AttributeError):
            return {
                "id": None,
                "status": 400,
                "error": {"code": -1000, "msg": "Invalid JSON request"},
            }
        if method in TRADING_METHODS:
            return self._trade(req_id, method, params, sock)
        try:
            result = self._dispatch(method, params, sock, subscriptions)
        except BinanceError as exc:
            return {"id": req_id, "status": exc.status, "error": exc.body()}
        return {"id": req_id, "status": 200, "result": result, "rateLimits": []}

    def _trade(
        self, req_id: Any, method: str, params: dict[str, Any], sock: _Socket
    ) -> dict[str, Any]:
        operation, weight, permission = TRADING_METHODS[method]
        ctx = Ctx({k: ws_value(v) for k, v in params.items()}, self.exchange.now_ms(), sock.ip)
        limiter = self.trading.limiter
        answer: dict[str, Any] = {"id": req_id}
        try:
            limiter.charge(sock.ip, weight(ctx) if callable(weight) else weight, ctx.now_ms)
            ctx.key = self._verify(params, permission)
            answer.update({"status": 200, "result": operation(self.trading, ctx)})
        except BinanceError as exc:
            answer.update({"status": exc.status, "error": exc.body()})
        except Rejection as exc:
            err = errors.from_rejection(exc)
            answer.update({"status": err.status, "error": err.body()})
        except Exception:  # a simulator bug: answered as REST answers it, the socket lives on
            log.exception("simulator bug while serving %s", method)
            answer.update(
                {
                    "status": 500,
                    "error": {
                        "code": -1000,
                        "msg": "An unknown error occurred while processing the request.",
                    },
                }
            )
        if ctx.get("returnRateLimits") != "false":
            answer["rateLimits"] = self._rate_limits(sock.ip, ctx)
        return answer

    def _rate_limits(self, ip: str, ctx: Ctx) -> list[dict[str, Any]]:
        limits = self.trading.limiter.limits
        counts: list[dict[str, Any]] = [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": limits.weight_per_minute,
                "count": self.trading.limiter.used_weight(ip),
            }
        ]
        if "X-MBX-ORDER-COUNT-10S" in ctx.headers:
            for interval, num, limit, header in (
                ("SECOND", 10, limits.orders_per_10s, "X-MBX-ORDER-COUNT-10S"),
                ("DAY", 1, limits.orders_per_day, "X-MBX-ORDER-COUNT-1D"),
            ):
                counts.append(
                    {
                        "rateLimitType": "ORDERS",
                        "interval": interval,
                        "intervalNum": num,
                        "limit": limit,
                        "count": int(ctx.headers[header]),
                    }
                )
        return counts

    def _dispatch(
        self,
        method: str,
        params: dict[str, Any],
        sock: _Socket,
        subscriptions: dict[int, tuple[str, Sink]],
    ) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.exchange.now_ms()}
        if method == "userDataStream.subscribe.signature":
            account_id = self._verify(params, READ).account_id
            sub_id = next(self._subscription_ids)

            sink = _wrapping_sink(sock, sub_id)
            self.user_streams.attach(account_id, sink)
            subscriptions[sub_id] = (account_id, sink)
            return {"subscriptionId": sub_id}
        if method == "userDataStream.unsubscribe":
            wanted = params.get("subscriptionId")
            for sub_id in list(subscriptions):
                if wanted is None or int(wanted) == sub_id:
                    account_id, old = subscriptions.pop(sub_id)
                    self.user_streams.detach(account_id, old)
            return {}
        if method == "session.subscriptions":
            return [{"subscriptionId": s} for s in sorted(subscriptions)]
        raise BinanceError(400, -1000, f"Unsupported method {method!r} in this simulator")

    def _verify(self, params: dict[str, Any], permission: Permission) -> ApiKey:
        """A signed request's key, checked as REST checks it: the key exists for this dialect,
        has ``permission``, the timestamp is in its window and the signature is right."""
        key = self.exchange.key_for(str(params.get("apiKey", "")))
        if key is None or permission not in key.permissions:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        try:
            timestamp = int(params["timestamp"])
            recv_window = float(params.get("recvWindow", 5000))
            signature = str(params["signature"])
        except (KeyError, ValueError):
            raise BinanceError(
                400,
                -1102,
                "Mandatory parameter 'timestamp' or 'signature' was not sent, was "
                "empty/null, or malformed.",
            ) from None
        now = self.exchange.now_ms()
        if timestamp >= now + 1000 or now - timestamp > min(recv_window, MAX_RECV_WINDOW):
            raise BinanceError(
                400, -1021, "Timestamp for this request is outside of the recvWindow."
            )
        if not verify(key.secret, ws_api_payload(params), signature):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        return key

    async def serve_listen_key(self, ws: WebSocket, account_id: str) -> None:
        """The legacy user data stream: bare events on ``/ws/<listenKey>``."""
        sock = _Socket(ws, self.faults)
        self._sockets.add(sock)

        def bare(event: dict[str, Any]) -> None:
            sock.push(event)

        self.user_streams.attach(account_id, bare)
        writer = asyncio.create_task(sock.writer())
        try:
            while not writer.done():
                try:
                    await ws.receive_text()
                except (WebSocketDisconnect, RuntimeError):
                    break
        finally:
            self.user_streams.detach(account_id, bare)
            self._sockets.discard(sock)
            sock.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 2)


def _wrapping_sink(sock: _Socket, sub_id: int) -> Sink:
    def sink(event: dict[str, Any]) -> None:
        sock.push({"subscriptionId": sub_id, "event": event})

    return sink

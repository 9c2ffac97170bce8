"""Pointing an unmodified ccxt exchange at the simulator: rewrite only its ``urls``.

Every ``https://<host>[:port]`` in ``urls['api']`` becomes the simulator's HTTP base and every
``wss://<host>[:port]`` its WebSocket base, keeping the paths, so ccxt builds exactly the
requests it would send to the real exchange. One simulator speaks every venue on one port, so
WebSocket endpoints that real venues tell apart only by host are served under paths of their
own (``WS_PATHS``): Coinbase's bare ``advanced-trade-ws.coinbase.com``, Kraken's public and
authenticated ``ws.kraken.com/v2`` and ``ws-auth.kraken.com/v2``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_HTTP = re.compile(r"^https://[^/]+")
_WS = re.compile(r"^wss://(?P<host>[^/:?]+)(?::\d+)?(?P<path>[/?].*)?$")

# Real host + path (no trailing slash; the bare host for a root endpoint) -> simulator path.
WS_PATHS = {
    "advanced-trade-ws.coinbase.com": "/coinbase/ws",
    "advanced-trade-ws-user.coinbase.com": "/coinbase/ws",
    "ws.kraken.com/v2": "/kraken/v2",
    "ws-auth.kraken.com/v2": "/kraken/v2-auth",
    # Kraken v1 is not simulated: these paths are not served, so a v1 client fails to connect.
    "ws.kraken.com": "/kraken/v1",
    "ws-auth.kraken.com": "/kraken/v1-auth",
    "beta-ws.kraken.com": "/kraken/v1",
    "beta-ws-auth.kraken.com": "/kraken/v1-auth",
}


def _ws(match: re.Match[str], ws_base: str) -> str:
    path = match.group("path") or ""
    path = WS_PATHS.get(match.group("host") + path.rstrip("/"), path)
    return ws_base.rstrip("/") + path


def rewrite(value: Any, http_base: str, ws_base: str) -> Any:
    if isinstance(value, str):
        return _WS.sub(lambda m: _ws(m, ws_base), _HTTP.sub(http_base.rstrip("/"), value))
    if isinstance(value, dict):
        return {k: rewrite(v, http_base, ws_base) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite(v, http_base, ws_base) for v in value]
    return value


def simulator_urls(urls: dict[str, Any], http_base: str) -> dict[str, Any]:
    """A copy of a ccxt ``urls`` dict with every API endpoint moved to the simulator."""
    ws_base = re.sub(r"^http", "ws", http_base)
    moved = copy.deepcopy(urls)
    moved["api"] = rewrite(urls["api"], http_base, ws_base)
    return moved


def ccxt_exchange(
    exchange_id: str,
    http_base: str,
    api_key: str | None = None,
    secret: str | None = None,
    pro: bool = False,
) -> Any:
    """An unmodified ccxt exchange (``ccxt.async_support``, or ``ccxt.pro`` for WebSocket) with
    only its ``urls`` moved to the simulator at ``http_base``."""
    if pro:
        import ccxt.pro as ccxt_module
    else:
        import ccxt.async_support as ccxt_module
    config: dict[str, Any] = {}
    if api_key is not None:
        config = {"apiKey": api_key, "secret": secret}
    exchange = getattr(ccxt_module, exchange_id)(config)
    exchange.urls = simulator_urls(exchange.urls, http_base)
    return exchange

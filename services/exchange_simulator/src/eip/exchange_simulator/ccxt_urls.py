"""Pointing an unmodified ccxt exchange at the simulator: rewrite only its ``urls``.

Every ``https://<host>[:port]`` in ``urls['api']`` becomes the simulator's HTTP base and every
``wss://<host>[:port]`` its WebSocket base, keeping the paths, so ccxt builds exactly the
requests it would send to the real exchange. A WebSocket host whose real path is the bare host
(Coinbase's ``advanced-trade-ws.coinbase.com``) is served under a path of its own on the
simulator (``WS_PATHS``), since one simulator speaks every venue on one port.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_HTTP = re.compile(r"^https://[^/]+")
_WS = re.compile(r"^wss://(?P<host>[^/:?]+)(?::\d+)?(?P<path>[/?].*)?$")

WS_PATHS = {
    "advanced-trade-ws.coinbase.com": "/coinbase/ws",
    "advanced-trade-ws-user.coinbase.com": "/coinbase/ws",
}


def _ws(match: re.Match[str], ws_base: str) -> str:
    path = match.group("path") or ""
    if path in ("", "/"):
        path = WS_PATHS.get(match.group("host"), path)
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

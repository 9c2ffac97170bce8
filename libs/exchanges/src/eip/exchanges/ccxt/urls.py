"""Point a ccxt instance at another host (the simulator, a proxy) with paths unchanged."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit


def rewrite_urls(urls: Any, base_url: str) -> Any:
    """Every http(s)/ws(s) URL in ccxt's ``urls['api']`` tree moved to one host, paths kept."""
    base = urlsplit(base_url)
    if isinstance(urls, dict):
        return {k: rewrite_urls(v, base_url) for k, v in urls.items()}
    if isinstance(urls, list):
        return [rewrite_urls(v, base_url) for v in urls]
    if isinstance(urls, str) and "://" in urls:
        parts = urlsplit(urls)
        secure_ws = parts.scheme in ("ws", "wss")
        scheme = ("wss" if base.scheme == "https" else "ws") if secure_ws else base.scheme
        return urlunsplit((scheme, base.netloc, parts.path, parts.query, parts.fragment))
    return urls

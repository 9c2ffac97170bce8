"""A venue's WebSocket address from the HTTP address it is served at (the exchange simulator, a
recording proxy: one host for REST and streams)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def ws_url(base_url: str) -> str:
    """``http://host:port/path`` → ``ws://host:port/path`` (``https`` → ``wss``), path kept."""
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://") :]
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://") :]
    return base_url


def ws_origin(http_url: str) -> str:
    """``http://host:port/any?thing`` → ``ws://host:port`` (``https`` → ``wss``): the host a
    one-host venue serves its streams on, for a path of the venue's own."""
    parts = urlsplit(http_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "", "", ""))

"""HMAC-SHA256 request signing as Binance verifies it.

REST: the signature covers the query string followed directly by the form body, exactly as
sent (percent-encoded), minus the ``signature`` parameter itself. WebSocket API: the params
sorted by name and joined as ``k=v&...``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

_SIGNATURE_PARAM = re.compile(r"(^|&)signature=[^&]*")


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def strip_signature(raw: str) -> str:
    return _SIGNATURE_PARAM.sub("", raw).lstrip("&")


def rest_payload(raw_query: str, raw_body: str) -> str:
    return strip_signature(raw_query) + strip_signature(raw_body)


def verify(secret: str, payload: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, payload), signature.lower())


def ws_api_payload(params: Mapping[str, Any]) -> str:
    return "&".join(f"{k}={ws_value(v)}" for k, v in sorted(params.items()) if k != "signature")


def ws_value(value: Any) -> str:
    """A WebSocket API parameter as text, as it is signed (JSON booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

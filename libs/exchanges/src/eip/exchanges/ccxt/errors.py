"""ccxt's exception tree → ``eip.exchanges.contract.errors`` (checked most specific first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ccxt

from eip.exchanges.contract.errors import (
    BadRequest,
    ExchangeError,
    RateLimited,
    TransientExchangeError,
    UnknownSymbol,
)


def retry_after_s(headers: Mapping[str, Any] | None) -> float | None:
    if not headers:
        return None
    for key, value in headers.items():
        if str(key).lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


def map_ccxt_error(
    exchange: str, exc: BaseException, headers: Mapping[str, Any] | None = None
) -> ExchangeError:
    text = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, ExchangeError):
        return exc
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return RateLimited(exchange, text, retry_after_s(headers))
    if isinstance(exc, ccxt.OperationFailed):  # NetworkError, ExchangeNotAvailable, timeouts, 5xx
        return TransientExchangeError(exchange, text)
    if isinstance(exc, ccxt.BadSymbol):
        return UnknownSymbol(exchange, text)
    if isinstance(exc, (ccxt.BadRequest, ccxt.NotSupported, ccxt.ArgumentsRequired)):
        return BadRequest(exchange, text)
    if isinstance(exc, (OSError, TimeoutError)):
        return TransientExchangeError(exchange, text)
    if isinstance(exc, ccxt.BaseError):
        return ExchangeError(exchange, text)
    return TransientExchangeError(exchange, text)  # aiohttp and the like under ccxt

"""The exceptions market-data adapters raise, instead of venue or library exceptions.

Services decide on the class alone: ``TransientExchangeError`` (and its subclasses) is worth
retrying later, ``BadRequest`` and ``UnknownSymbol`` are the caller's mistake and never are.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of every adapter error; ``exchange`` is the ccxt id."""

    def __init__(self, exchange: str, message: str) -> None:
        super().__init__(f"{exchange}: {message}")
        self.exchange = exchange


class TransientExchangeError(ExchangeError):
    """Network trouble, timeouts, 5xx, maintenance: the same call may work later."""


class RateLimited(TransientExchangeError):
    """The venue refused for load (429/418, ccxt RateLimitExceeded/DDoSProtection)."""

    def __init__(self, exchange: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(exchange, message)
        self.retry_after_s = retry_after_s


class CircuitOpen(TransientExchangeError):
    """The exchange's circuit breaker refuses calls until its cool-down ends."""

    def __init__(self, exchange: str, retry_after_s: float) -> None:
        super().__init__(exchange, f"circuit open, next probe in {retry_after_s:.1f}s")
        self.retry_after_s = retry_after_s


class BadRequest(ExchangeError):
    """The venue rejected the parameters (bad timeframe, limit, time range, ...)."""


class UnknownSymbol(BadRequest):
    """The symbol is not listed on the venue."""


class UnknownExchange(ValueError):
    """No adapter exists for this exchange id."""

"""The one retry policy of the platform, and the per-dependency circuit breaker."""

from eip.resilience.circuit import CircuitBreaker, CircuitOpenError, CircuitState
from eip.resilience.retry import RetryPolicy, retry_async

__all__ = ["CircuitBreaker", "CircuitOpenError", "CircuitState", "RetryPolicy", "retry_async"]

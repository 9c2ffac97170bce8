"""The one retry policy of the platform, the per-dependency circuit breaker, and the one
classification of failures into "a dependency is down" (retry later) and real errors."""

from eip.resilience.circuit import CircuitBreaker, CircuitOpenError, CircuitState
from eip.resilience.retry import RetryPolicy, retry_async
from eip.resilience.transient import DependencyUnavailable, is_transient

__all__ = [
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "DependencyUnavailable",
    "RetryPolicy",
    "is_transient",
    "retry_async",
]

"""The one retry policy of the platform."""

from eip.resilience.retry import RetryPolicy, retry_async

__all__ = ["RetryPolicy", "retry_async"]

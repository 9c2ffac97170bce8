from __future__ import annotations

from eip.resilience import DependencyUnavailable


class KafkaUnavailable(DependencyUnavailable):
    """The brokers did not answer in time; the message says where we looked."""


class PoisonMessage(Exception):
    """A record that can never be processed: raise from a handler to dead-letter it."""

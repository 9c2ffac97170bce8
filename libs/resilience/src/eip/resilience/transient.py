"""The one answer to "is this failure a dependency that is down, or a real error?".

A handler that failed because PostgreSQL, Kafka, Vault or the network is unavailable must be
retried later — its input was fine — while any other failure means the input or the code is
wrong. The Kafka consumer asks this before dead-lettering a record (``eip.bus.Consumer``);
anything else that must tell the two apart asks here too, so the list lives in one place.

Transient:

- ``DependencyUnavailable`` and its subclasses: the platform's own "could not reach it"
  errors (``eip.storage.DatabaseUnavailable``, ``eip.bus.KafkaUnavailable``,
  ``eip.vault.VaultUnavailable``);
- ``ConnectionError``, ``TimeoutError`` (``asyncio.TimeoutError`` is the same class) and
  ``OSError`` (refused, reset, unreachable);
- psycopg's ``OperationalError`` — a lost connection, a server shutting down, and
  ``psycopg_pool.PoolTimeout`` ("couldn't get a connection after 5.00 sec"), a subclass;
- aiokafka errors Kafka marks ``retriable`` (no leader, coordinator moving, node not ready,
  request timed out …) and ``KafkaTimeoutError`` (a batch that waited for a broker too long).

What is subtle: this module imports neither psycopg nor aiokafka. An exception of their types
can only exist once its library was imported, so the library is looked up in ``sys.modules``;
a service without a database never loads psycopg because of this check. An exception raised
``from`` a transient one (``raise DomainError(...) from exc``) is transient too: the chain is
followed through ``__cause__`` (not ``__context__``, which also links unrelated errors raised
while handling another).
"""

from __future__ import annotations

import sys


class DependencyUnavailable(Exception):
    """A dependency (database, broker, secret store …) cannot be reached now; retrying later,
    with the same input, is the cure."""


_BUILTIN = (DependencyUnavailable, ConnectionError, TimeoutError, OSError)
_MAX_CHAIN = 8


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it was raised from) means a dependency is
    unavailable; see the module docstring for the list."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < _MAX_CHAIN:
        if _transient_itself(current):
            return True
        current = current.__cause__
        seen += 1
    return False


def _transient_itself(exc: BaseException) -> bool:
    if isinstance(exc, _BUILTIN):
        return True
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.OperationalError):
        return True
    kafka_errors = sys.modules.get("aiokafka.errors")
    if kafka_errors is not None and isinstance(exc, kafka_errors.KafkaError):
        return bool(getattr(exc, "retriable", False)) or isinstance(
            exc, kafka_errors.KafkaTimeoutError
        )
    return False

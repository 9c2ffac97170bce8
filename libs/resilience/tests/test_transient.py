"""Which failures mean "a dependency is down" (retry later) and which are real errors."""

from __future__ import annotations

import psycopg
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RecordTooLargeError,
    UnknownMemberIdError,
)
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout

from eip.bus import KafkaUnavailable
from eip.resilience import DependencyUnavailable, is_transient
from eip.storage import DatabaseUnavailable
from eip.vault import VaultUnavailable

OUTAGES = [
    PoolTimeout("couldn't get a connection after 5.00 sec"),
    psycopg.OperationalError("server closed the connection unexpectedly"),
    pg_errors.AdminShutdown("terminating connection due to administrator command"),
    DatabaseUnavailable("PostgreSQL accepted no connection within 5s"),
    KafkaUnavailable("Kafka did not answer"),
    VaultUnavailable("Vault did not answer"),
    KafkaConnectionError("Unable to bootstrap"),
    KafkaTimeoutError(),
    NodeNotReadyError(),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    OSError(113, "No route to host"),
]
ERRORS = [
    ValueError("price is not a number"),
    KeyError("instrument"),
    pg_errors.UniqueViolation("duplicate key"),
    pg_errors.UndefinedTable("relation does not exist"),
    RecordTooLargeError(),
    UnknownMemberIdError(),
    RuntimeError("a bug"),
]


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
def test_a_dependency_that_is_down_is_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize("exc", ERRORS, ids=lambda e: type(e).__name__)
def test_a_bad_input_or_a_bug_is_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_the_platforms_unavailable_errors_share_one_base() -> None:
    for cls in (DatabaseUnavailable, KafkaUnavailable, VaultUnavailable):
        assert issubclass(cls, DependencyUnavailable)


class StoreFailed(Exception):
    pass


def store_failed(link_cause: bool) -> StoreFailed:
    try:
        raise PoolTimeout("couldn't get a connection after 5.00 sec")
    except PoolTimeout as outage:
        failed = StoreFailed("could not store the trades")
        failed.__cause__ = outage if link_cause else None
        failed.__context__ = outage  # what raising inside the except block sets anyway
        return failed


def test_an_error_raised_from_an_outage_is_transient_but_one_merely_raised_during_it_is_not() -> (
    None
):
    assert is_transient(store_failed(link_cause=True))  # raise ... from outage
    assert not is_transient(store_failed(link_cause=False))  # a bug in the error path

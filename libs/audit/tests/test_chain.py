"""The hash chain detects an edited event, an edited hash, a deleted and a reordered event."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from eip.audit import GENESIS_HASH, AuditEntry, canonical_bytes, compute_hash, verify_chain


def chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    prev = GENESIS_HASH
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        e = AuditEntry(
            event_id=f"id-{i}",
            sequence=i,
            actor="svc",
            action="credential.use",
            subject=f"cred-{i}",
            time=t0 + timedelta(microseconds=i),
            outcome="success",
            details={"b": "2", "a": "1"},
            prev_hash=prev,
        )
        e = replace(e, hash=compute_hash(e))
        entries.append(e)
        prev = e.hash
    return entries


def test_hash_is_sha256_of_prev_hash_and_canonical_bytes() -> None:
    e = chain(1)[0]
    expected = hashlib.sha256(GENESIS_HASH.encode() + canonical_bytes(e)).hexdigest()
    assert e.hash == expected
    # canonical: sorted keys, no whitespace, UTC time with microseconds, hash excluded
    assert canonical_bytes(e) == (
        b'{"action":"credential.use","actor":"svc","details":{"a":"1","b":"2"},'
        b'"event_id":"id-1","outcome":"success","prev_hash":"' + GENESIS_HASH.encode() + b'",'
        b'"sequence":1,"subject":"cred-1","time":"2026-01-01T00:00:00.000001Z"}'
    )


def test_intact_chain_verifies() -> None:
    assert verify_chain(chain(5)) is None


def test_edited_event_is_caught_at_that_event() -> None:
    entries = chain(5)
    entries[2] = replace(entries[2], outcome="denied")
    broken = verify_chain(entries)
    assert broken is not None
    assert broken.sequence == 3
    assert "content" in broken.reason


def test_edited_event_with_recomputed_hash_is_caught_at_the_next() -> None:
    entries = chain(5)
    forged = replace(entries[2], actor="someone-else")
    entries[2] = replace(forged, hash=compute_hash(forged))
    broken = verify_chain(entries)
    assert broken is not None
    assert broken.sequence == 4
    assert "prev_hash" in broken.reason


@pytest.mark.parametrize("index", [0, 2, 3])
def test_deleted_event_is_caught(index: int) -> None:
    entries = chain(5)
    del entries[index]
    broken = verify_chain(entries)
    assert broken is not None
    assert broken.sequence == index + 1


def test_truncating_the_tail_is_not_visible_to_the_chain_alone() -> None:
    """The limit of any hash chain: dropping the newest events leaves a valid shorter chain.
    The Kafka copy (audit.events.v1) is the independent witness of the head for that case."""
    assert verify_chain(chain(5)[:4]) is None


def test_time_must_be_timezone_aware() -> None:
    e = replace(chain(1)[0], time=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone"):
        canonical_bytes(e)

"""The hash chain itself, free of I/O so it is unit-tested and reused by every verifier.

``hash = SHA-256(prev_hash || canonical bytes of the event without hash)``, hex-encoded. The
canonical bytes are a JSON object with sorted keys, no whitespace, UTF-8, of exactly these
fields: event_id, sequence, actor, action, subject, time (UTC, ISO 8601 with microseconds),
outcome, details (string to string), prev_hash. JSON rather than protobuf bytes because
protobuf serialization is not canonical across implementations, and a verifier in another
language must reproduce the bytes. The first event's prev_hash is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    event_id: str
    sequence: int
    actor: str
    action: str
    subject: str
    time: datetime
    outcome: str
    details: Mapping[str, str] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""


def canonical_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(entry: AuditEntry) -> bytes:
    body = {
        "event_id": entry.event_id,
        "sequence": entry.sequence,
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "time": canonical_time(entry.time),
        "outcome": entry.outcome,
        "details": {str(k): str(v) for k, v in entry.details.items()},
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(entry.prev_hash.encode() + canonical_bytes(entry)).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    sequence: int
    reason: str


def verify_chain(
    entries: Iterable[AuditEntry],
    start_hash: str = GENESIS_HASH,
    start_sequence: int = 1,
) -> BrokenLink | None:
    """The first broken link of ``entries`` (in sequence order), or None if the chain holds.

    Catches an edited row (its hash no longer matches its content), an edited hash (the next
    row's prev_hash no longer matches), and a deleted row (a gap in the sequence, or a
    prev_hash pointing elsewhere).
    """
    expected_prev = start_hash
    expected_seq = start_sequence
    for entry in entries:
        if entry.sequence != expected_seq:
            return BrokenLink(
                expected_seq, f"sequence {expected_seq} is missing (next is {entry.sequence})"
            )
        if entry.prev_hash != expected_prev:
            return BrokenLink(entry.sequence, "prev_hash does not match the previous event")
        if compute_hash(entry) != entry.hash:
            return BrokenLink(entry.sequence, "hash does not match the event's content")
        expected_prev = entry.hash
        expected_seq = entry.sequence + 1
    return None

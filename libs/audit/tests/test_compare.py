"""The comparison's bookkeeping, without infrastructure: sequence ranges and what a batch of
Kafka records says against the events PostgreSQL holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from eip.audit import GENESIS_HASH, AuditEntry, compute_hash, to_proto
from eip.audit.compare import Comparison, SequenceSet
from eip.audit.kafka_copy import CopyRecord


def chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    prev = GENESIS_HASH
    for i in range(1, n + 1):
        e = AuditEntry(
            event_id=f"id-{i}",
            sequence=i,
            actor="svc",
            action="credential.use",
            subject=f"cred-{i}",
            time=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=i),
            outcome="success",
            prev_hash=prev,
        )
        e = replace(e, hash=compute_hash(e))
        entries.append(e)
        prev = e.hash
    return entries


def records(entries: list[AuditEntry]) -> list[CopyRecord]:
    return [CopyRecord(0, i, to_proto(e)) for i, e in enumerate(entries)]


def test_sequence_set_keeps_distinct_numbers_as_ranges() -> None:
    s = SequenceSet()
    assert [s.add(n) for n in (5, 7, 6, 6, 1, 9, 2)] == [True, True, True, False, True, True, True]
    assert len(s) == 6
    assert (s.first, s.last) == (1, 9)
    assert s.describe() == "1-2, 5-7, 9"
    assert s.describe(limit=1) == "1-2 and 2 more ranges"
    assert SequenceSet().first is None


def test_identical_copies_with_duplicates_are_consistent() -> None:
    entries = chain(4)
    result = Comparison()
    # at-least-once: the relay re-sent 3 and 4 after a failed acknowledgement
    result.check(records(entries + entries[2:]), {e.sequence: e for e in entries})
    assert result.consistent
    assert (result.records, len(result.on_kafka), len(result.present)) == (6, 4, 4)
    assert result.report()[-1] == "OK: 4 events on Kafka match PostgreSQL"


def test_missing_and_edited_events_name_the_first_sequence() -> None:
    entries = chain(6)
    stored = {e.sequence: e for e in entries[:4]}  # 5 and 6 deleted: the tail
    stored[3] = replace(entries[2], outcome="denied")  # and 3 edited (its hash kept)
    result = Comparison()
    result.check(records(entries), stored)
    assert not result.consistent
    assert result.first_discrepancy == 3
    assert result.missing.describe() == "5-6"
    assert result.differing.describe() == "3"
    report = result.report()
    assert "DELETED: 2 events on Kafka are missing from PostgreSQL (sequences 5-6)" in report
    assert report[-1] == "DISCREPANCY at sequence 3: edited"

    tail_only = Comparison()
    tail_only.check(records(entries), {e.sequence: e for e in entries[:4]})
    assert tail_only.report()[-1] == "DISCREPANCY at sequence 5: missing from PostgreSQL"


def test_a_record_that_is_no_audit_event_is_a_discrepancy() -> None:
    result = Comparison()
    result.check([CopyRecord(0, 17, None)], {})
    assert not result.consistent
    assert result.report()[-1] == "DISCREPANCY: unreadable record at partition 0 offset 17"

"""Compare the chain in PostgreSQL with its Kafka copy: the check ``verify`` cannot make.

``verify`` proves that the rows in PostgreSQL form one unbroken chain, which catches an edited
row, an edited hash and a deleted row in the middle. Deleting the newest rows leaves a chain
that still verifies, and so does a chain rewritten with fresh hashes from some point on. The
copy on Kafka, published by the relay only after each commit, is the witness for both:

- an event on Kafka missing from PostgreSQL was deleted (the tail included);
- an event on both whose content or hash differs was edited (or the chain rewritten);
- an event in PostgreSQL after the copy's last one is not relayed yet: lag, informational;
- an event in PostgreSQL up to the copy's last one but absent from it is outside the topic's
  retention (or the copy lost it): informational, ``verify`` still covers it.

The topic carries one chain (one schema); the relay publishes at least once, so duplicates of
a sequence are expected and each copy is checked.
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from eip.audit.kafka_copy import CopyRecord
from eip.audit.trail import AuditTrail, to_proto


class SequenceSet:
    """Distinct sequence numbers kept as sorted, disjoint ranges: a chain's sequences are
    mostly contiguous, so a long trail costs a few ranges, not one entry per event."""

    def __init__(self) -> None:
        self._ranges: list[list[int]] = []  # [first, last], sorted, not touching
        self._count = 0

    def add(self, n: int) -> bool:
        """Add ``n``; False if it was already there."""
        i = bisect.bisect_right(self._ranges, n, key=lambda r: r[0]) - 1  # last start <= n
        if i >= 0 and self._ranges[i][0] <= n <= self._ranges[i][1]:
            return False
        joins_left = i >= 0 and self._ranges[i][1] == n - 1
        joins_right = i + 1 < len(self._ranges) and self._ranges[i + 1][0] == n + 1
        if joins_left and joins_right:
            self._ranges[i][1] = self._ranges[i + 1][1]
            del self._ranges[i + 1]
        elif joins_left:
            self._ranges[i][1] = n
        elif joins_right:
            self._ranges[i + 1][0] = n
        else:
            self._ranges.insert(i + 1, [n, n])
        self._count += 1
        return True

    def __len__(self) -> int:
        return self._count

    @property
    def first(self) -> int | None:
        return self._ranges[0][0] if self._ranges else None

    @property
    def last(self) -> int | None:
        return self._ranges[-1][1] if self._ranges else None

    def describe(self, limit: int = 5) -> str:
        shown = [f"{a}" if a == b else f"{a}-{b}" for a, b in self._ranges[:limit]]
        more = len(self._ranges) - limit
        return ", ".join(shown) + (f" and {more} more ranges" if more > 0 else "")


@dataclass
class Comparison:
    records: int = 0  # records read from Kafka, duplicates included
    on_kafka: SequenceSet = field(default_factory=SequenceSet)
    present: SequenceSet = field(default_factory=SequenceSet)  # on Kafka and in PostgreSQL
    missing: SequenceSet = field(default_factory=SequenceSet)  # deleted from PostgreSQL
    differing: SequenceSet = field(default_factory=SequenceSet)  # edited in PostgreSQL
    undecodable: list[str] = field(default_factory=list)  # where, for records no AuditEvent
    lag: int = 0  # in PostgreSQL after the copy's last event: not relayed yet
    uncovered: int = 0  # in PostgreSQL up to the copy's last event, absent from the copy

    @property
    def first_discrepancy(self) -> int | None:
        firsts = [s for s in (self.missing.first, self.differing.first) if s is not None]
        return min(firsts) if firsts else None

    @property
    def consistent(self) -> bool:
        return self.first_discrepancy is None and not self.undecodable

    def check(self, records: list[CopyRecord], stored: dict[int, Any]) -> None:
        """Fold in a batch of Kafka records and the PostgreSQL events of their sequences."""
        for record in records:
            self.records += 1
            if record.event is None:
                self.undecodable.append(record.where)
                continue
            sequence = record.event.sequence
            self.on_kafka.add(sequence)
            entry = stored.get(sequence)
            if entry is None:
                self.missing.add(sequence)
                continue
            self.present.add(sequence)
            if to_proto(entry) != record.event:
                self.differing.add(sequence)

    def report(self) -> list[str]:
        lines = [
            f"Kafka copy: {self.records} records, {len(self.on_kafka)} events"
            + (f" (sequences {self.on_kafka.describe()})" if len(self.on_kafka) else "")
        ]
        if len(self.missing):
            lines.append(
                f"DELETED: {len(self.missing)} events on Kafka are missing from PostgreSQL"
                f" (sequences {self.missing.describe()})"
            )
        if len(self.differing):
            lines.append(
                f"EDITED: {len(self.differing)} events differ between Kafka and PostgreSQL"
                f" (sequences {self.differing.describe()})"
            )
        if self.undecodable:
            lines.append(
                f"UNREADABLE: {len(self.undecodable)} records on Kafka are no audit event"
                f" (first at {self.undecodable[0]})"
            )
        lines.append(
            f"lag: {self.lag} events in PostgreSQL after sequence {self.on_kafka.last or 0}"
            " not relayed yet (informational)"
        )
        if self.uncovered:
            lines.append(
                f"not on Kafka: {self.uncovered} events up to sequence {self.on_kafka.last}"
                " (outside the topic's retention; verify covers them; informational)"
            )
        first = self.first_discrepancy
        if first is not None:
            kind = "missing from PostgreSQL" if first == self.missing.first else "edited"
            lines.append(f"DISCREPANCY at sequence {first}: {kind}")
        elif self.undecodable:
            lines.append(f"DISCREPANCY: unreadable record at {self.undecodable[0]}")
        else:
            lines.append(f"OK: {len(self.present)} events on Kafka match PostgreSQL")
        return lines


async def compare(
    conn: AsyncConnection[Any], trail: AuditTrail, copy: AsyncIterator[list[CopyRecord]]
) -> Comparison:
    """Compare the Kafka copy, batch by batch, with the events in PostgreSQL. Every record
    was published after its event committed, so a record read here always has its row unless
    the row was removed."""
    result = Comparison()
    async for records in copy:
        sequences = {r.event.sequence for r in records if r.event is not None}
        result.check(records, await trail.by_sequence(conn, sorted(sequences)))
    last = result.on_kafka.last or 0
    result.lag = await trail.count(conn, after=last)
    result.uncovered = await trail.count(conn, up_to=last) - len(result.present)
    return result

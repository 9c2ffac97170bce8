"""Which accounts this instance acts for: the partitions of ``orders.commands.v1`` the consumer
group gave it, each with the lease epoch it holds (its fencing token).

An account belongs to the partition its key (the account id) hashes to, as the producer places
its commands (``eip.bus.partition_for_key``), so the owner of a partition owns every order,
outbox row and trigger of those accounts. A partition counts as owned only once its state is
restored (``grant`` comes after the restore), and stops counting the moment it is given up or
the lease turns out to be superseded (``drop``).
"""

from __future__ import annotations

import asyncio

from eip.bus import partition_for_key


class NotOwner(Exception):
    """This instance does not act for the partition (now)."""

    def __init__(self, partition: int) -> None:
        super().__init__(f"partition {partition} of orders.commands.v1 is not owned here")
        self.partition = partition


class Ownership:
    def __init__(self, instance_id: str, partitions: int) -> None:
        self.instance_id = instance_id
        self.partitions = partitions
        self._epochs: dict[int, int] = {}
        self._cache: dict[str, int] = {}
        self.changed = asyncio.Event()

    def partition_of(self, account_id: str) -> int:
        partition = self._cache.get(account_id)
        if partition is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            partition = partition_for_key(account_id.encode(), range(self.partitions))
            self._cache[account_id] = partition
        return partition

    def epoch(self, partition: int) -> int:
        epoch = self._epochs.get(partition)
        if epoch is None:
            raise NotOwner(partition)
        return epoch

    def owns(self, partition: int) -> bool:
        return partition in self._epochs

    def owns_account(self, account_id: str) -> bool:
        return self.partition_of(account_id) in self._epochs

    def owned(self) -> list[int]:
        return sorted(self._epochs)

    def epochs(self) -> dict[int, int]:
        return dict(self._epochs)

    def grant(self, partition: int, epoch: int) -> None:
        self._epochs[partition] = epoch
        self.changed.set()

    def drop(self, partition: int) -> None:
        if self._epochs.pop(partition, None) is not None:
            self.changed.set()

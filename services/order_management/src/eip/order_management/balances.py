"""Balances for pre-trade risk from the account service's ``account.balances.v1``: the latest
spot balance per (account, exchange, asset), kept by a consumer every instance runs (a group
of its own, from the earliest offset: the topic is compacted, so reading it whole is reading
the latest balance of every key).

What is subtle:

- **Absent is not zero.** The account service publishes a key only when its ``free`` or
  ``locked`` changes, so a key never seen means the platform does not know what the account
  holds there (not connected, not synced yet, an asset it never held). Risk refuses on it
  (``balance_unavailable``, with the reason) instead of trading on nothing.
- **Stale is the consumer's, not the record's.** An unchanged balance is not republished, so
  a record's age says nothing about whether it is still true. What can go stale is this
  consumer's view: it counts as fresh as the broker's last answer to its fetches, and only
  while it is caught up with every partition (checked every ``check_s``); after
  ``max_age_s`` without that (Kafka down, the consumer stopped, stuck or far behind) every
  balance is refused as stale.
- ``as_of`` (what the exposure counts as not yet locked at the venue) is when this instance
  received the record: orders placed after it are counted against its free amount.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from aiokafka import TopicPartition

from eip.bus import Consumer, Record
from eip.events.v1 import account_pb2
from eip.order_management.venues import BalanceUnknown, Holding

log = logging.getLogger(__name__)
SPOT = "spot"


@dataclass(frozen=True, slots=True)
class _Latest:
    free: Decimal
    total: Decimal
    received: float  # monotonic


class TopicBalances:
    """A ``BalanceSource`` reading ``account.balances.v1`` (``handle`` is the consumer's
    handler; ``watch`` keeps the freshness verdict while the consumer runs)."""

    def __init__(
        self,
        topic: str,
        *,
        max_age_s: float = 10.0,
        check_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topic = topic
        self.max_age_s = max_age_s
        self.check_s = check_s
        self._clock = clock
        self._latest: dict[tuple[str, str, str], _Latest] = {}
        self._caught_up_at: float | None = None  # monotonic; None: never caught up yet

    async def handle(self, record: Record) -> None:
        balance = record.message
        assert isinstance(balance, account_pb2.Balance)
        if (balance.wallet or SPOT) != SPOT:
            return  # staked, earn, ...: never spendable by an order
        try:
            free, total = Decimal(balance.free), Decimal(balance.total)
        except InvalidOperation:
            log.warning(
                "balance record unreadable",
                extra={"account_id": balance.account_id, "asset": balance.asset},
            )
            return
        key = (balance.account_id, balance.exchange, balance.asset)
        self._latest[key] = _Latest(free, total, self._clock())

    def fresh_as_of(self, age_s: float) -> None:
        """The consumer is caught up with a view of the topic ``age_s`` old (its oldest
        partition's last fetch)."""
        self._caught_up_at = self._clock() - max(0.0, age_s)

    async def watch(self, consumer: Callable[[], Consumer | None]) -> None:
        """While the consumer runs: whenever it is caught up with every partition, the source
        is as fresh as the oldest partition's last fetch (which stops moving when Kafka is
        unreachable or the consumer stopped; being caught up alone would not)."""
        while True:
            current = consumer()
            with contextlib.suppress(Exception):  # not started or rebalancing: not caught up
                if current is not None:
                    await self._check(current)
            await asyncio.sleep(self.check_s)

    async def _check(self, consumer: Consumer) -> None:
        partitions = [TopicPartition(self.topic, p) for p in consumer.partitions_for(self.topic)]
        if not partitions:
            return
        fetched = [consumer.fetched_at(tp) for tp in partitions]
        if any(f is None for f in fetched):
            return
        for tp in partitions:
            if not await consumer.caught_up(tp):
                return
        self.fresh_as_of(time.time() - min(f for f in fetched if f is not None))

    async def holding(self, account_id: str, exchange: str, asset: str) -> Holding | None:
        now = self._clock()
        if self._caught_up_at is None:
            raise BalanceUnknown(
                f"balances from {self.topic} are not read up to date yet (starting)"
            )
        behind = now - self._caught_up_at
        if behind > self.max_age_s:
            raise BalanceUnknown(
                f"balances from {self.topic} are stale: not caught up for {behind:.0f} s"
                f" (at most {self.max_age_s:g} s)"
            )
        latest = self._latest.get((account_id, exchange, asset))
        if latest is None:
            raise BalanceUnknown(
                f"the account service has published no {asset} balance of this account at"
                f" {exchange}"
            )
        return Holding(latest.free, latest.total, latest.received)

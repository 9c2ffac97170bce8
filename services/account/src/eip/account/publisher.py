"""Balances to ``account.balances.v1``: one compacted record per key, published only when the
amounts changed, with their value in the service's default quote currency at that moment.

What was last published per key is kept in PostgreSQL (``published_balances``), so "only on
change" holds across restarts, and a publish that failed (Kafka down) is retried with the next
change or reconcile of that account at that exchange: each call publishes every key whose
stored total differs from its last published one, not only the keys of the call's changes.

A key is ``account:exchange:asset`` for the spot wallet and ``account:exchange:asset:wallet``
for a wallet the venue reports apart (staked or earn balances). Several connections of
one account at one exchange are added up under one key. A value moving with prices alone is
not a change: consumers that want live values join the amounts with ``md.tickers.v1`` or call
the HTTP API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from google.protobuf.timestamp_pb2 import Timestamp

from eip.account.store import AccountStore, BalanceChange, ConnectionRecord
from eip.account.valuation import PriceGraph, Rate
from eip.bus import Producer
from eip.events.topics import TopicSpec, record_key
from eip.events.v1 import account_pb2, common_pb2
from eip.storage import DatabaseUnavailable

log = logging.getLogger(__name__)


def balance_key(account_id: str, exchange: str, asset: str, wallet: str) -> str:
    parts = [account_id, exchange, asset] + ([] if wallet == "spot" else [wallet])
    return record_key(*parts).decode()


class BalancePublisher:
    def __init__(
        self,
        store: AccountStore,
        producer: Callable[[], Producer | None],
        topic: TopicSpec,
        graph: PriceGraph,
        quote: str,
    ) -> None:
        self._store = store
        self._producer = producer
        self._topic = topic
        self._graph = graph
        self._quote = quote
        self.published = 0

    async def __call__(self, rec: ConnectionRecord, changes: list[BalanceChange]) -> None:
        await self.publish(rec)

    async def publish(self, rec: ConnectionRecord) -> int:
        producer = self._producer()
        if producer is None:
            return 0  # Kafka not connected yet: the next change or reconcile publishes
        sent = 0
        try:
            pending = await self._store.unpublished(rec.account_id, rec.exchange)
            for asset, wallet, free, locked in pending:
                key = balance_key(rec.account_id, rec.exchange, asset, wallet)
                message = self._message(rec, asset, wallet, free, locked)
                await producer.publish(self._topic, key.encode(), message)
                await self._store.mark_published(key, free, locked)
                sent += 1
        except DatabaseUnavailable as exc:
            log.warning("balances not published", extra={"error": str(exc)})
        except Exception as exc:  # Kafka trouble: kept unpublished, retried with the next call
            log.warning("balances not published", extra={"error": f"{type(exc).__name__}"})
        self.published += sent
        return sent

    def _message(
        self, rec: ConnectionRecord, asset: str, wallet: str, free: Decimal, locked: Decimal
    ) -> account_pb2.Balance:
        total = free + locked
        now = Timestamp()
        now.FromDatetime(datetime.now(UTC))
        message = account_pb2.Balance(
            account_id=rec.account_id,
            exchange=rec.exchange,
            asset=asset,
            times=common_pb2.EventTimes(received_time=now),
            free=str(free),
            locked=str(locked),
            total=str(total),
            quote_currency=self._quote,
            wallet=wallet,
        )
        rate = self._graph.rate(asset, self._quote)
        if isinstance(rate, Rate):
            message.quote_value = str(total * rate.rate)
            message.quote_route = describe_route(rate)
            message.price_age_ms = int(rate.age_s * 1000)
        return message


def describe_route(rate: Rate) -> str:
    legs = " ".join(
        f"{leg.pair.exchange}:{leg.pair.symbol}{' (inverse)' if leg.inverse else ''}"
        for leg in rate.legs
    )
    return f"{rate.kind} {legs}".strip()

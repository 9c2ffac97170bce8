"""The topics the service reads and writes, in one value so tests can give unique copies."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields

from eip.automation.settings import AutomationSettings
from eip.events.topics import (
    ALERTS_ARBITRAGE,
    ALERTS_ARBITRAGE_EXECUTIONS,
    AUDIT_EVENTS,
    AUTOMATION_RULES,
    MD_BOOK_DELTAS,
    MD_BOOK_SNAPSHOTS,
    MD_CANDLES,
    MD_TICKERS,
    MD_TRADES,
    ORDERS_COMMANDS,
    ORDERS_EVENTS,
    TopicSpec,
)


@dataclass(frozen=True)
class Topics:
    tickers: TopicSpec = MD_TICKERS
    trades: TopicSpec = MD_TRADES
    candles: TopicSpec = MD_CANDLES
    book_snapshots: TopicSpec = MD_BOOK_SNAPSHOTS
    book_deltas: TopicSpec = MD_BOOK_DELTAS
    commands: TopicSpec = ORDERS_COMMANDS
    order_events: TopicSpec = ORDERS_EVENTS
    rules: TopicSpec = AUTOMATION_RULES
    arbitrage: TopicSpec = ALERTS_ARBITRAGE
    arbitrage_executions: TopicSpec = ALERTS_ARBITRAGE_EXECUTIONS
    audit: TopicSpec = AUDIT_EVENTS


def topics_of(settings: AutomationSettings) -> Topics:
    """The registry's topics under the names the settings give."""
    base = Topics()
    return Topics(
        **{
            f.name: dataclasses.replace(
                getattr(base, f.name), name=getattr(settings, f"{f.name}_topic")
            )
            for f in fields(Topics)
        }
    )


async def unique_topics(make: Callable[[TopicSpec], Awaitable[TopicSpec]]) -> Topics:
    """A copy of every topic made by ``make`` (the tests' ``make_topic``)."""
    base = Topics()
    return Topics(**{f.name: await make(getattr(base, f.name)) for f in fields(Topics)})

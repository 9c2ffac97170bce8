"""``bench/order_book_service_path.py`` keeps measuring what it says: its core function, on a few
hundred recorded frames per venue against the real broker, gets every delta acknowledged and
the deltas read back from Kafka are the ones published, contiguous per book and epoch. (The
numbers themselves are the bench's to print, never asserted here.)"""

from __future__ import annotations

import importlib.util
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS
from eip.testing.plugin import TopicFactory

from .test_kafka_rebuild import read_topic

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[3] / "bench" / "order_book_service_path.py"
FRAMES = 250  # per capture and round


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("order_book_service_path", BENCH)
    assert spec is not None, BENCH
    assert spec.loader is not None, BENCH
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def by_book(messages: list[Any]) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """(exchange, symbol) → the (epoch, sequence) of its deltas, in the order given."""
    books: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for m in messages:
        books[(m.instrument.exchange, m.instrument.symbol)].append((m.epoch, m.sequence))
    return dict(books)


async def test_the_service_path_bench_gets_every_delta_acknowledged_and_read_back_in_sequence(
    kafka_bootstrap_servers: str, make_topic: TopicFactory
) -> None:
    path = bench()
    deltas_topic = await make_topic(MD_BOOK_DELTAS)
    snapshots_topic = await make_topic(MD_BOOK_SNAPSHOTS)
    captures = [(exchange, path.load(name)) for exchange, name in path.CAPTURES]

    # two rounds: the second replay of each capture is a new feed, so every book a new epoch
    run = await path.service_path(
        kafka_bootstrap_servers,
        captures,
        deltas_topic,
        snapshots_topic,
        rounds=2,
        frames_per_capture=FRAMES,
    )

    assert FRAMES * 2 < run.frames <= FRAMES * 4
    assert run.lost == []
    assert run.dropped == 0
    published = run.of(deltas_topic)
    assert published
    assert all(r.acked is not None for r in run.published)
    assert all(r.acked >= r.entered for r in run.published)
    assert len(run.latencies_ms()) == len(run.published)

    read = await read_topic(kafka_bootstrap_servers, deltas_topic, len(published))
    books = by_book(read)
    assert books == by_book([r.message for r in published])
    assert {exchange for exchange, _ in books} == {"kraken", "binance"}
    for book, deltas in books.items():
        epochs: dict[int, list[int]] = defaultdict(list)
        for epoch, sequence in deltas:
            epochs[epoch].append(sequence)
        assert list(epochs) == sorted(epochs), book  # epochs only go up
        for sequences in epochs.values():
            assert sequences == list(range(1, len(sequences) + 1)), book
    assert any(len({epoch for epoch, _ in deltas}) == 2 for deltas in books.values())

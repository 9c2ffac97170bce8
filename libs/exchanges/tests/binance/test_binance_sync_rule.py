"""Binance's update-id rule as properties over generated event sequences."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from eip.exchanges.binance.book_sync import DepthSync, Verdict


@st.composite
def chains(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    """A snapshot id and contiguous events around it: the stream started before the snapshot."""
    start = draw(st.integers(1, 1_000))
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=40))
    events, first = [], start
    for size in sizes:
        events.append((first, first + size - 1))
        first += size
    snapshot = draw(st.integers(start - 1, events[-1][1] - 1))
    return snapshot, events


@given(chains(), st.data())
def test_a_contiguous_stream_with_repeats_applies_each_new_event_once(
    chain: tuple[int, list[tuple[int, int]]], data: st.DataObject
) -> None:
    snapshot, events = chain
    stream = list(events)
    for _ in range(data.draw(st.integers(0, 5))):  # repeats, as the simulator's fault sends
        at = data.draw(st.integers(1, len(stream)))
        stream.insert(at, stream[at - 1])
    sync = DepthSync(snapshot)
    applied = [e for e in stream if sync.check(*e) is Verdict.APPLY]

    assert applied == [e for e in events if e[1] > snapshot]
    assert sync.last_update_id == events[-1][1]


@given(chains(), st.data())
def test_a_lost_event_is_one_gap_at_the_next_event(
    chain: tuple[int, list[tuple[int, int]]], data: st.DataObject
) -> None:
    snapshot, events = chain
    later = [i for i, e in enumerate(events) if e[0] > snapshot + 1 and i + 1 < len(events)]
    if not later:
        return
    lost = data.draw(st.sampled_from(later))
    sync = DepthSync(snapshot)
    verdicts = [sync.check(*e) for i, e in enumerate(events) if i != lost]

    assert Verdict.GAP in verdicts
    first_gap = verdicts.index(Verdict.GAP)
    assert first_gap == lost  # the event right after the lost one (indexes shifted by one)
    assert all(v is not Verdict.GAP for v in verdicts[:first_gap])


def test_a_snapshot_older_than_the_stream_is_a_gap() -> None:
    assert DepthSync(100).check(105, 110) is Verdict.GAP
    assert DepthSync(100).check(101, 101) is Verdict.APPLY
    assert DepthSync(100).check(90, 100) is Verdict.SKIP
    assert DepthSync(100).check(5, 4) is Verdict.GAP  # malformed

"""A consumer's copy of the published books: the latest snapshot plus the deltas after it.

Feed it ``BookSnapshot`` records from ``md.book.snapshots.v1`` (at least the latest per key) and
``BookDelta`` records from ``md.book.deltas.v1`` in partition order. Rules, per book:

- a snapshot is adopted when it is newer than what the copy holds (a higher epoch, or the same
  epoch at a higher sequence), or whenever the copy is out of sync and the snapshot is not older;
  a snapshot of an epoch older than any record seen is superseded and ignored; a snapshot at
  exactly the copy's position is compared with it, and a difference is reported
  as out of sync (``mismatch``);
- a delta of an older epoch, or of the same epoch at or below the copy's sequence, is already
  included (or superseded) and skipped, so redelivered records are harmless;
- a delta at sequence + 1 of the same epoch is applied;
- a sequence jump (``gap``) or a delta of a newer epoch before that epoch's snapshot
  (``epoch``) takes the copy out of sync until a snapshot repairs it;
- an out-of-sync marker (a snapshot with ``out_of_sync`` set, no levels) not older than the
  copy empties it and takes it out of sync (``source:<reason>``) until a newer epoch's snapshot.

The copy holds the top ``depth`` levels per side, exactly as the service publishes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from eip.book import L2Book
from eip.events.v1 import order_book_pb2
from eip.exchanges.contract.book_events import BookKey


@dataclass
class RebuiltBook:
    key: BookKey
    book: L2Book
    epoch: int
    sequence: int
    depth: int
    in_sync: bool = True
    # why not in sync: "gap", "epoch", "mismatch", or "source:<reason>" when the service said so
    problem: str = ""
    newest_epoch: int = 0  # the highest epoch any record showed: older ones are superseded


class BookRebuilder:
    def __init__(self) -> None:
        self._books: dict[BookKey, RebuiltBook] = {}

    def get(self, key: BookKey) -> RebuiltBook | None:
        return self._books.get(key)

    def keys(self) -> list[BookKey]:
        return list(self._books)

    def on_snapshot(self, message: order_book_pb2.BookSnapshot) -> None:
        key = BookKey(message.instrument.exchange, message.instrument.symbol)
        current = self._books.get(key)
        position = (message.epoch, message.sequence)
        if current is not None:
            if message.epoch < current.newest_epoch:
                return
            held = (current.epoch, current.sequence)
            closed = current.problem.startswith("source:")
            if closed and not message.out_of_sync and message.epoch <= current.epoch:
                return  # only a newer epoch follows the service's out-of-sync marker
            if message.out_of_sync:
                if position < held:
                    return
            elif position < held or (position == held and current.in_sync):
                if position == held and not _same(current.book, message):
                    current.in_sync, current.problem = False, "mismatch"
                return
        book = L2Book(message.price_decimals, message.size_decimals)
        if message.out_of_sync:
            # The service stopped trusting the book here: so must every copy of it.
            self._books[key] = RebuiltBook(
                key,
                book,
                message.epoch,
                message.sequence,
                message.depth,
                in_sync=False,
                problem=f"source:{message.desync_reason}",
                newest_epoch=message.epoch,
            )
            return
        book.replace(
            [(lv.price, lv.quantity) for lv in message.bids],
            [(lv.price, lv.quantity) for lv in message.asks],
        )
        self._books[key] = RebuiltBook(
            key, book, message.epoch, message.sequence, message.depth, newest_epoch=message.epoch
        )

    def on_delta(self, message: order_book_pb2.BookDelta) -> None:
        key = BookKey(message.instrument.exchange, message.instrument.symbol)
        current = self._books.get(key)
        if current is None:
            return  # nothing to apply it to until a snapshot arrives
        if message.epoch < current.epoch:
            return
        if message.epoch > current.epoch:
            current.in_sync, current.problem = False, "epoch"
            current.newest_epoch = max(current.newest_epoch, message.epoch)
            return
        if message.sequence <= current.sequence or not current.in_sync:
            return
        if message.sequence != current.sequence + 1:
            current.in_sync, current.problem = False, "gap"
            return
        current.book.apply(
            [(lv.price, lv.quantity) for lv in message.bids],
            [(lv.price, lv.quantity) for lv in message.asks],
        )
        current.sequence = message.sequence


def _same(book: L2Book, message: order_book_pb2.BookSnapshot) -> bool:
    other = L2Book(book.price_decimals, book.size_decimals)
    other.replace(
        [(lv.price, lv.quantity) for lv in message.bids],
        [(lv.price, lv.quantity) for lv in message.asks],
    )
    return book.bid_strings() == other.bid_strings() and book.ask_strings() == other.ask_strings()

"""Coinbase's cursor paging, as keyset paging: a page ends with the key of its last item (the
``cursor`` the client sends back, opaque to it), and the next page starts strictly past that
key in the listing's order. Items placed or changed between two requests neither repeat nor
shift a page, and an item that left the listing (an open order filled meanwhile) does not lose
the client its place."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def page(
    items: Iterable[T],
    key: Callable[[T], Any],
    after: Any,
    limit: int,
    *,
    descending: bool,
) -> tuple[list[T], Any]:
    """Up to ``limit`` of ``items`` (already in listing order, by ``key``) past ``after``
    (None: from the start); and the last one's key when more follow, else None."""
    out: list[T] = []
    for item in items:
        k = key(item)
        if after is not None and not (k < after if descending else k > after):
            continue
        if len(out) == limit:
            return out, key(out[-1])
        out.append(item)
    return out, None

"""A transfer cursor holds the venue's position; one that does not is a BadRequest, not a 500."""

from __future__ import annotations

import pytest

from eip.exchanges.contract.errors import BadRequest
from eip.exchanges.contract.transfers import TransferCursor, TransferKind, cursor_position


def test_a_cursor_gives_its_position_and_no_cursor_the_default() -> None:
    assert cursor_position("kraken", TransferCursor(TransferKind.DEPOSIT, "1700000000"), 5) == (
        1700000000
    )
    assert cursor_position("kraken", None, 5) == 5


def test_a_cursor_that_holds_no_position_is_a_bad_request_naming_it() -> None:
    with pytest.raises(BadRequest, match="not a transfer cursor: 'yesterday'"):
        cursor_position("kraken", TransferCursor(TransferKind.WITHDRAWAL, "yesterday"), 0)

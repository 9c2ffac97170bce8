"""Every call into ccxt runs in a decimal context of its own.

ccxt's ``decimal_to_precision`` — behind ``price_to_precision``, ``amount_to_precision`` and the
number formatting of many request builders — sets the *current* decimal context to
ROUND_HALF_UP with Underflow trapped, and never puts it back. In a service the current context
is the calling task's: without this, an order-management or account task that placed an order
through ccxt went on computing its own figures (risk, valuation, PnL) in another rounding than
the same code in a process without ccxt. Tasks ccxt starts during a call (ccxt.pro's socket
readers) copy the call's context, so its changes stay there too.
"""

from __future__ import annotations

import decimal
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def in_own_decimal_context(call: Callable[[], Awaitable[T]]) -> T:
    """``await call()`` in a copy of the current decimal context, dropped afterwards."""
    with decimal.localcontext():
        return await call()

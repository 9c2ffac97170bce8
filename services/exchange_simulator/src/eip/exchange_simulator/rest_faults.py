"""The one way a dialect's REST endpoint meets the injected REST faults (``core/faults.py``):
every endpoint of every dialect answers through ``answer_with_faults``, so each fault mode works
on every path of every venue, order entry included.

- ``error``: the dialect's own 5xx body (``failure(status)``); the request is not executed.
- ``timeout``: nothing is executed and nothing is answered until the client gives up (or the
  hold ends: then the 5xx).
- ``drop-response``: the request is executed in full (the venue has the order) and its answer
  is lost. This is what a load balancer in front of a real venue does when the backend's reply
  does not come back in time: it holds the client's connection until its idle timeout (AWS ALB
  and nginx default to 60 s) and then answers 504 Gateway Timeout with its own body, not the
  venue's. Clients time out long before (ccxt: 10 s) and see no answer at all. The hold ends
  early once the client has gone, so abandoned requests do not pile up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from eip.exchange_simulator.core.faults import Faults

HOLD_SECONDS = 60.0  # a load balancer's idle timeout
_POLL_SECONDS = 0.25


async def answer_with_faults(
    faults: Faults,
    request: Request,
    venue: str,
    answer: Callable[[], Awaitable[Response]],
    failure: Callable[[int], Response],
) -> Response:
    """``answer()`` unless a REST fault for this request (path, method, ``venue``) says
    otherwise; ``failure(status)`` is the dialect's 5xx for the ``error`` and ``timeout``
    modes."""
    fault = faults.take_rest_fault(request.url.path, request.method, venue)
    if fault is None:
        return await answer()
    if fault.mode == "error":
        return failure(fault.status)
    if fault.mode == "timeout":
        await _hold(request)
        return failure(fault.status)
    await answer()  # drop-response: done, and the answer is lost on the way back
    await _hold(request)
    return PlainTextResponse("504 Gateway Time-out", status_code=504)


async def _hold(request: Request) -> None:
    """Keep the client waiting until it hangs up or the load balancer's timeout passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HOLD_SECONDS
    while loop.time() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(_POLL_SECONDS)

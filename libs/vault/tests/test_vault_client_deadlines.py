"""hvac is synchronous: the facade runs it on the client's own threads, and a hung Vault must
neither block the event loop nor hold a caller (or a thread) forever.

"Hung" here is what a stopped Vault process looks like on the wire: a listening socket nobody
accepts from. The kernel completes the handshake and takes the request; no answer ever comes.
No infrastructure needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from eip.vault import VaultClient, VaultUnavailable

TOKEN = "hvs.deadlinetesttoken0000000000"


@contextlib.contextmanager
def hung_vault() -> Iterator[str]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


async def eventually(condition: Callable[[], bool], within_s: float) -> float:
    """Seconds until ``condition`` held; fails after ``within_s``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within_s, "condition never held"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def a_call_on_the_hung_vault(client: VaultClient) -> asyncio.Task[dict[str, str] | None]:
    """A call started and holding one of the client's threads."""
    call = asyncio.create_task(client.kv_get(f"tests/hung-{client.threads_busy}"))
    busy = client.threads_busy
    await eventually(lambda: client.threads_busy == busy + 1, within_s=2)
    return call


async def test_a_hung_vault_fails_at_the_socket_timeout_while_the_loop_runs_on() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    with hung_vault() as addr:
        client = VaultClient(addr, TOKEN, timeout_s=0.5)
        beat = asyncio.create_task(ticker())
        started = time.monotonic()
        try:
            with pytest.raises(VaultUnavailable, match="did not answer") as info:
                await client.kv_get("tests/hung")
        finally:
            beat.cancel()
            await client.aclose()
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 3
    # the loop kept turning while the call waited (on the loop, ticks would be ~0)
    assert ticks >= 20
    assert TOKEN not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None  # not even requests' exception rides along
    assert client.threads_busy == 0


async def test_the_caller_is_released_at_the_deadline_and_the_thread_by_its_socket_timeout() -> (
    None
):
    with hung_vault() as addr:
        client = VaultClient(addr, TOKEN, timeout_s=1.5, deadline_s=0.3)
        started = time.monotonic()
        with pytest.raises(VaultUnavailable, match=r"deadline 0\.3 s"):
            await client.transit_encrypt("eip-key", b"x")
        assert time.monotonic() - started < 1.2  # the deadline, not the socket timeout
        assert client.threads_busy == 1  # the abandoned request is still out...
        # ...until its own read timeout ends it: no thread waits forever
        assert await eventually(lambda: client.threads_busy == 0, within_s=5) < 4
        await client.aclose()


async def test_a_cancelled_call_returns_at_once_and_frees_its_thread_by_the_socket_timeout() -> (
    None
):
    with hung_vault() as addr:
        client = VaultClient(addr, TOKEN, timeout_s=1.0, deadline_s=60)
        call = await a_call_on_the_hung_vault(client)
        cancelled_at = time.monotonic()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert time.monotonic() - cancelled_at < 0.5
        assert await eventually(lambda: client.threads_busy == 0, within_s=5) < 4
        await client.aclose()


async def test_a_call_queued_behind_a_full_pool_still_fails_at_its_deadline() -> None:
    with hung_vault() as addr:
        client = VaultClient(addr, TOKEN, timeout_s=2, deadline_s=0.4, max_threads=1)
        first = await a_call_on_the_hung_vault(client)
        started = time.monotonic()
        with pytest.raises(VaultUnavailable, match="deadline"):
            await client.kv_get("tests/queued")  # never gets the one thread
        assert time.monotonic() - started < 1.5
        with pytest.raises(VaultUnavailable):
            await first
        # the queued call was dropped, not run late: once the first thread is free it stays so
        await eventually(lambda: client.threads_busy == 0, within_s=5)
        await asyncio.sleep(0.3)
        assert client.threads_busy == 0
        await client.aclose()


async def test_closing_the_client_fails_its_queued_calls_as_unavailable() -> None:
    with hung_vault() as addr:
        client = VaultClient(addr, TOKEN, timeout_s=1, deadline_s=30, max_threads=1)
        running = await a_call_on_the_hung_vault(client)
        queued = asyncio.create_task(client.kv_get("tests/queued"))
        await asyncio.sleep(0.05)
        await client.aclose()
        with pytest.raises(VaultUnavailable, match="was closed"):  # not a stray CancelledError
            await queued
        with pytest.raises(VaultUnavailable, match="did not answer"):  # its socket timeout
            await running


async def test_a_closed_client_refuses_calls_without_a_thread() -> None:
    with hung_vault() as addr:
        client = VaultClient(addr, TOKEN)
        await client.aclose()
        await client.aclose()  # idempotent
        with pytest.raises(VaultUnavailable, match="closed"):
            await client.health()
        assert client.threads_busy == 0


async def test_the_client_repr_names_the_address_and_never_the_token() -> None:
    async with VaultClient("http://127.0.0.1:8200/", TOKEN) as client:
        assert repr(client) == "VaultClient(addr='http://127.0.0.1:8200')"

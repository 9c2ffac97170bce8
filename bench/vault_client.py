"""Vault round trips per second through the async facade (``eip.vault.VaultClient``: hvac on
the client's own threads, awaited within a deadline) beside bare hvac called directly in the
same run, against the same Vault (the local one of ``make up``) — so the cost of the thread
hop is a ratio, not a guess.

Two calls the auth service makes on its hot paths: a Transit ``sign`` (ES256, JWS marshaling:
every token issued) and a KV v2 read (every credential use). Each is timed one at a time
(facade: one await after the other; baseline: the same hvac method in a plain loop on one
thread) and with ``--concurrency`` calls in flight (facade: ``asyncio.gather`` over its pool
of as many threads; baseline: hvac on a ``ThreadPoolExecutor`` of as many threads). Rounds
alternate the two; the best round of each counts. Printed per case: round trips per
wall-clock second and this process's CPU microseconds per call (all its threads), each with
the facade / bare hvac ratio — the CPU figure is the steadier one on a shared machine.

    uv run python bench/vault_client.py [--calls 400] [--rounds 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import hvac
import requests

from eip.testing.endpoints import vault_endpoint
from eip.vault import VaultClient

MESSAGE = base64.b64encode(b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9").decode()


def bare_calls(client: hvac.Client, key: str, path: str) -> dict[str, Callable[[], object]]:
    transit: Any = client.secrets.transit  # types-hvac leaves Transit unannotated
    return {
        "transit sign": lambda: transit.sign_data(
            key, hash_input=MESSAGE, hash_algorithm="sha2-256", marshaling_algorithm="jws"
        ),
        "kv read": lambda: client.secrets.kv.v2.read_secret_version(
            path, raise_on_deleted_version=True
        ),
    }


def facade_calls(
    client: VaultClient, key: str, path: str
) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "transit sign": lambda: client.transit_sign(
            key, b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9"
        ),
        "kv read": lambda: client.kv_get(path),
    }


Measure = tuple[float, float]  # (calls per wall-clock second, this process's CPU µs per call)


def measured(calls: int, start: float, cpu_start: float) -> Measure:
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return calls / wall, cpu / calls * 1e6


async def facade_rate(call: Callable[[], Awaitable[object]], calls: int, in_flight: int) -> Measure:
    start, cpu_start = time.perf_counter(), time.process_time()
    if in_flight == 1:
        for _ in range(calls):
            await call()
    else:
        for _ in range(calls // in_flight):
            await asyncio.gather(*(call() for _ in range(in_flight)))
    return measured(calls, start, cpu_start)


def bare_rate(
    call: Callable[[], object], calls: int, in_flight: int, threads: ThreadPoolExecutor
) -> Measure:
    start, cpu_start = time.perf_counter(), time.process_time()
    if in_flight == 1:
        for _ in range(calls):
            call()
    else:
        for _ in range(calls // in_flight):
            for future in [threads.submit(call) for _ in range(in_flight)]:
                future.result()
    return measured(calls, start, cpu_start)


async def main(calls: int, rounds: int, concurrency: int) -> None:
    endpoint = vault_endpoint()
    key, path = f"bench-{uuid.uuid4().hex[:8]}", f"bench/{uuid.uuid4().hex}"
    facade = VaultClient(endpoint.addr, endpoint.token, max_threads=concurrency)
    session = requests.Session()
    session.mount(
        "http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=concurrency)
    )
    bare = hvac.Client(url=endpoint.addr, token=endpoint.token, session=session, timeout=5)
    threads = ThreadPoolExecutor(concurrency)
    rate: dict[tuple[str, int, str], float] = {}  # best (highest) of the rounds
    cpu: dict[tuple[str, int, str], float] = {}  # best (lowest) of the rounds
    try:
        await facade.transit_create_key(key, key_type="ecdsa-p256")
        await facade.kv_put(path, {"api_key": "bench-key", "secret": "bench-secret"})
        ours, theirs = facade_calls(facade, key, path), bare_calls(bare, key, path)
        for name in ours:  # warm both: connections open, code paths loaded
            await ours[name]()
            theirs[name]()
        for _ in range(rounds):
            for name in ours:
                for in_flight in (1, concurrency):
                    results = {
                        "facade": await facade_rate(ours[name], calls, in_flight),
                        "hvac": bare_rate(theirs[name], calls, in_flight, threads),
                    }
                    for who, (per_s, cpu_us) in results.items():
                        slot = (name, in_flight, who)
                        rate[slot] = max(rate.get(slot, 0.0), per_s)
                        cpu[slot] = min(cpu.get(slot, float("inf")), cpu_us)
    finally:
        await facade.kv_destroy_all(path)
        await facade.aclose()
        threads.shutdown()
        session.close()
    print(f"Vault round trips, {calls} calls per case, best of {rounds} rounds")
    print(
        f"{'call':<14}{'in flight':>10}{'facade/s':>10}{'hvac/s':>9}{'ratio':>7}"
        f"{'facade CPU µs':>15}{'hvac CPU µs':>13}{'ratio':>7}"
    )
    for name in ("transit sign", "kv read"):
        for in_flight in (1, concurrency):
            ours_, theirs_ = (name, in_flight, "facade"), (name, in_flight, "hvac")
            print(
                f"{name:<14}{in_flight:>10}{rate[ours_]:>10,.0f}{rate[theirs_]:>9,.0f}"
                f"{rate[ours_] / rate[theirs_]:>7.2f}{cpu[ours_]:>15,.0f}{cpu[theirs_]:>13,.0f}"
                f"{cpu[ours_] / cpu[theirs_]:>7.2f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    a = parser.parse_args()
    asyncio.run(main(a.calls, a.rounds, a.concurrency))

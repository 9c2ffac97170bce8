"""The chaos test of order management (issue 15, "Done means"): exactly once under fire.

Real Kafka, PostgreSQL, Vault (behind the session's real auth service, which signs every venue
request) and the exchange simulator speaking Binance through the real Binance adapter; order
management as real processes (``python -m eip.order_management``, started and SIGKILLed by
``eip.testing.service_processes``). ``OM_CHAOS_ORDERS`` orders (200 in ``make test``, the
issue's 1,000 with ``OM_CHAOS_ORDERS=1000``) from 20 accounts are sent as Kafka commands and
HTTP calls, 10 % of the idempotency keys a second time (on the same path or the other), 5 % of
the placed orders are cancelled, while:

- the simulator times out, answers 5xx and executes-but-loses the answers of order entry, and
  drops the private streams;
- two instances run for most of the burst; instances are SIGKILLed mid-burst three times (each
  of the two at least once) and restarted 4 s later, the other one taking their accounts over
  meanwhile.

Afterwards, once everything settled: every idempotency key maps to at most one venue order;
every command ends in exactly one final or open state; every order's state, filled quantity
and average price equal the venue's; no duplicates, none lost, no orphans (no venue order the
platform does not know); the events on orders.events.v1 have no gap; every projection equals a
replay of its event log; the audit chain verifies (``AuditTrail.verify``) and every change of
every order (each event of its log) is in it exactly once. The numbers are printed (``-s``) as
one ``CHAOS {...}`` line.

What is subtle: the burst's speed decides when the chaos steps happen (they are placed by the
share of commands sent, not by the clock), so the kills land mid-burst on any machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from eip.audit import AuditTrail
from eip.bus import Producer
from eip.events.topics import TopicSpec, record_key
from eip.events.v1 import common_pb2, orders_pb2
from eip.order_management.orders import replay
from eip.order_management.storage import Database, OrderRepository
from eip.testing.service_processes import kill_process, start_process, stop_process
from eip.testing.simulator import free_port
from eip.testing.topics import read_topic

from .harness import EXCHANGE, SYMBOL, Desk, audit_of

pytestmark = pytest.mark.integration

ACCOUNTS = 20
# 1,000 is the number (OM_CHAOS_ORDERS=1000: well over ten minutes on the shared
# 2-core machine); make test runs 200, ~5 min: the same faults, kills and takeovers.
ORDERS = int(os.environ.get("OM_CHAOS_ORDERS", "200"))
REPEATED = ORDERS // 10  # keys sent twice (10 %)
CANCELS = max(ORDERS // 20, 1)
WORKERS = 16
SCOPES = ["orders:write", "orders:read"]
FINAL = {"filled", "canceled", "expired", "rejected", "denied"}
OPEN = {"accepted", "partially_filled"}
MOVING = ("pending_new", "submitted", "pending_cancel", "pending_amend")
VENUE_STATUS = {
    "accepted": {"NEW"},
    "partially_filled": {"PARTIALLY_FILLED"},
    "filled": {"FILLED"},
    "canceled": {"CANCELED"},
    "expired": {"EXPIRED", "EXPIRED_IN_MATCH"},
}
ORDER_PATH = "/api/v3/order"


@dataclass
class Process:
    """One order-management instance as a process of its own."""

    name: str
    port: int
    env: dict[str, str]
    log_file: Path
    process: Any = None
    kills: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start_process("eip.order_management", self.env, self.log_file)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            kill_process(self.process)
            self.kills += 1

    def log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-3000:]


@dataclass
class Tally:
    started: float = field(default_factory=time.monotonic)
    http: int = 0
    http_retries: int = 0
    http_queued: int = 0
    http_denied: int = 0
    kafka: int = 0
    repeats: int = 0
    cancels: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    stream_drops: int = 0

    def phase(self, what: str) -> None:
        print(f"[chaos {time.monotonic() - self.started:7.1f}s] {what}", flush=True)


@dataclass(frozen=True)
class Plan:
    account: str
    key: str
    body: dict[str, Any]
    via: str  # "http" or "kafka"


def _environment(desk: Desk) -> dict[str, str]:
    """The desk's schema, topics, auth client and simulator as a service's environment."""
    return {
        "DATABASE_URL": desk.p.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": desk.p.kafka,
        "ORDER_MANAGEMENT_DB_SCHEMA": desk.schema,
        "ORDER_MANAGEMENT_AUDIT_SCHEMA": f"{desk.schema}_audit",
        "ORDER_MANAGEMENT_COMMANDS_TOPIC": desk.topics.commands.name,
        "ORDER_MANAGEMENT_EVENTS_TOPIC": desk.topics.events.name,
        "ORDER_MANAGEMENT_TRADES_TOPIC": desk.topics.trades.name,
        "ORDER_MANAGEMENT_TICKERS_TOPIC": desk.topics.tickers.name,
        "ORDER_MANAGEMENT_AUDIT_TOPIC": desk.topics.audit.name,
        "ORDER_MANAGEMENT_GROUP_ID": desk.group,
        "ORDER_MANAGEMENT_AUTH_URL": desk.p.auth.base_url,
        "ORDER_MANAGEMENT_AUTH_CLIENT_ID": desk.p.client_id,
        "ORDER_MANAGEMENT_AUTH_CLIENT_SECRET": desk.p.client_secret,
        "ORDER_MANAGEMENT_ORDER_BOOK_URL": "http://127.0.0.1:9",  # no market orders here
        "ORDER_MANAGEMENT_EXCHANGE_URLS": json.dumps({EXCHANGE: desk.sim.base_url}),
        "ORDER_MANAGEMENT_VENUE_TIMEOUT_S": "3",
        "ORDER_MANAGEMENT_STREAM_STALE_AFTER_S": "5",
        "ORDER_MANAGEMENT_SEND_DEADLINE_S": "2",
        "ORDER_MANAGEMENT_IN_DOUBT_HORIZON_S": "9",
        "ORDER_MANAGEMENT_RETRY_BASE_S": "0.2",
        "ORDER_MANAGEMENT_RETRY_MAX_S": "2",
        "ORDER_MANAGEMENT_POLL_INTERVAL_S": "1",
        "ORDER_MANAGEMENT_RECONCILE_INTERVAL_S": "5",
        "ORDER_MANAGEMENT_LOST_AFTER": "3",
        "ORDER_MANAGEMENT_FORWARD_WAIT_S": "2",  # then 202: the burst goes on
        "ORDER_MANAGEMENT_BALANCE_MAX_AGE_S": "5",
        "ORDER_MANAGEMENT_BALANCE_SOURCE": "adapter",  # no account service in this test
        "ORDER_MANAGEMENT_LOG_LEVEL": "INFO",
        # more than the default 10: intake, the sender, the streams' updates, the relays and
        # the audit chainer of an instance at once (the burst's logs showed pool time-outs)
        "ORDER_MANAGEMENT_DB_POOL_SIZE": "30",
        **desk.p.issuer.environment("ORDER_MANAGEMENT_"),
    }


def _plans(accounts: list[str], rng: random.Random) -> list[Plan]:
    """Limit orders of every account around 1000, buys and sells overlapping so that accounts
    trade with each other (fills and partial fills); some IOC (filled or expired at once)."""
    plans = []
    for n in range(ORDERS):
        account = accounts[n % ACCOUNTS]
        body: dict[str, Any] = {
            "account_id": account,
            "idempotency_key": f"chaos-{n}",
            "exchange": EXCHANGE,
            "symbol": SYMBOL,
            "side": rng.choice(["buy", "sell"]),
            "type": "limit",
            "quantity": str(rng.choice([Decimal("0.01"), Decimal("0.02"), Decimal("0.03")])),
            "price": str(Decimal(1000) + rng.randint(-6, 6)),
        }
        if rng.random() < 0.15:
            body["time_in_force"] = "ioc"
        plans.append(Plan(account, body["idempotency_key"], body, rng.choice(["http", "kafka"])))
    return plans


def _command(body: dict[str, Any]) -> orders_pb2.OrderCommand:
    command = orders_pb2.OrderCommand(
        command_id=str(uuid.uuid4()),
        idempotency_key=body["idempotency_key"],
        account_id=body["account_id"],
        requested_by="chaos",
    )
    spec = command.place.spec
    spec.instrument.CopyFrom(common_pb2.Instrument(exchange=EXCHANGE, symbol=SYMBOL))
    spec.side = common_pb2.SIDE_BUY if body["side"] == "buy" else common_pb2.SIDE_SELL
    spec.type = orders_pb2.ORDER_TYPE_LIMIT
    ioc = body.get("time_in_force") == "ioc"
    spec.time_in_force = orders_pb2.TIME_IN_FORCE_IOC if ioc else orders_pb2.TIME_IN_FORCE_GTC
    spec.quantity = body["quantity"]
    spec.price = body["price"]
    return command


@pytest.mark.timeout(max(900, 4 * ORDERS))  # 1,000 orders take well over 15 min here
async def test_orders_are_placed_exactly_once_through_faults_kills_and_a_takeover(
    desk: Desk,
    db_pool: AsyncConnectionPool[Any],
    tmp_path: Path,
) -> None:
    rng = random.Random(15)
    tally = Tally()
    accounts = [await desk.account({"USDT": "10000000", "BTC": "10000"}) for _ in range(ACCOUNTS)]
    base_env = _environment(desk)
    a, b = (
        Process(
            name,
            port,
            {
                **base_env,
                "ORDER_MANAGEMENT_HTTP_PORT": str(port),
                "ORDER_MANAGEMENT_INSTANCE_ID": name,
            },
            tmp_path / f"{name}.log",
        )
        for name, port in (("om-a", free_port()), ("om-b", free_port()))
    )
    instances = [a, b]
    headers = desk.p.issuer.headers(SCOPES, accounts=accounts, subject="chaos")
    http = httpx.AsyncClient(timeout=30, headers=headers)
    plans = _plans(accounts, rng)
    repeats = rng.sample(plans, REPEATED)
    placed_over_http: dict[str, str] = {}  # key -> order id
    try:
        await _roomy_rate_limits(desk)
        tally.phase(f"{ACCOUNTS} accounts ready")
        a.start()
        await _until_ready(http, a)
        tally.phase("first instance ready")
        work = [(p, False) for p in plans] + [(p, True) for p in repeats]
        rng.shuffle(work)
        burst = _Burst(http, instances, desk.producer, desk.topics.commands, tally, rng)
        chaos = asyncio.create_task(_chaos(desk, instances, burst, tally, rng))
        await burst.run(work, placed_over_http)
        tally.phase(f"commands sent ({burst.sent})")
        cancelled = rng.sample(
            sorted(placed_over_http.values()), min(CANCELS, len(placed_over_http))
        )
        gate = asyncio.Semaphore(WORKERS)

        async def cancel(order_id: str) -> None:
            async with gate:
                body = {"idempotency_key": f"cancel-{order_id}"}
                await burst.post(body, f"/v1/orders/{order_id}/cancel")
                tally.cancels += 1

        await asyncio.gather(*(cancel(order_id) for order_id in cancelled))
        tally.phase("cancels sent")
        burst.done = True
        await chaos
        await desk.sim.clear_faults()
        await _roomy_rate_limits(desk)
        for instance in instances:
            if not instance.alive():
                instance.start()
        for instance in instances:
            await _until_ready(http, instance)
        burst_s = time.monotonic() - tally.started
        db = Database(lambda: db_pool, desk.schema, f"{desk.schema}_audit")
        db.migrated = True
        repo = OrderRepository(db, AuditTrail(f"{desk.schema}_audit"))
        # the commands left on Kafka after the burst are taken at a few a second (one consumer
        # handles them in turn): 1,000 orders need more than 200 do
        await _until_settled(
            db, accounts, {p.key for p in plans}, 300 * (ORDERS // 200 or 1), tally
        )
        tally.phase("settled")
        await asyncio.sleep(6)  # a reconcile pass after the last change
        await _until_settled(db, accounts, {p.key for p in plans}, 60, tally)
        venue: dict[str, list[dict[str, Any]]] = {}
        for account in accounts:
            venue[account] = await desk.venue_orders(account)
        report = await _verify(db, repo, plans, accounts, venue, desk)
        async with db.connection() as conn:
            cursor = await conn.execute(
                f"SELECT order_id::text FROM {db.t.orders} WHERE account_id = ANY(%s)", (accounts,)
            )
            order_ids = [str(row[0]) for row in await cursor.fetchall()]
        audit = await audit_of(db_pool, desk.schema, order_ids)
        report.update(
            audit_events_verified=audit.checked,
            order_changes_audited=sum(audit.audited.values()),
            orders=ORDERS,
            accounts=ACCOUNTS,
            repeated_keys=REPEATED,
            http_commands=tally.http,
            http_retries=tally.http_retries,
            http_queued_for_owner=tally.http_queued,
            http_denied=tally.http_denied,
            kafka_commands=tally.kafka,
            cancels=tally.cancels,
            faults=dict(tally.faults),
            stream_drops=tally.stream_drops,
            sigkills={i.name: i.kills for i in instances},
            burst_s=round(burst_s, 1),
            total_s=round(time.monotonic() - tally.started, 1),
        )
        print("\nCHAOS " + json.dumps(report, sort_keys=True), flush=True)
        # the audit trail: the chain verifies, and every change of every order is in it once
        assert audit.broken is None, audit.broken
        missing = audit.logged - audit.audited
        assert not missing, f"order changes not audited: {list(missing)[:5]}"
        twice = audit.audited - audit.logged
        assert not twice, f"audited twice (or never logged): {list(twice)[:5]}"
        assert audit.checked >= sum(audit.logged.values()) >= len(order_ids)
        assert min(a.kills, b.kills) >= 1, report["sigkills"]
        assert a.kills + b.kills >= 3, report["sigkills"]
        assert sum(tally.faults.values()) >= 10, report["faults"]
        assert tally.stream_drops >= 2, report["stream_drops"]
    finally:
        await http.aclose()
        for instance in instances:
            if instance.alive():
                stop_process(instance.process)


async def _roomy_rate_limits(desk: Desk) -> None:
    """The venue's request weight per address, raised out of the way: the test's twenty
    accounts trade from one address, and their balance reads, REST polls while streams are
    down and reconcile passes exceed Binance's 6,000 a minute within the burst (the simulator
    then bans the address with 418 for a while, which is no fault this test is about)."""
    await desk.sim.set_rate_limits(weight_per_minute=1_000_000, orders_per_10s=10_000)


async def _until_ready(http: httpx.AsyncClient, instance: Process, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not instance.alive():
            raise AssertionError(f"{instance.name} exited: {instance.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get(f"{instance.url}/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{instance.name} not ready: {instance.log_tail()}")


class _Burst:
    """Sends the commands, ``WORKERS`` at a time: HTTP to a live instance (to the other one,
    the same key again, when the one asked dies under the call) or Kafka; counts the progress
    the chaos steps are placed by."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        instances: list[Process],
        producer: Producer,
        commands: TopicSpec,
        tally: Tally,
        rng: random.Random,
    ) -> None:
        self.http = http
        self.instances = instances
        self.producer = producer
        self.commands = commands
        self.tally = tally
        self.rng = rng
        self.sent = 0
        self.total = 1
        self.done = False

    async def run(self, work: list[tuple[Plan, bool]], placed: dict[str, str]) -> None:
        self.total = len(work)
        queue = list(reversed(work))

        async def worker() -> None:
            while queue:
                plan, repeat = queue.pop()
                via = plan.via
                if repeat:
                    self.tally.repeats += 1
                    via = self.rng.choice(["http", "kafka"])
                if via == "kafka":
                    command = _command(plan.body)
                    await self.producer.publish(self.commands, record_key(plan.account), command)
                    self.tally.kafka += 1
                else:
                    answer = await self.post(plan.body, "/v1/orders?wait=none")
                    order = answer.get("order")
                    if order:
                        placed[plan.key] = order["order_id"]
                    self.tally.http += 1
                self.sent += 1

        await asyncio.gather(*(worker() for _ in range(WORKERS)))

    async def post(self, body: dict[str, Any], path: str) -> dict[str, Any]:
        last = ""
        for _ in range(600):
            live = [i for i in self.instances if i.alive()]
            if not live:
                await asyncio.sleep(0.3)
                continue
            instance = self.rng.choice(live)
            try:
                response = await self.http.post(f"{instance.url}{path}", json=body)
            except httpx.HTTPError:
                self.tally.http_retries += 1  # killed under the call: the same key, elsewhere
                await asyncio.sleep(0.2)
                continue
            if response.status_code in (200, 201, 202):
                if response.status_code == 202 and path.startswith("/v1/orders?"):
                    self.tally.http_queued += 1
                answer: dict[str, Any] = response.json()
                return answer
            if response.status_code == 422:
                self.tally.http_denied += 1  # a denial is an answer too (the key is kept)
                return {}
            self.tally.http_retries += 1  # 503 while starting or an owner changing
            last = f"{response.status_code} {response.text[:300]}"
            await asyncio.sleep(0.3)
        raise AssertionError(f"no instance took {body}: {last}")


async def _chaos(
    desk: Desk, instances: list[Process], burst: _Burst, tally: Tally, rng: random.Random
) -> None:
    """Faults every second, stream drops every 5 s, and the instances' steps at their share
    of the burst: a SIGKILLed instance restarts 4 s later, while the other one owns all."""
    a, b = instances

    async def kill_and_restart(victim: Process) -> None:
        victim.kill()
        await asyncio.sleep(4)
        victim.start()

    steps: list[tuple[float, str, Callable[[], Coroutine[Any, Any, None]]]] = [
        (0.10, "b starts: two instances", _now(b.start)),
        (0.25, "SIGKILL a: b takes a's accounts over", lambda: kill_and_restart(a)),
        (0.50, "SIGKILL b: a takes b's accounts over", lambda: kill_and_restart(b)),
        (0.70, "SIGKILL a again: b takes over", lambda: kill_and_restart(a)),
    ]
    running: list[asyncio.Task[None]] = []
    last_fault = last_drop = 0.0
    while not burst.done:
        progress = burst.sent / burst.total
        while steps and progress >= steps[0][0]:
            at, what, step = steps.pop(0)
            tally.phase(f"{at:.0%} of the burst: {what}")
            running.append(asyncio.create_task(step()))
        now = time.monotonic()
        if now - last_fault > 1.0:
            mode = rng.choice(["timeout", "error", "drop-response"])
            count = rng.randint(1, 3)
            await desk.sim.fail_requests(
                count, 503, ORDER_PATH, mode, method="POST", venue=EXCHANGE
            )
            tally.faults[mode] += count
            last_fault = now
        if now - last_drop > 5:
            await desk.sim.drop_streams("userData", venue=EXCHANGE)
            tally.stream_drops += 1
            last_drop = now
        await asyncio.sleep(0.1)
    for at, what, step in steps:  # whatever the burst outran
        tally.phase(f"after the burst ({at:.0%}): {what}")
        running.append(asyncio.create_task(step()))
    await asyncio.gather(*running)


def _now(action: Callable[[], None]) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        action()

    return run


async def _until_settled(
    db: Database, accounts: list[str], keys: set[str], timeout_s: float, tally: Tally
) -> None:
    """Every command taken, no order on its way anywhere, nothing left to send or publish."""
    deadline = time.monotonic() + timeout_s
    last, shown = "", 0.0
    while time.monotonic() < deadline:
        async with db.connection() as conn:
            taken = await _count(
                conn,
                f"SELECT count(*) FROM {db.t.commands}"
                " WHERE account_id = ANY(%s) AND idempotency_key = ANY(%s)",
                (accounts, sorted(keys)),
            )
            cursor = await conn.execute(
                f"SELECT state, count(*) FROM {db.t.orders} WHERE state = ANY(%s) GROUP BY state",
                (list(MOVING),),
            )
            moving = {str(s): int(n) for s, n in await cursor.fetchall()}
            calls = await _count(conn, f"SELECT count(*) FROM {db.t.outbox}")
            events = await _count(conn, f"SELECT count(*) FROM {db.t.event_outbox}")
        last = f"commands {taken}/{len(keys)}, moving {moving}, calls {calls}, events {events}"
        if taken == len(keys) and not moving and calls == 0 and events == 0:
            return
        if time.monotonic() - shown > 10:
            tally.phase(last)
            shown = time.monotonic()
        await asyncio.sleep(1)
    raise AssertionError(f"never settled: {last}")


async def _verify(
    db: Database,
    repo: OrderRepository,
    plans: list[Plan],
    accounts: list[str],
    venue: dict[str, list[dict[str, Any]]],
    desk: Desk,
) -> dict[str, Any]:
    async with db.connection() as conn:
        cursor = await conn.execute(
            f"SELECT account_id, idempotency_key, order_id FROM {db.t.commands}"
            " WHERE kind = 'place' AND account_id = ANY(%s)",
            (accounts,),
        )
        commands = {(a, k): str(o) for a, k, o in await cursor.fetchall()}
        orders = {
            o.order_id: o for o in await repo.search(conn, account_ids=accounts, limit=100_000)
        }
        proven_absent = await _count(
            conn, f"SELECT count(*) FROM {db.t.order_events} WHERE event = 'venue_not_found'"
        )
        sent_again = await _count(
            conn,
            f"SELECT count(*) FROM (SELECT order_id FROM {db.t.order_events} WHERE event = 'send'"
            " GROUP BY order_id HAVING count(*) > 1) AS again",
        )
        closing: dict[str, str] = {}  # order id -> the event that closed it
        for order in orders.values():  # the projection is its event log's replay
            log = await repo.events(conn, order.order_id)
            assert replay(log) == order, order.order_id
            closing[order.order_id] = log[-1].event.value
    by_client_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for account in accounts:
        for venue_order in venue[account]:
            by_client_id[venue_order["clientOrderId"]].append(venue_order)
    duplicates = {c: len(v) for c, v in by_client_id.items() if len(v) > 1}
    assert not duplicates, duplicates  # every key maps to at most one venue order
    states: Counter[str] = Counter()
    fills = never_sent = 0
    for plan in plans:
        order_id = commands.get((plan.account, plan.key))
        assert order_id is not None, f"command {plan.key} never taken"  # none lost on the way
        order = orders.pop(order_id)
        states[order.state.value] += 1
        assert order.state.value in FINAL | OPEN, (plan.key, order.state)
        found = by_client_id.pop(order.client_order_id, [])
        if order.state.value in ("rejected", "denied"):
            assert not found, (plan.key, order.state, found)
            continue
        if not found and order.state.value == "canceled":
            # cancelled before it was sent, or its placement proven never to have arrived
            assert closing[order_id] in ("cancel_local", "venue_not_found"), (plan.key, closing)
            assert order.filled_quantity == 0, (plan.key, order)
            never_sent += 1
            continue
        assert found, (plan.key, order.state)  # none lost: the venue has it
        info = found[0]["info"]
        assert info["status"] in VENUE_STATUS[order.state.value], (plan.key, order, info)
        executed = Decimal(info["executedQty"])
        assert order.filled_quantity == executed, (plan.key, order.filled_quantity, executed)
        if executed > 0:
            fills += 1
            average = Decimal(info["cummulativeQuoteQty"]) / executed
            assert order.average_price is not None
            assert abs(order.average_price - average) < Decimal("1e-8"), (plan.key, order, info)
    assert not orders, f"orders no command made: {list(orders)[:5]}"
    assert not by_client_id, f"orphans at the venue: {list(by_client_id)[:5]}"
    published = await read_topic(desk.p.kafka, desk.topics.events)
    versions: dict[str, list[int]] = defaultdict(list)
    for event in published:
        versions[event.order_id].append(event.version)
    async with db.connection() as conn:
        cursor = await conn.execute(
            f"SELECT order_id, version FROM {db.t.orders} WHERE account_id = ANY(%s)", (accounts,)
        )
        for order_id, version in await cursor.fetchall():
            # no gap; a version published twice (a crash between send and mark) is the same
            assert set(versions[str(order_id)]) == set(range(1, version + 1)), order_id
    return {
        "states": dict(states),
        "orders_with_fills": fills,
        "cancelled_before_reaching_the_venue": never_sent,
        "venue_orders": sum(len(v) for v in venue.values()),
        "duplicates": 0,
        "lost": 0,
        "orphans": 0,
        "orders_sent_more_than_once": sent_again,
        "placements_proven_absent_and_sent_again": proven_absent,
        "events_published": len(published),
        "events_published_twice": len(published) - sum(len(set(v)) for v in versions.values()),
    }


async def _count(conn: Any, query: str, params: tuple[Any, ...] = ()) -> int:
    cursor = await conn.execute(query, params)
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])

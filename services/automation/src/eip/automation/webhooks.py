"""Alerts to the webhooks users register: rule firings (``rule.fired``), rules that paused
themselves (``rule.paused``), arbitrage opportunities (``arbitrage.opened``) and arbitrage
executions whose unwind failed (``arbitrage.failed``).

What is subtle:

- No secret is stored anywhere. A webhook's signing key is ``HMAC-SHA256(service key, webhook
  id)``, the service key being ``AUTOMATION_WEBHOOK_SIGNING_KEY`` (a Kubernetes Secret); it is
  shown once, when the webhook is registered, and can be derived again only by the service.
- Signature: ``X-EIP-Signature: sha256=<hex HMAC-SHA256(webhook key, "<timestamp>.<body>")>``
  with ``X-EIP-Timestamp`` (Unix seconds), so a receiver refuses replays outside its window;
  ``X-EIP-Event`` and ``X-EIP-Delivery`` (the event id: the same event is delivered once per
  webhook, and a retry carries the same id).
- Deliveries are rows written in the transaction of what they report (the firing, the
  self-pause), or after an opportunity is stored; a loop posts the due ones (``FOR UPDATE SKIP
  LOCKED``: one instance per row), a 2xx delivers, anything else is retried with the platform's
  backoff (``eip.resilience.RetryPolicy``) until ``AUTOMATION_WEBHOOK_MAX_ATTEMPTS``, then the
  delivery is dead and listed at ``GET /v1/webhooks/{id}/dead-letters``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from eip.observability.http import excerpt
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)
EVENTS = ("rule.fired", "rule.paused", "arbitrage.opened", "arbitrage.failed")


def webhook_key(service_key: str, webhook_id: str) -> str:
    return hmac.new(service_key.encode(), webhook_id.encode(), hashlib.sha256).hexdigest()


def signature(key: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


async def enqueue(
    conn: AsyncConnection[Any],
    schema: str,
    account_id: str | None,
    event_type: str,
    event_id: str,
    payload: dict[str, Any],
) -> int:
    """A delivery to every live webhook of ``account_id`` (None: of every account) subscribed
    to ``event_type``, inside the caller's transaction; an event already queued is not again."""
    cur = await conn.execute(
        sql.SQL(
            "INSERT INTO {} (webhook_id, event_id, event_type, payload, status, next_attempt_at)"
            " SELECT webhook_id, %s, %s, %s, 'pending', now() FROM {}"
            " WHERE deleted_at IS NULL AND %s = ANY(events)"
            " AND (%s::text IS NULL OR account_id = %s)"
            " ON CONFLICT (webhook_id, event_id) DO NOTHING"
        ).format(sql.Identifier(schema, "webhook_deliveries"), sql.Identifier(schema, "webhooks")),
        (event_id, event_type, json.dumps(payload), event_type, account_id, account_id),
    )
    return cur.rowcount


class WebhookSender:
    def __init__(
        self,
        pool: Callable[[], Any],
        schema: str,
        service_key: str,
        max_attempts: int = 8,
        timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._pool = pool
        self.schema = schema
        self._service_key = service_key
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy(attempts=max_attempts, base_delay_s=1, max_delay_s=600)
        self._http = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send_due(self, batch: int = 20) -> int:
        """Post the deliveries that are due; returns how many were attempted."""
        pool = self._pool()
        if pool is None or not self._service_key:
            return 0
        t = sql.Identifier(self.schema, "webhook_deliveries")
        w = sql.Identifier(self.schema, "webhooks")
        async with pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.attempts,"
                    " w.url FROM {} d JOIN {} w ON w.webhook_id = d.webhook_id"
                    " WHERE d.status = 'pending' AND d.next_attempt_at <= now()"
                    " AND w.deleted_at IS NULL"
                    " ORDER BY d.id LIMIT %s FOR UPDATE OF d SKIP LOCKED"
                ).format(t, w),
                (batch,),
            )
            rows = await cur.fetchall()
            for row in rows:
                error = await self._post(row)
                attempts = int(row["attempts"]) + 1
                if error is None:
                    await conn.execute(
                        sql.SQL(
                            "UPDATE {} SET status = 'delivered', attempts = %s,"
                            " delivered_at = now() WHERE id = %s"
                        ).format(t),
                        (attempts, row["id"]),
                    )
                    continue
                dead = attempts >= self.max_attempts
                delay = _delay(self.retry, attempts)
                await conn.execute(
                    sql.SQL(
                        "UPDATE {} SET status = %s, attempts = %s, last_error = %s,"
                        " next_attempt_at = now() + %s WHERE id = %s"
                    ).format(t),
                    ("dead" if dead else "pending", attempts, error, delay, row["id"]),
                )
        return len(rows)

    async def _post(self, row: dict[str, Any]) -> str | None:
        webhook_id = str(row["webhook_id"])
        body = json.dumps(
            {"event": row["event_type"], "id": row["event_id"], "data": row["payload"]},
            sort_keys=True,
        ).encode()
        timestamp = str(int(time.time()))
        key = webhook_key(self._service_key, webhook_id)
        headers = {
            "content-type": "application/json",
            "x-eip-event": row["event_type"],
            "x-eip-delivery": row["event_id"],
            "x-eip-timestamp": timestamp,
            "x-eip-signature": signature(key, timestamp, body),
        }
        try:
            answer = await self._http.post(row["url"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}"
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}: {excerpt(answer.text)}"


def _delay(policy: RetryPolicy, attempt: int) -> timedelta:
    """The platform's full-jitter backoff before try ``attempt + 1``."""
    delays = list(policy.delays())
    return timedelta(seconds=delays[min(attempt - 1, len(delays) - 1)] if delays else 0)


async def register(
    conn: AsyncConnection[Any],
    schema: str,
    account_id: str,
    url: str,
    events: list[str],
    actor: str,
) -> tuple[str, datetime]:
    webhook_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    await conn.execute(
        sql.SQL(
            "INSERT INTO {} (webhook_id, account_id, url, events, created_at, created_by)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
        ).format(sql.Identifier(schema, "webhooks")),
        (webhook_id, account_id, url, events, now, actor),
    )
    return webhook_id, now

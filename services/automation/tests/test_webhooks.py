"""Webhooks on real PostgreSQL: a rule's firing reaches a registered webhook signed with the
secret shown at registration, retried through failures with the same delivery id, and a
webhook that never answers ends in its dead-letter list."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from eip.automation.rules.engine import RuleEngine
from eip.testing.simulator import free_port
from eip.testing.tokens import TokenIssuer

from .conftest import ACCOUNT, Starter, until

pytestmark = pytest.mark.integration


class Receiver:
    """An HTTP endpoint that fails its first ``failures`` requests with 500, then answers 204."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[int, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status = 500 if len(receiver.requests) < receiver.failures else 204
                receiver.requests.append(
                    (status, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    yield r
    r.server.shutdown()


async def test_a_firing_is_delivered_signed_through_retries_and_a_dead_webhook_is_listed(
    start_service: Starter, receiver: Receiver, token_issuer: TokenIssuer
) -> None:
    service = await start_service(
        evaluation_enabled=False,
        arbitrage_enabled=False,
        webhook_signing_key="test-service-key",
        webhook_max_attempts=3,
        webhook_retry_base_s=0.05,
    )
    http = service.http
    ok = await http.post(
        "/v1/webhooks",
        json={"account_id": ACCOUNT, "url": receiver.url, "events": ["rule.fired"]},
    )
    assert ok.status_code == 201, ok.text
    secret = ok.json()["secret"]
    nobody = await http.post(
        "/v1/webhooks",
        json={
            "account_id": ACCOUNT,
            "url": f"http://127.0.0.1:{free_port()}/gone",
            "events": ["rule.fired", "rule.paused"],
        },
    )
    assert nobody.status_code == 201
    other = token_issuer.headers(accounts=["someone-else"])
    assert (await http.get("/v1/webhooks", headers=other)).json()["webhooks"] == []
    assert len((await http.get("/v1/webhooks")).json()["webhooks"]) == 2
    assert "secret" not in (await http.get("/v1/webhooks")).text

    rule = {
        "account_id": ACCOUNT,
        "name": "alert above 100",
        "condition": {
            "type": "price_cross",
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "direction": "above",
            "level": "100",
        },
        "action": {"type": "alert", "message": "BTC over 100"},
    }
    rule_id = (await http.post("/v1/rules", json=rule)).json()["rule_id"]
    engine = RuleEngine()
    loaded = await service.store.rule_for_evaluation(rule_id)
    assert loaded is not None
    engine.add(loaded)
    at = datetime.now(UTC)
    for price in ("99", "101"):
        for t in engine.on_trade("binance", "BTC/USDT", at, Decimal(price)):
            await service.store.apply(t)

    await until(lambda: len(receiver.requests) >= 3, 30, "two failures and a delivery")
    statuses = [status for status, _, _ in receiver.requests]
    assert statuses == [500, 500, 204]
    deliveries = {h["x-eip-delivery"] for _, h, _ in receiver.requests}
    assert deliveries == {f"{rule_id}:1:e1"}  # one event, retried under its id
    _, headers, body = receiver.requests[-1]
    expected = hmac.new(
        secret.encode(), headers["x-eip-timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["x-eip-signature"] == f"sha256={expected}"
    event = json.loads(body)
    assert (event["event"], event["data"]["rule_id"], event["data"]["outcome"]) == (
        "rule.fired",
        rule_id,
        "alert",
    )

    dead_id = nobody.json()["webhook_id"]

    async def dead() -> list[dict[str, Any]]:
        answer = await http.get(f"/v1/webhooks/{dead_id}/dead-letters")
        letters: list[dict[str, Any]] = answer.json()["dead_letters"]
        return letters

    for _ in range(300):
        if await dead():
            break
        await asyncio.sleep(0.1)
    (letter,) = await dead()
    assert (letter["event_id"], letter["attempts"]) == (f"{rule_id}:1:e1", 3)
    assert letter["last_error"]
    assert (await http.delete(f"/v1/webhooks/{dead_id}")).status_code == 204
    assert (await http.get(f"/v1/webhooks/{dead_id}/dead-letters")).status_code == 404

import io
import json
import logging

import pytest

from eip.observability.logging import JsonFormatter
from eip.observability.redaction import register_secret

CANARY = "canary-7f3a9c1e5b2d4f60"


@pytest.fixture
def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger(f"redaction-test-{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_registered_secret_never_reaches_output(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    register_secret(CANARY)
    logger.info("connecting with %s", CANARY)
    logger.info("details", extra={"context": {"nested": [f"x{CANARY}y"]}, "note": CANARY})
    try:
        raise RuntimeError(f"exchange refused key {CANARY}")
    except RuntimeError:
        logger.exception("call failed")
    output = stream.getvalue()
    assert CANARY not in output
    assert output.count("***") >= 4
    for line in output.splitlines():
        json.loads(line)  # every line stays valid JSON


def test_secret_looking_fields_and_inline_shapes_are_masked(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info(
        "GET /api/v3/order?symbol=BTCUSDT&signature=abcdef0123456789 "
        "Authorization: Bearer eyJx.y.z "
        "dsn postgresql://eip:pa55word@db:5432/eip",
        extra={"api_secret": "plain-secret-value", "vault_token": "hvs.AAAAAAAAAAAAAAAAAAAAAAAA"},
    )
    output = stream.getvalue()
    for leaked in ("abcdef0123456789", "eyJx.y.z", "pa55word", "plain-secret-value", "hvs.AAAA"):
        assert leaked not in output
    entry = json.loads(output)
    assert entry["api_secret"] == "***"
    assert "symbol=BTCUSDT" in entry["msg"]  # ordinary content survives


def test_short_values_are_not_registered_as_secrets(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    """Registering a tiny value would mask ordinary words everywhere; it is refused."""
    logger, stream = capture
    register_secret("eip")
    register_secret(None)
    logger.info("eip service started")
    assert json.loads(stream.getvalue())["msg"] == "eip service started"

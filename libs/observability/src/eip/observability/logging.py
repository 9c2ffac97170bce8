"""Structured JSON logs, one object per line on stderr, with secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from eip.observability.redaction import redact_any, redact_text

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn duplicates msg with ANSI codes
}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            exc_type, exc, _ = record.exc_info
            entry["error_type"] = exc_type.__name__ if exc_type else None
            entry["error"] = str(exc)
            entry["stack"] = "".join(traceback.format_exception(*record.exc_info))
        # Redact the whole entry, not only msg: secrets hide in extra fields and stack traces.
        safe = redact_any({k: v for k, v in entry.items() if k not in ("ts", "level")})
        assert isinstance(safe, dict)
        return json.dumps({"ts": entry["ts"], "level": entry["level"], **safe}, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route all logging (ours, uvicorn's, aiokafka's) through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # aiokafka logs every reconnect attempt at ERROR; our own code reports outages once.
    logging.getLogger("aiokafka").setLevel(max(logging.getLevelName(level), logging.WARNING))

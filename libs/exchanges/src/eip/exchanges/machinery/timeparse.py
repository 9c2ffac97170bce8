"""RFC 3339 timestamps as venues send them (up to nanoseconds) → aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FRACTION = re.compile(r"\.(\d+)")


def parse_rfc3339(text: str) -> datetime | None:
    """None for an empty or epoch-zero time (Coinbase snapshots carry 1970-01-01)."""
    if not text:
        return None
    # datetime keeps microseconds; venues send up to nanoseconds.
    normalized = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    value = datetime.fromisoformat(normalized.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return None if value.timestamp() == 0 else value

"""Keeps secrets out of log output.

Three layers, because any one alone leaks: (1) values registered at run time (a secret the
process holds, such as a Vault token or an exchange API secret) are replaced wherever they
appear; (2) fields whose names look secret (``api_secret``, ``password``, ``token``...) are
masked whatever their value; (3) common inline shapes (``Bearer …``, ``signature=…``, URL
passwords) are masked in free text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

MASK = "***"
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words

SECRET_KEY_PATTERN = re.compile(
    r"(secret|password|passwd|passphrase|token|api[_-]?key|apikey|signature|authorization|"
    r"private[_-]?key|credential|cookie|dsn|database_url)",
    re.IGNORECASE,
)
_INLINE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + MASK),
    (
        re.compile(
            r"(?i)\b(signature|secret|password|passphrase|token|api[_-]?key|x-mbx-apikey)"
            r"(\s*[=:]\s*)(\"?)[^\s&\"',;]+"
        ),
        r"\1\2\3" + MASK,
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]+):[^@/\s]+@"), r"\1:" + MASK + "@"),
    (re.compile(r"\b(hvs|hvb|s|b)\.[A-Za-z0-9]{20,}\b"), MASK),  # Vault token shapes
)


class SecretRegistry:
    """Exact secret values known to this process; every log record is scrubbed of them."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str | None) -> None:
        if not value or len(value) < _MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                alternatives = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text


SECRETS = SecretRegistry()


def register_secret(value: str | None) -> None:
    """Declare a value as secret so that it never appears in any log line of this process."""
    SECRETS.add(value)


def redact_text(text: str) -> str:
    text = SECRETS.scrub(text)
    for pattern, replacement in _INLINE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    if SECRET_KEY_PATTERN.search(key) and value not in (None, "", False):
        return MASK
    return redact_any(value)


def redact_any(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact_any(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact_text(str(value))

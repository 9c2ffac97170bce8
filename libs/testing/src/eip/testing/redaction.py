"""The infrastructure's secrets never reach a test report.

A failing test's report prints its arguments: CI printed a fixture holding `DATABASE_URL` (with
PostgreSQL's password) and the Vault root token. Hiding each fixture's repr is not enough —
the same values reach reports through environment dicts, service logs and assertion messages —
so every secret `eip.testing.endpoints` hands out is remembered here and replaced in each report
(traceback, captured output and logs) before pytest prints or stores it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import pytest

MASK = "***"
_SECRETS: set[str] = set()


def remember(secret: str | None) -> None:
    # a short value would mask innocent text (a one-letter password masks every such letter)
    if secret and len(secret) >= 6:
        _SECRETS.add(secret)


def remember_url_password(url: str) -> None:
    remember(urlsplit(url).password)


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_report(report: pytest.TestReport) -> None:
    if not _SECRETS:
        return
    if report.longrepr is not None:
        text = str(report.longrepr)
        if text != (clean := redact(text)):
            report.longrepr = clean
    report.sections = [(title, redact(content)) for title, content in report.sections]

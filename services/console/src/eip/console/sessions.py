"""Operators' sessions: a client id and secret exchanged for a token at the auth service, kept
on the server, named to the browser by an opaque cookie.

What is subtle:

- The browser never holds the token nor the secret: its cookie (httpOnly, SameSite=strict) is a
  random id, and the store keys sessions by the id's SHA-256, so not even a dump of this
  process's memory lists cookies that would work.
- Tokens are short-lived (the auth service's ``AUTH_TOKEN_TTL_S``, 300 s) and the
  client-credentials grant has no refresh token, so renewing one before it expires needs the
  client secret again: the session keeps it in memory for its lifetime (registered with the
  log redactor, hidden from ``repr``) and drops it at logout, idle timeout or max age. A
  renewal the auth service refuses (client disabled, deleted or reset) ends the session.
- Renewals of one session are serialized by its lock, so the many requests and streams of one
  page do not each ask for a token.
- Sessions live in this process: a restart logs everyone out, and several instances need
  sticky routing (docs/CONSOLE.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from eip.console.settings import ConsoleSettings
from eip.console.upstream import Upstream, UpstreamError
from eip.observability.redaction import register_secret
from eip.tokens import Claims, TokenError, TokenVerifier

COOKIE = "eip_console_session"


class SessionEnded(Exception):
    """The session is gone (logged out, timed out, or its client lost its right to tokens)."""


@dataclass(eq=False)
class Session:
    key: str = field(repr=False)  # sha256 of the cookie value
    client_id: str
    subject: str
    scopes: frozenset[str]
    accounts: frozenset[str]
    csrf: str = field(repr=False)
    created: float
    last_seen: float
    expires_at: float
    _secret: str = field(repr=False)
    _token: str = field(repr=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    renewals: int = 0
    ended: bool = False

    def has(self, *scopes: str) -> bool:
        return set(scopes) <= self.scopes

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf)


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class LoginRefused(Exception):
    def __init__(
        self, status: int, code: str, message: str, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


class SessionStore:
    def __init__(self, settings: ConsoleSettings, upstream: Upstream, verifier: TokenVerifier):
        self.settings = settings
        self.upstream = upstream
        self.verifier = verifier
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    async def _grant(self, client_id: str, secret: str) -> tuple[str, Claims]:
        try:
            answer = await self.upstream.post(
                "auth", "/v1/tokens", None, {"client_id": client_id, "client_secret": secret}
            )
        except UpstreamError as exc:
            retry = None
            if isinstance(exc.details, dict) and "retry_after_s" in exc.details:
                retry = str(exc.details["retry_after_s"])
            if exc.status in (401, 403):
                raise LoginRefused(
                    401, "invalid_client", "client id or secret not accepted"
                ) from None
            if exc.status == 429:
                raise LoginRefused(
                    429, "locked_out", "too many failed logins from here; try later", retry
                ) from None
            if exc.status == 422:
                raise LoginRefused(
                    422, "invalid_request", "client id or secret malformed"
                ) from None
            raise LoginRefused(503, "auth_unavailable", exc.message) from None
        token = str(answer["access_token"])
        register_secret(token)
        try:
            claims = await self.verifier.verify(token)
        except TokenError as exc:
            raise LoginRefused(
                503, "auth_unavailable", f"token not verifiable: {exc.code}"
            ) from None
        return token, claims

    async def login(self, client_id: str, secret: str) -> tuple[str, Session]:
        """(cookie value, session); ``LoginRefused`` with what to tell the operator."""
        register_secret(secret)
        token, claims = await self._grant(client_id, secret)
        cookie = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(
            key=_key(cookie),
            client_id=client_id,
            subject=claims.subject,
            scopes=claims.scopes,
            accounts=claims.accounts,
            csrf=secrets.token_urlsafe(32),
            created=now,
            last_seen=now,
            expires_at=float(claims.expires_at),
            _secret=secret,
            _token=token,
        )
        self._sessions[session.key] = session
        while len(self._sessions) > self.settings.max_sessions:
            _, oldest = self._sessions.popitem(last=False)
            self._end(oldest)
        return cookie, session

    def get(self, cookie: str | None, *, touch: bool = True) -> Session | None:
        if not cookie:
            return None
        session = self._sessions.get(_key(cookie))
        if session is None:
            return None
        now = time.time()
        s = self.settings
        if (
            now - session.last_seen > s.session_idle_timeout_s
            or now - session.created > s.session_max_age_s
        ):
            self.end(session)
            return None
        if touch:
            session.last_seen = now
            self._sessions.move_to_end(session.key)
        return session

    def end(self, session: Session) -> None:
        self._sessions.pop(session.key, None)
        self._end(session)

    @staticmethod
    def _end(session: Session) -> None:
        session.ended = True
        session._secret = ""
        session._token = ""

    async def token(self, session: Session) -> str:
        """The session's token, renewed first when it expires within the renewal margin."""
        if session.ended:
            raise SessionEnded("session ended")
        if session.expires_at - time.time() > self.settings.token_renew_before_s:
            return session._token
        async with session.lock:
            if session.ended:
                raise SessionEnded("session ended")
            if session.expires_at - time.time() > self.settings.token_renew_before_s:
                return session._token
            try:
                token, claims = await self._grant(session.client_id, session._secret)
            except LoginRefused as exc:
                if exc.status == 401:
                    self.end(session)
                    raise SessionEnded(
                        "the auth service no longer issues tokens to this client"
                    ) from None
                if session.expires_at > time.time():
                    return session._token  # auth is down: use what is left of the old one
                raise SessionEnded(exc.message) from None
            session._token = token
            session.expires_at = float(claims.expires_at)
            session.scopes = claims.scopes
            session.accounts = claims.accounts
            session.renewals += 1
            return token

    def describe(self, session: Session) -> dict[str, Any]:
        return {
            "client_id": session.client_id,
            "subject": session.subject,
            "scopes": sorted(session.scopes),
            "token_expires_in_s": max(0, round(session.expires_at - time.time())),
            "renewals": session.renewals,
        }

"""The console's one client of the platform services' public HTTP APIs.

Every call names the service and carries the operator's token (or none, for the public
``/readyz``, ``/healthz``, ``/metrics`` and ``/openapi.json``). What a service answers with an
error becomes an ``UpstreamError`` holding the service's own error code, so pages and actions
can say which service refused what, in the service's words; a service that does not answer is
``UpstreamError(503, "service_unavailable")``.

What is subtle:

- Nothing a caller gives (a key's secret on its way to auth) is ever part of an error: the
  transport error's text would carry the URL, so only its type is kept, and bodies are never
  quoted back.
- One ``httpx.AsyncClient`` for the whole process, so every page and every live stream share
  keep-alive connections to each service.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from eip.console.settings import ConsoleSettings
from eip.observability.http import ApiError

# The platform services the console knows, by the name their /healthz answers with.
SERVICES = ("market-data", "order-book", "account", "order-management", "automation", "auth")


class UpstreamError(Exception):
    def __init__(
        self, service: str, status: int, code: str, message: str, details: Any = None
    ) -> None:
        super().__init__(f"{service}: {status} {code}: {message}")
        self.service, self.status, self.code = service, status, code
        self.message, self.details = message, details

    def as_api_error(self) -> ApiError:
        """The console's own answer: the service's 4xx as it is (with the service named), its
        5xx or silence as 502/503 of the console."""
        status = self.status if 400 <= self.status < 500 or self.status == 503 else 502
        return ApiError(
            status,
            self.code,
            f"{self.service}: {self.message}",
            {"service": self.service, "upstream_status": self.status, "details": self.details},
        )


class Upstream:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.urls = {
            "market-data": settings.market_data_url.rstrip("/"),
            "order-book": settings.order_book_url.rstrip("/"),
            "account": settings.account_url.rstrip("/"),
            "order-management": settings.order_management_url.rstrip("/"),
            "automation": settings.automation_url.rstrip("/"),
            "auth": settings.auth_url.rstrip("/"),
        }
        self._http = httpx.AsyncClient(
            timeout=settings.request_timeout_s,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        self.last_error: dict[str, tuple[float, str]] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        token: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        timeout_s: float | None = None,
    ) -> Any:
        """The JSON body of a 2xx answer (None for 204); ``UpstreamError`` otherwise."""
        response = await self.raw(
            service, method, path, token, params=params, json=json, timeout_s=timeout_s
        )
        if response.status_code == 204:
            return None
        if response.is_success:
            try:
                return response.json()
            except ValueError:
                raise self._failed(
                    service, 502, "bad_upstream_answer", "answer is not JSON"
                ) from None
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code", "upstream_error"))
            message = str(error.get("message", ""))
            details = error.get("details")
        else:
            code, message, details = "upstream_error", f"HTTP {response.status_code}", None
        if response.status_code >= 500:
            self.last_error[service] = (time.time(), f"{response.status_code} {code}: {message}")
        raise UpstreamError(service, response.status_code, code, message, details)

    async def raw(
        self,
        service: str,
        method: str,
        path: str,
        token: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """``timeout_s``: this call's own limit (a command a service may take longer to answer
        than it takes to read), else the settings' ``request_timeout_s``."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return await self._http.request(
                method,
                self.urls[service] + path,
                params=params,
                json=json,
                headers=headers,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s,
            )
        except httpx.HTTPError as exc:
            # The exception's text names the URL and may quote the request: the type says enough.
            raise self._failed(
                service, 503, "service_unavailable", f"did not answer ({type(exc).__name__})"
            ) from None

    async def get(
        self, service: str, path: str, token: str | None, params: dict[str, Any] | None = None
    ) -> Any:
        return await self.request(service, "GET", path, token, params=params)

    async def post(
        self,
        service: str,
        path: str,
        token: str | None,
        json: Any = None,
        timeout_s: float | None = None,
    ) -> Any:
        return await self.request(service, "POST", path, token, json=json, timeout_s=timeout_s)

    def _failed(self, service: str, status: int, code: str, message: str) -> UpstreamError:
        self.last_error[service] = (time.time(), f"{code}: {message}")
        return UpstreamError(service, status, code, message)

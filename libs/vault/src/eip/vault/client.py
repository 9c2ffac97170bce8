"""The platform's Vault client: an async facade over hvac (the library the design names) for
health, mounts, policies, tokens, KV v2 and Transit.

Every caller is async and hvac is synchronous (requests), so each call runs on a thread pool
the client owns, never on the event loop. What is subtle:

- **Own pool, bounded.** ``max_threads`` threads (8) per client, not the loop's default
  executor: a hung Vault then ties up at most these threads, never the ones the rest of the
  process shares (``asyncio.to_thread``, DNS lookups). Calls beyond ``max_threads`` queue.
- **Every call has a deadline.** The socket's connect and each read are bounded by
  ``timeout_s``; the awaiting caller gives up after ``deadline_s`` (2 x ``timeout_s``, queueing
  included) with ``VaultUnavailable``. A call cancelled or abandoned while queued never runs
  (``aclose`` fails the queued ones with ``VaultUnavailable``); one already running finishes
  on its own socket timeout, so no thread waits forever on a hung Vault and ``threads_busy``
  says how many are still out.
- **Connections are reused.** One ``requests.Session`` per client with a connection pool as
  large as the thread pool, shared by the threads (urllib3's pool is thread-safe; Vault sets no
  cookies, the only other state a session shares).
- **Errors are the platform's.** The hvac adapter is subclassed so that an answer >= 400 raises
  ``VaultError(status, errors, path)`` (503: ``VaultUnavailable``) and a transport failure
  raises ``VaultUnavailable``, both outside any ``except`` block: hvac's exceptions keep the
  response body and requests' keep the prepared request, ``X-Vault-Token`` header included, so
  neither is ever raised, chained or kept as a context. Hence hvac methods that branch on
  hvac's own exception classes are not used (KV v2 reads pass
  ``raise_on_deleted_version=True``; ``Client.is_authenticated`` is not called).
- **What hvac 2.4.0 cannot send.** Its Transit methods check arguments against lists older
  than Vault 1.13: ``create_key`` refuses the ``aes128-gcm96`` key type and ``sign_data`` the
  ``sha1`` and ``sha3-*`` hash algorithms, all of which Vault serves. Those go through hvac's
  own adapter (``adapter.post``), as ``_request`` does for anything else; there is no second
  HTTP client.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, TypeVar

import hvac
import hvac.exceptions
import requests
from hvac.adapters import JSONAdapter
from hvac.constants import transit as hvac_transit
from requests.adapters import HTTPAdapter

from eip.resilience import DependencyUnavailable

T = TypeVar("T")
Answer = requests.Response | dict[Any, Any]  # what hvac's JSON adapter returns


class VaultError(Exception):
    """Vault answered with an error."""

    def __init__(self, status: int, errors: list[str], path: str) -> None:
        self.status, self.errors, self.path = status, errors, path
        super().__init__(f"vault {path}: HTTP {status}: {'; '.join(errors) or 'no detail'}")


class VaultUnavailable(DependencyUnavailable):
    """Vault did not answer, or is sealed / not initialized."""


def _not_answering(addr: str, why: str) -> VaultUnavailable:
    return VaultUnavailable(
        f"Vault at {addr} did not answer ({why}); is it running? `make up` starts a local server"
    )


class _PlatformAdapter(JSONAdapter):
    """hvac's JSON adapter (200 → dict, other 2xx → the response) with a timeout on every
    request and the platform's errors instead of hvac's and requests'."""

    def __init__(self, *, timeout_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timeout_s = timeout_s

    def request(self, *args: Any, **kwargs: Any) -> Answer:
        kwargs["timeout"] = self.timeout_s  # connect, and each read
        try:
            return super().request(*args, **kwargs)
        except requests.RequestException as exc:
            failure = type(exc).__name__
        # Raised here, not in the except block: the requests exception (and the token in its
        # request headers) must not ride along as __context__.
        raise _not_answering(self.base_uri, failure)

    def _raise_for_error(self, method: str, url: str, response: requests.Response) -> NoReturn:
        # hvac calls this for every answer >= 400 (when the call did not ask for the response).
        path = url.removeprefix(self.base_uri).lstrip("/").removeprefix("v1/")
        if response.status_code == 503:
            raise VaultUnavailable(f"Vault at {self.base_uri} is sealed or in standby (HTTP 503)")
        errors: list[str] = []
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            errors = [str(e) for e in body.get("errors") or []]
        raise VaultError(response.status_code, errors, path)


def _body(answer: Answer) -> dict[str, Any]:
    """A JSON answer as a dict; ``{}`` for 204 and other empty answers."""
    if isinstance(answer, dict):
        return answer
    if answer.status_code == 204 or not answer.content:
        return {}
    body = answer.json()
    assert isinstance(body, dict)
    return body


class VaultClient:
    def __init__(
        self,
        addr: str,
        token: str,
        *,
        timeout_s: float = 5.0,
        deadline_s: float | None = None,
        max_threads: int = 8,
        kv_mount: str = "secret",
        transit_mount: str = "transit",
    ) -> None:
        if not addr:
            raise VaultUnavailable("VAULT_ADDR is empty; `make up` prints the local one")
        self.addr = addr.rstrip("/")
        self.kv_mount = kv_mount
        self.transit_mount = transit_mount
        self.timeout_s = timeout_s
        self.deadline_s = 2 * timeout_s if deadline_s is None else deadline_s
        session = requests.Session()
        connections = HTTPAdapter(pool_connections=1, pool_maxsize=max_threads)
        session.mount("http://", connections)
        session.mount("https://", connections)
        self._hvac = hvac.Client(
            url=self.addr,
            token=token,
            session=session,
            adapter=_PlatformAdapter,
            timeout_s=timeout_s,
        )
        adapter = self._hvac.adapter
        assert isinstance(adapter, _PlatformAdapter)
        self._adapter = adapter
        # types-hvac leaves the Transit methods unannotated
        self._transit: Any = self._hvac.secrets.transit
        self._threads = ThreadPoolExecutor(max_threads, thread_name_prefix="eip-vault")
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"VaultClient(addr={self.addr!r})"  # never the token

    @property
    def threads_busy(self) -> int:
        """Threads running a Vault call now (an abandoned call's thread counts until its
        socket timeout ends it)."""
        return self._busy

    async def aclose(self) -> None:
        """Refuse new calls, fail queued ones (``VaultUnavailable``) and close the idle
        connections; a call still running ends on its socket timeout (nothing waits for it
        here)."""
        if self._closed:
            return
        self._closed = True
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._adapter.close()

    async def __aenter__(self) -> VaultClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # -- plumbing -----------------------------------------------------------------------------

    def _in_thread(self, call: Callable[[], T]) -> T:
        with self._busy_lock:
            self._busy += 1
        try:
            try:
                return call()
            except hvac.exceptions.ParamValidationError as exc:
                refused = str(exc.args[0] if exc.args else type(exc).__name__)
            # hvac refused the arguments before sending anything; outside the except block so
            # hvac's exception is not kept as the context
            raise VaultError(400, [refused], "(not sent)")
        finally:
            with self._busy_lock:
                self._busy -= 1

    async def _run(self, call: Callable[[], T]) -> T:
        """Run a synchronous hvac call on the client's threads, within the deadline."""
        if self._closed:
            raise VaultUnavailable(f"the client of Vault at {self.addr} is closed")
        future = asyncio.get_running_loop().run_in_executor(self._threads, self._in_thread, call)
        try:
            async with asyncio.timeout(self.deadline_s) as scope:
                return await future
        except TimeoutError:
            if not scope.expired():
                raise
            failure = _not_answering(self.addr, f"deadline {self.deadline_s:g} s")
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._closed or task is None or task.cancelling():
                raise
            # not this task's cancellation: aclose() dropped the queued call
            failure = VaultUnavailable(f"the client of Vault at {self.addr} was closed")
        raise failure

    async def _run_or_missing(self, call: Callable[[], Answer]) -> dict[str, Any] | None:
        try:
            return _body(await self._run(call))
        except VaultError as exc:
            if exc.status == 404:
                return None
            raise

    async def _request(
        self,
        method: str,
        path: str,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        ok_missing: bool = False,
    ) -> dict[str, Any] | None:
        """Any Vault API call by method and path (``LIST``, ``revoke-self``...) through hvac's
        adapter, for what the facade has no method for."""

        def call() -> Answer:
            return self._adapter.request(method, f"/v1/{path}", json=json, params=params)

        if ok_missing:
            return await self._run_or_missing(call)
        return _body(await self._run(call))

    # -- health -------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """Raise VaultUnavailable unless Vault is initialized, unsealed and active."""
        answer: Answer = await self._run(lambda: self._hvac.sys.read_health_status(method="GET"))
        # hvac asks for the response whatever its status: 429 standby, 472/473 DR or
        # performance standby, 501 not initialized, 503 sealed.
        if isinstance(answer, dict):
            return answer
        raise VaultUnavailable(f"Vault at {self.addr} is not active (HTTP {answer.status_code})")

    # -- administration ------------------------------------------------------------------------

    async def mounts(self) -> dict[str, Any]:
        body = _body(await self._run(self._hvac.sys.list_mounted_secrets_engines))
        data = body.get("data", body)
        assert isinstance(data, dict)
        return data

    async def enable_engine(
        self,
        path: str,
        engine: str,
        options: dict[str, str] | None = None,
    ) -> None:
        await self._run(
            lambda: self._hvac.sys.enable_secrets_engine(engine, path=path, options=options or None)
        )

    async def put_policy(self, name: str, hcl: str) -> None:
        await self._run(lambda: self._hvac.sys.create_or_update_acl_policy(name, hcl))

    async def create_token(
        self, policies: list[str], ttl: str = "1h", *, period: str | None = None
    ) -> str:
        """A child token limited to ``policies`` (no default policy beyond Vault's own).

        With ``period`` the token is periodic: no maximum TTL, each renewal resets its TTL to
        the period, so it lives as long as it is renewed within every period (``ttl`` is then
        not sent). Creating one needs a root or ``sudo`` token on ``auth/token/create``.
        """
        lifetime = {"period": period} if period is not None else {"ttl": ttl}
        body = _body(
            await self._run(lambda: self._hvac.auth.token.create(policies=policies, **lifetime))
        )
        return str(body["auth"]["client_token"])

    async def lookup_self(self) -> dict[str, Any]:
        """This client's own token: ``policies``, ``ttl``, ``period`` (0 unless periodic),
        ``explicit_max_ttl``, ``renewable``... (never the token itself: ``id`` is dropped)."""
        body = _body(await self._run(self._hvac.auth.token.lookup_self))
        data = dict(body["data"])
        data.pop("id", None)
        return data

    async def renew_self(self, increment: str = "768h") -> int:
        """Extend this client's own token; returns the new TTL in seconds. A periodic token's
        TTL goes back to its period (the increment does not matter); any other token's grows
        by the increment up to its max TTL. Needs only Vault's ``default`` policy, which every
        child token has."""
        body = _body(await self._run(lambda: self._hvac.auth.token.renew_self(increment=increment)))
        return int(body["auth"]["lease_duration"])

    # -- KV v2 --------------------------------------------------------------------------------

    async def kv_put(self, path: str, data: dict[str, str], cas: int | None = None) -> int:
        """Write a new version of the secret at ``path``; returns the version number."""
        kv = self._hvac.secrets.kv.v2
        body = _body(
            await self._run(
                lambda: kv.create_or_update_secret(
                    path, secret=data, cas=cas, mount_point=self.kv_mount
                )
            )
        )
        return int(body["data"]["version"])

    async def kv_get(self, path: str, version: int | None = None) -> dict[str, str] | None:
        """The secret's data (latest or a given version); None when absent or deleted."""
        kv = self._hvac.secrets.kv.v2
        body = await self._run_or_missing(
            lambda: kv.read_secret_version(
                path, version=version, mount_point=self.kv_mount, raise_on_deleted_version=True
            )
        )
        if body is None or body.get("data", {}).get("data") is None:
            return None
        data = body["data"]["data"]
        assert isinstance(data, dict)
        return {str(k): str(v) for k, v in data.items()}

    async def kv_metadata(self, path: str) -> dict[str, Any] | None:
        kv = self._hvac.secrets.kv.v2
        body = await self._run_or_missing(
            lambda: kv.read_secret_metadata(path, mount_point=self.kv_mount)
        )
        if body is None:
            return None
        data = body["data"]
        assert isinstance(data, dict)
        return data

    async def kv_delete_latest(self, path: str) -> None:
        """Soft-delete the current version: unreadable, but kept in the version history (and
        recoverable with undelete) for the record."""
        kv = self._hvac.secrets.kv.v2
        await self._run(lambda: kv.delete_latest_version_of_secret(path, mount_point=self.kv_mount))

    async def kv_destroy_all(self, path: str) -> None:
        """Delete the secret and every version of it (metadata included)."""
        kv = self._hvac.secrets.kv.v2
        await self._run(
            lambda: kv.delete_metadata_and_all_versions(path, mount_point=self.kv_mount)
        )

    # -- Transit ------------------------------------------------------------------------------

    async def transit_create_key(self, name: str, key_type: str = "aes256-gcm96") -> None:
        if key_type in hvac_transit.ALLOWED_KEY_TYPES:
            await self._run(
                lambda: self._transit.create_key(
                    name, key_type=key_type, mount_point=self.transit_mount
                )
            )
        else:  # a type Vault serves and hvac's list lacks (aes128-gcm96)
            await self._request("POST", f"{self.transit_mount}/keys/{name}", {"type": key_type})

    async def transit_encrypt(self, key: str, plaintext: bytes) -> str:
        encoded = base64.b64encode(plaintext).decode()
        body = _body(
            await self._run(
                lambda: self._transit.encrypt_data(
                    key, plaintext=encoded, mount_point=self.transit_mount
                )
            )
        )
        return str(body["data"]["ciphertext"])

    async def transit_decrypt(self, key: str, ciphertext: str) -> bytes:
        body = _body(
            await self._run(
                lambda: self._transit.decrypt_data(
                    key, ciphertext=ciphertext, mount_point=self.transit_mount
                )
            )
        )
        return base64.b64decode(body["data"]["plaintext"])

    async def transit_read_key(self, name: str) -> dict[str, Any] | None:
        """The key's description: type, ``latest_version``, ``min_decryption_version`` and,
        for asymmetric keys, ``keys`` = {version: {"public_key": PEM, ...}}. None if absent."""
        body = await self._run_or_missing(
            lambda: self._transit.read_key(name, mount_point=self.transit_mount)
        )
        if body is None:
            return None
        data = body["data"]
        assert isinstance(data, dict)
        return data

    async def transit_public_keys(self, name: str) -> dict[int, str]:
        """PEM public keys of an asymmetric key by version, only the versions Vault still
        accepts (``>= min_decryption_version``): a retired version must not verify."""
        data = await self.transit_read_key(name)
        if data is None:
            raise VaultError(404, [f"transit key {name} not found"], f"keys/{name}")
        floor = int(data.get("min_decryption_version", 1))
        return {
            int(version): str(entry["public_key"])
            for version, entry in data.get("keys", {}).items()
            if int(version) >= floor and isinstance(entry, dict) and entry.get("public_key")
        }

    async def transit_rotate_key(self, name: str) -> int:
        """Add a new version of the key; returns the new latest version."""
        await self._run(lambda: self._transit.rotate_key(name, mount_point=self.transit_mount))
        data = await self.transit_read_key(name)
        assert data is not None
        return int(data["latest_version"])

    async def transit_sign(
        self,
        name: str,
        message: bytes,
        *,
        key_version: int | None = None,
        hash_algorithm: str = "sha2-256",
        marshaling_algorithm: str = "jws",
    ) -> tuple[int, str]:
        """Sign ``message`` with the key (Vault hashes it); returns (key version used,
        signature). With ``marshaling_algorithm="jws"`` an ECDSA signature is the base64url
        ``r || s`` a JWS (ES256) carries, so the private key never leaves Vault."""
        encoded = base64.b64encode(message).decode()
        if hash_algorithm in hvac_transit.ALLOWED_HASH_DATA_ALGORITHMS:
            body = _body(
                await self._run(
                    lambda: self._transit.sign_data(
                        name,
                        hash_input=encoded,
                        key_version=key_version,
                        hash_algorithm=hash_algorithm,
                        marshaling_algorithm=marshaling_algorithm,
                        mount_point=self.transit_mount,
                    )
                )
            )
        else:  # an algorithm Vault serves and hvac's list lacks (sha1, sha3-*)
            payload: dict[str, Any] = {
                "input": encoded,
                "marshaling_algorithm": marshaling_algorithm,
            }
            if key_version is not None:
                payload["key_version"] = key_version
            raw = await self._request(
                "POST", f"{self.transit_mount}/sign/{name}/{hash_algorithm}", payload
            )
            assert raw is not None
            body = raw
        # "vault:v<version>:<signature>"
        _, version, signature = str(body["data"]["signature"]).split(":", 2)
        return int(version.removeprefix("v")), signature

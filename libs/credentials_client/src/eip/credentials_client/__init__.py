"""Exchange credentials for trading services, from the auth service only.

    tokens = ClientCredentials(auth_url, "order-management", client_secret,
                               scope="credentials:use", accounts=["acct-1"])
    creds = CredentialsClient(auth_url, tokens.token, ttl_s=60)
    listener = creds.listener(bootstrap_servers, dlq_producer)   # evicts on revoke / rotate
    asyncio.create_task(listener.run())
    secret = await creds.get(credential_id)      # cached for at most ttl_s

Prefer signing through the auth service, so the secret never leaves it: an adapter takes an
``AuthRequestSigner(creds, credential_id, exchange)`` (``eip.exchanges.contract.signing``'s
``RequestSigner``), or call ``await creds.sign_request(credential_id, scheme, fields)``. When a
service does hold a copy, it is only in memory, for at most ``ttl_s``, and dropped as soon as
``auth.credentials.v1`` says the key was revoked or rotated.
"""

from eip.credentials_client.client import (
    ClientCredentials,
    Credential,
    CredentialRefused,
    CredentialRevoked,
    CredentialsClient,
    CredentialsUnavailable,
)
from eip.credentials_client.signer import AuthRequestSigner

__all__ = [
    "AuthRequestSigner",
    "ClientCredentials",
    "Credential",
    "CredentialRefused",
    "CredentialRevoked",
    "CredentialsClient",
    "CredentialsUnavailable",
]

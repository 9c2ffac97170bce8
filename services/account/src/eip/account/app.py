from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI

from eip.account import __version__
from eip.account.settings import AccountSettings
from eip.observability.http import ApiError
from eip.runtime import Needs, service_app
from eip.tokens import Claims, TokenVerifier, require_scope


def build_app(settings: AccountSettings) -> FastAPI:
    app = service_app(settings, __version__, Needs(kafka=True, database=True))
    app.state.token_verifier = TokenVerifier(
        settings.auth_jwks_url, issuer=settings.auth_issuer, audience=settings.auth_audience
    )

    @app.get("/v1/accounts/{account_id}/access", tags=["accounts"])
    async def account_access(
        account_id: str,
        claims: Annotated[Claims, Depends(require_scope("accounts:read"))],
    ) -> dict[str, Any]:
        """Whether the caller's token may read this account (``accounts:read`` and the account
        in its ``accounts`` claim). Balances and positions arrive with the account issue; this
        is the access check they will sit behind."""
        if not claims.may_use_account(account_id):
            raise ApiError(403, "forbidden", "token does not cover this account")
        return {"account_id": account_id, "subject": claims.subject, "access": "read"}

    return app

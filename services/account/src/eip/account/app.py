from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path

from eip.account import __version__
from eip.account.settings import AccountSettings
from eip.observability.http import ApiError
from eip.observability.inputs import Text
from eip.runtime import Needs, service_app
from eip.tokens import Claims, require_scope

AccountId = Annotated[Text, Path(min_length=1, max_length=64)]


def build_app(settings: AccountSettings) -> FastAPI:
    app = service_app(settings, __version__, Needs(kafka=True, database=True))

    @app.get("/v1/accounts/{account_id}/access", tags=["accounts"])
    async def account_access(
        account_id: AccountId,
        claims: Annotated[Claims, Depends(require_scope("accounts:read"))],
    ) -> dict[str, Any]:
        """Whether the caller's token may read this account (``accounts:read`` and the account
        in its ``accounts`` claim): 403 otherwise. Balances and positions arrive with the
        account issue; this is the access check they will sit behind."""
        if not claims.may_use_account(account_id):
            raise ApiError(403, "forbidden", "token does not cover this account")
        return {"account_id": account_id, "subject": claims.subject, "access": "read"}

    return app

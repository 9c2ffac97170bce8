"""What the Accounts and Rules screens show, read from the account and automation services with
the operator's token: one function per screen, returning the page's model (the services'
answers, or the error each part met).

What is subtle:

- Each part of a screen is asked for on its own (``attempt``) and at the same time: a part that
  fails (the account service's market-data history unreachable, the automation service's
  arbitrage tables) shows its own error and the rest of the screen stays; a service that does
  not answer at all fails every part, each saying so.
- Money stays the services' decimal strings; only the value chart's points become numbers, in
  the browser, to be placed on an axis.
- Recent firings are asked for per rule (the automation API has no firings-of-many call), for
  at most ``FIRINGS_OF`` rules, so a page with many rules costs a bounded number of calls.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from eip.console.live import Result, attempt
from eip.console.upstream import Upstream

# The value history's span and step per choice of the page (the account service allows at most
# 2,000 points: every span here stays far below).
SPANS = {
    "1d": (timedelta(days=1), "1h"),
    "7d": (timedelta(days=7), "4h"),
    "30d": (timedelta(days=30), "1d"),
}
FIRINGS_SHOWN = 5
FIRINGS_OF = 25
OPPORTUNITIES_SHOWN = 20


async def account_view(
    upstream: Upstream, token: str, account: str | None, quote: str, span: str
) -> dict[str, Any]:
    listed = await attempt(upstream.get("account", "/v1/accounts", token))
    accounts: list[str] = listed.value["accounts"] if listed.ok else []
    chosen = account if account is not None else (accounts[0] if accounts else None)
    view: dict[str, Any] = {
        "accounts": accounts,
        "accounts_error": listed.error,
        "account": chosen,
        "quote": quote,
        "span": span,
        "spans": list(SPANS),
    }
    if chosen is None:
        return view
    base = f"/v1/accounts/{chosen}"
    length, step = SPANS[span]
    end = datetime.now(UTC).replace(microsecond=0)
    history_params = {
        "start": (end - length).isoformat(),
        "end": end.isoformat(),
        "step": step,
        "quote": quote,
    }
    connections, balances, portfolio, history = await asyncio.gather(
        attempt(upstream.get("account", f"{base}/connections", token)),
        attempt(upstream.get("account", f"{base}/balances", token, {"quote": quote})),
        attempt(upstream.get("account", f"{base}/portfolio", token, {"quote": quote})),
        attempt(upstream.get("account", f"{base}/portfolio/history", token, history_params)),
    )
    view.update(
        connections=connections,
        balances=balances,
        portfolio=portfolio,
        history=history,
        points=[[p["time"], p["value"]] for p in history.value["points"]] if history.ok else [],
    )
    return view


async def rules_view(upstream: Upstream, token: str, arbitrage: bool) -> dict[str, Any]:
    """The token's rules (newest state), each with its last firings; with ``arbitrage`` (the
    session has alerts:read) the open cross-exchange opportunities."""
    listed, opportunities = await asyncio.gather(
        attempt(upstream.get("automation", "/v1/rules", token)),
        attempt(
            upstream.get(
                "automation",
                "/v1/arbitrage/opportunities",
                token,
                {"open": "true", "limit": OPPORTUNITIES_SHOWN},
            )
        )
        if arbitrage
        else _nothing(),
    )
    rules: list[dict[str, Any]] = listed.value["rules"] if listed.ok else []
    firings = await asyncio.gather(
        *(
            attempt(
                upstream.get(
                    "automation",
                    f"/v1/rules/{rule['rule_id']}/firings",
                    token,
                    {"limit": FIRINGS_SHOWN},
                )
            )
            for rule in rules[:FIRINGS_OF]
        )
    )
    return {
        "rules": rules,
        "rules_error": listed.error,
        "firings": {rule["rule_id"]: found for rule, found in zip(rules, firings, strict=False)},
        "opportunities": opportunities if arbitrage else None,
    }


async def _nothing() -> Result:
    return Result()

"""What the Accounts, Orders and Rules screens show, read from the account, order-management and
automation services with the operator's token: one function per screen, returning the page's
model (the services' answers, or the error each part met).

What is subtle:

- Each part of a screen is asked for on its own (``attempt``) and at the same time: a part that
  fails (the account service's market-data history unreachable, the automation service's
  arbitrage tables) shows its own error and the rest of the screen stays; a service that does
  not answer at all fails every part, each saying so.
- Money stays the services' decimal strings; only the value chart's points become numbers, in
  the browser, to be placed on an axis.
- The Orders and Accounts screens are live (``follow_orders``, ``follow_accounts``: the same
  Server-Sent Events as the other live pages, from a follower that re-reads the services and
  sends a part only when its HTML changed), and each shows the time of its last good reading
  ("as of"), which moves at every round: a page whose data stopped moving says how old it is.
  The followers live here, not in ``live.py``, because they render this module's models.
- Recent firings are asked for per rule (the automation API has no firings-of-many call), for
  at most ``FIRINGS_OF`` rules, so a page with many rules costs a bounded number of calls; the
  same for an order's fills (``FILLS_OF`` orders that filled something).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from eip.console.live import Changes, Event, Live, Result, attempt, emit
from eip.console.sessions import Session
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
OPEN_ORDERS_SHOWN = 100
RECENT_ORDERS_SHOWN = 20
FILLS_OF = 10


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
    parts, history = await asyncio.gather(
        account_parts(upstream, token, chosen, quote),
        attempt(upstream.get("account", f"{base}/portfolio/history", token, history_params)),
    )
    view.update(
        **parts,
        history=history,
        points=[[p["time"], p["value"]] for p in history.value["points"]] if history.ok else [],
    )
    return view


async def account_parts(upstream: Upstream, token: str, account: str, quote: str) -> dict[str, Any]:
    """What the Accounts screen keeps live: connections, balances and the portfolio (value,
    allocation, PnL) in ``quote``; ``as_of``: when this was read."""
    base = f"/v1/accounts/{account}"
    connections, balances, portfolio = await asyncio.gather(
        attempt(upstream.get("account", f"{base}/connections", token)),
        attempt(upstream.get("account", f"{base}/balances", token, {"quote": quote})),
        attempt(upstream.get("account", f"{base}/portfolio", token, {"quote": quote})),
    )
    return {
        "connections": connections,
        "balances": balances,
        "portfolio": portfolio,
        "as_of": datetime.now(UTC).isoformat(),
    }


# The Accounts screen's live parts: element id -> its fragment template.
ACCOUNT_FRAGMENTS = {
    "summary-part": "fragments/account_summary.html",
    "connections-part": "fragments/account_connections.html",
    "allocation-part": "fragments/account_allocation.html",
    "consolidated-part": "fragments/account_consolidated.html",
    "venues-part": "fragments/account_venues.html",
}


async def follow_accounts(
    live: Live, session: Session, account: str, quote: str
) -> AsyncIterator[Event]:
    r, changes = live.renderer, Changes()
    while True:
        token = await live.sessions.token(session)
        parts = await account_parts(live.upstream, token, account, quote)
        ctx = {"account": account, "quote": quote, **parts}
        out: list[Event | None] = [
            changes.fragment(element, r.render(template, **ctx))
            for element, template in ACCOUNT_FRAGMENTS.items()
        ]
        if all(parts[k].ok for k in ("connections", "balances", "portfolio")):
            asof = r.render("fragments/as_of.html", as_of=parts["as_of"])
            out.append(changes.fragment("accounts-asof", asof))
        out.append(changes.ping())
        async for event in emit(changes, out):
            yield event
        await asyncio.sleep(live.settings.accounts_poll_interval_s)


async def follow_orders(live: Live, session: Session, account: str) -> AsyncIterator[Event]:
    r, changes = live.renderer, Changes()
    while True:
        token = await live.sessions.token(session)
        view = await orders_view(live.upstream, token, account)
        panel = r.render("fragments/orders.html", session=session, csrf=session.csrf, **view)
        out: list[Event | None] = [changes.fragment("orders-panel", panel)]
        if view["open_orders"].ok and view["recent"].ok:
            asof = r.render("fragments/as_of.html", as_of=view["as_of"])
            out.append(changes.fragment("orders-asof", asof))
        out.append(changes.ping())
        async for event in emit(changes, out):
            yield event
        await asyncio.sleep(live.settings.orders_poll_interval_s)


async def orders_view(upstream: Upstream, token: str, account: str) -> dict[str, Any]:
    """The account's open orders and its most recent ones (any state), newest first, with the
    fills of the recent orders that filled something; ``as_of``: when this was read."""
    base = {"account_id": account}
    open_orders, recent = await asyncio.gather(
        attempt(
            upstream.get(
                "order-management",
                "/v1/orders",
                token,
                base | {"open": "true", "limit": OPEN_ORDERS_SHOWN},
            )
        ),
        attempt(
            upstream.get(
                "order-management", "/v1/orders", token, base | {"limit": RECENT_ORDERS_SHOWN}
            )
        ),
    )
    filled = [
        o["order_id"]
        for o in (recent.value["orders"] if recent.ok else [])
        if Decimal(o["filled_quantity"]) > 0
    ][:FILLS_OF]
    fills = await asyncio.gather(
        *(
            attempt(upstream.get("order-management", f"/v1/orders/{order_id}/fills", token))
            for order_id in filled
        )
    )
    return {
        "open_orders": open_orders,
        "recent": recent,
        "fills": dict(zip(filled, fills, strict=True)),
        "as_of": datetime.now(UTC).isoformat(),
    }


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

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
- The order ticket's check before sending (``ticket_preview``) compares the ticket only with
  what it could read (the book's expected fill; with risk:admin, order management's limits and
  kill switches), because order management has no dry-run endpoint: ``indicative`` names the
  checks those readings decide, with the code order management would give, and no other.
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
EXECUTIONS_SHOWN = 20
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


async def rules_view(
    upstream: Upstream, token: str, arbitrage: bool, executions: bool = False
) -> dict[str, Any]:
    """The token's rules (newest state), each with its last firings; with ``arbitrage`` (the
    session has alerts:read) the open cross-exchange opportunities; with ``executions`` the
    arbitrage executions of the token's accounts (rules:read, like the rules), newest first."""
    listed, opportunities, executed = await asyncio.gather(
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
        attempt(
            upstream.get(
                "automation", "/v1/arbitrage/executions", token, {"limit": EXECUTIONS_SHOWN}
            )
        )
        if executions
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
        "executions": executed if executions else None,
    }


async def _nothing() -> Result:
    return Result()


# --- the order ticket's check before sending ----------------------------------------------------

# A kill switch's state by how much it holds back (order management's KillState rank).
SWITCH_RANK = {"active": 0, "reducing": 1, "halted": 2}


async def ticket_preview(
    upstream: Upstream, token: str, session: Session, ticket: dict[str, str]
) -> dict[str, Any]:
    """What the ticket would meet, read before sending: the order book's expected fill of its
    size (``/slippage``, with books:read) and, with risk:admin, the limits and kill switches
    order management holds the account to, compared with the ticket (``indicative``). Order
    management has no dry-run endpoint: its own checks run when the order is sent."""
    exchange, symbol, account = ticket["exchange"], ticket["symbol"], ticket["account_id"]
    book = f"/v1/books/{exchange}/{symbol.replace('/', '-')}/slippage"
    readable = {"books": session.has("books:read"), "risk": session.has("risk:admin")}
    slippage, limits, switches = await asyncio.gather(
        attempt(
            upstream.get(
                "order-book", book, token, {"side": ticket["side"], "size": ticket["quantity"]}
            )
        )
        if readable["books"]
        else _nothing(),
        attempt(
            upstream.get(
                "order-management",
                "/v1/risk/limits/effective",
                token,
                {"account_id": account, "exchange": exchange, "symbol": symbol},
            )
        )
        if readable["risk"]
        else _nothing(),
        attempt(upstream.get("order-management", "/v1/risk/kill-switches", token))
        if readable["risk"]
        else _nothing(),
    )
    found = indicative(
        ticket,
        slippage.value if readable["books"] and slippage.ok else None,
        limits.value["limits"] if readable["risk"] and limits.ok else None,
        switches.value["switches"] if readable["risk"] and switches.ok else None,
    )
    return {
        "ticket": ticket,
        "readable": readable,
        "slippage": slippage,
        "limits": limits,
        "switches": switches,
        **found,
    }


def indicative(
    ticket: dict[str, str],
    slippage: dict[str, Any] | None,
    limits: dict[str, Any] | None,
    switches: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The ticket against what was read: its notional (at the limit price, or the book's
    expected average for a market order), whether a limit order crosses the book, and the
    findings — each ``{"code", "effect", "message"}`` with effect ``deny`` (order management
    would refuse it with that code), ``hold`` (held for a second operator) or ``note``. Only
    the checks these readings decide are made (kill switch, quantity and notional caps, the
    confirmation threshold, a market order's slippage cap); the rest (balances, the venue's
    rules, the price band, rates) order management checks at sending."""
    quantity = Decimal(ticket["quantity"])
    market = ticket["type"] == "market"
    buy = ticket["side"] == "buy"
    price: Decimal | None = None
    if not market and ticket.get("price"):
        price = Decimal(ticket["price"])
    elif slippage is not None and slippage.get("average_price"):
        price = Decimal(slippage["average_price"])
    notional = quantity * price if price is not None else None
    crosses: bool | None = None
    findings: list[dict[str, str]] = []
    if slippage is not None:
        best = slippage.get("best_price")
        # only a plain limit order meets the book now; a stop's limit applies once triggered
        if ticket["type"] == "limit" and price is not None and best:
            crosses = price >= Decimal(best) if buy else price <= Decimal(best)
        if not slippage.get("complete", True):
            findings.append(
                {
                    "code": "book_too_thin",
                    "effect": "note",
                    "message": f"the book holds {slippage['filled_size']} on that side, "
                    f"{slippage['shortfall']} short of the size",
                }
            )
    if switches is not None:
        applying = [
            s
            for s in switches
            if (s["level"], s["scope_id"])
            in (
                ("platform", ""),
                ("exchange", ticket["exchange"]),
                ("account", ticket["account_id"]),
            )
        ]
        tightest = max(applying, key=lambda s: SWITCH_RANK.get(s["state"], 0), default=None)
        if tightest is not None and tightest["state"] == "halted":
            findings.append(
                {
                    "code": "halted",
                    "effect": "deny",
                    "message": f"the {tightest['level']} kill switch is HALTED"
                    + (f" ({tightest['reason']})" if tightest.get("reason") else ""),
                }
            )
        elif tightest is not None and tightest["state"] == "reducing":
            findings.append(
                {
                    "code": "reducing_only",
                    "effect": "deny",
                    "message": f"the {tightest['level']} kill switch is REDUCING: only an order "
                    "that reduces a position passes",
                }
            )
    if limits is not None:

        def cap(name: str) -> Decimal | None:
            value = limits.get(name)
            return None if value in (None, "") else Decimal(str(value))

        checks = [
            ("max_order_quantity", quantity, "deny", "the quantity is above the cap"),
            ("max_order_notional", notional, "deny", "the notional is above the cap"),
            (
                "confirm_above_notional",
                notional,
                "hold",
                "above the confirmation threshold: held until a second operator confirms",
            ),
        ]
        if market and slippage is not None and slippage.get("slippage_vs_mid_bps"):
            bps = Decimal(slippage["slippage_vs_mid_bps"])
            checks.append(
                ("max_slippage_bps", bps, "deny", "the expected slippage is above the cap")
            )
        for name, value, effect, message in checks:
            limit = cap(name)
            if limit is not None and value is not None and value > limit:
                code = "slippage" if name == "max_slippage_bps" else name
                if name == "confirm_above_notional":
                    code = "confirmation"
                findings.append(
                    {"code": code, "effect": effect, "message": f"{message} ({value} > {limit})"}
                )
    return {
        "notional": None if notional is None else str(notional),
        "crosses": crosses,
        "findings": findings,
    }

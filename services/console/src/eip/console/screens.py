"""The console's screens, as data: what each needs (scopes, the service operation it is built
on) and whether it is built. The navigation and the home page's choice read this table, so a
screen added here appears everywhere at once (docs/CONSOLE.md, "Adding a screen"). Every screen
is built today: the placeholders that said which API a screen waited for went with the last
one (Orders), and a screen not built is shown in the navigation marked "soon".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Screen:
    key: str
    title: str
    path: str
    # a session sees the screen only with every one of these scopes
    scopes: tuple[str, ...]
    # the service and the operation the screen is built on; None: several, or none yet
    service: str | None
    operation: str | None
    built: bool
    # what the screen shows (built) or will show (placeholder), for the page and the docs
    summary: str
    issue: int | None = None


SCREENS: tuple[Screen, ...] = (
    Screen(
        "markets",
        "Markets",
        "/markets",
        ("market:read",),
        "market-data",
        "GET /v1/tickers",
        True,
        "Live tickers per venue, the cross-exchange price with each venue's freshness, candles"
        " 1m…1d with volume.",
    ),
    Screen(
        "book",
        "Order book",
        "/book",
        ("books:read",),
        "order-book",
        "GET /v1/books/{exchange}/{symbol}/depth-chart",
        True,
        "Depth chart, ladder, spread and imbalance, walls and clusters, the consolidated"
        " multi-venue book, and whether each book is in sync (desyncs and resyncs listed).",
    ),
    Screen(
        "keys",
        "Keys",
        "/keys",
        ("credentials:admin",),
        "auth",
        "POST /v1/credentials",
        True,
        "Connect an exchange key (the secret goes straight to the auth service), its permissions"
        " and IP restriction as the venue reports them, rotate, revoke.",
    ),
    Screen(
        "platform",
        "Platform",
        "/platform",
        (),
        None,
        None,
        True,
        "Each service's readiness and last error, stream status per venue, Kafka consumer lag,"
        " the kill switch and its control (risk:admin), and the audit trail with its chain"
        " verification.",
    ),
    Screen(
        "accounts",
        "Accounts",
        "/accounts",
        ("accounts:read",),
        "account",
        "GET /v1/accounts/{account_id}/balances",
        True,
        "Connections and their status, balances per venue and consolidated in a chosen quote"
        " currency (unvalued assets listed), portfolio value over time, allocation, PnL.",
        14,
    ),
    Screen(
        "orders",
        "Orders",
        "/orders",
        ("orders:read",),
        "order-management",
        "POST /v1/orders",
        True,
        "Open and recent orders per account with their state, fills and event timeline; with"
        " orders:write an order ticket (limit, market, stop, take-profit, trailing), OCO,"
        " amend, cancel and cancel-all; large trades held for a second operator's confirmation"
        " (orders:confirm).",
        15,
    ),
    Screen(
        "rules",
        "Rules & arbitrage",
        "/rules",
        ("rules:read",),
        "automation",
        "GET /v1/rules",
        True,
        "Automation rules with their state and last firings, pause and resume (rules:write),"
        " the open cross-exchange opportunities (alerts:read) and the arbitrage executions.",
        16,
    ),
)
BY_KEY = {s.key: s for s in SCREENS}

"""The console's parts that need no platform: the audit trail's newest sequence, the desync
log, consumer lag from metrics, the screens table, the security headers and session guard of
the app, and the vendored libraries."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from eip.console.app import PUBLIC, build_app, newest_sequence
from eip.console.live import (
    Changes,
    Event,
    Result,
    cluster_width,
    consumer_lag,
    depth_payload,
)
from eip.console.render import Renderer
from eip.console.screens import SCREENS
from eip.console.sessions import Session
from eip.console.settings import ConsoleSettings
from eip.console.upstream import Upstream
from eip.console.views import account_view, indicative, rules_view
from eip.console.watch import BookWatch
from eip.testing.simulator import free_port
from eip.tokens import SCOPES, unprotected_routes

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, 64, 65, 1000, 1023])
async def test_the_newest_audit_sequence_is_found_by_galloping_and_bisecting(count: int) -> None:
    sequences = list(range(1, count + 1))
    calls = []

    async def after(sequence: int, limit: int) -> list[dict[str, Any]]:
        calls.append(sequence)
        return [{"sequence": s} for s in sequences if s > sequence][:limit]

    assert await newest_sequence(after) == count
    assert len(calls) <= 2 * max(1, count).bit_length() + 3


async def test_the_newest_sequence_holds_with_gaps_in_a_filtered_trail() -> None:
    sequences = [3, 4, 9, 40, 41, 300]

    async def after(sequence: int, limit: int) -> list[dict[str, Any]]:
        return [{"sequence": s} for s in sequences if s > sequence][:limit]

    assert await newest_sequence(after) == 300


def book(in_sync: bool, epoch: int, reason: str | None = None) -> dict[str, Any]:
    return {
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "in_sync": in_sync,
        "epoch": epoch,
        "desync_reason": reason,
        "desync_detail": "",
    }


def test_the_watch_lists_desyncs_and_resyncs_and_a_resync_between_two_readings() -> None:
    watch = BookWatch()
    watch.observe([book(True, 1)])
    assert watch.recent() == []  # a first reading is no change
    watch.observe([book(False, 1, "gap")])
    watch.observe([book(True, 2)])
    watch.observe([book(True, 3)])  # out and back in between readings
    kinds = [(t.kind, t.reason, t.epoch) for t in watch.recent()]
    assert kinds == [
        ("resync", None, 3),
        ("desync", "missed", 2),
        ("resync", None, 2),
        ("desync", "gap", 1),
    ]
    assert watch.recent(exchange="kraken") == []


def test_consumer_lag_is_read_from_a_services_metrics() -> None:
    metrics = (
        "# HELP eip_bus_consumer_lag Records between the consumer's position and the end\n"
        "# TYPE eip_bus_consumer_lag gauge\n"
        'eip_bus_consumer_lag{group="market-data-candles",partition="1",topic="md.trades.v1"} 7.0\n'
        'eip_bus_consumer_lag{group="market-data-candles",partition="0",topic="md.trades.v1"} 0.0\n'
        "# TYPE other gauge\nother 3.0\n"
    )
    assert consumer_lag(metrics) == [
        {"group": "market-data-candles", "partition": "0", "topic": "md.trades.v1", "lag": "0"},
        {"group": "market-data-candles", "partition": "1", "topic": "md.trades.v1", "lag": "7"},
    ]
    assert consumer_lag("not { metrics") == []


def test_a_fragment_is_sent_again_only_when_it_changed() -> None:
    changes = Changes()
    assert changes.fragment("x", "<p>1</p>") == Event("fragment", {"id": "x", "html": "<p>1</p>"})
    assert changes.fragment("x", "<p>1</p>") is None
    assert changes.fragment("x", "<p>2</p>") is not None
    assert Event("ping").encode() == b": keep-alive\n\n"
    assert Event("depth", {"a": "1"}).encode() == b'event: depth\ndata: {"a":"1"}\n\n'


def test_the_depth_payload_keeps_prices_as_strings_and_ranks_clusters_by_size() -> None:
    point = {"price": "100.10", "size": "1", "cumulative_size": "1", "cumulative_notional": "1"}
    depth = {"exchange": "b", "symbol": "S", "epoch": 1, "sequence": 2, "age_ms": 5}
    clusters = {
        "width": "1",
        "bids": [{"price": p, "size": s, "levels": 1} for p, s in (("1", "9"), ("2", "10"))],
        "asks": [],
    }
    payload = depth_payload({**depth, "bids": [point], "asks": []}, None, clusters)
    assert payload["bids"] == [["100.10", "1", "1"]]
    assert [c[1] for c in payload["clusters"]["bids"]] == ["10", "9"]  # by value, not by text


def test_every_screen_needs_known_scopes_and_every_screen_is_built() -> None:
    for screen in SCREENS:
        assert set(screen.scopes) <= SCOPES, screen.key
        if not screen.built:
            assert screen.issue is not None, screen.key
    assert {s.key for s in SCREENS if not s.built} == set()


@pytest.fixture
def app_client() -> httpx.AsyncClient:
    app = build_app(ConsoleSettings(auth_url="http://127.0.0.1:9"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")


async def test_only_the_login_page_and_the_assets_are_open_without_a_session(
    app_client: httpx.AsyncClient,
) -> None:
    app = build_app(ConsoleSettings())
    public = {"/healthz", "/readyz", "/metrics", "/openapi.json"}
    open_routes = {r.split(" ", 1)[1] for r in unprotected_routes(app, public)}
    assert open_routes == set(PUBLIC)
    async with app_client as http:
        page = await http.get("/platform", headers={"accept": "text/html"})
        assert page.status_code == 303
        assert page.headers["location"] == "/login"
        call = await http.get("/events/platform")
        assert call.status_code == 401
        assert call.json()["error"]["code"] == "unauthorized"
        assert call.headers["hx-redirect"] == "/login"
        http.cookies.set("eip_console_session", "made-up")
        forged = await http.get("/keys")
        assert forged.status_code == 401


async def test_every_answer_carries_a_strict_content_security_policy(
    app_client: httpx.AsyncClient,
) -> None:
    async with app_client as http:
        for path in ("/login", "/static/console.css", "/healthz", "/nowhere"):
            response = await http.get(path)
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert "unsafe-eval" not in csp
            assert "frame-ancestors 'none'" in csp
            assert response.headers["x-content-type-options"] == "nosniff"
        login = await http.get("/login")
        assert login.headers["cache-control"] == "no-store"
        assert "<script>" not in login.text  # no inline script: every script has a src
        assert " style=" not in login.text
        assert (
            await http.get("/docs")
        ).status_code == 404  # its inline scripts would break the CSP


async def test_a_login_the_auth_service_cannot_answer_says_so(
    app_client: httpx.AsyncClient,
) -> None:
    async with app_client as http:
        form = await http.get("/login")
        token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        answer = await http.post(
            "/login",
            data={"client_id": "someone", "client_secret": "s3cret-canary", "csrf_token": token},
        )
        assert answer.status_code == 503
        assert "did not answer" in answer.text
        assert "s3cret-canary" not in answer.text


def test_the_vendored_libraries_are_the_registry_s_files() -> None:
    spec = importlib.util.spec_from_file_location("console_vendor", HERE.parent / "vendor.py")
    assert spec is not None
    assert spec.loader is not None
    vendor = importlib.util.module_from_spec(spec)
    sys.modules["console_vendor"] = vendor
    spec.loader.exec_module(vendor)
    assert vendor.problems() == []
    recorded = vendor.manifest()["sha256"]
    assert "src/eip/console/static/vendor/echarts.min.js" in recorded
    assert "tests/vendor/axe.min.js" in recorded


def test_the_cluster_width_is_a_round_twentieth_of_the_drawn_range() -> None:
    def side(*prices: str) -> list[dict[str, str]]:
        return [{"price": p} for p in prices]

    assert cluster_width({"bids": side("100.00", "99.60"), "asks": side("100.40")}) == "0.05"
    assert cluster_width({"bids": side("67000"), "asks": side("68000")}) == "50"
    assert cluster_width({"bids": side("1.0"), "asks": side("3.0")}) == "0.1"
    assert cluster_width({"bids": side("5"), "asks": []}) is None


async def test_the_accounts_and_rules_screens_say_which_service_is_down() -> None:
    # nothing listens on these ports: the services are down, as a real outage looks to the console
    settings = ConsoleSettings(
        account_url=f"http://127.0.0.1:{free_port()}",
        automation_url=f"http://127.0.0.1:{free_port()}",
    )
    upstream = Upstream(settings)
    renderer = Renderer()
    try:
        accounts = await account_view(upstream, "token", None, "USD", "1d")
        rules = await rules_view(upstream, "token", arbitrage=True, executions=True)
    finally:
        await upstream.aclose()
    assert accounts["accounts_error"].code == "service_unavailable"
    assert accounts["account"] is None
    assert accounts["accounts"] == []
    assert rules["rules_error"].code == "service_unavailable"
    assert rules["opportunities"].error.code == "service_unavailable"
    assert rules["executions"].error.code == "service_unavailable"
    assert 'data-failed="automation"' in renderer.render(
        "fragments/executions.html", executions=rules["executions"]
    )
    scopes = frozenset({"accounts:read", "rules:read", "rules:write"})
    session = Session("k", "c", "c", scopes, frozenset(), "x", 0.0, 0.0, 0.0, "", "")
    page = renderer.render(
        "accounts.html",
        session=session,
        identity={"client_id": "c", "scopes": sorted(scopes)},
        screens=[],
        current="accounts",
        csrf="",
        **accounts,
    )
    assert 'data-failed="account"' in page
    assert "account: did not answer" in page
    panel = renderer.render("fragments/rules.html", session=session, csrf="x", **rules)
    assert 'data-failed="automation"' in panel
    assert "Pause" not in panel  # no rule shown, so no button


def test_the_order_fragments_render_every_shape_order_management_answers() -> None:
    """The cancel-all notice, the kill switches and an order's timeline, from answers shaped
    as order management's (a template error would be a 500 after the service acted)."""
    r = Renderer()
    scope = {"account": "a-1", "exchange": "", "symbol": ""}
    done = r.render(
        "fragments/cancel_all_notice.html",
        answer={"orders": [{"order_id": "o-1"}, {"order_id": "o-2"}], "duplicate": False},
        **scope,
    )
    assert 'data-cancel-all="2"' in done
    queued = {"status": "queued", "account_id": "a-1", "idempotency_key": "k", "message": "m"}
    assert 'data-cancel-all="queued"' in r.render(
        "fragments/cancel_all_notice.html", answer=queued, **scope
    )

    never_set = r.render("fragments/kill_switches.html", switches=Result({"switches": []}))
    assert 'data-level="platform" data-scope="" data-state="active"' in never_set
    halted = {
        "level": "account",
        "scope_id": "a-1",
        "state": "halted",
        "reason": "anomaly: size",
        "updated_by": "admin",
        "updated_at": "2026-12-07T23:00:00+00:00",
    }
    both = r.render("fragments/kill_switches.html", switches=Result({"switches": [halted]}))
    assert 'data-level="platform"' in both  # still ACTIVE: never set
    assert 'data-level="account" data-scope="a-1" data-state="halted"' in both
    assert "anomaly: size" in both

    def event(version: int, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        time = "2026-12-07T23:00:00+00:00"
        return {"version": version, "event": name, "state": "x", "actor": "t", "time": time} | {
            "changes": changes
        }

    events = {
        "order_id": "o-1",
        "events": [
            event(1, "place", {"price": "1", "quantity": "2", "state": "pending_new"}),
            event(2, "amend_requested", {"reason": "amend", "replaces": None, "version": 2}),
        ],
    }
    timeline = r.render("fragments/timeline.html", events=Result(events))
    assert timeline.count("<li") == 2
    assert "quantity=2" not in timeline  # the first event is the whole order: its row shows it
    # the amend's own change, without the empty and the routine ones
    assert '<span class="muted">reason=amend</span>' in timeline


def test_the_ticket_check_finds_what_the_readings_decide_and_nothing_more() -> None:
    ticket = {
        "account_id": "a-1",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "quantity": "0.005",
        "price": "60000",
    }
    book = {
        "best_price": "61000.5",
        "average_price": "61010",
        "complete": True,
        "filled_size": "0.005",
        "shortfall": "0",
        "slippage_vs_mid_bps": "2.5",
    }
    limits = {"confirm_above_notional": "200", "max_order_notional": "1000"}
    found = indicative(ticket, book, limits, [])
    assert found["notional"] == "300.000"  # at the limit price, a decimal string
    assert found["crosses"] is False
    assert [(f["code"], f["effect"]) for f in found["findings"]] == [("confirmation", "hold")]
    # a buy at or above the best ask crosses
    assert indicative({**ticket, "price": "61000.5"}, book, None, None)["crosses"] is True

    # a market order: the book's average, the slippage cap, and the tightest kill switch
    market = {**ticket, "type": "market", "price": "", "quantity": "0.001"}
    switches = [
        {"level": "platform", "scope_id": "", "state": "reducing", "reason": ""},
        {"level": "account", "scope_id": "a-1", "state": "halted", "reason": "anomaly"},
        {"level": "account", "scope_id": "other", "state": "halted", "reason": ""},
    ]
    found = indicative(market, book, {"max_slippage_bps": "2"}, switches)
    assert found["notional"] == "61.010"
    assert {f["code"]: f["effect"] for f in found["findings"]} == {
        "halted": "deny",
        "slippage": "deny",
    }
    assert "anomaly" in found["findings"][0]["message"]
    # a thin book is said; without limits nothing is decided
    thin = {**book, "complete": False, "filled_size": "0.002", "shortfall": "0.003"}
    assert [f["code"] for f in indicative(ticket, thin, None, None)["findings"]] == [
        "book_too_thin"
    ]


def test_an_arbitrage_execution_is_shown_with_its_legs() -> None:
    leg = {
        "role": "buy",
        "idempotency_key": "x-1#buy",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": "0.01",
        "price": "60000.1",
        "order_id": "o-1",
        "state": "filled",
        "filled_quantity": "0.01",
        "average_price": "60000.05",
        "reason": "",
        "updated_at": "2026-12-07T23:00:00+00:00",
    }
    sell = {**leg, "role": "sell", "exchange": "kraken", "side": "sell", "price": "60100"}
    execution = {
        "execution_id": "x-1",
        "opportunity_id": "op-1",
        "account_id": "a-1",
        "symbol": "BTC/USDT",
        "buy_exchange": "binance",
        "sell_exchange": "kraken",
        "quantity": "0.01",
        "buy_price": "60000.1",
        "sell_price": "60100",
        "notional": "600.001",
        "expected_net_profit": "0.4",
        "expected_net_profit_bps": "6.6",
        "state": "both_filled",
        "reason": "",
        "created_at": "2026-12-07T23:00:00+00:00",
        "updated_at": "2026-12-07T23:00:01+00:00",
        "legs": [leg, sell],
    }
    html = Renderer().render(
        "fragments/executions.html", executions=Result({"executions": [execution]})
    )
    assert 'data-execution="x-1" data-state="both_filled"' in html
    assert "filled 0.01 @ 60000.05" in html  # the service's decimal strings, as they came
    assert html.count("data-leg=") == 2
    empty = Renderer().render("fragments/executions.html", executions=Result({"executions": []}))
    assert 'id="no-executions"' in empty

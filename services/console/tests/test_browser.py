"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against
a running platform (tests/conftest.py): log in, a book in sync with its depth chart, the
markets, connecting a simulator key and revoking it, the audit chain's verify button, the
platform screen, what a token's scopes show, logout — each screen's screenshot written to
test-artifacts/console/, accessibility checked with axe-core in the same browser, no Content
Security Policy violation anywhere, and page load times and the depth chart's redraw rate
measured and reported (not asserted)."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from eip.console.render import NONE
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient

from .conftest import ARTIFACTS, HERE, Platform

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CHROMIUM = "/usr/bin/chromium"
# The flags that work on this project's machines (docs/CONSOLE.md, "Tests").
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = (HERE / "vendor" / "axe.min.js").read_text()
MEASUREMENTS: dict[str, Any] = {}


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/run installs it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()
    (ARTIFACTS / "measurements.json").write_text(json.dumps(MEASUREMENTS, indent=2) + "\n")


@pytest.fixture(scope="module")
def violations() -> list[str]:
    """Console messages about the Content Security Policy, from every page of the module."""
    return []


def watch(page: Page, violations: list[str]) -> Page:
    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    return page


def log_in(page: Page, platform: Platform, client_id: str, secret: str) -> None:
    """Log in as ``client_id`` (the browser's pages share one cookie jar: log out first)."""
    page.goto(f"{platform.console}/login")
    if "/login" not in page.url:
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(f"{platform.console}/login")
    page.get_by_label("Client id").fill(client_id)
    page.get_by_label("Client secret").fill(secret)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture(scope="module")
def operator(browser: BrowserContext, platform: Platform, violations: list[str]) -> Page:
    page = watch(browser.new_page(), violations)
    log_in(page, platform, platform.admin_id, platform.admin_secret)
    return page


def stored_in_browser(page: Page) -> dict[str, str]:
    """Everything in the page's localStorage and sessionStorage. htmx keeps the page's path
    there (always: htmx 2 writes it at load); nothing else may be."""
    stored = page.evaluate("() => ({...localStorage, ...sessionStorage})")
    assert isinstance(stored, dict)
    return {str(k): str(v) for k, v in stored.items()}


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def load_time_ms(page: Page) -> float:
    """From the navigation's start to the end of its load event (the page's own scripts ran;
    the live data arrives after, over the event stream)."""
    load = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return n.loadEventEnd - n.startTime; }"
    )
    return round(float(load), 1)


def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2 A/AA violations of the page as it is (injected through the DevTools
    protocol, which the page's CSP does not govern)."""
    page.evaluate(AXE + "\n;0")
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"
    )
    assert isinstance(result, list)
    return result


# --- tests ------------------------------------------------------------------------------------


def test_a_wrong_secret_is_refused_and_the_session_lives_only_in_an_httponly_cookie(
    browser: BrowserContext, platform: Platform, violations: list[str]
) -> None:
    page = watch(browser.new_page(), violations)
    page.goto(f"{platform.console}/markets")
    expect(page).to_have_url(f"{platform.console}/login")
    MEASUREMENTS.setdefault("page_load_ms", {})["login"] = load_time_ms(page)
    shoot(page, "login")
    page.get_by_label("Client id").fill(platform.admin_id)
    page.get_by_label("Client secret").fill("not-the-secret")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").filter(has_text="not accepted")).to_be_visible()

    log_in(page, platform, platform.admin_id, platform.admin_secret)
    expect(page).to_have_url(f"{platform.console}/markets")
    cookies = {c["name"]: c for c in browser.cookies(platform.console)}
    session = cookies["eip_console_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert page.evaluate("() => document.cookie") == ""  # nothing a script could read
    assert stored_in_browser(page) == {"htmx-current-path-for-history": "/markets"}
    assert platform.admin_secret not in page.content()
    page.close()


def test_a_book_in_sync_draws_its_depth_chart_live(operator: Page, platform: Platform) -> None:
    page = operator
    page.goto(f"{platform.console}/book?exchange=binance&symbol=BTC/USDT")
    MEASUREMENTS.setdefault("page_load_ms", {})["book"] = load_time_ms(page)
    chart = page.locator("#depth-chart")
    expect(page.locator("#sync-flag")).to_have_attribute("data-in-sync", "true", timeout=60_000)
    expect(chart).to_have_attribute("data-in-sync", "true", timeout=30_000)
    first_draw = page.evaluate("() => window.eipConsole.lastDepth.at")
    MEASUREMENTS["book_first_depth_redraw_ms"] = round(float(first_draw), 1)
    assert int(chart.get_attribute("data-points") or 0) > 10
    expect(page.locator("#ladder tr.bid").first).to_be_visible()
    expect(page.locator("#ladder tr.ask").first).to_be_visible()
    expect(page.locator("#spread")).not_to_have_text(NONE)
    expect(page.locator("#books")).to_contain_text("kraken BTC/USDT")
    expect(page.locator("#consolidated")).to_contain_text("included", timeout=30_000)
    expect(page.locator("#walls")).to_contain_text("Largest clusters", timeout=30_000)

    # the chart follows the book: its sequence moves while the page stays open
    sequence = int(chart.get_attribute("data-sequence") or 0)
    page.wait_for_function(
        f"() => Number(document.getElementById('depth-chart').dataset.sequence) > {sequence}",
        timeout=30_000,
    )
    # and it draws what the order-book service serves: the same epoch, a sequence it published
    drawn = page.evaluate("() => window.eipConsole.lastDepth")
    served = next(
        b
        for b in httpx.get(
            f"{platform.order_book}/v1/books", headers=platform.headers(), timeout=10
        ).json()["books"]
        if b["exchange"] == "binance" and b["symbol"] == "BTC/USDT"
    )
    assert served["epoch"] == drawn["epoch"]
    assert 0 < drawn["sequence"] <= served["sequence"]
    MEASUREMENTS["depth_chart"] = redraw_rate(page, seconds=8.0)
    metrics = httpx.get(f"{platform.console}/metrics", timeout=10).text
    rss = next(
        float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("process_resident_memory_bytes")
    )
    MEASUREMENTS["console_rss_mib_with_a_live_book_page"] = round(rss / 2**20, 1)
    shoot(page, "order-book")


async def _skip_a_diff(base_url: str) -> None:
    simulator = SimulatorClient(base_url)
    try:
        await simulator.skip_sequence("BTCUSDT", 1, venue="binance")
    finally:
        await simulator.aclose()


def in_thread(call: Any) -> Any:
    """Run an async client's call: Playwright's sync API holds this thread's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, call).result()


def test_a_desync_and_its_resync_are_listed(operator: Page, platform: Platform) -> None:
    page = operator
    page.goto(f"{platform.console}/book?exchange=binance&symbol=BTC/USDT")
    expect(page.locator("#sync-flag")).to_have_attribute("data-in-sync", "true", timeout=60_000)
    expect(page.locator("#desyncs")).to_contain_text("None since", timeout=10_000)
    in_thread(_skip_a_diff(platform.simulator))  # a lost diff: a gap in Binance's update ids
    desyncs = page.locator("#desyncs")
    expect(
        desyncs.locator("tr", has_text="binance BTC/USDT").filter(has_text="resync")
    ).to_have_count(1, timeout=60_000)
    expect(desyncs).to_contain_text("desync")
    expect(desyncs).to_contain_text("1 desyncs")  # the service's own count
    expect(page.locator("#sync-flag")).to_have_attribute("data-in-sync", "true", timeout=60_000)
    shoot(page, "order-book-after-resync")


def test_state_changes_need_the_sessions_csrf_token_and_origin(platform: Platform) -> None:
    with httpx.Client(base_url=platform.console, timeout=30) as http:
        form = http.get("/login")
        token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        # the login form itself is protected by a double-submit cookie
        forged = http.post(
            "/login",
            data={"client_id": platform.admin_id, "client_secret": platform.admin_secret},
        )
        assert forged.status_code == 403
        form = http.get("/login")
        token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        login = http.post(
            "/login",
            data={
                "client_id": platform.admin_id,
                "client_secret": platform.admin_secret,
                "csrf_token": token,
            },
        )
        assert login.status_code == 303, login.text
        keys = http.get("/keys")
        csrf = keys.text.split('"X-CSRF-Token": "')[1].split('"')[0]
        body = {"credential_id": "00000000-0000-0000-0000-000000000000", "reason": "x"}
        missing = http.post("/keys/revoke", data=body)
        assert missing.status_code == 403
        assert missing.json()["error"]["code"] == "csrf_failed"
        wrong = http.post("/keys/revoke", data={**body, "csrf_token": "guess"})
        assert wrong.json()["error"]["code"] == "csrf_failed"
        elsewhere = http.post(
            "/keys/revoke",
            data=body,
            headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"},
        )
        assert elsewhere.json()["error"]["code"] == "csrf_failed"
        # with the token, the request reaches the auth service, which knows no such key
        honest = http.post("/keys/revoke", data=body, headers={"X-CSRF-Token": csrf})
        assert honest.status_code == 404, honest.text
        assert honest.json()["error"]["details"]["service"] == "auth"
        logout = http.post("/logout", headers={"X-CSRF-Token": csrf})
        assert logout.status_code == 303


def session_cookie(page: Page, platform: Platform) -> str:
    cookies = {c["name"]: c["value"] for c in page.context.cookies(platform.console)}
    return cookies["eip_console_session"]


def redraw_rate(page: Page, seconds: float) -> dict[str, float]:
    """Over ``seconds``: the book's update rate (published sequences per second, from the
    events), depth events received and chart redraws per second, and the page's frame rate
    (requestAnimationFrame callbacks per second)."""
    result = page.evaluate(
        """async (ms) => {
            const s = window.eipConsole;
            const start = {events: s.depthEvents, redraws: s.depthRedraws,
                           seq: s.lastDepth.sequence, epoch: s.lastDepth.epoch,
                           t: performance.now()};
            let frames = 0, longest = 0, last = performance.now();
            await new Promise((done) => {
                const tick = (now) => {
                    frames += 1; longest = Math.max(longest, now - last); last = now;
                    if (now - start.t < ms) requestAnimationFrame(tick); else done();
                };
                requestAnimationFrame(tick);
            });
            const t = (performance.now() - start.t) / 1000;
            return {
                seconds: t,
                book_updates_per_s: s.lastDepth.epoch === start.epoch
                    ? (s.lastDepth.sequence - start.seq) / t : -1,
                depth_events_per_s: (s.depthEvents - start.events) / t,
                redraws_per_s: (s.depthRedraws - start.redraws) / t,
                page_fps: frames / t,
                longest_frame_ms: longest,
            };
        }""",
        seconds * 1000,
    )
    return {k: round(float(v), 2) for k, v in result.items()}


def test_the_markets_screen_shows_tickers_the_cross_price_and_candles(
    operator: Page, platform: Platform
) -> None:
    page = operator
    page.goto(f"{platform.console}/markets?symbol=BTC/USDT&exchange=binance&timeframe=1m")
    MEASUREMENTS.setdefault("page_load_ms", {})["markets"] = load_time_ms(page)
    tickers = page.locator("#tickers")
    expect(tickers).to_contain_text("binance", timeout=30_000)
    expect(tickers.locator("tr.selected")).to_contain_text("BTC/USDT")
    expect(page.locator("#cross")).to_contain_text("on binance", timeout=30_000)
    expect(page.locator("#cross")).to_contain_text("Each venue's part and freshness")
    page.wait_for_function(
        "() => Number(document.getElementById('candles-chart').dataset.candles || 0) > 0",
        timeout=120_000,
    )
    page.get_by_role("link", name="5m", exact=True).click()
    expect(page).to_have_url(re.compile(r"timeframe=5m"))
    page.wait_for_function(
        "() => Number(document.getElementById('candles-chart').dataset.candles || 0) > 0",
        timeout=60_000,
    )
    expect(page.locator("#candles-state")).to_contain_text("of 5m")
    shoot(page, "markets")


async def _simulator_key(base_url: str, account: str) -> ApiCredentials:
    simulator = SimulatorClient(base_url)
    try:
        await simulator.create_account(account, {"USDT": "1000"})
        return await simulator.create_key(account, "trading", ip_allowlist=["127.0.0.1"])
    finally:
        await simulator.aclose()


def test_connecting_a_simulator_key_and_revoking_it(operator: Page, platform: Platform) -> None:
    page = operator
    account = f"acct-{uuid.uuid4().hex[:8]}"
    key: ApiCredentials = in_thread(_simulator_key(platform.simulator, account))
    page.goto(f"{platform.console}/keys")
    MEASUREMENTS.setdefault("page_load_ms", {})["keys"] = load_time_ms(page)
    form = page.locator("#connect-form")
    form.get_by_label("Account").fill(account)
    form.get_by_label("Label").fill("console test")
    form.get_by_label("API key").fill(key.api_key)
    form.get_by_label("Secret").fill(key.secret)
    form.get_by_role("button", name="Connect key").click()
    notice = page.locator("#keys-panel .notice")
    expect(notice).to_contain_text(f"of {account} on binance connected")
    expect(notice).to_contain_text("permissions read, trade")
    expect(notice).to_contain_text("IP-restricted")
    row = page.locator("#keys-panel tr", has_text=account)
    expect(row).to_contain_text("active")
    # the secret went to the auth service and is nowhere in the page or the browser's storage
    assert key.secret not in page.content()
    assert form.get_by_label("Secret").input_value() == ""
    assert list(stored_in_browser(page)) == ["htmx-current-path-for-history"]
    shoot(page, "keys-connected")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_label("Reason to revoke console test").fill("console test done")
    row.get_by_role("button", name=f"Revoke key console test of {account}").click()
    expect(page.locator("#keys-panel .notice")).to_contain_text("revoked")
    expect(page.locator("#keys-panel tr", has_text=account)).to_contain_text("revoked")
    shoot(page, "keys-revoked")


def test_the_platform_screen_and_the_audit_chains_verify_button(
    operator: Page, platform: Platform
) -> None:
    page = operator
    page.goto(f"{platform.console}/platform")
    MEASUREMENTS.setdefault("page_load_ms", {})["platform"] = load_time_ms(page)
    services = page.locator("#services")
    for name in ("auth", "market-data", "order-book", "account", "order-management", "automation"):
        expect(services.locator(f"tr[data-service={name}] [data-ready]")).to_have_attribute(
            "data-ready", "true", timeout=30_000
        )
    expect(page.locator("#streams")).to_contain_text("binance")
    expect(page.locator("#streams")).to_contain_text("connected")
    expect(page.locator("#lag")).to_contain_text("market-data", timeout=30_000)
    audit = page.locator("#audit")
    expect(audit).to_contain_text("token.issue")
    expect(audit).to_contain_text("credential.revoke")
    page.get_by_role("button", name="Verify chain").click()
    expect(page.locator("#verify-result [data-chain]")).to_have_attribute("data-chain", "ok")
    expect(page.locator("#verify-result")).to_contain_text("Chain intact")
    shoot(page, "platform")


def test_screens_waiting_for_their_apis_say_what_comes(operator: Page, platform: Platform) -> None:
    page = operator
    for key, text in (("orders", "kill switch"),):
        page.goto(f"{platform.console}/{key}")
        expect(page.locator(".placeholder")).to_contain_text(text)
        # order management runs in the test platform: its API is there
        expect(page.locator("[data-api]")).to_have_attribute("data-api", "present")
        shoot(page, f"placeholder-{key}")


def test_every_screen_passes_axe_and_no_page_breaks_the_content_security_policy(
    operator: Page, platform: Platform, violations: list[str]
) -> None:
    page = operator
    # the check itself finds what it should: an input without a label
    page.set_content("<html lang='en'><title>t</title><main><input id='unlabelled'></main></html>")
    assert "label" in {v["id"] for v in axe(page)}
    found: dict[str, list[dict[str, Any]]] = {}
    for path in ("/markets", "/book", "/keys", "/platform", "/accounts", "/orders", "/rules"):
        page.goto(f"{platform.console}{path}")
        page.wait_for_timeout(1500)  # the live fragments of the first round are in
        problems = axe(page)
        if problems:
            found[path] = problems
    assert found == {}
    assert violations == []


def test_forms_work_from_the_keyboard(
    browser: BrowserContext, platform: Platform, violations: list[str]
) -> None:
    page = watch(browser.new_page(), violations)
    page.goto(f"{platform.console}/login")
    # a fresh page of the same browser is still logged in: log out first, from the keyboard
    if "/login" not in page.url:
        page.get_by_role("button", name="Log out").focus()
        page.keyboard.press("Enter")
        page.wait_for_url(f"{platform.console}/login")
    # the login form has the focus as the page opens; before it, only the skip link
    assert page.evaluate("() => document.activeElement.id") == "client_id"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    page.keyboard.type(platform.admin_id)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "client_secret"
    page.keyboard.type(platform.admin_secret)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"{platform.console}/keys")
    page.get_by_label("Account").focus()
    order = []
    for _ in range(6):
        order.append(page.evaluate("() => document.activeElement.id"))
        page.keyboard.press("Tab")
    assert order == ["account_id", "exchange", "label", "api_key", "secret", "allow_withdrawal"]
    assert page.evaluate("() => document.activeElement.textContent") == "Connect key"
    page.close()


def test_a_token_s_scopes_decide_the_screens_and_logout_ends_the_session(
    browser: BrowserContext, platform: Platform, violations: list[str]
) -> None:
    reader = f"reader-{uuid.uuid4().hex[:6]}"
    secret = platform.create_client(reader, ["books:read"])
    page = watch(browser.new_page(), violations)
    log_in(page, platform, reader, secret)
    expect(page).to_have_url(f"{platform.console}/book")
    nav = page.get_by_role("navigation", name="Screens")
    expect(nav.get_by_role("link")).to_have_text(["Order book", "Platform"])
    old = session_cookie(page, platform)
    keys = httpx.get(f"{platform.console}/keys", cookies={"eip_console_session": old}, timeout=10)
    assert keys.status_code == 403
    assert keys.json()["error"]["details"] == {"missing": ["credentials:admin"]}
    page.goto(f"{platform.console}/platform")
    expect(page.locator("#audit")).to_have_count(0)  # audit:read missing: no audit, no button
    shoot(page, "platform-books-reader")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{platform.console}/login")
    after = httpx.get(
        f"{platform.console}/markets", cookies={"eip_console_session": old}, timeout=10
    )
    assert after.status_code == 401
    page.close()
    time.sleep(0)  # the module's browser keeps its other pages


async def _funded_key(base_url: str, account: str) -> ApiCredentials:
    simulator = SimulatorClient(base_url)
    try:
        await simulator.create_account(account, {"USDT": "1500", "BTC": "0.25"})
        return await simulator.create_key(account, "trading", ip_allowlist=["127.0.0.1"])
    finally:
        await simulator.aclose()


def test_the_accounts_screen_shows_a_connected_account_as_the_account_service_values_it(
    browser: BrowserContext, platform: Platform, violations: list[str]
) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    key: ApiCredentials = in_thread(_funded_key(platform.simulator, account))
    headers = platform.headers(accounts=[account])
    connected = httpx.post(
        f"{platform.auth}/v1/credentials",
        headers=headers,
        json={
            "account_id": account,
            "exchange": "binance",
            "label": "accounts screen",
            "api_key": key.api_key,
            "secret": key.secret,
        },
        timeout=30,
    )
    assert connected.status_code == 201, connected.text
    # the account service picks the key up from auth.credentials and reads its balances
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{platform.account}/v1/accounts/{account}/connections", headers=headers, timeout=10
        )
        if answer.status_code == 200 and answer.json()["connections"][0]["status"] == "live":
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the account service did not sync {account} within 60 s")

    # an operator whose client acts on this account: the token covers it, the console shows it
    operator_id = f"accounts-{uuid.uuid4().hex[:6]}"
    secret = platform.create_client(operator_id, ["accounts:read"], [account])
    page = watch(browser.new_page(), violations)
    log_in(page, platform, operator_id, secret)
    page.goto(f"{platform.console}/accounts")
    expect(page.locator("#account-title")).to_contain_text(account)  # its one account, chosen
    page.goto(f"{platform.console}/accounts?account={account}&quote=USDT")
    MEASUREMENTS.setdefault("page_load_ms", {})["accounts"] = load_time_ms(page)
    expect(page.locator("#connections")).to_contain_text("binance")
    expect(page.locator("#connections")).to_contain_text("live")
    expect(page.locator("#connections")).to_contain_text("accounts screen")
    expect(page.locator("#consolidated tr[data-asset=USDT]")).to_contain_text("1500")
    expect(page.locator("#consolidated tr[data-asset=BTC]")).to_contain_text("0.25")
    # the page shows the account service's total as its decimal string; the simulator's prices
    # move between the page's reading and this one, so the two agree to a percent, not exactly
    portfolio = httpx.get(
        f"{platform.account}/v1/accounts/{account}/portfolio",
        params={"quote": "USDT"},
        headers=headers,
        timeout=10,
    ).json()
    expect(page.locator("[data-total]")).to_have_text(re.compile(r"^\d+(\.\d+)? USDT$"))
    shown = Decimal((page.locator("[data-total]").text_content() or "").split()[0])
    served = Decimal(portfolio["total_value"])
    assert shown > Decimal(1500)  # the USDT, and the BTC valued at BTC/USDT
    assert abs(shown - served) <= served / 100
    expect(page.locator("#allocation-asset")).to_contain_text("USDT")
    expect(page.locator("#allocation-exchange")).to_contain_text("binance")
    # the value chart: one point an hour over the day, drawn by ECharts
    chart = page.locator("#value-chart")
    assert len(json.loads(chart.get_attribute("data-points") or "[]")) >= 24
    expect(chart).to_have_attribute("data-drawn", re.compile(r"^\d+$"))
    expect(chart.locator("canvas")).to_have_count(1)
    assert page.locator("[data-failed]").count() == 0
    assert axe(page) == []  # with its tables and chart filled (the walk sees it empty)
    shoot(page, "accounts")

    # another quote: the same holdings, valued again by the service
    page.get_by_label("Quote currency").fill("BTC")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#account-title")).to_contain_text("in BTC")
    expect(page).to_have_url(re.compile(r"quote=BTC"))
    page.close()


def test_the_rules_screen_lists_rules_and_pauses_and_resumes_them_through_automation(
    browser: BrowserContext, platform: Platform, violations: list[str]
) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    headers = platform.headers(accounts=[account])
    name = f"far above {uuid.uuid4().hex[:6]}"
    created = httpx.post(
        f"{platform.automation}/v1/rules",
        headers=headers,
        json={
            "account_id": account,
            "name": name,
            "condition": {
                "type": "price_cross",
                "exchange": "binance",
                "symbol": "BTC/USDT",
                "direction": "above",
                "level": "100000000",
            },
            "action": {"type": "alert", "message": "console test"},
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    rule_id = created.json()["rule_id"]

    def status() -> str:
        answer = httpx.get(f"{platform.automation}/v1/rules/{rule_id}", headers=headers, timeout=10)
        return str(answer.json()["status"])

    operator_id = f"rules-{uuid.uuid4().hex[:6]}"
    scopes = ["rules:read", "rules:write", "alerts:read"]
    secret = platform.create_client(operator_id, scopes, [account])
    page = watch(browser.new_page(), violations)
    log_in(page, platform, operator_id, secret)
    page.goto(f"{platform.console}/rules")
    MEASUREMENTS.setdefault("page_load_ms", {})["rules"] = load_time_ms(page)
    row = page.locator(f"#rules tr[data-rule='{rule_id}']")
    expect(row).to_have_attribute("data-status", "active")
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("price_cross → alert")
    expect(row).to_contain_text("none yet")  # its recent firings, asked for at the service
    expect(page.locator("#arbitrage-title")).to_be_visible()
    assert axe(page) == []  # with a rule and its buttons (the walk sees no rule)
    shoot(page, "rules")

    row.get_by_role("button", name=f"Pause rule {name}").click()
    expect(page.locator("#rules-panel .notice")).to_contain_text(f"Paused {name}")
    expect(row).to_have_attribute("data-status", "paused")
    assert status() == "paused"
    row.get_by_role("button", name=f"Resume rule {name}").click()
    expect(page.locator("#rules-panel .notice")).to_contain_text(f"Resumed {name}")
    expect(row).to_have_attribute("data-status", "active")
    assert status() == "active"

    # without the session's CSRF token the console refuses, and the rule stays as it is
    cookie = session_cookie(page, platform)
    refused = httpx.post(
        f"{platform.console}/rules/pause",
        data={"rule_id": rule_id},
        cookies={"eip_console_session": cookie},
        timeout=10,
    )
    assert refused.status_code == 403
    assert status() == "active"
    page.close()

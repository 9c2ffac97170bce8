"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against
a running platform (tests/conftest.py): log in, a book in sync with its depth chart, the
markets, an order placed, amended and cancelled, a large one confirmed by a second operator,
connecting a simulator key and revoking it, the audit chain's verify button, the
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
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    expect,
    sync_playwright,
)

from eip.console.render import NONE
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient

from .conftest import ARTIFACTS, HERE, Platform

# func_only: the session's platform starts inside the first test's setup (bounded by its own
# readiness waits); on a loaded machine that start alone took most of the 600 s
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600, func_only=True)]
# Playwright's 5 s default for an expectation is tight on the shared 2-core machine during a
# full `make test` (load 15-20): a page whose service takes seconds to answer is not broken.
expect.set_options(timeout=15_000)

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
        if page.locator("[data-live]").count():
            # the live fragments of the first round are in (not a fixed pause: on a loaded
            # machine the first round can take longer than any pause chosen)
            page.wait_for_function("() => window.eipConsole.fragments > 0", timeout=30_000)
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


def funded_account_connected(platform: Platform, account: str, label: str) -> dict[str, str]:
    """A simulator account holding 1500 USDT and 0.25 BTC, its trading key connected at auth
    (validated there); the admin's headers for a token naming the account."""
    key: ApiCredentials = in_thread(_funded_key(platform.simulator, account))
    headers = platform.headers(accounts=[account])
    connected = httpx.post(
        f"{platform.auth}/v1/credentials",
        headers=headers,
        json={
            "account_id": account,
            "exchange": "binance",
            "label": label,
            "api_key": key.api_key,
            "secret": key.secret,
        },
        timeout=30,
    )
    assert connected.status_code == 201, connected.text
    return headers


def test_the_accounts_screen_shows_a_connected_account_as_the_account_service_values_it(
    browser: BrowserContext, platform: Platform, violations: list[str]
) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    headers = funded_account_connected(platform, account, "accounts screen")
    # the account service picks the key up from auth.credentials and reads its balances
    deadline = time.monotonic() + 120  # generous: a full `make test` loads the machine
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{platform.account}/v1/accounts/{account}/connections", headers=headers, timeout=10
        )
        if answer.status_code == 200 and answer.json()["connections"][0]["status"] == "live":
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the account service did not sync {account} within 120 s")

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

    # live: an order filled at the venue reaches the page's balances without a reload
    reading = as_of(page, "accounts-asof")
    btc = page.locator("#consolidated tr[data-asset=BTC]")
    before = btc.text_content() or ""
    bought = httpx.post(
        f"{platform.order_management}/v1/orders",
        headers=headers,
        json={
            "account_id": account,
            "idempotency_key": f"accounts-live-{uuid.uuid4().hex}",
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "side": "buy",
            "type": "market",
            "quantity": "0.001",
        },
        timeout=30,
    )
    assert bought.status_code == 201, bought.text
    expect(btc).not_to_have_text(before, timeout=60_000)  # 0.25 + 0.001 less the fee
    expect(btc).to_contain_text("0.250")
    assert as_of(page, "accounts-asof") != reading

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
    # the account's arbitrage executions, as automation lists them: none, it never opted in
    executions = httpx.get(
        f"{platform.automation}/v1/arbitrage/executions",
        headers=platform.headers(accounts=[account]),
        timeout=10,
    )
    assert executions.status_code == 200, executions.text
    assert executions.json()["executions"] == []
    expect(page.locator("#no-executions")).to_be_visible()
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

    # edit: a new version at automation with the definition the form sent
    def served() -> dict[str, Any]:
        answer = httpx.get(f"{platform.automation}/v1/rules/{rule_id}", headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        rule: dict[str, Any] = answer.json()
        return rule

    def editor() -> Locator:
        row = page.locator(f"#rules tr[data-rule='{rule_id}']")
        if row.locator("details").get_attribute("open") is None:  # closed: open it
            row.locator("details summary").click()
        return row.locator("form[hx-post='/rules/edit']")

    form = editor()
    form.get_by_label("Condition (JSON)").fill("{not json")
    form.get_by_role("button", name=f"Save rule {name}").click()
    expect(form.locator("[data-error]")).to_contain_text("condition is not a JSON object")
    assert served()["version"] == 1
    new_name = f"{name} v2"
    condition = {**served()["condition"], "level": "200000000"}
    form.get_by_label("Name").fill(new_name)
    form.get_by_label("Condition (JSON)").fill(json.dumps(condition))
    form.get_by_role("button", name=f"Save rule {name}").click()
    expect(page.locator("#rules-panel .notice")).to_contain_text(f"Saved {new_name}: version 2")
    rule = served()
    assert (rule["name"], rule["version"], rule["condition"]["level"]) == (new_name, 2, "200000000")
    expect(page.locator(f"#rules tr[data-rule='{rule_id}']")).to_contain_text(f"{new_name} v2")

    # a definition automation refuses: its message in the form, the rule as it was
    form = editor()
    form.get_by_label("Condition (JSON)").fill('{"type": "no_such_condition"}')
    form.get_by_role("button", name=f"Save rule {new_name}").click()
    expect(form.locator("[data-error]")).to_contain_text("automation:")
    assert served()["version"] == 2
    shoot(page, "rules-edit-refused")

    # delete, once the browser's confirmation is accepted: gone here and at automation
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete rule {new_name}").click()
    expect(page.locator("#rules-panel .notice")).to_contain_text(f"Deleted {new_name}")
    expect(page.locator(f"#rules tr[data-rule='{rule_id}']")).to_have_count(0)
    gone = httpx.get(f"{platform.automation}/v1/rules/{rule_id}", headers=headers, timeout=10)
    assert gone.status_code == 404
    page.close()


def btc_mid(platform: Platform) -> Decimal:
    """BTC/USDT's mid at binance now, as market-data serves it (the simulator's market moves)."""
    tickers = httpx.get(
        f"{platform.market_data}/v1/tickers", headers=platform.headers(), timeout=10
    ).json()["tickers"]
    ticker = next(t for t in tickers if t["exchange"] == "binance" and t["symbol"] == "BTC/USDT")
    return (Decimal(ticker["bid"]) + Decimal(ticker["ask"])) / 2


def fill_ticket(
    page: Page, side: str, type_: str, quantity: str, price: str = "", send: bool = True
) -> None:
    ticket = page.locator("#ticket")
    ticket.get_by_label("Side").select_option(side)
    ticket.get_by_label("Type").select_option(type_)
    ticket.get_by_label("Quantity").fill(quantity)
    ticket.get_by_label("Limit price").fill(price)
    if send:
        ticket.get_by_role("button", name="Place order").click()


def check_ticket(page: Page, side: str, type_: str, quantity: str, price: str = "") -> Locator:
    """The ticket's check before sending, as the page shows it (nothing is sent)."""
    fill_ticket(page, side, type_, quantity, price, send=False)
    with page.expect_response(lambda r: "/orders/preview" in r.url) as answer:
        page.locator("#ticket").get_by_role("button", name="Check before sending").click()
    assert answer.value.status == 200, answer.value.text()
    return page.locator("#ticket-preview [data-preview]")


def place(page: Page, side: str, type_: str, quantity: str, price: str = "") -> None:
    """Send the ticket; again (a new key: the refusal was an answer) while order management
    cannot read the account's free balance at the venue yet — its first read of a new account
    was seen missing its deadline on the loaded machine (``balance_unavailable``)."""
    deadline = time.monotonic() + 60
    while True:
        with page.expect_response(lambda r: r.url.endswith("/orders/place")) as answer:
            fill_ticket(page, side, type_, quantity, price)
        refused = answer.value.status == 422 and "balance_unavailable" in answer.value.text()
        if not refused or time.monotonic() > deadline:
            return
        page.wait_for_timeout(1000)


def shows(page: Page, row: Locator, state: str) -> None:
    """The order's row reaches ``state`` with the page left as it is: the live stream brings it."""
    expect(row).to_have_attribute("data-state", state, timeout=30_000)


def as_of(page: Page, element_id: str) -> str:
    return page.locator(f"#{element_id} time").get_attribute("datetime") or ""


def settled(page: Page) -> None:
    """Two live rounds of the orders panel went by: the stream has sent the panel as it is now,
    so no swap (which re-renders the rows' forms, and their error regions) follows before the
    next change. A command's own answer swaps the panel in out of band, ahead of the stream."""
    for _ in range(2):
        seen = as_of(page, "orders-asof")
        expect(page.locator("#orders-asof time")).not_to_have_attribute(
            "datetime", seen, timeout=15_000
        )


def test_the_orders_screen_places_amends_cancels_and_holds_a_large_trade_for_a_second_operator(
    browser: BrowserContext, platform: Platform, violations: list[str]
) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    headers = funded_account_connected(platform, account, "orders screen")
    # a trade above 200 USDT waits for a second operator (order management's risk limit)
    limits = httpx.put(
        f"{platform.order_management}/v1/risk/limits",
        headers=headers,
        json={
            "scope": "account",
            "scope_id": account,
            "limits": {"confirm_above_notional": "200"},
        },
        timeout=10,
    )
    assert limits.status_code == 200, limits.text

    def served(order_id: str) -> dict[str, Any]:
        answer = httpx.get(
            f"{platform.order_management}/v1/orders/{order_id}", headers=headers, timeout=10
        )
        assert answer.status_code == 200, answer.text
        order: dict[str, Any] = answer.json()["order"]
        return order

    trader = f"trader-{uuid.uuid4().hex[:6]}"
    trader_secret = platform.create_client(
        trader,
        ["orders:read", "orders:write", "orders:confirm", "books:read", "risk:admin"],
        [account],
    )
    page = watch(browser.new_page(), violations)
    log_in(page, platform, trader, trader_secret)
    page.goto(f"{platform.console}/orders")
    MEASUREMENTS.setdefault("page_load_ms", {})["orders"] = load_time_ms(page)
    expect(page.locator("#orders-account")).to_have_text(account)  # its one account, chosen
    expect(page.locator("#no-open-orders")).to_be_visible()
    # live: the time of the last reading moves while the page stays open
    first_reading = as_of(page, "orders-asof")
    expect(page.locator("#orders-asof time")).not_to_have_attribute(
        "datetime", first_reading, timeout=15_000
    )
    price = (btc_mid(platform) * Decimal("0.9")).quantize(Decimal("0.01"))

    # before sending: the book's expected fill, and what order management's limits and kill
    # switches say of the ticket (read with books:read and risk:admin; nothing is sent)
    preview = check_ticket(page, "buy", "limit", "0.005", str(price))
    expect(preview).to_contain_text("A market buy of 0.005 would fill")
    expect(preview.locator("[data-crosses]")).to_have_attribute("data-crosses", "false")
    expect(preview.locator("[data-notional]")).to_have_text(str(Decimal("0.005") * price))
    expect(preview.locator("[data-finding='confirmation']")).to_have_attribute(
        "data-effect", "hold"
    )
    preview = check_ticket(page, "buy", "market", "0.001")
    expect(preview.locator("[data-slippage]")).to_have_attribute(
        "data-slippage", re.compile(r"^-?[0-9]")
    )
    expect(preview.locator("[data-risk='pass']")).to_be_visible()
    assert axe(page) == []  # with the check's answer
    shoot(page, "orders-ticket-check")
    assert (
        httpx.get(
            f"{platform.order_management}/v1/orders",
            headers=headers,
            params={"account_id": account},
            timeout=10,
        ).json()["orders"]
        == []
    )

    # refused by order management's risk check: its message and code shown, nothing placed
    fill_ticket(page, "buy", "limit", "0.00001", str(price))
    ticket_error = page.locator("#ticket [data-error]")
    expect(ticket_error).to_contain_text("order-management:")
    expect(ticket_error).to_contain_text("(notional_below_min)")
    # the console's own check: a limit order without a price never reaches the service
    fill_ticket(page, "buy", "limit", "0.001")
    expect(ticket_error).to_contain_text("a limit order needs a price")

    # a limit buy below the market: accepted by the venue, open, amended from its row, then
    # cancelled from its row (the refusals above drew new idempotency keys: a new order)
    place(page, "buy", "limit", "0.001", str(price))
    notice = page.locator("#order-notice .notice")
    expect(notice).to_contain_text(f"buy limit 0.001 BTC/USDT at {price} on binance")
    order_id = notice.get_attribute("data-order") or ""
    row = page.locator(f"#open-orders tr[data-order='{order_id}']")
    shows(page, row, "accepted")
    assert served(order_id)["state"] == "accepted"
    assert axe(page) == []  # with the ticket, an open order and its buttons
    shoot(page, "orders-open")

    # an amend order management refuses: its message and the risk check's code in the row
    settled(page)
    row.get_by_label(f"New quantity of order {order_id}").fill("0.00001")
    row.get_by_role("button", name=f"Amend order {order_id}").click()
    expect(row.locator("[data-error]").first).to_contain_text("order-management:")
    expect(row.locator("[data-error]").first).to_contain_text("(notional_below_min)")
    assert served(order_id)["state"] == "accepted"
    # a new price: at the simulator's venue a cancel-replace, whose replacement is a new order
    # at the new price (the row says which order replaced which)
    amended = price - Decimal("1")
    row.get_by_label(f"New quantity of order {order_id}").fill("0.001")
    row.get_by_label(f"New price of order {order_id}").fill(str(amended))
    row.get_by_role("button", name=f"Amend order {order_id}").click()
    expect(page.locator("#order-notice .notice[data-amend]")).to_contain_text(f"to price {amended}")
    replaced = page.locator(f"#recent-orders tr[data-order='{order_id}'] [data-replaced-by]")
    expect(replaced).to_have_count(1, timeout=30_000)
    new_id = replaced.get_attribute("data-replaced-by") or ""
    assert served(order_id)["replaced_by"] == new_id
    row = page.locator(f"#open-orders tr[data-order='{new_id}']")
    shows(page, row, "accepted")
    expect(row.locator("td").nth(5)).to_have_text(str(amended))
    expect(row.locator(f"[data-replaces='{order_id}']")).to_be_visible()
    assert Decimal(served(new_id)["price"]) == amended
    assert served(new_id)["replaces"] == order_id
    expect(page.locator(f"#open-orders tr[data-order='{order_id}']")).to_have_count(0)
    shoot(page, "orders-amended")

    row.get_by_role("button", name=f"Cancel order {new_id}").click()
    expect(notice).to_contain_text(re.compile("pending cancel|canceled"))
    shows(page, page.locator(f"#recent-orders tr[data-order='{new_id}']"), "canceled")
    expect(row).to_have_count(0)
    assert served(new_id)["state"] == "canceled"

    # each order's event timeline, as order management logged it, when the operator opens it
    settled(page)
    for shown, expected in ((order_id, "amend_requested"), (new_id, "venue_canceled")):
        history = page.locator(f"#recent-orders tr[data-order='{shown}']")
        history.locator("summary").click()
        events = history.locator("ol.timeline li")
        expect(events.first).to_have_attribute("data-version", "1")
        expect(history.locator(f"li[data-event='{expected}']")).to_have_count(1)
        logged = httpx.get(
            f"{platform.order_management}/v1/orders/{shown}/events", headers=headers, timeout=10
        ).json()["events"]
        expect(events).to_have_count(len(logged))
    shoot(page, "orders-timeline")

    # a market buy fills at once; its fills are listed with the order
    place(page, "buy", "market", "0.001")
    expect(notice).to_contain_text("buy market 0.001 BTC/USDT on binance")
    market_id = notice.get_attribute("data-order") or ""
    filled = page.locator(f"#recent-orders tr[data-order='{market_id}']")
    shows(page, filled, "filled")
    expect(filled.locator("li[data-fill]").first).to_contain_text("fee")
    assert Decimal(served(market_id)["filled_quantity"]) == Decimal("0.001")

    # a large trade is held; its requester may not confirm it (four eyes, the service's word)
    place(page, "buy", "limit", "0.005", str(price))
    expect(page.locator("#awaiting-notice")).to_contain_text("second operator")
    large_id = page.locator("#order-notice .notice").get_attribute("data-order") or ""
    held = page.locator(f"#open-orders tr[data-order='{large_id}']")
    expect(held).to_have_attribute("data-state", "awaiting_confirmation")
    held.get_by_role("button", name=f"Confirm order {large_id}").click()
    expect(held.locator("[data-error]").first).to_contain_text("order-management:")
    assert served(large_id)["state"] == "awaiting_confirmation"
    shoot(page, "orders-awaiting-confirmation")

    # a second operator sees what waits and confirms it: order management sends it
    confirmer = f"confirmer-{uuid.uuid4().hex[:6]}"
    confirmer_secret = platform.create_client(
        confirmer, ["orders:read", "orders:confirm"], [account]
    )
    log_in(page, platform, confirmer, confirmer_secret)
    page.goto(f"{platform.console}/orders")
    expect(page.locator("#ticket")).to_have_count(0)  # no orders:write: no ticket, no cancel
    held = page.locator(f"#open-orders tr[data-order='{large_id}']")
    expect(held.get_by_role("button", name=f"Cancel order {large_id}")).to_have_count(0)
    held.get_by_role("button", name=f"Confirm order {large_id}").click()
    expect(page.locator("#order-notice .notice")).to_have_attribute(
        "data-state", re.compile("pending_new|submitted|accepted")
    )
    shows(page, held, "accepted")
    assert served(large_id)["confirmed_by"]

    # a reader sees the orders and no button at all
    reader = f"orders-reader-{uuid.uuid4().hex[:6]}"
    reader_secret = platform.create_client(reader, ["orders:read"], [account])
    log_in(page, platform, reader, reader_secret)
    page.goto(f"{platform.console}/orders")
    expect(page.locator(f"#open-orders tr[data-order='{large_id}']")).to_be_visible()
    expect(page.locator("#ticket")).to_have_count(0)
    expect(page.locator("#open-orders button")).to_have_count(0)
    shoot(page, "orders-reader")
    cancel = httpx.post(
        f"{platform.order_management}/v1/orders/{large_id}/cancel", headers=headers, timeout=30
    )
    assert cancel.status_code == 202, cancel.text
    page.close()


def test_the_kill_switch_halts_and_resumes_trading_from_the_platform_screen(
    browser: BrowserContext, platform: Platform, violations: list[str]
) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    headers = funded_account_connected(platform, account, "kill switch")
    trader = f"trader-{uuid.uuid4().hex[:6]}"
    trader_secret = platform.create_client(trader, ["orders:read", "orders:write"], [account])
    switches_url = f"{platform.order_management}/v1/risk/kill-switches"

    def platform_switch() -> str:
        answer = httpx.get(switches_url, headers=platform.headers(), timeout=10)
        assert answer.status_code == 200, answer.text
        listed = [s for s in answer.json()["switches"] if s["level"] == "platform"]
        return str(listed[0]["state"]) if listed else "active"

    def set_platform_switch(page: Page, state: str, reason: str) -> None:
        form = page.locator("#kill-switch-form")
        form.get_by_label("Level").select_option("platform")
        form.get_by_label("Exchange or account").fill("")
        form.get_by_label("State").select_option(state)
        form.get_by_label("Reason").fill(reason)
        form.get_by_role("button", name="Set kill switch").click()

    page = watch(browser.new_page(), violations)
    switch = page.locator("#kill-switches tr[data-level='platform']")
    try:
        log_in(page, platform, platform.admin_id, platform.admin_secret)
        page.goto(f"{platform.console}/platform")
        expect(switch).to_have_attribute("data-state", "active")
        # order management's refusal, in its words: the platform level takes no scope
        form = page.locator("#kill-switch-form")
        form.get_by_label("Exchange or account").fill("binance")
        form.get_by_role("button", name="Set kill switch").click()
        expect(form.locator("[data-error]")).to_contain_text("order-management:")
        assert platform_switch() == "active"

        set_platform_switch(page, "halted", "console test: halt")
        expect(page.locator("#kill-switch-notice .notice")).to_have_attribute(
            "data-state", "halted"
        )
        expect(switch).to_have_attribute("data-state", "halted")
        expect(switch).to_contain_text("console test: halt")
        assert platform_switch() == "halted"
        assert axe(page) == []  # with the switches and their form
        shoot(page, "platform-kill-switch-halted")

        # HALTED: order management denies the order; the ticket says so with the check's code
        log_in(page, platform, trader, trader_secret)
        page.goto(f"{platform.console}/platform")
        expect(page.locator("#kill-switch-form")).to_have_count(0)  # no risk:admin: no control
        page.goto(f"{platform.console}/orders")
        price = (btc_mid(platform) * Decimal("0.9")).quantize(Decimal("0.01"))
        fill_ticket(page, "buy", "limit", "0.001", str(price))
        expect(page.locator("#ticket [data-error]")).to_contain_text("(halted)")
        shoot(page, "orders-halted")

        # ACTIVE again: the same ticket is accepted
        log_in(page, platform, platform.admin_id, platform.admin_secret)
        page.goto(f"{platform.console}/platform")
        set_platform_switch(page, "active", "console test: resume")
        expect(switch).to_have_attribute("data-state", "active")
        assert platform_switch() == "active"
        log_in(page, platform, trader, trader_secret)
        page.goto(f"{platform.console}/orders")
        place(page, "buy", "limit", "0.001", str(price))
        notice = page.locator("#order-notice .notice")
        expect(notice).to_contain_text(f"buy limit 0.001 BTC/USDT at {price} on binance")
        order_id = notice.get_attribute("data-order") or ""
        shows(page, page.locator(f"#open-orders tr[data-order='{order_id}']"), "accepted")

        # another type of the ticket: a stop-loss sell below the market, with its trigger
        trigger = (btc_mid(platform) * Decimal("0.95")).quantize(Decimal("0.01"))
        fill_ticket(page, "sell", "stop_market", "0.001", send=False)
        page.locator("#ticket").get_by_label("Trigger price").fill(str(trigger))
        page.locator("#ticket").get_by_role("button", name="Place order").click()
        expect(notice).to_contain_text("sell stop_market 0.001 BTC/USDT on binance")
        stop_id = notice.get_attribute("data-order") or ""
        stop_row = page.locator(f"#open-orders tr[data-order='{stop_id}']")
        expect(stop_row).to_have_attribute(
            "data-state", re.compile("^(emulated|accepted)$"), timeout=30_000
        )
        expect(stop_row.locator("[data-trigger]")).to_have_attribute("data-trigger", str(trigger))
        stop = httpx.get(
            f"{platform.order_management}/v1/orders/{stop_id}", headers=headers, timeout=10
        ).json()["order"]
        assert (stop["type"], Decimal(stop["stop_price"])) == ("stop_market", trigger)
        shoot(page, "orders-stop-loss")
    finally:
        # never leave the session's platform halted for the tests after this one
        httpx.put(
            switches_url,
            headers=platform.headers(),
            json={"level": "platform", "state": "active", "reason": "console test: cleanup"},
            timeout=10,
        )
        page.close()
    for placed in (order_id, stop_id):
        cancel = httpx.post(
            f"{platform.order_management}/v1/orders/{placed}/cancel", headers=headers, timeout=30
        )
        assert cancel.status_code == 202, cancel.text


def test_cancel_all_lists_what_it_would_cancel_and_cancels_only_once_confirmed(
    browser: BrowserContext, platform: Platform, violations: list[str]
) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    headers = funded_account_connected(platform, account, "cancel all")
    trader = f"trader-{uuid.uuid4().hex[:6]}"
    trader_secret = platform.create_client(trader, ["orders:read", "orders:write"], [account])

    def open_at_om() -> list[str]:
        answer = httpx.get(
            f"{platform.order_management}/v1/orders",
            headers=headers,
            params={"account_id": account, "open": "true"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return sorted(o["order_id"] for o in answer.json()["orders"])

    page = watch(browser.new_page(), violations)
    log_in(page, platform, trader, trader_secret)
    page.goto(f"{platform.console}/orders")
    # the order ticket from the keyboard: every field in order, then its two buttons
    page.locator("#ticket-exchange").focus()
    visited = []
    for _ in range(11):
        visited.append(
            page.evaluate("() => document.activeElement.id || document.activeElement.textContent")
        )
        page.keyboard.press("Tab")
    assert visited == [
        "ticket-exchange",
        "ticket-symbol",
        "ticket-side",
        "ticket-type",
        "ticket-quantity",
        "ticket-price",
        "ticket-stop",
        "ticket-trailing",
        "ticket-trailing-unit",
        "Check before sending",
        "Place order",
    ]
    mid = btc_mid(platform)
    placed = []
    for side, factor in (("buy", "0.9"), ("sell", "1.1")):
        place(page, side, "limit", "0.001", str((mid * Decimal(factor)).quantize(Decimal("0.01"))))
        notice = page.locator("#order-notice .notice")
        expect(notice).to_contain_text(f"{side} limit 0.001 BTC/USDT")
        placed.append(notice.get_attribute("data-order") or "")
        shows(page, page.locator(f"#open-orders tr[data-order='{placed[-1]}']"), "accepted")
    assert open_at_om() == sorted(placed)
    # without books:read and risk:admin the check says what it cannot read
    preview = check_ticket(page, "buy", "limit", "0.001", "1000")
    expect(preview.locator("[data-slippage]")).to_have_attribute("data-slippage", "unreadable")
    expect(preview.locator("[data-risk]")).to_have_attribute("data-risk", "unreadable")

    # the first step only lists: "keep them" leaves every order open
    cancel_all = page.locator("#cancel-all")
    step = page.locator("#cancel-all-step")
    cancel_all.get_by_role("button", name="Cancel all open orders").click()
    expect(step.locator("#cancel-all-question")).to_have_attribute("data-count", "2")
    for order_id in placed:
        expect(step.locator(f"li[data-order='{order_id}']")).to_have_count(1)
    assert axe(page) == []  # with the confirmation step
    shoot(page, "orders-cancel-all-confirm")
    step.get_by_role("button", name="Keep them").click()
    expect(step.locator("form")).to_have_count(0)
    assert open_at_om() == sorted(placed)

    # a symbol with no open order: nothing to confirm
    cancel_all.get_by_label("Symbol").fill("ETH/USDT")
    cancel_all.get_by_role("button", name="Cancel all open orders").click()
    expect(step.locator("#cancel-all-none")).to_contain_text("No open order")

    # confirmed: order management cancels both, the step goes, the rows follow
    cancel_all.get_by_label("Symbol").fill("")
    cancel_all.get_by_role("button", name="Cancel all open orders").click()
    step.get_by_role("button", name="Yes, cancel them").click()
    expect(step.locator("[data-cancel-all]")).to_have_attribute("data-cancel-all", "2")
    expect(step.locator("form")).to_have_count(0)
    for order_id in placed:
        shows(page, page.locator(f"#recent-orders tr[data-order='{order_id}']"), "canceled")
    expect(page.locator("#no-open-orders")).to_be_visible()
    assert open_at_om() == []

    # an OCO: a take-profit limit leg above the market and a stop leg below it
    mid = btc_mid(platform)
    oco = page.locator("#oco")
    oco.get_by_label("Quantity").fill("0.001")
    oco.get_by_label("Limit leg price").fill(str((mid * Decimal("1.05")).quantize(Decimal("0.01"))))
    oco.get_by_label("Stop leg trigger price").fill(
        str((mid * Decimal("0.95")).quantize(Decimal("0.01")))
    )
    oco.get_by_role("button", name="Place OCO").click()
    listed = page.locator("#order-notice [data-list]")
    expect(listed.locator("[data-leg]")).to_have_count(2)
    list_id = listed.get_attribute("data-list") or ""
    expect(page.locator(f"#recent-orders [data-list='{list_id}']")).to_have_count(2)
    served = httpx.get(
        f"{platform.order_management}/v1/order-lists/{list_id}", headers=headers, timeout=10
    )
    assert served.status_code == 200, served.text
    legs = served.json()["orders"]
    assert sorted(o["list_role"] for o in legs) == sorted(
        listed.locator("[data-leg]").evaluate_all("els => els.map(e => e.dataset.role)")
    )
    shoot(page, "orders-oco")
    cancel = httpx.post(
        f"{platform.order_management}/v1/orders/{legs[0]['order_id']}/cancel",
        headers=headers,
        timeout=30,
    )
    assert cancel.status_code == 202, cancel.text  # a leg's cancel cancels the list
    page.close()

"""The pages under their Content-Security-Policy in a real browser (headless Chromium) against
the real server on loopback, with nothing but 127.0.0.1 reachable: the policy is in force (an
injected inline script does not run), and every page still works under it with no violation
and no console error: the calls list and a call's page (live websocket, the answer-time chart),
Today, People (the trend charts, the forms), History, Talk, API keys, /docs (Swagger UI, served
from this server) and the not-found page. SQLite only; the server's clock is fixed.

(Talking over WebRTC under the policy: test_talk_browser, which watches for the same errors.)"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright, expect

from carecall.cli import standalone_auth
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import Call, CallStatus, ConversationTurn, TurnRole
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.web.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, _until, _watch_for_errors
from tests.web.test_today_browser import EMAIL, PASSWORD, ProgramServer, program_server
from tests.web.test_trends_browser import FIRST_CALL, INKED_PIXELS, NOW, _mary_with_a_trend_alert

pytestmark = pytest.mark.e2e

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(
    `${location.pathname}: ${event.effectiveDirective} refused ${event.blockedURI || "inline"}` +
    ` (${event.sourceFile}:${event.lineNumber})`
  );
});
"""


@pytest.fixture
async def live(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[ProgramServer]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"
    async with standalone_auth(database_url) as auth:
        await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    settings = make_settings(
        database_url=database_url, dispatcher_enabled=False, organization_name="Sunny Care"
    )
    with program_server(settings, FakeClock(NOW)) as server:
        yield server


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does).")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def _offline_context(
    browser: Browser, base_url: str, violations: list[str], refused: list[str]
) -> BrowserContext:
    """A browser that reaches only 127.0.0.1 (as on a machine without internet), and tells the
    test of every Content-Security-Policy violation on its pages."""
    context = await browser.new_context(
        base_url=base_url, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )

    async def loopback_only(route: Route) -> None:
        host = re.match(r"^[a-z]+://([^/:]+)", route.request.url)
        if host and host.group(1) == "127.0.0.1":
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", loopback_only)
    await context.expose_function("reportViolation", lambda text: violations.append(text))
    await context.add_init_script(REPORT_VIOLATIONS)
    return context


async def _call_with_answers(database_url: str, senior_id: int) -> int:
    """A finished call with two answers (so its page draws the answer-time chart)."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            call = Call(
                to_number="+14155550100",
                status=CallStatus.COMPLETED,
                created_at=FIRST_CALL + timedelta(days=6),
                senior_id=senior_id,
                duration_seconds=60,
            )
            session.add(call)
            await session.flush()
            lines = [
                (TurnRole.ASSISTANT, "Hello Mary, how are you today?", None),
                (TurnRole.USER, "I slept badly again.", None),
                (TurnRole.ASSISTANT, "I'm sorry to hear that. Did anything wake you?", 900),
                (TurnRole.USER, "The wind, I think.", None),
                (TurnRole.ASSISTANT, "It was a stormy night. Shall we talk tomorrow?", 1400),
            ]
            for sequence, (role, text, latency) in enumerate(lines, start=1):
                started = call.created_at + timedelta(seconds=5 * sequence)
                session.add(
                    ConversationTurn(
                        call_id=call.id,
                        sequence=sequence,
                        role=role,
                        text=text,
                        started_at=started,
                        ended_at=started + timedelta(seconds=3),
                        latency_ms=latency,
                    )
                )
            return call.id
    finally:
        await engine.dispose()


async def test_docs_list_the_operations_without_internet(
    live: ProgramServer, chromium: Browser
) -> None:
    violations: list[str] = []
    refused: list[str] = []
    errors: list[str] = []
    context = await _offline_context(chromium, live.base_url, violations, refused)
    page = await context.new_page()
    _watch_for_errors(page, errors)

    await page.goto("/docs")

    operations = page.locator(".opblock")
    await expect(operations.first).to_be_visible(timeout=15_000)
    calls = page.locator(".opblock-post", has=page.locator('[data-path="/api/calls"]'))
    await expect(calls).to_have_count(1)
    assert await operations.count() > 20
    # An operation opens and shows its parameters (Swagger UI's own script, under the policy).
    await (
        page.locator(".opblock-get", has=page.locator('[data-path="/api/calls"]'))
        .locator(".opblock-summary")
        .first.click()
    )
    await expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    assert refused == []
    assert violations == []
    assert errors == []
    await context.close()


async def test_every_page_works_under_the_policy(
    live: ProgramServer, chromium: Browser, make_settings: Callable[..., Settings]
) -> None:
    stored, _alert_id = await _mary_with_a_trend_alert(live.database_url, make_settings)
    call_id = await _call_with_answers(live.database_url, stored.senior_id)
    violations: list[str] = []
    refused: list[str] = []
    errors: list[str] = []
    context = await _offline_context(chromium, live.base_url, violations, refused)
    page = await context.new_page()
    _watch_for_errors(page, errors)

    async def visit(path: str) -> Page:
        response = await page.goto(path)
        assert response is not None and response.ok, path
        policy = await response.header_value("content-security-policy")
        assert policy and "script-src 'self'" in policy, (path, policy)
        return page

    # --- signing in: a form posted under `form-action 'self'`
    await page.goto("/")
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.locator("#feed-state")).to_have_text("Live")

    # --- the policy is in force: a script written into the page is refused, and reported
    ran = await page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            return window.injected === true;
        }"""
    )
    assert ran is False
    await _until(lambda: len(violations) == 1)
    assert "script-src" in violations[0], violations
    # The browser also logs the refusal as a console error, which is what the other browser
    # tests (Talk's WebRTC among them) watch for.
    await _until(lambda: any("Content Security Policy" in error for error in errors))
    errors.clear()
    violations.clear()

    # --- the calls list and a call's page: the live feed (websocket) and the answer-time chart
    await visit("/")
    await expect(page.locator("#feed-state")).to_have_text("Live")
    await visit(f"/calls/{call_id}")
    await expect(page.locator("#feed-state")).to_have_text("Live")
    await expect(page.locator("#latency-summary")).to_contain_text("2 answers:")
    assert await page.locator("#latency-chart canvas").first.evaluate(INKED_PIXELS) > 100

    # --- Today (live), People, a person's trend charts, the form to edit them
    await visit("/today")
    await expect(page.locator("#feed-state")).to_have_text("Live")
    await visit("/people")
    await expect(page.get_by_role("link", name="Mary Smith")).to_be_visible()
    await visit(f"/people/{stored.senior_id}")
    sleep_chart = page.locator('.trend-chart[data-measure="sleep"] canvas')
    await expect(sleep_chart).to_have_count(1)
    assert await sleep_chart.evaluate(INKED_PIXELS) > 1000
    await visit(f"/people/{stored.senior_id}/edit")
    await page.get_by_label("Notes for the bot").fill("Likes a chat about the garden.")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page).to_have_url(f"{live.base_url}/people/{stored.senior_id}")
    await expect(page.get_by_text("Likes a chat about the garden.")).to_be_visible()
    await visit("/people/new")
    await expect(page.get_by_label("Phone number")).to_be_visible()

    # --- History, searched with its form
    await visit("/history")
    await page.get_by_label("Number contains").fill("0100")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#result-count")).to_have_text("1 call found.")

    # --- Talk (its script ready), API keys (a key made with the form), /docs, not found
    await visit("/talk")
    await expect(page.get_by_role("button", name="Talk to it")).to_be_enabled()
    await visit("/api-keys")
    await page.get_by_label("Name of the program using it").fill("nightly export")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_text("nightly export").first).to_be_visible()
    await visit("/docs")
    await expect(page.locator(".opblock").first).to_be_visible(timeout=15_000)
    response = await page.goto("/calls/999999")
    assert response is not None and response.status == 404
    assert await response.header_value("content-security-policy")
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expected_404 = f"{live.base_url}/calls/999999: Failed to load resource"
    errors[:] = [error for error in errors if not error.startswith(expected_404)]

    # --- sign out: the last form
    await visit("/")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login"))

    assert refused == []
    assert violations == []
    assert errors == []
    await context.close()

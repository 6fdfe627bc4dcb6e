"""The dashboard in a real browser (headless Chromium via Playwright) against the real server on
loopback, with a whole phone call driven through the real Twilio webhooks and media websocket:
sign in, start a call from the form, watch its status and transcript change live, follow it from
a second (phone-sized) browser that arrives mid-call, survive a dropped connection, then find the
call in History. SQLite only.

It takes the README's screenshots on the way: into a temporary folder, or into the folder named
by CARECALL_SCREENSHOTS to refresh them (`CARECALL_SCREENSHOTS=docs/screenshots`)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    async_playwright,
    expect,
)

from carecall.bot.prompts import DEFAULT_GOODBYE
from carecall.cli import standalone_auth
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import Call, CallStatus
from carecall.settings import Settings
from tests.e2e.harness import LiveServer, TwilioSide, running_carecall
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EMAIL = "nurse@example.org"
PASSWORD = "a long and careful password"
NUMBER = "+14155550100"
MASKED = "+1••••••0100"
SAID = ["I slept well last night", "I had porridge for breakfast"]
GOODBYE = "Okay, goodbye"


# Calls of the days before (number, days ago, status, seconds, how it ended, error).
EARLIER = [
    ("+14155550123", 3, CallStatus.COMPLETED, 194, "bot-hangup: the person said goodbye", None),
    ("+442079460958", 2, CallStatus.NO_ANSWER, None, "no-answer", None),
    ("+14155550187", 2, CallStatus.COMPLETED, 131, "caller-hangup", None),
    ("+61291234567", 1, CallStatus.BUSY, None, "busy", None),
    ("+14155550164", 1, CallStatus.FAILED, None, "failed", "The number is not reachable."),
    ("+14155550123", 1, CallStatus.COMPLETED, 248, "bot-hangup: the person said goodbye", None),
]


async def _store_earlier_calls(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            for number, days, status, seconds, reason, error in EARLIER:
                created = datetime.now(UTC).replace(hour=10, minute=5 * days) - timedelta(days)
                answered = created + timedelta(seconds=12) if seconds else None
                session.add(
                    Call(
                        to_number=number,
                        status=status,
                        created_at=created,
                        answered_at=answered,
                        ended_at=created + timedelta(seconds=(seconds or 30) + 12),
                        duration_seconds=seconds,
                        end_reason=reason,
                        error=error,
                    )
                )
    finally:
        await engine.dispose()


@dataclass
class Stack:
    openai: FakeOpenAI
    twilio_http: FakeAsyncTwilioHttpClient
    server: LiveServer
    twilio: TwilioSide


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[Stack]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"
    async with standalone_auth(database_url) as auth:
        await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    await _store_earlier_calls(database_url)
    async with (
        running_carecall(make_settings, database_url) as live,
        httpx.AsyncClient(base_url=live.server.base_url, timeout=10) as http,
    ):
        twilio = TwilioSide(live.server, live.settings, http)
        yield Stack(live.openai, live.twilio_http, live.server, twilio)


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CARECALL_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does).")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def _context(browser: Browser, stack: Stack, width: int, height: int) -> BrowserContext:
    return await browser.new_context(
        base_url=stack.server.base_url,
        viewport={"width": width, "height": height},
        locale="en-GB",
        timezone_id="Europe/London",
    )


# The browser logs refused requests; these are the test's own (wrong password, bad number,
# Twilio's refusal).
_EXPECTED_REFUSALS = (
    "status of 401 (Unauthorized)",
    "status of 422 (Unprocessable",
    "status of 502 (Bad Gateway)",
)


def _watch_for_errors(page: Page, errors: list[str]) -> None:
    """Collect script errors and console errors (e.g. a missing asset) from `page`."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not any(r in message.text for r in _EXPECTED_REFUSALS):
            errors.append(f"{page.url}: {message.text}")

    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on("console", on_console)


async def _sign_in(page: Page, password: str) -> None:
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()


async def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _turns(page: Page) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = await page.locator("#transcript .turn").evaluate_all(
        """items => items.map(item => ({
            sequence: Number(item.dataset.sequence),
            speaker: item.querySelector('.turn-speaker').textContent.trim(),
            text: item.querySelector('.turn-text').textContent,
            latency: item.querySelector('.turn-latency').hidden
                ? null : Number(item.querySelector('.turn-latency').dataset.ms),
            interrupted: !item.querySelector('.turn-interrupted').hidden,
        }))"""
    )
    return turns


async def _expect_turns(page: Page, count: int) -> list[dict[str, Any]]:
    """Wait until `count` turns are shown, then check they are distinct and in order."""
    await expect(page.locator("#transcript .turn")).to_have_count(count, timeout=20_000)
    turns = await _turns(page)
    assert [t["sequence"] for t in turns] == list(range(1, count + 1)), turns
    return turns


def _check_conversation(turns: list[dict[str, Any]], count: int) -> None:
    """The conversation so far, as the fake model and the simulated caller hold it."""
    expected: list[tuple[str, Callable[[str], bool]]] = [
        ("Carecall", lambda text: "automated assistant" in text),
        ("Caller", lambda text: text == SAID[0]),
        ("Carecall", lambda text: SAID[0] in text),
        ("Caller", lambda text: text == SAID[1]),
        ("Carecall", lambda text: SAID[1] in text),
        ("Caller", lambda text: text == GOODBYE),
        ("Carecall", lambda text: text == DEFAULT_GOODBYE),
    ][:count]
    assert len(turns) == count
    for turn, (speaker, matches) in zip(turns, expected, strict=True):
        assert turn["speaker"] == speaker and matches(turn["text"]), turns
        assert not turn["interrupted"]
    for answer in turns[2::2]:
        assert answer["latency"] is not None and 0 < answer["latency"] < 5000, turns


RECORD_STATUSES = """() => {
    window.statusesSeen = {};
    const record = () => {
        for (const item of document.querySelectorAll('.call-item')) {
            const seen = (window.statusesSeen[item.dataset.callId] ??= []);
            const label = item.querySelector('.badge-status').textContent.trim();
            if (seen[seen.length - 1] !== label) seen.push(label);
        }
    };
    new MutationObserver(record).observe(
        document.getElementById('call-list'),
        { subtree: true, childList: true, characterData: true },
    );
    record();
    window.notReloaded = true;
}"""


async def test_an_operator_starts_and_follows_a_call_live(
    stack: Stack, chromium: Browser, screenshots: Path
) -> None:
    shots = screenshots
    errors: list[str] = []
    desk = await _context(chromium, stack, 1280, 800)
    calls = await desk.new_page()
    _watch_for_errors(calls, errors)

    # --- sign in: a wrong password is refused with a message, the right one lets you in
    await calls.goto("/")
    await expect(calls).to_have_url(re.compile(r"/login\?next=%2F$"))
    await calls.screenshot(path=shots / "login.png")
    await _sign_in(calls, "not the password")
    await expect(calls.get_by_role("alert")).to_have_text(
        "That email and password don't match an account."
    )
    await _sign_in(calls, PASSWORD)
    await expect(calls).to_have_url(f"{stack.server.base_url}/")
    await expect(calls.locator("#feed-state")).to_have_text("Live")
    await expect(calls.locator(".call-item")).to_have_count(len(EARLIER))

    # --- a number the API refuses: its reason, under the field
    number = calls.get_by_label("Phone number")
    await number.fill("415 555 0100")
    await calls.get_by_role("button", name="Call now").click()
    await expect(calls.locator("#to-error")).to_have_text(
        "Phone number must include the country code, starting with +, e.g. +14155550100."
    )
    await expect(number).to_have_attribute("aria-invalid", "true")
    await expect(number).to_be_focused()
    assert stack.twilio_http.requests == []

    # --- start a call; Twilio is asked to dial; the call appears, queued
    await calls.evaluate(RECORD_STATUSES)
    await number.fill(NUMBER)
    await calls.get_by_role("button", name="Call now").click()
    await expect(calls.locator("#start-result")).to_contain_text("Calling now.")
    await expect(number).not_to_have_attribute("aria-invalid", "true")
    row = calls.locator(".call-item").first
    badge = row.locator(".badge-status")
    await expect(badge).to_have_text("Queued")
    await expect(row.locator(".call-number")).to_have_text(MASKED)
    created = [r for r in stack.twilio_http.requests if r.url.endswith("/Calls.json")]
    assert len(created) == 1 and created[0].data["To"] == NUMBER
    call_sid = next(iter(stack.twilio_http.calls))
    call_id = int(await row.get_attribute("data-call-id") or 0)

    # --- Twilio dials and it rings: the badge follows, without a reload
    for sequence, (status, label) in enumerate([("initiated", "Dialling"), ("ringing", "Ringing")]):
        await stack.twilio.post_webhook(
            f"/twilio/status?call_id={call_id}",
            {"CallSid": call_sid, "CallStatus": status, "SequenceNumber": str(sequence)},
        )
        await expect(badge).to_have_text(label)

    # The call's own page, opened while it rings.
    call = await desk.new_page()
    _watch_for_errors(call, errors)
    await call.goto(await row.locator(".call-link").get_attribute("href") or "")
    await expect(call.locator("#call-status")).to_have_text("Ringing")
    await expect(call.locator("#feed-state")).to_have_text("Live")
    await call.evaluate("() => { window.notReloaded = true; }")

    # --- answered: the conversation, turn by turn, as it happens (a turn is shown once it
    # is over: the bot's when the caller starts to speak, the caller's when the bot answers)
    caller = await stack.twilio.answer(call_id, call_sid)
    await expect(badge).to_have_text("In progress")
    await expect(call.locator("#call-status")).to_have_text("In progress")
    await caller.wait_for_bot_utterance(timeout=20)
    await expect(call.locator("#no-turns")).to_be_visible()

    await caller.say(SAID[0], announce=stack.openai.expect_utterance)
    await caller.wait_for_bot_utterance(timeout=20)
    _check_conversation(await _expect_turns(call, 2), 2)

    # A colleague on a phone signs in and opens the call mid-call: the turns so far, then live.
    phone = await _context(chromium, stack, 390, 844)
    colleague = await phone.new_page()
    _watch_for_errors(colleague, errors)
    await colleague.goto(f"/calls/{call_id}")
    await expect(colleague).to_have_url(re.compile(r"/login\?next="))
    await _sign_in(colleague, PASSWORD)
    await expect(colleague).to_have_url(f"{stack.server.base_url}/calls/{call_id}")
    _check_conversation(await _expect_turns(colleague, 2), 2)

    # The desk's connection drops and stays away while the caller speaks: once back, it is
    # sent what it missed (no new snapshot), and shows each turn once, in order.
    await call.evaluate("() => window.carecallFeed.drop(4000)")
    await expect(call.locator("#feed-state")).to_have_text("Reconnecting…")
    await caller.say(SAID[1], announce=stack.openai.expect_utterance)
    await caller.wait_for_bot_utterance(timeout=20)
    _check_conversation(await _expect_turns(colleague, 4), 4)
    _check_conversation(await _expect_turns(call, 4), 4)
    await expect(call.locator("#feed-state")).to_have_text("Live")
    stats = await call.evaluate("() => window.carecallFeed.stats")
    assert stats == {"snapshots": 1, "reconnects": 1}
    await expect(call.locator("#latency-summary")).to_contain_text("1 answer:")
    await call.screenshot(path=shots / "call.png", full_page=True, animations="disabled")

    # --- goodbye: the bot hangs up, Twilio reports the call completed
    await caller.say(GOODBYE, announce=stack.openai.expect_utterance)
    await caller.wait_until_closed(timeout=20)
    await stack.twilio.complete(call_id, call_sid, duration=40)
    for page in (call, colleague):
        await expect(page.locator("#call-status")).to_have_text("Completed")
        await expect(page.locator("#fact-duration")).to_have_text("40 s")
        await expect(page.locator("#fact-end-reason")).to_contain_text("Carecall said goodbye")
        await expect(page.locator("#hangup")).to_be_hidden()
        _check_conversation(await _expect_turns(page, 7), 7)
    await expect(badge).to_have_text("Completed")
    await expect(row.locator(".hangup")).to_be_hidden()
    live_transcript = await _turns(call)

    statuses = await calls.evaluate("() => window.statusesSeen")
    assert statuses[str(call_id)] == ["Queued", "Dialling", "Ringing", "In progress", "Completed"]
    for page in (calls, call):
        assert await page.evaluate("() => window.notReloaded") is True
    await calls.screenshot(path=shots / "calls.png", animations="disabled")
    await colleague.screenshot(path=shots / "call-phone.png", full_page=True, animations="disabled")

    # --- afterwards: History finds it; its page shows the same, stored, transcript
    await calls.get_by_role("link", name="History", exact=True).click()
    await expect(calls.locator("#result-count")).to_have_text(f"{len(EARLIER) + 1} calls.")
    await calls.screenshot(path=shots / "history.png")
    await calls.get_by_label("Number contains").fill("0100")
    await calls.get_by_label("Status").select_option(label="Completed")
    await calls.get_by_role("button", name="Search").click()
    await expect(calls.locator("#result-count")).to_have_text("1 call found.")
    await calls.locator(f'tr[data-call-id="{call_id}"] a.call-link').click()
    await expect(calls).to_have_url(f"{stack.server.base_url}/calls/{call_id}")
    assert await _turns(calls) == live_transcript  # rendered by the server this time
    await expect(calls.locator("#feed-state")).to_have_text("Live")

    # --- Twilio refuses a call: its reason is shown, and the call is listed as failed
    await calls.goto("/")
    stack.twilio_http.queue_error(500, 20500, "Internal Server Error")
    await number.fill("+14155550142")
    await calls.get_by_role("button", name="Call now").click()
    await expect(calls.locator("#start-result .alert-danger")).to_have_text(
        "Twilio could not place a call: Unable to create record: Internal Server Error"
        " (Twilio error 20500)"
    )
    await expect(calls.locator(".call-item").first.locator(".badge-status")).to_have_text("Failed")

    # --- hang up a live call from the list (the page sends its CSRF token)
    await number.fill("+14155550142")
    await calls.get_by_role("button", name="Call now").click()
    row = calls.locator(".call-item").first
    await expect(row.locator(".badge-status")).to_have_text("Queued")
    call_id = int(await row.get_attribute("data-call-id") or 0)
    call_sid = list(stack.twilio_http.calls)[-1]
    await stack.twilio.post_webhook(
        f"/twilio/status?call_id={call_id}",
        {"CallSid": call_sid, "CallStatus": "in-progress", "SequenceNumber": "0"},
    )
    await expect(row.locator(".badge-status")).to_have_text("In progress")

    async def confirm(dialog: Dialog) -> None:
        assert dialog.message == "Hang up the call to +1••••••0142?"
        await dialog.accept()

    calls.once("dialog", confirm)
    await row.get_by_role("button", name="Hang up the call to +1••••••0142").click()
    await _until(lambda: stack.twilio_http.calls[call_sid]["status"] == "completed")
    await stack.twilio.complete(call_id, call_sid, duration=5)
    await expect(row.locator(".badge-status")).to_have_text("Completed")
    await expect(row.locator(".hangup")).to_be_hidden()

    assert errors == []
    await desk.close()
    await phone.close()

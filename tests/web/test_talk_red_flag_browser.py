"""A red flag said in Talk to it, in a real browser: headless Chromium whose fake microphone
says "I fell in the kitchen and I can't get up" over WebRTC to the real server. Without a model
(local Whisper, Piper and the guided check-in) the reply is the care advice, never "didn't catch
that"; the alert is raised for the talk (no person, so no caregiver to text) and shown live on
the call's page and on Today. With a model (the fake OpenAI-compatible server) the model's reply
is told to address it, and the alert is raised too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import Browser, Page, Playwright, async_playwright, expect

from carecall.cli import standalone_auth
from carecall.persistence.alerts import AlertRepository
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import Alert, CallChannel
from carecall.persistence.repositories import CallRepository
from carecall.settings import Settings
from tests.e2e.harness import LiveServer, local_carecall, running_carecall
from tests.fakes.speech import espeak_pcm, pcm16_wav
from tests.web.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, EMAIL, PASSWORD

pytestmark = pytest.mark.e2e

MIC_RATE = 48_000
FALL = "I fell in the kitchen and I can't get up."
# Chromium's fake microphone loops its file: silence while the greeting plays, the line, then
# a pause long enough to end the turn.
LEAD_SECONDS, TAIL_SECONDS = 9.0, 6.0
NOT_UNDERSTOOD = "didn't quite catch"


def _microphone_wav(folder: Path) -> Path:
    speech = np.frombuffer(espeak_pcm(FALL, MIC_RATE), dtype="<i2")
    silence = np.zeros(int(LEAD_SECONDS * MIC_RATE), dtype="<i2")
    tail = np.zeros(int(TAIL_SECONDS * MIC_RATE), dtype="<i2")
    path = folder / "microphone.wav"
    path.write_bytes(pcm16_wav(np.concatenate([silence, speech, tail]).tobytes(), MIC_RATE))
    return path


async def _chromium(playwright: Playwright, microphone: Path) -> Browser:
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}",
            "--autoplay-policy=no-user-gesture-required",
        ],
    )


async def _sign_in_and_talk(page: Page) -> int:
    """Sign in on Talk to it, start talking; the talk's call id."""
    await page.goto("/talk")
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.get_by_role("button", name="Talk to it").click()
    await expect(page.locator("#talk-state")).to_have_text("Talking", timeout=20_000)
    link = page.get_by_role("link", name="Open this call's page")
    return int((await link.get_attribute("href") or "").rsplit("/", 1)[1])


async def _stored_alerts(database_url: str, call_id: int) -> list[Alert]:
    engine = create_engine(database_url)
    try:
        sessions = create_session_factory(engine)
        call = await CallRepository(sessions).get(call_id)
        found = await AlertRepository(sessions).for_call(call_id)
    finally:
        await engine.dispose()
    assert call is not None and call.channel is CallChannel.BROWSER
    return [about.alert for about in found]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: the alert's storage for a call without a person is tested on both databases in
    tests/wellbeing."""
    return f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"


@pytest.fixture
async def local_server(
    make_settings: Callable[..., Settings], database_url: str
) -> AsyncIterator[LiveServer]:
    async with local_carecall(make_settings, database_url, operator=(EMAIL, PASSWORD)) as server:
        yield server


async def test_a_fall_said_without_a_model_gets_the_advice_and_an_alert_on_the_pages(
    local_server: LiveServer, database_url: str, tmp_path: Path
) -> None:
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await _chromium(playwright, _microphone_wav(tmp_path))
        try:
            context = await browser.new_context(base_url=local_server.base_url)
            talk = await context.new_page()
            talk.on("pageerror", lambda error: errors.append(str(error)))
            call_id = await _sign_in_and_talk(talk)
            # The call's page, open while the talk runs: the alert appears on it live.
            call_page = await context.new_page()
            call_page.on("pageerror", lambda error: errors.append(str(error)))
            await call_page.goto(f"/calls/{call_id}")
            await expect(call_page.locator("#call-alerts")).to_be_hidden()

            user_turn = talk.locator("#transcript .turn-user .turn-text").first
            await expect(user_turn).to_contain_text("fell", timeout=60_000)
            # The guided check-in's reply to the line is the care advice.
            reply = talk.locator("#transcript .turn-assistant .turn-text").nth(1)
            await expect(reply).to_contain_text("9 1 1", timeout=30_000)
            await expect(reply).not_to_contain_text(NOT_UNDERSTOOD)

            card = call_page.locator("#call-alerts .alert-card")
            await expect(card).to_have_count(1, timeout=10_000)
            await expect(card.locator(".alert-label")).to_have_text("Red flag: a fall")
            await expect(card).to_contain_text("A talk in the browser")
            await expect(card.locator(".alert-no-texts")).to_contain_text("No caregiver to text")

            # Said again (the microphone loops): the advice again, still no "didn't catch that".
            await expect(talk.locator("#transcript .turn-user").nth(1)).to_contain_text(
                "fell", timeout=60_000
            )
            second = talk.locator("#transcript .turn-assistant .turn-text").nth(2)
            await expect(second).to_contain_text("9 1 1", timeout=30_000)
            await talk.get_by_role("button", name="Hang up").click()
            await expect(talk.locator("#talk-state")).to_have_text("Ended")
            replies = await talk.locator("#transcript .turn-assistant .turn-text").all_inner_texts()
            assert not [r for r in replies if NOT_UNDERSTOOD in r], replies

            today = await context.new_page()
            await today.goto("/today")
            on_today = today.locator(f'#open-alerts .alert-card:has(a[href="/calls/{call_id}"])')
            await expect(on_today).to_have_count(1)
            await expect(on_today).to_contain_text("A talk in the browser")
            await expect(on_today.locator(".alert-label")).to_have_text("Red flag: a fall")
        finally:
            await browser.close()
    assert not errors, errors

    (alert,) = await _stored_alerts(database_url, call_id)
    assert (alert.kind, alert.category, alert.detector) == ("red_flag", "fall", "rules")
    assert alert.senior_id is None and alert.acknowledged_at is None


async def test_a_fall_said_with_a_model_is_addressed_by_its_reply_and_alerted(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    async with standalone_auth(database_url) as auth:
        await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    async with running_carecall(make_settings, database_url) as live:
        assert live.settings.service_choice.llm is not None
        live.openai.expect_utterance(FALL)  # what the fake speech-to-text hears first
        async with async_playwright() as playwright:
            browser = await _chromium(playwright, _microphone_wav(tmp_path))
            try:
                page = await browser.new_page(base_url=live.server.base_url)
                call_id = await _sign_in_and_talk(page)
                user_turn = page.locator("#transcript .turn-user .turn-text").first
                await expect(user_turn).to_contain_text("fell", timeout=60_000)
                await expect(page.locator("#transcript .turn-assistant")).to_have_count(
                    2, timeout=30_000
                )
                await page.get_by_role("button", name="Hang up").click()
                await expect(page.locator("#talk-state")).to_have_text("Ended")
            finally:
                await browser.close()
        replies = [r for r in live.openai.chat_requests if FALL in str(r["messages"])]
        assert replies, "the line reached the model"
        notes = [
            m["content"]
            for m in replies[0]["messages"]
            if m["role"] == "system" and "Urgent" in str(m["content"])
        ]
        assert notes and "911" in notes[0], "the reply to the line was told to address it"
        tools = [t["function"]["name"] for t in replies[0].get("tools", [])]
        assert "connect_caregiver" not in tools  # nobody to put a talk through to
        deadline = time.monotonic() + 10
        while not (alerts := await _stored_alerts(database_url, call_id)):
            assert time.monotonic() < deadline, "no alert for the talk"
            await asyncio.sleep(0.2)
        (alert,) = alerts
        assert (alert.category, alert.senior_id) == ("fall", None)
        assert not [r for r in live.twilio_http.requests if r.url.endswith("/Messages.json")]

"""Talk to it in a real browser: headless Chromium whose fake microphone plays speech made with
espeak-ng, over WebRTC to the real server in local mode (Whisper, Piper, the guided check-in;
no keys, no OpenAI-compatible server). The page shows what the microphone said and the bot's
reply, the browser receives the bot's voice, and the talk is stored as a browser call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.async_api import Page, async_playwright, expect

from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import CallChannel, CallStatus, TurnRole
from carecall.persistence.repositories import CallRepository
from carecall.settings import Settings
from tests.e2e.harness import LiveServer, local_carecall
from tests.fakes.speech import espeak_pcm, pcm16_wav
from tests.web.test_dashboard_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EMAIL,
    PASSWORD,
    _watch_for_errors,
)

pytestmark = pytest.mark.e2e

MIC_RATE = 48_000
SAID = "I am feeling very well today, thank you."
# Chromium's fake microphone loops its file: silence while the greeting plays, the answer,
# then a pause long enough to end the turn.
LEAD_SECONDS, TAIL_SECONDS = 9.0, 5.0


def _microphone_wav(folder: Path) -> Path:
    speech = np.frombuffer(espeak_pcm(SAID, MIC_RATE), dtype="<i2")
    silence = np.zeros(int(LEAD_SECONDS * MIC_RATE), dtype="<i2")
    tail = np.zeros(int(TAIL_SECONDS * MIC_RATE), dtype="<i2")
    path = folder / "microphone.wav"
    path.write_bytes(pcm16_wav(np.concatenate([silence, speech, tail]).tobytes(), MIC_RATE))
    return path


@pytest.fixture
async def local_server(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[LiveServer]:
    async with local_carecall(
        make_settings,
        f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}",
        operator=(EMAIL, PASSWORD),
    ) as server:
        yield server


async def _audio_stats(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = await page.evaluate(
        """async () => {
            const report = await window.carecallTalk.pc.getStats();
            const found = {bytesReceived: 0, totalAudioEnergy: 0, packetsSent: 0};
            report.forEach((s) => {
                if (s.type === 'inbound-rtp' && s.kind === 'audio') {
                    found.bytesReceived += s.bytesReceived || 0;
                    found.totalAudioEnergy += s.totalAudioEnergy || 0;
                }
                if (s.type === 'outbound-rtp' && s.kind === 'audio') {
                    found.packetsSent += s.packetsSent || 0;
                }
            });
            return found;
        }"""
    )
    return stats


async def test_talk_in_the_browser(local_server: LiveServer, tmp_path: Path) -> None:
    wav = _microphone_wav(tmp_path)
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            page = await browser.new_page(base_url=local_server.base_url)
            # Script errors, and console errors such as a refusal by the Content-Security-Policy.
            _watch_for_errors(page, errors)
            await page.goto("/talk")
            await page.get_by_label("Email").fill(EMAIL)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in", exact=True).click()
            await expect(page.get_by_role("heading", name="Talk to it")).to_be_visible()

            started = time.monotonic()
            await page.get_by_role("button", name="Talk to it").click()
            await expect(page.locator("#talk-state")).to_have_text("Talking", timeout=20_000)
            # The caller's words, transcribed by Whisper from the fake microphone...
            user_turn = page.locator("#transcript .turn-user .turn-text").first
            await expect(user_turn).to_contain_text("feeling", timeout=60_000)
            await expect(user_turn).to_contain_text("well")
            # ... and the guided check-in's reply, after its greeting.
            replies = page.locator("#transcript .turn-assistant")
            await expect(replies.nth(1)).to_be_visible(timeout=30_000)
            answered = time.monotonic() - started
            stats = await _audio_stats(page)
            assert stats["packetsSent"] > 0, stats
            assert stats["bytesReceived"] > 0, stats
            assert stats["totalAudioEnergy"] > 0, stats  # the bot's voice, not silence
            latency = await replies.nth(1).locator(".turn-latency").get_attribute("data-ms")
            print(f"\nreply {answered:.1f} s after Talk; answered in {latency} ms; {stats}")

            await page.get_by_role("button", name="Hang up").click()
            await expect(page.locator("#talk-state")).to_have_text("Ended")
            call_id = int(
                (
                    await page.get_by_role("link", name="Open this call's page").get_attribute(
                        "href"
                    )
                    or ""
                ).rsplit("/", 1)[1]
            )
        finally:
            await browser.close()
    assert not errors, errors

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}")
    try:
        calls = CallRepository(create_session_factory(engine))
        deadline = time.monotonic() + 15
        while True:
            call = await calls.get(call_id, with_turns=True)
            assert call is not None
            if (call.status.is_final and call.end_reason) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    assert call.channel is CallChannel.BROWSER
    assert call.status is CallStatus.COMPLETED, call.status
    assert call.end_reason == "caller-hangup"
    assert call.answered_at is not None and call.duration_seconds is not None
    roles = [turn.role for turn in call.turns]
    assert roles[:3] == [TurnRole.ASSISTANT, TurnRole.USER, TurnRole.ASSISTANT], roles
    assert "feeling" in call.turns[1].text.lower()


async def test_a_refused_microphone_is_explained(local_server: LiveServer) -> None:
    async with async_playwright() as playwright:
        # No fake permission prompt: headless Chromium refuses the microphone.
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream"],
        )
        try:
            page = await browser.new_page(base_url=local_server.base_url)
            await page.goto("/talk")
            await page.get_by_label("Email").fill(EMAIL)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in", exact=True).click()
            talk = page.get_by_role("button", name="Talk to it")
            await expect(talk).to_be_visible()
            # The page's script must be running before the key press (under load it wasn't).
            await page.wait_for_load_state("load")
            await talk.focus()
            await page.keyboard.press("Enter")
            alert = page.get_by_role("alert")
            await expect(alert).to_contain_text("may not use the microphone", timeout=10_000)
            await expect(page.locator("#talk-state")).to_have_text("Not connected")
            await expect(page.get_by_role("button", name="Talk again")).to_be_focused()
        finally:
            await browser.close()

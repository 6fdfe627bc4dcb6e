"""The demo call in a real browser: sign in, click "Run a demo call" on the calls page, and the
call's page shows the simulated senior's words (transcribed by the local Whisper) and the bot's
replies as they are spoken, until the badge says Completed. The server runs in local mode: no
keys, Whisper, Piper and the guided check-in."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from carecall.settings import Settings
from tests.e2e.harness import LiveServer, local_carecall
from tests.web.test_dashboard_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EMAIL,
    PASSWORD,
    _sign_in,
    _watch_for_errors,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
async def local_server(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[LiveServer]:
    # No keys at all: no OpenAI, no Twilio. The demo call needs neither.
    async with local_carecall(
        make_settings,
        f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}",
        operator=(EMAIL, PASSWORD),
        twilio_account_sid=None,
        twilio_auth_token=None,
        twilio_phone_number=None,
    ) as server:
        yield server


async def test_run_a_demo_call_and_watch_it_live(local_server: LiveServer) -> None:
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(base_url=local_server.base_url)
            _watch_for_errors(page, errors)
            await page.goto("/")
            await _sign_in(page, PASSWORD)
            await expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()

            started = time.monotonic()
            await page.get_by_role("button", name="Run a demo call").click()
            await page.wait_for_url("**/calls/*", timeout=10_000)
            await expect(page.get_by_role("heading", level=1)).to_have_text("Demo call")
            channel = page.locator(".facts dt", has_text="Channel")
            await expect(channel.locator("xpath=following-sibling::dd[1]")).to_have_text(
                "Demo call"
            )
            await expect(page.locator(".facts")).not_to_contain_text("Number")
            transcript = page.locator("#transcript")
            await expect(transcript.locator(".turn-assistant").first).to_contain_text(
                "automated", timeout=30_000
            )
            first_line = time.monotonic() - started
            senior = transcript.locator(".turn-user .turn-text")
            await expect(senior.first).to_contain_text("fine", timeout=60_000)
            await expect(transcript.locator(".turn-assistant").nth(1)).to_be_visible(timeout=30_000)
            await expect(senior.nth(1)).to_contain_text("seven", timeout=60_000)
            await expect(page.locator("#call-status")).to_have_text("Completed", timeout=180_000)
            whole = time.monotonic() - started
            print(
                f"\ndemo call: first line {first_line:.1f} s after the click, done in {whole:.0f} s"
            )
            assert await transcript.locator(".turn-user").count() >= 5
            assert await transcript.locator(".turn-assistant").count() >= 6
        finally:
            await browser.close()
    assert not errors, errors

"""A person's language in a real browser (headless Chromium) against the real server on
loopback: the form's Language list, chosen by its name in the language, and the person's page
naming it. SQLite only (the server side runs on both databases in test_person_language)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from carecall.cli import standalone_auth
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.web.test_today_browser import (
    EMAIL,
    NOW,
    PASSWORD,
    ProgramServer,
    chromium,
    open_signed_in,
    program_server,
)

pytestmark = pytest.mark.e2e

__all__ = ["chromium"]


@pytest.fixture
async def live(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[ProgramServer]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"
    async with standalone_auth(database_url) as auth:
        await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    settings = make_settings(database_url=database_url, dispatcher_enabled=False)
    with program_server(settings, FakeClock(NOW)) as server:
        yield server


async def test_a_spanish_speaker_is_added_by_choosing_their_language(
    live: ProgramServer, chromium: Browser
) -> None:
    errors: list[str] = []
    page = await open_signed_in(chromium, live.base_url, "/people/new", errors)
    language = page.get_by_label("Language")
    await expect(language).to_have_value("en")
    await expect(page.locator("#language-help")).to_contain_text(
        "every text to their caregivers, is in it"
    )
    await page.get_by_label("Full name").fill("Rosa Díaz")
    await page.get_by_label("Phone number").fill("+1 415 555 0142")
    await page.get_by_label("Time zone").fill("America/Chicago")
    await language.select_option(label="Español (es)")
    await page.get_by_role("button", name="Add this person").click()

    await page.wait_for_url("**/people/*")
    await expect(page.locator("#language")).to_have_text("Español (es)")
    assert errors == []

"""Small things a user sees, in a real browser (headless Chromium) against the real server on
loopback: placeholders that read as examples, not as filled values; the API keys page's times
shown like every other page's; a new API key copied with one button; and a hand-over's steps
on the call's page as they happen. SQLite only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from carecall.cli import standalone_auth
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.repositories import CallRepository
from carecall.pipeline.events import StepRecord
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

__all__ = ["chromium"]  # the fixture, shared with the Today view's test

PLACEHOLDER_STYLE = """input => {
  const text = getComputedStyle(input);
  const example = getComputedStyle(input, "::placeholder");
  return {
    placeholder: input.placeholder,
    italic: example.fontStyle === "italic",
    sameColour: example.color === text.color,
    monospace: example.fontFamily.includes("monospace"),
  };
}"""


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


async def test_placeholders_read_as_examples(live: ProgramServer, chromium: Browser) -> None:
    errors: list[str] = []
    page = await open_signed_in(chromium, live.base_url, "/", errors)
    seen = 0
    for path in ("/", "/history", "/people", "/people/new"):
        await page.goto(path)
        for field in await page.locator("input[placeholder]").all():
            style = await field.evaluate(PLACEHOLDER_STYLE)
            where = (path, style["placeholder"])
            assert style["placeholder"].startswith("e.g. "), where
            assert style["italic"] and not style["sameColour"], where
            assert not style["monospace"], where
            seen += 1
    assert seen >= 8
    assert errors == []


async def test_a_new_api_key_is_copied_and_its_times_read_like_every_pages(
    live: ProgramServer, chromium: Browser
) -> None:
    errors: list[str] = []
    page = await open_signed_in(chromium, live.base_url, "/api-keys", errors)
    await page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=live.base_url
    )
    await page.get_by_label("Name of the program using it").fill("nightly export")
    await page.get_by_role("button", name="Create key").click()

    key = await page.get_by_label("The new API key").input_value()
    assert key.startswith("cc_")
    # Shown in local time as on the calls page and History ("Today, 17:00"), the full moment
    # on hover; not the server's fallback, "2026-01-05 17:00 UTC".
    created = page.locator("tbody tr").first.locator("td").nth(2).locator("time")
    await expect(created).to_have_attribute("title", re.compile(r"\d{4}"))
    await expect(created).not_to_contain_text("UTC")
    await expect(created).to_have_text(re.compile(r"^(Today, )?\S.*\d\d$"))

    await page.get_by_role("button", name="Copy key").click()
    await expect(page.locator("#copy-result")).to_have_text("Copied to the clipboard.")
    assert await page.evaluate("navigator.clipboard.readText()") == key

    assert errors == []


async def test_a_hand_over_shows_on_the_call_page_as_it_happens(
    live: ProgramServer, chromium: Browser
) -> None:
    engine = create_engine(live.database_url)
    try:
        calls = CallRepository(create_session_factory(engine))
        call = await calls.create("+14155550100", "+15005550006")
        await calls.add_steps(
            [StepRecord(call.id, 1, "dialling", "Calling Tom Jones to take the call.", NOW)]
        )
    finally:
        await engine.dispose()
    errors: list[str] = []
    page = await open_signed_in(chromium, live.base_url, f"/calls/{call.id}", errors)
    steps = page.locator("#steps .call-step")
    await expect(page.get_by_role("heading", name="Hand-over to a caregiver")).to_be_visible()
    await expect(steps).to_have_count(1)
    await expect(page.locator("#feed-state")).to_have_attribute("data-state", "live")

    later = NOW + timedelta(seconds=40)
    for step in (
        StepRecord(call.id, 3, "accepted", "Anna Jones pressed 1 to take the call.", later),
        StepRecord(call.id, 2, "no_answer", "Tom Jones: didn't answer.", later),
    ):
        await live.bus.publish_from_test(step.to_event())
    await expect(steps).to_have_count(3)
    await expect(steps.nth(1)).to_contain_text("No answer")
    await expect(steps.nth(1)).to_contain_text("Tom Jones: didn't answer.")
    await expect(steps.nth(2).locator(".call-step-label")).to_have_text("Accepted")
    await expect(steps.nth(2).locator(".call-step-label")).to_have_class(
        re.compile("text-bg-success")
    )
    assert errors == []

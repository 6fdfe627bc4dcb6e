"""Honest pages in a real browser (headless Chromium) against the real server on loopback, with
no Twilio settings: the person form shows every problem at once next to its field; "Call now"
gives every reason the person can't be called, then the missing settings; a plan saved for today
is on Today at once, saying it is not dialled. SQLite only (the server-side tests run on both
databases: test_people_pages)."""

from __future__ import annotations

import re
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

__all__ = ["chromium"]  # the fixture, shared with the Today view's test


@pytest.fixture
async def unconfigured(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[ProgramServer]:
    """carecall on loopback at Monday 11:00 in Chicago, its dispatcher off, Twilio not set up."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"
    async with standalone_auth(database_url) as auth:
        await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    settings = make_settings(
        database_url=database_url,
        dispatcher_enabled=False,
        twilio_account_sid=None,
        twilio_auth_token=None,
        twilio_phone_number=None,
    )
    with program_server(settings, FakeClock(NOW)) as server:
        yield server


async def test_forms_call_now_and_today_say_everything_that_is_true(
    unconfigured: ProgramServer, chromium: Browser
) -> None:
    errors: list[str] = []
    page = await open_signed_in(chromium, unconfigured.base_url, "/people/new", errors)

    await page.get_by_label("Full name").fill("Margaret Ellis")
    await page.get_by_label("Phone number").fill("415 555 0142")  # no country code
    await page.get_by_label("Time zone").fill("Chicago")  # not an IANA zone
    await page.get_by_label("Caregiver 1 name").fill("Susan Ellis")
    await page.get_by_label("Caregiver 1 phone").fill("+1 555")  # too short
    await page.get_by_role("button", name="Add this person").click()

    await expect(page.locator("#form-error")).to_contain_text("Please fix these 3 things")
    for label, value, words in (
        ("Phone number", "415 555 0142", "Phone number must include the country code"),
        ("Time zone", "Chicago", "'Chicago' is not a time zone."),
        ("Caregiver 1 phone", "+1 555", "Caregiver 1: This phone number is not valid"),
    ):
        field = page.get_by_label(label, exact=True)
        await expect(field).to_have_value(value)
        await expect(field).to_contain_class("is-invalid")
        await expect(field).to_have_attribute("aria-invalid", "true")
        await expect(field).to_have_accessible_description(re.compile(re.escape(words)))
        feedback = page.locator(f"#{await field.get_attribute('id')}-error")
        await expect(feedback).to_be_visible()  # Bootstrap shows it under an is-invalid input
        await expect(feedback).to_contain_text(words)
    await expect(page.locator(".is-invalid")).to_have_count(3)
    await expect(page.get_by_label("Caregiver 1 name")).to_have_value("Susan Ellis")

    await (
        page.locator("#form-error")
        .get_by_role("link", name="'Chicago' is not a time zone.")
        .click()
    )
    await expect(page.get_by_label("Time zone", exact=True)).to_be_focused()
    await page.get_by_label("Phone number").fill("+1 415 555 0142")
    await page.get_by_label("Time zone").fill("America/Chicago")
    await page.get_by_label("Caregiver 1 phone").fill("+14155550177")
    await page.get_by_role("button", name="Add this person").click()
    await page.wait_for_url("**/people/*")

    await page.get_by_role("button", name="Call now").click()
    reasons = page.locator("#call-error li")
    await expect(reasons).to_have_count(2)
    await expect(reasons.nth(0)).to_have_text(
        "Margaret Ellis has not given consent to be called. Record their consent (who gave it, "
        "when and how) on their page first."
    )
    await expect(reasons.nth(1)).to_contain_text("Placing phone calls is not configured")

    consent = page.locator("#consent")
    await consent.get_by_label("Who gave consent").fill("Margaret herself")
    await consent.get_by_role("button", name="Record consent").click()
    await expect(page.locator("#consent-summary")).to_contain_text("Given by Margaret herself")
    plan = page.locator("#plan-form")
    await plan.get_by_label("From (their time)").fill("23:00")
    await plan.get_by_label("Until").fill("02:00")
    await plan.get_by_role("button", name="Add plan").click()
    await expect(page.locator("#plan-error li")).to_have_count(2)
    await expect(page.locator("#plan-error")).to_contain_text("between 08:00 and 21:00")
    await expect(plan.get_by_label("Until")).to_contain_class("is-invalid")
    await plan.get_by_label("From (their time)").fill("10:30")
    await plan.get_by_label("Until").fill("12:00")
    await plan.get_by_role("button", name="Add plan").click()
    await expect(page.locator("#plan-list .plan-summary")).to_have_text("Mon–Fri 10:30–12:00")

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    checkin = page.locator(".today-checkin")
    await expect(checkin).to_have_count(1)  # at once: no dispatcher round ran
    await expect(checkin.locator(".checkin-label")).to_have_text("Not dialled")
    await expect(checkin).to_contain_text("Not dialled: phone calls aren't set up")
    await expect(page.locator("#calls-not-set-up")).to_contain_text("TWILIO_ACCOUNT_SID")
    assert errors == []

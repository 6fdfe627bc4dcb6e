"""The People pages in a real browser (headless Chromium) against the real server on loopback:
add a person with two caregivers (a refused number first, the form kept), add a plan with the
weekday boxes and time fields, record consent, and find them on the roster. SQLite only."""

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

__all__ = ["chromium"]  # the fixture, shared with the Today view's test


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


async def test_a_person_is_added_with_caregivers_and_a_plan(
    live: ProgramServer, chromium: Browser
) -> None:
    errors: list[str] = []
    page = await open_signed_in(chromium, live.base_url, "/people", errors)
    await expect(page.locator("#people-count")).to_contain_text("Nobody on the roster yet.")

    await page.get_by_role("link", name="Add a person").click()
    await page.get_by_label("Full name").fill("Margaret Ellis")
    await page.get_by_label("Preferred name").fill("Maggie")
    await page.get_by_label("Phone number").fill("415 555 0142")  # no country code
    await page.get_by_label("Time zone").fill("America/Chicago")
    await page.get_by_label("Notes for the bot").fill("Loves her roses.")
    await page.get_by_label("Caregiver 1 name").fill("Susan Ellis")
    await page.get_by_label("Caregiver 1 relation").fill("daughter")
    await page.get_by_label("Caregiver 1 phone").fill("+14155550177")
    await page.get_by_label("Caregiver 2 name").fill("Tom Ellis")
    await page.get_by_label("Caregiver 2 relation").fill("son")
    await page.get_by_label("Caregiver 2 phone").fill("+442079460958")
    await page.get_by_label("Caregiver 2 is told by").select_option(label="Phone call")
    await page.get_by_role("button", name="Add another caregiver").click()
    await expect(page.get_by_label("Caregiver 4 name")).to_be_focused()
    await page.get_by_role("button", name="Add this person").click()

    await expect(page.locator("#form-error")).to_contain_text(
        "Phone number must include the country code"
    )
    await expect(page.get_by_label("Caregiver 2 name")).to_have_value("Tom Ellis")
    await expect(page.get_by_label("Caregiver 2 is told by")).to_have_value("call")
    await page.get_by_label("Phone number").fill("+1 415 555 0142")
    await page.get_by_role("button", name="Add this person").click()

    await page.wait_for_url("**/people/*")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Margaret Ellis")
    caregivers = page.locator("#caregivers li")
    await expect(caregivers).to_have_count(2)
    await expect(caregivers.nth(0)).to_contain_text("Susan Ellis (daughter), +14155550177, by SMS")
    await expect(caregivers.nth(1)).to_contain_text("Tom Ellis (son), +442079460958, by phone")

    plan = page.locator("#plan-form")
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):  # ticked by default
        await expect(plan.get_by_label(day, exact=True)).to_be_checked()
    await plan.get_by_label("Sat", exact=True).check()
    await plan.get_by_label("From (their time)").fill("10:00")
    await plan.get_by_label("Until").fill("10:30")
    await plan.get_by_label("Tries", exact=True).fill("4")
    await plan.get_by_role("button", name="Add plan").click()
    await expect(page.locator("#plan-list .plan-summary")).to_have_text(
        "Mon, Tue, Wed, Thu, Fri, Sat 10:00–10:30"
    )
    await expect(page.locator("#plan-list")).to_contain_text("Up to 4 tries")

    consent = page.locator("#consent")
    await consent.get_by_label("Who gave consent").fill("Margaret herself")
    await consent.get_by_label("How").select_option("written")
    await consent.get_by_role("button", name="Record consent").click()
    await expect(page.locator("#consent-summary")).to_contain_text(
        "Given by Margaret herself (written) on 2026-01-05 11:00 CST"
    )

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    await page.get_by_label("Name or digits of the number").fill("0142")
    await page.get_by_role("button", name="Search").click()
    row = page.locator("tr[data-senior-id]")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Margaret Ellis")
    await expect(row).to_contain_text("Consent recorded")
    await expect(row).to_contain_text("Mon, Tue, Wed, Thu, Fri, Sat 10:00–10:30")
    assert errors == []

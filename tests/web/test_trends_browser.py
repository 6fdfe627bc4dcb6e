"""A person's trend charts and alerts in a real browser (headless Chromium) against the real
server on loopback: each measure that came up is drawn (a uPlot canvas with pixels on it), the
others are named as not discussed yet, with no console error; an alert on Today is
acknowledged with its button. SQLite only; the server's clock is fixed."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from carecall.cli import standalone_auth
from carecall.core.events import InProcessEventBus
from carecall.persistence.alerts import AlertRepository
from carecall.persistence.database import create_engine, create_session_factory
from carecall.settings import Settings
from carecall.telephony.twilio_client import TwilioGateway
from carecall.wellbeing.alerts import AlertService
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.web.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS
from tests.web.test_today_browser import (
    EMAIL,
    PASSWORD,
    ProgramServer,
    open_signed_in,
    program_server,
)
from tests.wellbeing.alert_data import WORSENING_SLEEP, StoredPerson, store_person

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 1, 12, 17, 0, tzinfo=UTC)
FIRST_CALL = datetime(2026, 1, 5, 17, 30, tzinfo=UTC)

INKED_PIXELS = """(canvas) => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
  return inked;
}"""
SERIES_PIXELS = """(canvas) => {
  // The series' blue (#0a58ca), as opposed to the axes' grey.
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let blue = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 200 && data[i + 2] > 150 && data[i] < 60) blue += 1;
  }
  return blue;
}"""


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
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CARECALL_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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


async def _mary_with_a_trend_alert(
    database_url: str, settings: Callable[..., Settings]
) -> tuple[StoredPerson, int]:
    """Mary's calls (sleep getting worse) stored, and her trend alert raised, as the record
    worker would."""
    engine = create_engine(database_url)
    try:
        sessions = create_session_factory(engine)
        stored = await store_person(sessions, WORSENING_SLEEP, first_call_at=FIRST_CALL)
        config = settings(database_url=database_url, organization_name="Sunny Care")
        service = AlertService(
            config,
            AlertRepository(sessions),
            TwilioGateway(config, FakeAsyncTwilioHttpClient()),
            FakeClock(NOW),
            InProcessEventBus(),
        )
        [alert] = await service.check_trends(stored.senior_id)
        return stored, alert.id
    finally:
        await engine.dispose()


async def test_the_person_page_draws_a_chart_per_measure(
    live: ProgramServer,
    chromium: Browser,
    make_settings: Callable[..., Settings],
    screenshots: Path,
) -> None:
    stored, alert_id = await _mary_with_a_trend_alert(live.database_url, make_settings)
    errors: list[str] = []

    page = await open_signed_in(chromium, live.base_url, f"/people/{stored.senior_id}", errors)

    charts = page.locator("#trend-charts .trend-chart")
    await expect(charts).to_have_count(2)  # sleep and mood came up; nothing else did
    sleep = page.locator('.trend-chart[data-measure="sleep"]')
    await expect(sleep.locator("figcaption")).to_have_text(
        "Sleep: sleeping badly (latest, 2026-01-08 11:30)"
    )
    await expect(page.locator('.trend-chart[data-measure="mood"] figcaption')).to_have_text(
        "Mood: a little low (latest, 2026-01-08 11:30)"
    )
    await expect(page.locator("#trends-not-discussed")).to_have_text(
        "Not discussed yet: Eating, Pain, Medication taken, Social contact, Loneliness, "
        "Mobility, Confusion."
    )
    canvas = sleep.locator("canvas")
    await expect(canvas).to_have_count(1)
    box = await canvas.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    assert await canvas.evaluate(INKED_PIXELS) > 1000
    assert await canvas.evaluate(SERIES_PIXELS) > 50, "the line and its points are not drawn"
    await expect(sleep.locator(".trend-plot")).to_have_attribute(
        "aria-label", "Sleep over 3 calls; latest: sleeping badly."
    )
    await expect(page.locator(f'#alerts [data-alert-id="{alert_id}"]')).to_contain_text(
        "Mary's sleep has got worse over the last 3 calls"
    )
    # The README's picture of a person's page (CARECALL_SCREENSHOTS=docs/screenshots refreshes it).
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.locator("#trend-charts").scroll_into_view_if_needed()
    await page.screenshot(path=str(screenshots / "person-trends.png"), full_page=True)
    assert errors == []


async def test_an_alert_on_today_is_acknowledged_with_its_button(
    live: ProgramServer, chromium: Browser, make_settings: Callable[..., Settings]
) -> None:
    _, alert_id = await _mary_with_a_trend_alert(live.database_url, make_settings)
    errors: list[str] = []
    page = await open_signed_in(chromium, live.base_url, "/today", errors)

    alert = page.locator(f'#open-alerts [data-alert-id="{alert_id}"]')
    await expect(alert).to_contain_text("Trend: Sleep")
    await expect(alert).to_contain_text("SMS to Susan Smith")
    await alert.get_by_role("button", name="Acknowledge").click()

    await expect(page.locator("#no-alerts")).to_have_text(
        "None: no red flag or worsening trend is waiting to be looked at."
    )
    assert errors == []

"""The Reports page in a real browser (headless Chromium) against the real server on loopback,
with the hand-worked program of `tests/api/report_data.py` stored: its three charts are drawn
(uPlot canvases with each series' colour on them), the table has the weeks' figures, the form
switches to months, the CSV link downloads the report, a backwards period is refused next to
its field, and no script or console error happens. SQLite; the server's clock is fixed."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from carecall.cli import standalone_auth
from carecall.persistence.database import create_engine, create_session_factory
from carecall.settings import Settings
from tests.api.report_data import AGENCY_ZONE, FROM, TO, WEEKS, Stored, store_outcomes_data
from tests.checkins.clocks import FakeClock
from tests.web.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS
from tests.web.test_today_browser import (
    EMAIL,
    PASSWORD,
    ProgramServer,
    open_signed_in,
    program_server,
)

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 4, 8, 12, 0, tzinfo=UTC)
COLOURED_PIXELS = """(canvas, rgb) => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let found = 0;
  for (let i = 0; i < data.length; i += 4) {
    const near =
      Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]);
    if (data[i + 3] > 200 && near < 60) found += 1;
  }
  return found;
}"""
SERIES = {
    # Each chart and the colours of its series (reports.js).
    "checkins": {
        "Due": (0x6C, 0x75, 0x7D),
        "Reached": (0x19, 0x87, 0x54),
        "Not reached": (0xDC, 0x35, 0x45),
    },
    "acknowledge": {"Escalations p50": (0x0A, 0x58, 0xCA), "Red flags p50": (0xDC, 0x35, 0x45)},
    "latency": {"p50": (0x0A, 0x58, 0xCA), "p95": (0x6F, 0x42, 0xC1)},
}


@pytest.fixture
async def live(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[tuple[ProgramServer, Stored]]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"
    async with standalone_auth(database_url) as auth:
        await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    engine = create_engine(database_url)
    try:
        stored = await store_outcomes_data(create_session_factory(engine))
    finally:
        await engine.dispose()
    settings = make_settings(database_url=database_url, agency_timezone=AGENCY_ZONE)
    with program_server(settings, FakeClock(NOW)) as server:
        yield server, stored


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


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


async def _cell(page: Page, bucket: str, figure: str) -> str:
    return await page.locator(f'tr[data-bucket="{bucket}"] [data-figure="{figure}"]').inner_text()


async def test_the_report_is_drawn_and_tabled_and_downloads(
    live: tuple[ProgramServer, Stored], chromium: Browser, screenshots: Path
) -> None:
    server, stored = live
    errors: list[str] = []

    page = await open_signed_in(
        chromium, server.base_url, f"/reports?from={FROM}&to={TO}&group=week", errors
    )

    await expect(page.get_by_role("heading", name="Outcomes report")).to_be_visible()
    await expect(page.locator("#report-summary")).to_contain_text("8 check-ins due, 3 reached")
    for chart, colours in SERIES.items():
        figure = page.locator(f'.report-chart[data-chart="{chart}"]')
        canvas = figure.locator("canvas")
        await expect(canvas).to_have_count(1)
        box = await canvas.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 150
        for name, rgb in colours.items():
            drawn = await canvas.evaluate(COLOURED_PIXELS, list(rgb))
            assert drawn > 20, f"{chart}: the series {name} is not drawn ({drawn} pixels)"
            await expect(figure.locator(".u-legend")).to_contain_text(name)
    assert await _cell(page, WEEKS[1], "not-reached") == "2 (no answer 1, voicemail 1)"
    assert await _cell(page, WEEKS[1], "tries") == "2.00"
    assert await _cell(page, "total", "ack") == "5 min / 20 min"
    assert await _cell(page, "total", "latency") == "0.9 s / 2.0 s"
    await expect(
        page.locator(f'#waiting [data-escalation-id="{stored.waiting_escalation}"]')
    ).to_contain_text("Tom Jones")
    await page.locator("#wellbeing-people summary").click()
    await expect(
        page.locator(f'#wellbeing-people tr[data-senior-id="{stored.mary}"]')
    ).to_be_visible()
    # The README's picture of the page (CARECALL_SCREENSHOTS=docs/screenshots refreshes it).
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=str(screenshots / "reports.png"), full_page=True)

    async with page.expect_download() as downloading:
        await page.locator("#report-csv").click()
    download = await downloading.value
    assert download.suggested_filename == f"outcomes_{FROM}_{TO}_week.csv"
    lines = _lines(await download.path())
    assert lines[0] == "bucket,first_day,last_day,senior_id,senior_name,metric,value"
    assert f"{WEEKS[1]},2026-03-23,2026-03-29,,,checkins.not_reached.no-answer,1" in lines

    await page.locator("#group").select_option("month")
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url("**group=month**")
    assert await _cell(page, "2026-03", "due") == "7"
    assert await _cell(page, "2026-04", "due") == "1"
    await expect(page.locator('.report-chart[data-chart="checkins"] canvas')).to_have_count(1)
    assert errors == []


async def test_a_backwards_period_is_refused_next_to_its_field(
    live: tuple[ProgramServer, Stored], chromium: Browser
) -> None:
    server, _ = live
    errors: list[str] = []
    page = await open_signed_in(chromium, server.base_url, f"/reports?from={FROM}&to={TO}", errors)

    await page.locator("#from").fill("2026-04-05")
    await page.locator("#to").fill("2026-03-16")
    await page.get_by_role("button", name="Show").click()

    await expect(page.locator("#from-error")).to_have_text(
        "'from' (2026-04-05) is after 'to' (2026-03-16)."
    )
    await expect(page.locator("#from-error")).to_be_visible()
    await expect(page.locator("#report-charts")).to_have_count(0)
    assert errors == []

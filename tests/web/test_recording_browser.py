"""A call's recording on its page, in a real browser (headless Chromium) against the real server
on loopback: the player loads the file with the operator's session, knows its length, seeks and
plays to the end; a call that was not recorded shows no player. SQLite only (the storage, and
Range requests, are tested on both databases in tests/wellbeing/test_recordings.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
from playwright.async_api import Browser, expect

from carecall.cli import standalone_auth
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.recordings import RecordingFacts, RecordingFiles, RecordingRepository
from carecall.persistence.repositories import CallRepository
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

SECONDS = 3.0


@dataclass
class Calls:
    server: ProgramServer
    recorded: int
    not_recorded: int


async def _store(settings: Settings) -> tuple[int, int]:
    """A call with a 3 s recording (Opus in Ogg, as carecall writes it), and one without."""
    engine = create_engine(settings.database_url)
    await upgrade_to_head(engine)
    try:
        sessions = create_session_factory(engine)
        calls = CallRepository(sessions)
        files = RecordingFiles(settings.recordings_dir)
        files.prepare()
        recorded = await calls.create("+14155550100", None)
        not_recorded = await calls.create("+14155550101", None)
        name = files.new_name(recorded.id, "opus")
        t = np.arange(round(SECONDS * 8000)) / 8000
        tone = (np.sin(2 * np.pi * 300 * t) * 8000).astype(np.int16)
        soundfile.write(files.path(name), tone, 8000, format="OGG", subtype="OPUS")
        facts = RecordingFacts(name, "opus", SECONDS, files.size(name))
        await RecordingRepository(sessions, files).save(recorded.id, facts)
        return recorded.id, not_recorded.id
    finally:
        await engine.dispose()


@pytest.fixture
async def live(make_settings: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[Calls]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"
    async with standalone_auth(database_url) as auth:
        await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    settings = make_settings(database_url=database_url, dispatcher_enabled=False)
    recorded, not_recorded = await _store(settings)
    with program_server(settings, FakeClock(NOW)) as server:
        yield Calls(server, recorded, not_recorded)


PLAYER = """async audio => {
  if (audio.readyState < 1) {
    await new Promise((resolve, reject) => {
      audio.addEventListener("loadedmetadata", resolve, { once: true });
      audio.addEventListener("error", () => reject(new Error("error " + audio.error.code)));
    });
  }
  audio.currentTime = 2.0;
  await new Promise(resolve => audio.addEventListener("seeked", resolve, { once: true }));
  audio.muted = true;
  await audio.play();
  await new Promise(resolve => audio.addEventListener("ended", resolve, { once: true }));
  return { duration: audio.duration, ended: audio.ended, error: audio.error };
}"""


async def test_the_call_page_plays_its_recording(live: Calls, chromium: Browser) -> None:
    errors: list[str] = []
    page = await open_signed_in(chromium, live.server.base_url, f"/calls/{live.recorded}", errors)
    section = page.locator("#recording")
    await expect(section.get_by_role("heading", name="Recording")).to_be_visible()
    await expect(section).to_contain_text("Both sides, as they were heard; 0:03")
    player = page.locator("audio#recording-player")
    await expect(player).to_be_visible()
    played = await player.evaluate(PLAYER)
    assert played["error"] is None and played["ended"]
    assert played["duration"] == pytest.approx(SECONDS, abs=0.05)
    download = section.get_by_role("link", name="Download")
    assert await download.get_attribute("href") == f"/api/calls/{live.recorded}/recording"

    await page.goto(f"/calls/{live.not_recorded}")
    await expect(page.get_by_role("heading", name="Transcript")).to_be_visible()
    assert await page.locator("#recording").count() == 0
    assert errors == []

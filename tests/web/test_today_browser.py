"""The Today view in a real browser (headless Chromium) against the real server on loopback:
a due check-in is shown, then changes on the page without a reload when its row is updated and
a `checkin.updated` event is published on the app's bus (as the dispatcher does); a waiting
escalation is acknowledged with its button. SQLite only; the server's clock is fixed and its
dispatcher off, so only the test changes the rows."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import update

from carecall.cli import standalone_auth
from carecall.core.clock import Clock
from carecall.core.events import NO_CALL, CallEvent, InProcessEventBus
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import (
    Checkin,
    CheckinOutcome,
    CheckinPlan,
    CheckinState,
    ContactMethod,
    Escalation,
    EscalationNotice,
    EscalationState,
    Senior,
)
from carecall.server import create_app
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.e2e.harness import free_port
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.web.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, _watch_for_errors

pytestmark = pytest.mark.e2e

EMAIL = "nurse@example.org"
PASSWORD = "a long and careful password"
# Monday 5 January 2026, 17:00 UTC: 11:00 in Chicago.
NOW = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)


class LoopBus:
    """The real in-process bus, remembering the server's event loop (where it is subscribed)
    so the test, on its own thread and loop, can publish on it as the dispatcher would."""

    def __init__(self) -> None:
        self._bus = InProcessEventBus()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def publish(self, event: CallEvent) -> None:
        await self._bus.publish(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[AsyncIterator[CallEvent]]:
        self.loop = asyncio.get_running_loop()
        async with self._bus.subscribe() as events:
            yield events

    async def publish_from_test(self, event: CallEvent) -> None:
        assert self.loop is not None, "the server has not subscribed to its bus yet"
        future = asyncio.run_coroutine_threadsafe(self.publish(event), self.loop)
        await asyncio.wrap_future(future)


@dataclass
class ProgramServer:
    base_url: str
    database_url: str
    bus: LoopBus
    twilio: FakeAsyncTwilioHttpClient


@contextmanager
def program_server(settings: Settings, clock: Clock) -> Iterator[ProgramServer]:
    """carecall on loopback (uvicorn in a thread) with a bus and clock the test holds."""
    bus = LoopBus()
    twilio = FakeAsyncTwilioHttpClient()
    port = free_port()
    app = create_app(settings, twilio_http_client=twilio, event_bus=bus, clock=clock)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="carecall-program", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the carecall server did not start")
        time.sleep(0.05)
    try:
        yield ProgramServer(f"http://127.0.0.1:{port}", settings.database_url, bus, twilio)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


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


async def open_signed_in(browser: Browser, base_url: str, path: str, errors: list[str]) -> Page:
    context = await browser.new_context(
        base_url=base_url, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    page = await context.new_page()
    _watch_for_errors(page, errors)
    await page.goto(path)
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.wait_for_url(f"**{path}")
    return page


def _chicago(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(date(2026, 1, 5), clock_time(hour, minute), UTC) + timedelta(hours=6)


@dataclass
class Stored:
    senior_id: int
    checkin_id: int
    escalation_id: int


async def _store(database_url: str) -> Stored:
    """Margaret (Chicago) with her 14:00 check-in due at 14:05, and Arthur's escalation from the
    morning, one caregiver told."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            margaret = Senior(
                name="Margaret Ellis", phone_number="+14155550142", timezone="America/Chicago"
            )
            arthur = Senior(
                name="Arthur Penn", phone_number="+14155550199", timezone="America/Chicago"
            )
            session.add_all([margaret, arthur])
            await session.flush()
            plans = [
                CheckinPlan(
                    senior_id=senior.id,
                    weekdays="mon",
                    window_start=clock_time(hour, 0),
                    window_end=clock_time(hour + 1, 0),
                    max_attempts=3,
                    active=False,
                )
                for senior, hour in ((margaret, 14), (arthur, 10))
            ]
            session.add_all(plans)
            await session.flush()
            due = Checkin(
                plan_id=plans[0].id,
                senior_id=margaret.id,
                local_date=date(2026, 1, 5),
                window_start_at=_chicago(14),
                window_end_at=_chicago(15),
                state=CheckinState.PENDING,
                next_attempt_at=_chicago(14, 5),
            )
            missed = Checkin(
                plan_id=plans[1].id,
                senior_id=arthur.id,
                local_date=date(2026, 1, 5),
                window_start_at=_chicago(10),
                window_end_at=_chicago(11),
                state=CheckinState.DONE,
                attempts=3,
                outcome=CheckinOutcome.NO_ANSWER,
                last_result=CheckinOutcome.NO_ANSWER,
            )
            session.add_all([due, missed])
            await session.flush()
            escalation = Escalation(
                senior_id=arthur.id,
                checkin_id=missed.id,
                reason="Arthur didn't answer his 10:00 check-in (3 tries).",
                state=EscalationState.OPEN,
                step=1,
                created_at=_chicago(10, 45),
            )
            session.add(escalation)
            await session.flush()
            session.add(
                EscalationNotice(
                    escalation_id=escalation.id,
                    contact_name="Jane Penn",
                    to_number="+14155550177",
                    method=ContactMethod.SMS,
                    body="Arthur didn't answer his check-in. Reply OK if you're checking on him.",
                    sent_at=_chicago(10, 45),
                )
            )
            return Stored(margaret.id, due.id, escalation.id)
    finally:
        await engine.dispose()


async def _finish(database_url: str, checkin_id: int) -> None:
    """What the dispatcher stores when the person answered and the conversation ended."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            await session.execute(
                update(Checkin)
                .where(Checkin.id == checkin_id)
                .values(
                    state=CheckinState.DONE,
                    attempts=1,
                    outcome=CheckinOutcome.COMPLETED,
                    last_result=CheckinOutcome.COMPLETED,
                    next_attempt_at=None,
                    finished_at=_chicago(14, 9),
                )
            )
    finally:
        await engine.dispose()


async def _escalation_state(database_url: str, escalation_id: int) -> tuple[str, str | None]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            escalation = await session.get(Escalation, escalation_id)
            assert escalation is not None
            return escalation.state.value, escalation.acknowledged_by
    finally:
        await engine.dispose()


async def test_today_changes_live_and_an_escalation_is_acknowledged(
    live: ProgramServer, chromium: Browser
) -> None:
    stored = await _store(live.database_url)
    errors: list[str] = []
    page = await open_signed_in(chromium, live.base_url, "/today", errors)

    await expect(page.locator("#feed-state")).to_have_attribute("data-state", "live")
    margaret = page.locator(f'.today-checkin[data-checkin-id="{stored.checkin_id}"]')
    await expect(margaret.locator(".checkin-label")).to_have_text("Due later")
    await expect(margaret).to_contain_text("Next try at 14:05 CST")
    await expect(page.locator(".today-person").first).to_contain_text("their time 11:00 CST")
    waiting = page.locator(f'[data-escalation-id="{stored.escalation_id}"]')
    await expect(waiting).to_contain_text("Arthur didn't answer his 10:00 check-in (3 tries).")
    await expect(waiting).to_contain_text("SMS to Jane Penn")
    await page.evaluate("window.sameDocument = true")

    await _finish(live.database_url, stored.checkin_id)
    await live.bus.publish_from_test(
        CallEvent(
            "checkin.updated",
            NO_CALL,
            {"senior_id": stored.senior_id, "checkin_id": stored.checkin_id},
        )
    )

    await expect(margaret.locator(".checkin-label")).to_have_text("Reached")
    await expect(margaret).to_have_attribute("data-kind", "reached")
    assert await page.evaluate("window.sameDocument === true"), "the page was reloaded"

    await waiting.get_by_role("button", name="Acknowledge").click()

    await expect(page.locator("#no-escalations")).to_have_text(
        "None: nobody is waiting for a caregiver."
    )
    assert await _escalation_state(live.database_url, stored.escalation_id) == (
        "acknowledged",
        EMAIL,
    )
    await page.goto(f"/people/{stored.senior_id}")
    await expect(page.locator("#history")).to_contain_text("Reached")
    assert errors == []

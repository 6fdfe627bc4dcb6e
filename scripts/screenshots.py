"""Remake the README's screenshots: `uv run python scripts/screenshots.py [docs/screenshots]`.

Starts carecall in local mode (no keys: Whisper, Piper, the guided check-in) on a free loopback
port with a fresh SQLite database, seeds a small roster (people, caregivers, plans, today's
check-ins, an escalation, a few weeks of wellbeing records and a trend alert), runs a demo call
to its end from the Calls page in headless Chromium, then photographs Today, People, a person's
page, Talk to it, Calls and the finished demo call. Needs Debian's chromium at /usr/bin/chromium
(as the browser tests do) and the local voices (`scripts/run` fetches them). Takes about two
minutes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import FloatRect, Page, async_playwright, expect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from carecall.cli import standalone_auth  # noqa: E402
from carecall.persistence.database import create_engine, create_session_factory  # noqa: E402
from carecall.persistence.models import (  # noqa: E402
    Alert,
    AlertNotice,
    Call,
    CallRecord,
    CallStatus,
    Caregiver,
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
from carecall.wellbeing.alerts import TREND_KIND, open_key  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
EMAIL = "nurse@example.org"
PASSWORD = "screenshots-only-password"
ZONES = (
    "America/Chicago", "America/New_York", "America/Denver", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "Pacific/Pago_Pago", "Pacific/Auckland",
    "Pacific/Noumea", "Australia/Brisbane", "Asia/Tokyo", "Asia/Singapore", "Asia/Bangkok",
    "Asia/Dhaka", "Asia/Karachi", "Asia/Dubai", "Europe/Istanbul", "Europe/Athens",
    "Europe/Paris", "Europe/London", "Atlantic/Azores", "Atlantic/South_Georgia",
    "America/Sao_Paulo", "America/Halifax",
)  # fmt: skip


def _zone_near_noon() -> ZoneInfo:
    """A zone where it is late morning now, so the seeded morning has happened (the pictures
    are taken at whatever time the script runs)."""
    now = datetime.now(UTC)
    for name in ZONES:
        if 11 <= now.astimezone(ZoneInfo(name)).hour <= 13:
            return ZoneInfo(name)
    return ZoneInfo("America/Chicago")


ZONE = _zone_near_noon()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hour, minute), ZONE).astimezone(UTC)


async def _seed(database_url: str) -> int:
    """A small roster as it looks mid-morning; returns the id of the person to photograph."""
    async with standalone_auth(database_url) as auth:
        await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    today = datetime.now(ZONE).date()
    now = datetime.now(UTC)
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            margaret = Senior(
                name="Margaret Ellis",
                preferred_name="Maggie",
                phone_number="+14155550142",
                timezone=ZONE.key,
                notes="Loves her roses. A little hard of hearing.",
                on_behalf_of="your daughter Susan",
                consent_given_by="Margaret herself",
                consent_method="written",
                consent_at=now - timedelta(days=30),
                consent_recorded_by=EMAIL,
            )
            arthur = Senior(
                name="Arthur Penn",
                phone_number="+14155550199",
                timezone=ZONE.key,
                consent_given_by="Arthur himself",
                consent_method="verbal",
                consent_at=now - timedelta(days=12),
                consent_recorded_by=EMAIL,
            )
            edith = Senior(
                name="Edith Clarke", phone_number="+442079460958", timezone="Europe/London"
            )
            session.add_all([margaret, arthur, edith])
            await session.flush()
            session.add_all(
                [
                    Caregiver(
                        senior_id=margaret.id,
                        position=0,
                        name="Susan Ellis",
                        relation="daughter",
                        phone_number="+14155550177",
                        contact_by=ContactMethod.SMS,
                    ),
                    Caregiver(
                        senior_id=margaret.id,
                        position=1,
                        name="Tom Ellis",
                        relation="son",
                        phone_number="+442079460959",
                        contact_by=ContactMethod.CALL,
                    ),
                    Caregiver(
                        senior_id=arthur.id,
                        position=0,
                        name="Jane Penn",
                        relation="niece",
                        phone_number="+14155550188",
                        contact_by=ContactMethod.SMS,
                    ),
                ]
            )
            plans = {
                senior.id: CheckinPlan(
                    senior_id=senior.id,
                    weekdays="mon,tue,wed,thu,fri,sat,sun",
                    window_start=clock_time(hour, 0),
                    window_end=clock_time(hour + 1, 0),
                    max_attempts=3,
                    active=False,  # the pictures, not the dispatcher, decide what happened
                )
                for senior, hour in ((margaret, 10), (arthur, 9), (edith, 16))
            }
            session.add_all(plans.values())
            await session.flush()
            reached = Checkin(
                plan_id=plans[margaret.id].id,
                senior_id=margaret.id,
                local_date=today,
                window_start_at=_at(today, 10),
                window_end_at=_at(today, 11),
                state=CheckinState.DONE,
                attempts=1,
                outcome=CheckinOutcome.COMPLETED,
                last_result=CheckinOutcome.COMPLETED,
                finished_at=_at(today, 10, 6),
            )
            missed = Checkin(
                plan_id=plans[arthur.id].id,
                senior_id=arthur.id,
                local_date=today,
                window_start_at=_at(today, 9),
                window_end_at=_at(today, 10),
                state=CheckinState.DONE,
                attempts=3,
                outcome=CheckinOutcome.NO_ANSWER,
                last_result=CheckinOutcome.NO_ANSWER,
                finished_at=_at(today, 9, 45),
            )
            session.add_all([reached, missed])
            await session.flush()
            escalation = Escalation(
                senior_id=arthur.id,
                checkin_id=missed.id,
                reason="Arthur didn't answer his 09:00 check-in (3 tries).",
                state=EscalationState.OPEN,
                step=1,
                created_at=_at(today, 9, 46),
            )
            session.add(escalation)
            await session.flush()
            session.add(
                EscalationNotice(
                    escalation_id=escalation.id,
                    contact_name="Jane Penn",
                    to_number="+14155550188",
                    method=ContactMethod.SMS,
                    body="Arthur didn't answer his check-in. Reply OK if you're checking on him.",
                    sent_at=_at(today, 9, 46),
                )
            )
            # Three weeks of Margaret's calls: her sleep slipping over the last week.
            last_call = None
            for days_ago in range(20, -1, -1):
                day = today - timedelta(days=days_ago)
                started = _at(day, 10, 2)
                call = Call(
                    to_number=margaret.phone_number,
                    status=CallStatus.COMPLETED,
                    created_at=started,
                    answered_at=started + timedelta(seconds=9),
                    ended_at=started + timedelta(minutes=3),
                    duration_seconds=171,
                    end_reason="completed",
                    senior_id=margaret.id,
                    checkin_id=reached.id if days_ago == 0 else None,
                )
                session.add(call)
                await session.flush()
                sleep = 2 if days_ago < 6 else (1 if days_ago % 5 == 0 else 0)
                session.add(
                    CallRecord(
                        call_id=call.id,
                        senior_id=margaret.id,
                        created_at=call.ended_at,
                        model="guided check-in",
                        mood=1 if days_ago < 4 else 0,
                        sleep=sleep,
                        eating=0,
                        pain=1 if days_ago % 7 == 3 else 0,
                        medication=0,
                        social_contact=0 if days_ago % 3 else 1,
                        loneliness=None,
                        mobility=0,
                        confusion=None,
                        evidence={"sleep": "I was up most of the night again."} if sleep else {},
                        summary="Fine overall; slept badly." if sleep else "A good week.",
                        follow_ups=["Ask about her sleep."] if sleep else [],
                    )
                )
                last_call = call
            assert last_call is not None
            alert = Alert(
                senior_id=margaret.id,
                call_id=last_call.id,
                kind=TREND_KIND,
                category="sleep",
                severity="medium",
                reason="Sleeping badly on 6 of the last 6 calls (usually sleeping well).",
                evidence="I was up most of the night again.",
                detector=TREND_KIND,
                created_at=_at(today, 10, 7),
                open_key=open_key(TREND_KIND, margaret.id, "sleep"),
            )
            session.add(alert)
            await session.flush()
            session.add(
                AlertNotice(
                    alert_id=alert.id,
                    contact_name="Susan Ellis",
                    to_number="+14155550177",
                    body="Margaret has been sleeping badly this week. Reply OK once seen.",
                    sent_at=_at(today, 10, 7),
                )
            )
            return margaret.id
    finally:
        await engine.dispose()


def _start_server(database_url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "TWILIO_", "REDIS_", "DATABASE_URL", "WEBHOOK_URL"))
    }
    env.update(
        DATABASE_URL=database_url,
        SESSION_SECRET="screenshots-session-secret-long-enough-0123456789",
        WEBHOOK_URL=f"http://127.0.0.1:{port}",
        DISPATCHER_ENABLED="false",
        LOG_LEVEL="WARNING",
    )
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "server:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server stopped: see {workdir / 'server.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise RuntimeError("the server did not start within 90 s")


async def _shoot(
    page: Page, path: str, target: Path, *, full_page: bool = True, height: int | None = None
) -> None:
    await page.goto(path)
    await page.wait_for_load_state("networkidle")
    clip: FloatRect | None = (
        None if height is None else {"x": 0, "y": 0, "width": 1280, "height": height}
    )
    await page.screenshot(path=str(target), full_page=full_page and clip is None, clip=clip)
    print(f"  {target}")


async def _photograph(base_url: str, senior_id: int, out: Path) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            context = await browser.new_context(
                base_url=base_url, viewport={"width": 1280, "height": 860}, locale="en-US"
            )
            page = await context.new_page()
            await page.goto("/login")
            await page.get_by_label("Email").fill(EMAIL)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in", exact=True).click()
            await page.wait_for_url("**/")

            print("A demo call (about a minute)…")
            await page.get_by_role("button", name="Run a demo call").click()
            await page.wait_for_url("**/calls/*", timeout=15_000)
            await expect(page.locator("#call-status")).to_have_text("Completed", timeout=240_000)
            demo_path = page.url.removeprefix(base_url)
            await _shoot(page, demo_path, out / "demo-call.png")
            await _shoot(page, "/today", out / "today.png")
            await _shoot(page, "/people", out / "people.png")
            await _shoot(page, f"/people/{senior_id}", out / "person.png")
            await _shoot(page, "/talk", out / "talk.png", height=400)
            await _shoot(page, "/", out / "calls.png", full_page=False)
        finally:
            await browser.close()


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="carecall-screenshots-") as tmp:
        workdir = Path(tmp)
        database_url = f"sqlite+aiosqlite:///{workdir / 'carecall.db'}"
        port = _free_port()
        server = _start_server(database_url, port, workdir)  # applies the migrations
        try:
            senior_id = asyncio.run(_seed(database_url))
            asyncio.run(_photograph(f"http://127.0.0.1:{port}", senior_id, out))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()

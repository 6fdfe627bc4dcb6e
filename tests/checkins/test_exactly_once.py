"""Exactly once: two dispatchers (two engines, as two server processes would have) over the
same database dial each due check-in once, with the calls-per-second limit held across both
(30 check-ins at 10/s on both databases; 200 at 50/s on PostgreSQL);
a dispatcher killed mid-round leaves nothing dialed twice, and what it had claimed is tried
again later."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from carecall.calls.service import CallService
from carecall.checkins.dispatcher import Dispatcher
from carecall.checkins.roster import ConsentInput, PlanInput, RosterService, SeniorInput
from carecall.core.clock import Clock, SystemClock
from carecall.core.events import InProcessEventBus
from carecall.persistence.checkins import CheckinRepository
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.models import CallStatus, Checkin, CheckinState
from carecall.persistence.repositories import CallRepository, StatusUpdate
from carecall.persistence.roster import SeniorRepository
from carecall.settings import Settings
from carecall.telephony.security import CallTokens
from carecall.telephony.twilio_client import TwilioGateway
from tests.checkins.clocks import FakeClock
from tests.checkins.crowd import assert_rate_held, seed_many
from tests.checkins.program import midday_zone
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.postgres_support import database_url as postgres_database_url
from tests.postgres_support import own_database

SENIORS = 30
CALLS_PER_SECOND = 10.0


class TimedTwilio(FakeAsyncTwilioHttpClient):
    """Twilio's REST API with a little network delay, noting when each call was created."""

    def __init__(self) -> None:
        super().__init__()
        self.dialed: list[tuple[float, str]] = []
        self.dialed_enough = asyncio.Event()
        self.enough = 0

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method.upper() == "POST" and url.endswith("/Calls.json"):
            self.dialed.append((time.monotonic(), str((kwargs.get("data") or {})["To"])))
            if self.enough and len(self.dialed) >= self.enough:
                self.dialed_enough.set()
        await asyncio.sleep(0.005)
        return await super().request(method, url, *args, **kwargs)


@asynccontextmanager
async def dispatcher(
    settings: Settings, twilio: TimedTwilio, clock: Clock, name: str
) -> AsyncIterator[tuple[Dispatcher, CallService]]:
    """One server process's dispatcher: its own engine and pool on the shared database."""
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    bus = InProcessEventBus()
    service = CallService(
        settings,
        CallRepository(sessions),
        TwilioGateway(settings, twilio),
        CallTokens("x" * 32),
        bus,
        seniors=SeniorRepository(sessions),
        clock=clock,
    )
    try:
        yield (
            Dispatcher(settings, CheckinRepository(sessions), service, clock, bus, name=name),
            service,
        )
    finally:
        await engine.dispose()


async def seed(settings: Settings, clock: Clock) -> None:
    engine = create_engine(settings.database_url)
    await upgrade_to_head(engine)
    roster = RosterService(SeniorRepository(create_session_factory(engine)), clock)
    zone = midday_zone(clock.now())
    for i in range(SENIORS):
        senior = await roster.create(
            SeniorInput(name=f"Person {i}", phone_number=f"+1312555{200 + i:04d}", timezone=zone)
        )
        await roster.add_plan(
            senior.id, PlanInput(weekdays="daily", window_start="10:30", window_end="13:30")
        )
        await roster.record_consent(
            senior.id, ConsentInput(given_by="them", method="written"), recorded_by="tests"
        )
    # Today's check-ins are made (every dispatcher's first step), so both start on due work.
    await CheckinRepository(create_session_factory(engine)).schedule(clock.now())
    await engine.dispose()


async def checkins(settings: Settings) -> list[Checkin]:
    engine = create_engine(settings.database_url)
    async with create_session_factory(engine)() as session:
        rows = list((await session.execute(select(Checkin))).scalars().all())
    await engine.dispose()
    return rows


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    return make_settings(
        database_url=database_url,
        calls_per_second=CALLS_PER_SECOND,
        dispatch_batch_size=4,
    )


async def test_two_dispatchers_dial_each_checkin_once_within_the_rate(settings: Settings) -> None:
    clock = SystemClock()
    await seed(settings, clock)
    twilio = TimedTwilio()
    async with (
        dispatcher(settings, twilio, clock, "instance-a") as (a, _),
        dispatcher(settings, twilio, clock, "instance-b") as (b, _),
    ):
        started = time.monotonic()
        rounds = await asyncio.gather(a.run_round(), b.run_round())
        elapsed = time.monotonic() - started

    numbers = [number for _, number in twilio.dialed]
    assert len(numbers) == SENIORS
    assert sorted(set(numbers)) == sorted(numbers), "someone was dialed twice"
    assert rounds[0].dialed + rounds[1].dialed == SENIORS
    assert rounds[0].dialed > 0 and rounds[1].dialed > 0, "both dispatchers took a share"
    assert_rate_held([moment for moment, _ in twilio.dialed], CALLS_PER_SECOND)
    assert elapsed >= (SENIORS - 1) / CALLS_PER_SECOND * 0.98
    stored = await checkins(settings)
    today = [c for c in stored if c.state is CheckinState.CALLING]
    assert len(today) == SENIORS
    assert {c.claimed_by for c in today} == {"instance-a", "instance-b"}
    assert all(c.attempts == 1 for c in today)


async def test_a_dispatcher_killed_mid_round_leaves_no_double_dial(settings: Settings) -> None:
    clock = FakeClock(datetime.now(UTC))
    await seed(settings, clock)
    twilio = TimedTwilio()
    twilio.enough = 3
    async with dispatcher(settings, twilio, clock, "crashes") as (doomed, _):
        round_ = asyncio.create_task(doomed.run_round())
        await asyncio.wait_for(twilio.dialed_enough.wait(), 10)
        round_.cancel()  # the process dies mid-round
        with pytest.raises(asyncio.CancelledError):
            await round_
    dialed_before = {number for _, number in twilio.dialed}
    stranded = [c for c in await checkins(settings) if c.state is CheckinState.CALLING]
    assert len(stranded) >= len(dialed_before)

    # A restarted process picks up everything that was still due: no one is dialed twice.
    async with dispatcher(settings, twilio, clock, "restarted") as (restarted, calls):
        await restarted.run_round()
        numbers = [number for _, number in twilio.dialed]
        assert len(numbers) == len(set(numbers)) == SENIORS - len(stranded) + len(dialed_before)
        # Twilio reports on the calls this process placed; the dead one's calls never report.
        for sid, call in twilio.calls.items():
            if call["to"] not in dialed_before:
                await calls.apply_status(StatusUpdate(sid, CallStatus.COMPLETED))
        # What the dead process had claimed: once the longest call would be over with no
        # result, the try counts as failed, and the next try comes after the plan's delay.
        longest = settings.ring_timeout_seconds + settings.max_call_seconds
        clock.advance(seconds=longest + timedelta(minutes=6).total_seconds())
        await restarted.run_round()
        clock.advance(minutes=15)
        await restarted.run_round()
    numbers = [number for _, number in twilio.dialed]
    assert len(set(numbers)) == SENIORS, "everyone was called in the end"
    again = sorted(n for n in set(numbers) if numbers.count(n) > 1)
    assert again == sorted(dialed_before), "only the dead process's calls were tried again"
    final = await checkins(settings)
    assert sum(c.state is CheckinState.DONE for c in final) == SENIORS - len(stranded)


MANY_SENIORS = 200
MANY_CALLS_PER_SECOND = 50.0


async def test_two_dispatchers_dial_200_checkins_once_at_50_per_second(
    make_settings: Callable[..., Settings],
) -> None:
    async with own_database("carecall_dispatch") as name:
        settings = make_settings(
            database_url=postgres_database_url(name),
            calls_per_second=MANY_CALLS_PER_SECOND,
            dispatch_batch_size=10,
        )
        clock = SystemClock()
        await seed_many(settings.database_url, clock, MANY_SENIORS)
        twilio = TimedTwilio()
        async with (
            dispatcher(settings, twilio, clock, "instance-a") as (a, _),
            dispatcher(settings, twilio, clock, "instance-b") as (b, _),
        ):
            started = time.monotonic()
            rounds = await asyncio.gather(a.run_round(), b.run_round())
            elapsed = time.monotonic() - started
        stored = await checkins(settings)

    numbers = [number for _, number in twilio.dialed]
    assert len(numbers) == MANY_SENIORS
    assert len(set(numbers)) == MANY_SENIORS, "someone was dialed twice"
    assert rounds[0].dialed + rounds[1].dialed == MANY_SENIORS
    assert rounds[0].dialed > 0 and rounds[1].dialed > 0, "both dispatchers took a share"
    assert_rate_held([moment for moment, _ in twilio.dialed], MANY_CALLS_PER_SECOND)
    assert elapsed >= (MANY_SENIORS - 1) / MANY_CALLS_PER_SECOND * 0.98
    calling = [c for c in stored if c.state is CheckinState.CALLING]
    assert len(calling) == MANY_SENIORS  # today's; tomorrow's are made too, and wait
    assert {c.claimed_by for c in calling} == {"instance-a", "instance-b"}
    assert all(c.attempts == 1 and c.current_call_id is not None for c in calling)


async def test_a_dispatcher_shutting_down_leaves_due_checkins_to_the_others(
    settings: Settings,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    await seed(settings, clock)
    twilio = TimedTwilio()
    async with (
        dispatcher(settings, twilio, clock, "stopping") as (stopping, _),
        dispatcher(settings, twilio, clock, "staying") as (staying, _),
    ):
        stopping.stop_claiming()  # its instance got SIGTERM
        assert (await stopping.run_round()).dialed == 0
        assert all(c.state is CheckinState.PENDING for c in await checkins(settings))
        assert (await staying.run_round()).dialed == SENIORS
    today = [c for c in await checkins(settings) if c.state is CheckinState.CALLING]
    assert len(today) == SENIORS and {c.claimed_by for c in today} == {"staying"}

"""Memory across calls, end to end: the real server on loopback (on a test clock inside the
person's calling hours) with its record worker running, the fake OpenAI-compatible server (it
answers the wellbeing record's structured request for the known conversation) and a simulated
Twilio caller. After Mary's first call her record is made in the background and her digest
kept; the system prompt of her next call holds it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from carecall.checkins.roster import ConsentInput, RosterService, SeniorInput
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.roster import SeniorRepository
from carecall.persistence.wellbeing import WellbeingRepository
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call

pytestmark = pytest.mark.e2e

MARY = "+14155550100"
NINE_IN_CHICAGO = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
GRANDDAUGHTER = "My granddaughter Emma visited on Sunday"
KNEE = "My knee was sore most of the night"
RECORD: dict[str, Any] = {
    "mood": {"level": 0, "evidence": ""},
    "sleep": {"level": 2, "evidence": KNEE},
    "eating": {"level": None, "evidence": ""},
    "pain": {"level": 2, "evidence": KNEE},
    "medication": {"level": None, "evidence": ""},
    "social_contact": {"level": 0, "evidence": GRANDDAUGHTER},
    "loneliness": {"level": None, "evidence": ""},
    "mobility": {"level": None, "evidence": ""},
    "confusion": {"level": None, "evidence": ""},
    "summary": ("Mary had a visit from her granddaughter Emma on Sunday. Her knee kept her awake."),
    "follow_ups": ["how Emma's visit went", "whether her knee is still sore"],
}


async def _add_mary(database_url: str, clock: FakeClock) -> int:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    try:
        roster = RosterService(SeniorRepository(create_session_factory(engine)), clock)
        mary = await roster.create(
            SeniorInput(name="Mary Jones", phone_number=MARY, timezone="America/Chicago")
        )
        await roster.record_consent(
            mary.id, ConsentInput("Mary Jones", "verbal"), recorded_by="e2e"
        )
        return mary.id
    finally:
        await engine.dispose()


async def _digest_within(database_url: str, senior_id: int, *, seconds: float) -> str:
    """The person's digest, once the record worker has made it (polled on an engine of the
    test's own, as another process would read it)."""
    engine = create_engine(database_url)
    try:
        memories = WellbeingRepository(create_session_factory(engine))
        deadline = time.monotonic() + seconds
        while (digest := await memories.digest_for(senior_id)) is None:
            assert time.monotonic() < deadline, "no digest was made after the call"
            await asyncio.sleep(0.3)
        return digest
    finally:
        await engine.dispose()


# PostgreSQL only: the record worker's queue and digest are tested on both databases in
# tests/wellbeing; this whole-server path takes a minute.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_next_call_remembers_the_last_one(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    api_key = await create_api_key(database_url)
    clock = FakeClock(NINE_IN_CHICAGO)
    mary = await _add_mary(database_url, clock)
    async with running_carecall(
        make_settings, database_url, clock=clock, record_worker_enabled=True
    ) as live:
        live.openai.structured_answers[GRANDDAUGHTER] = RECORD
        async with (
            httpx.AsyncClient(
                base_url=live.server.base_url,
                timeout=10,
                headers={"Authorization": f"Bearer {api_key}"},
            ) as api,
            httpx.AsyncClient(base_url=live.server.base_url, timeout=10) as webhooks,
        ):
            twilio = TwilioSide(live.server, live.settings, webhooks)

            async def call_mary(*lines: str) -> int:
                placed = (await api.post("/api/calls", json={"to": MARY})).json()
                caller = await twilio.answer(placed["id"], placed["twilio_sid"])
                await caller.wait_for_bot_utterance(timeout=20)
                for line in lines:
                    await caller.say(line, announce=live.openai.expect_utterance)
                    await caller.wait_for_bot_utterance(timeout=20)
                await caller.hang_up()
                await wait_for_call(
                    api, placed["id"], turns=1 + 2 * len(lines), end_reason="caller-hangup"
                )
                await twilio.complete(placed["id"], placed["twilio_sid"], duration=60)
                return int(placed["id"])

            await call_mary(GRANDDAUGHTER, KNEE)
            assert not live.openai.structured_requests, "nothing is asked during the call"
            clock.advance(seconds=30)  # the record is made a little after the call ends
            digest = await _digest_within(database_url, mary, seconds=30)
            transcript = str(live.openai.structured_requests[0]["messages"])
            assert GRANDDAUGHTER in transcript and KNEE in transcript
            assert "Emma" in digest

            chats_before = len(live.openai.chat_requests)
            await call_mary("I'm doing fine today")
            system = live.openai.chat_requests[chats_before]["messages"][0]["content"]
            recent = system.split("<<<RECENT_CALLS", 1)[1].split("RECENT_CALLS>>>", 1)[0]
            assert "Emma" in recent and "knee" in recent
            assert "ask about one of" in system

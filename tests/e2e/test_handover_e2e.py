"""A warm hand-over to a caregiver, end to end: the real server on loopback (on a test clock
inside the person's calling hours), the real Twilio SDK over the fake HTTP client, the fake
OpenAI-compatible server, a simulated Twilio caller (the person, over Media Streams) and
simulated caregivers (their phones and Twilio's webhooks around carecall's calls to them,
`tests.fakes.twilio_caregiver`).

The person says they fell and asks to be connected. The bot tells them it is getting hold of
Tom and stays with them: every silence is filled, in turn, with a reminder and the emergency
advice. Tom hears the person's own words and hangs up without pressing 1; Anna is called,
presses 1 and is put in a conference room; the bot tells the person it is connecting them to
Anna, and only once that has been heard is the person's call moved into the same room. Every
step is stored on the call. Nobody accepting, and the person hanging up while a caregiver's
phone rings, are here too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from carecall.checkins.roster import CaregiverInput, ConsentInput, RosterService, SeniorInput
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.roster import SeniorRepository
from carecall.settings import Settings
from carecall.wellbeing.red_flags import ADVICE, RedFlagCategory
from tests.checkins.clocks import FakeClock
from tests.conftest import TEST_AUTH_TOKEN
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_caller import SimulatedCaller
from tests.fakes.twilio_caregiver import SimulatedCaregiver
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

pytestmark = pytest.mark.e2e

MARY = "+14155550100"
SUSAN = "+14155550190"  # texted
TOM = "+14155550191"  # phoned first
ANNA = "+14155550192"  # phoned next
NINE_IN_CHICAGO = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
FELL = "I fell in the bathroom and I can't get up"
ADVICE_911 = ADVICE[RedFlagCategory.FALL]
REASSURE_SECONDS = 3


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"


@dataclass
class Stack:
    openai: FakeOpenAI
    twilio_http: FakeAsyncTwilioHttpClient
    api: httpx.AsyncClient
    twilio: TwilioSide
    tom: SimulatedCaregiver
    anna: SimulatedCaregiver

    def said(self) -> list[str]:
        """Everything the bot was given to say, in order (the fake voice's requests)."""
        return [str(r["input"]) for r in self.openai.tts_requests]

    async def bot_says(self, words: str, *, after: int = 0, timeout: float = 20) -> int:
        """Until the bot is given a line holding ``words`` (among its lines from ``after``);
        returns that line's index."""
        deadline = time.monotonic() + timeout
        while True:
            for index, line in enumerate(self.said()[after:], start=after):
                if words in line:
                    return index
            assert time.monotonic() < deadline, f"the bot never said {words!r}: {self.said()}"
            await asyncio.sleep(0.05)

    def redirects(self, sid: str) -> list[Any]:
        return [
            r
            for r in self.twilio_http.requests
            if r.method == "POST" and r.url.endswith(f"/Calls/{sid}.json") and "Twiml" in r.data
        ]


async def _add_mary(database_url: str, clock: FakeClock) -> None:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    try:
        roster = RosterService(SeniorRepository(create_session_factory(engine)), clock)
        mary = await roster.create(
            SeniorInput(
                name="Mary Jones",
                phone_number=MARY,
                timezone="America/Chicago",
                preferred_name="Molly",
                caregivers=[
                    CaregiverInput("Susan Jones", SUSAN, "daughter", "sms"),
                    CaregiverInput("Tom Jones", TOM, "son", "call"),
                    CaregiverInput("Anna Jones", ANNA, "daughter", "call"),
                ],
            )
        )
        await roster.record_consent(
            mary.id, ConsentInput("Mary Jones", "verbal"), recorded_by="e2e"
        )
    finally:
        await engine.dispose()


@asynccontextmanager
async def running_stack(
    make_settings: Callable[..., Settings], database_url: str
) -> AsyncIterator[Stack]:
    api_key = await create_api_key(database_url)
    clock = FakeClock(NINE_IN_CHICAGO)
    await _add_mary(database_url, clock)
    async with running_carecall(
        make_settings,
        database_url,
        clock=clock,
        organization_name="Sunny Care",
        handover_reassure_seconds=REASSURE_SECONDS,
    ) as live:
        base_url = live.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            fake = live.twilio_http
            yield Stack(
                live.openai,
                fake,
                api,
                TwilioSide(live.server, live.settings, webhooks),
                SimulatedCaregiver(fake, TOM, webhooks, auth_token=TEST_AUTH_TOKEN),
                SimulatedCaregiver(fake, ANNA, webhooks, auth_token=TEST_AUTH_TOKEN),
            )


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], database_url: str) -> AsyncIterator[Stack]:
    """On SQLite, then on PostgreSQL."""
    async with running_stack(make_settings, database_url) as running:
        yield running


@pytest.fixture
async def sqlite_stack(
    make_settings: Callable[..., Settings], sqlite_url: str
) -> AsyncIterator[Stack]:
    async with running_stack(make_settings, sqlite_url) as running:
        yield running


async def _asks_to_be_connected(stack: Stack) -> tuple[int, str, SimulatedCaller]:
    """Mary is called, says she fell, and says yes to being connected: the hand-over starts."""
    response = await stack.api.post("/api/calls", json={"to": MARY})
    assert response.status_code == 201, response.text
    call_id, call_sid = response.json()["id"], response.json()["twilio_sid"]
    caller = await stack.twilio.answer(call_id, call_sid)
    await caller.wait_for_bot_utterance(timeout=20)
    await caller.say(FELL, announce=stack.openai.expect_utterance)
    await caller.wait_for_bot_utterance(timeout=20)  # the advice, and the offer to connect
    await caller.say("Yes please connect me to Tom", announce=stack.openai.expect_utterance)
    await stack.bot_says("I'm getting hold of your son Tom for you now.")
    return call_id, call_sid, caller


async def _steps(stack: Stack, call_id: int, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        steps: list[dict[str, Any]] = (await stack.api.get(f"/api/calls/{call_id}")).json()["steps"]
        if len(steps) >= count:
            return steps
        assert time.monotonic() < deadline, f"only {len(steps)} steps stored: {steps}"
        await asyncio.sleep(0.1)


async def test_tom_declines_anna_accepts_and_the_person_is_moved_to_her(stack: Stack) -> None:
    call_id, call_sid, caller = await _asks_to_be_connected(stack)

    # Tom's phone rings; he hears Molly's own words, and hangs up without pressing 1.
    await stack.tom.wait_for_call()
    await stack.tom.ring()
    offer = await stack.tom.answer()
    assert offer[0] == (
        "This is Sunny from Sunny Care. Molly told me on our call just now: "
        "“I fell in the bathroom and I can't get up.”"
    )
    assert offer[1] == "Press 1 to talk to Molly now, or hang up if you can't."
    # Meanwhile the bot stays with Molly: the silence is filled, the advice repeated.
    waiting = await stack.bot_says("I'm still getting hold of Tom for you.", timeout=30)
    await stack.bot_says(ADVICE_911, after=waiting + 1, timeout=30)
    await stack.tom.hang_up(duration=12)

    # Anna is called next, and Molly is told.
    await stack.anna.wait_for_call()
    told = await stack.bot_says("Tom can't come to the phone just now, so I'm calling")
    assert "your daughter Anna" in stack.said()[told]
    await stack.anna.ring()
    await stack.anna.answer()
    answer = await stack.anna.press("1")
    conference = answer.find("Dial/Conference")
    assert conference is not None and stack.anna.room == conference.text

    # The bot tells Molly, and once that has been heard her call joins Anna's room.
    deadline = time.monotonic() + 20
    while not (moved := stack.redirects(call_sid)):
        assert time.monotonic() < deadline, "the person's call was never moved to the room"
        await asyncio.sleep(0.05)
    await stack.bot_says("Anna is on the line. I'm connecting you to Anna now.")
    assert stack.anna.room is not None and stack.anna.call is not None
    assert stack.twilio_http.conferences[stack.anna.room] == [stack.anna.call.sid, call_sid]
    redirected_at = moved[0].at
    last_started = max(
        (u for u in caller.utterances if u.started_at <= redirected_at),
        key=lambda u: u.started_at,
    )
    assert last_started.ended_at <= redirected_at + 0.2, "moved before the line was heard"
    await caller.hang_up()  # Twilio leaves the media stream for the conference
    await stack.twilio.complete(call_id, call_sid, duration=95)

    call = await wait_for_call(stack.api, call_id, turns=4, end_reason="transferred")
    assert call["end_reason"] == "transferred to caregiver"
    steps = await _steps(stack, call_id, 7)
    assert [(s["kind"], s["text"]) for s in steps] == [
        ("dialling", "Calling Tom Jones to take the call."),
        ("answered", "Tom Jones answered and is hearing what happened."),
        ("declined", "Tom Jones hung up without pressing 1."),
        ("dialling", "Calling Anna Jones to take the call."),
        ("answered", "Anna Jones answered and is hearing what happened."),
        ("accepted", "Anna Jones pressed 1 to take the call."),
        ("bridged", "Molly and Anna Jones were connected."),
    ]
    assert [s["sequence"] for s in steps] == list(range(1, 8))


async def test_nobody_accepts_and_the_bot_stays_with_the_advice(sqlite_stack: Stack) -> None:
    stack = sqlite_stack
    call_id, call_sid, caller = await _asks_to_be_connected(stack)
    await stack.tom.wait_for_call()
    await stack.tom.ring()
    await stack.tom.miss("no-answer")
    await stack.anna.wait_for_call()
    await stack.anna.miss("busy")

    sorry = await stack.bot_says("I'm sorry, I couldn't reach Tom and Anna just now.")
    assert ADVICE_911 in stack.said()[sorry]
    # Never left in silence: the advice comes again, and the call does not end.
    await stack.bot_says(ADVICE_911, after=sorry + 1, timeout=60)
    assert not caller.closed
    assert stack.redirects(call_sid) == []
    steps = await _steps(stack, call_id, 5)
    assert [s["kind"] for s in steps] == [
        "dialling",
        "no_answer",
        "dialling",
        "no_answer",
        "gave_up",
    ]
    await caller.hang_up()
    call = await wait_for_call(stack.api, call_id, turns=4, end_reason="caller-hangup")
    assert call["steps"][-1]["kind"] == "gave_up"


async def test_the_person_hanging_up_meanwhile_cancels_the_caregivers_call(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    call_id, _call_sid, caller = await _asks_to_be_connected(stack)
    await stack.tom.wait_for_call()
    await stack.tom.ring()
    await caller.hang_up()
    deadline = time.monotonic() + 10
    while not stack.tom.cancelled:
        assert time.monotonic() < deadline, "Tom's call was not cancelled"
        await asyncio.sleep(0.05)
    await stack.tom.miss("canceled")  # Twilio's last callback for it: changes nothing
    steps = await _steps(stack, call_id, 2)
    assert [s["kind"] for s in steps] == ["dialling", "cancelled"]
    assert steps[1]["text"] == (
        "Molly hung up while Tom Jones was being called; that call was cancelled."
    )
    assert stack.anna.calls_placed() == []

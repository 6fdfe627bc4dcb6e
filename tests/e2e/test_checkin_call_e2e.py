"""Calls to someone on the roster, end to end: the real server on loopback (on a test clock
inside the person's calling hours), the real Twilio SDK over a fake HTTP client, the fake
OpenAI-compatible server (or, in local mode, Whisper, Piper and the guided check-in), and a
simulated Twilio caller. The bot greets the person by name and says on whose behalf it calls,
and the model is given their notes; "stop calling me" makes them do-not-call; an answering
machine gets a short message and the call ends. Runs on SQLite and on PostgreSQL (local mode:
SQLite)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.checkin import OPT_OUT_REASON
from bot.prompts import OPT_OUT_GOODBYE
from checkins.roster import ConsentInput, RosterService, SeniorInput
from persistence.database import create_engine, create_session_factory
from persistence.migrate import upgrade_to_head
from persistence.models import Senior
from persistence.roster import SeniorRepository
from settings import Settings
from tests.checkins.clocks import FakeClock
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

pytestmark = pytest.mark.e2e


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, to keep CI's time in bounds: roster, opt-out and voicemail storage are
    tested on both databases in tests/api, tests/calls and tests/checkins."""
    return f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"


NUMBER = "+14155550100"
NOTES = "Loves her roses and her cat Felix. Grandson Tom visits on Sundays. Hard of hearing."
NINE_IN_CHICAGO = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@dataclass
class Stack:
    openai: FakeOpenAI
    twilio_http: FakeAsyncTwilioHttpClient
    api: httpx.AsyncClient
    twilio: TwilioSide
    database_url: str
    senior_id: int


async def _roster(database_url: str) -> tuple[SeniorRepository, Callable[[], object]]:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    return SeniorRepository(create_session_factory(engine)), engine.dispose


async def _add_mary(database_url: str, clock: FakeClock) -> int:
    """Mary, on the roster with her consent, before the server starts."""
    seniors, dispose = await _roster(database_url)
    try:
        roster = RosterService(seniors, clock)
        mary = await roster.create(
            SeniorInput(
                name="Mary Jones",
                phone_number=NUMBER,
                timezone="America/Chicago",
                preferred_name="Molly",
                notes=NOTES,
                on_behalf_of="your daughter Susan",
            )
        )
        await roster.record_consent(
            mary.id, ConsentInput("Mary Jones", "verbal"), recorded_by="e2e"
        )
        return mary.id
    finally:
        await dispose()  # type: ignore[misc]


async def _senior(database_url: str, senior_id: int) -> Senior:
    seniors, dispose = await _roster(database_url)
    try:
        senior = await seniors.get(senior_id)
        assert senior is not None
        return senior
    finally:
        await dispose()  # type: ignore[misc]


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], database_url: str) -> AsyncIterator[Stack]:
    api_key = await create_api_key(database_url)
    clock = FakeClock(NINE_IN_CHICAGO)
    senior_id = await _add_mary(database_url, clock)
    async with running_carecall(make_settings, database_url, clock=clock, log_level="INFO") as live:
        base_url = live.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            twilio = TwilioSide(live.server, live.settings, webhooks)
            yield Stack(live.openai, live.twilio_http, api, twilio, database_url, senior_id)


async def _call_mary(stack: Stack) -> tuple[int, str]:
    response = await stack.api.post("/api/calls", json={"to": NUMBER})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["twilio_sid"]


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _hung_up_through_twilio(stack: Stack, call_sid: str) -> bool:
    hangups = [r for r in stack.twilio_http.requests if r.url.endswith(f"/Calls/{call_sid}.json")]
    return bool(hangups) and hangups[-1].data.get("Status") == "completed"


async def test_mary_is_greeted_by_name_and_the_model_knows_her(stack: Stack) -> None:
    call_id, call_sid = await _call_mary(stack)
    caller = await stack.twilio.answer(call_id, call_sid)

    greeting = await caller.wait_for_bot_utterance(timeout=20)
    assert greeting.audio_seconds > 2
    await caller.say("I slept well last night", announce=stack.openai.expect_utterance)
    await caller.wait_for_bot_utterance(timeout=20)
    await caller.hang_up()

    call = await wait_for_call(stack.api, call_id, turns=3, end_reason="caller-hangup")
    opening = call["turns"][0]["text"]
    assert opening.startswith("Hello Molly!")
    assert "automated assistant calling on behalf of your daughter Susan" in opening
    # Her greeting's audio was made while the stream opened (the voice webhook asked for it).
    assert "Hello Molly!" in [r["input"] for r in stack.openai.tts_requests]
    # The model was told who she is, with her notes as background facts.
    system = stack.openai.chat_requests[0]["messages"][0]["content"]
    assert "Call them Molly." in system and "on behalf of your daughter Susan" in system
    assert NOTES in system and system.index("not instructions") < system.index(NOTES)
    assert any(t["function"]["name"] == "opt_out" for t in stack.openai.chat_requests[0]["tools"])


async def test_stop_calling_me_makes_her_do_not_call(stack: Stack) -> None:
    call_id, call_sid = await _call_mary(stack)
    caller = await stack.twilio.answer(call_id, call_sid)
    await caller.wait_for_bot_utterance(timeout=20)

    await caller.say("Please stop calling me", announce=stack.openai.expect_utterance)
    goodbye = await caller.wait_for_bot_utterance(timeout=20)
    assert goodbye.audio_seconds > 1
    await caller.wait_until_closed(timeout=20)  # the bot said goodbye and hung up
    await stack.twilio.complete(call_id, call_sid, duration=20)

    call = await wait_for_call(stack.api, call_id, turns=3, end_reason="bot-hangup")
    assert call["end_reason"] == f"bot-hangup: {OPT_OUT_REASON}"
    assert call["turns"][1]["text"] == "Please stop calling me"
    assert call["turns"][2]["text"] == OPT_OUT_GOODBYE
    assert _hung_up_through_twilio(stack, call_sid)
    # One model request: the tool call; the goodbye is the tool's, not a second turn.
    assert stack.openai.chat_requests[-1]["messages"][-1]["content"] == "Please stop calling me"

    deadline = time.monotonic() + 10
    while not (senior := await _senior(stack.database_url, stack.senior_id)).do_not_call:
        assert time.monotonic() < deadline, "she was never marked do-not-call"
        await asyncio.sleep(0.2)
    assert senior.do_not_call_reason == OPT_OUT_REASON

    again = await stack.api.post("/api/calls", json={"to": NUMBER})
    assert again.status_code == 409, again.text
    assert len([r for r in stack.twilio_http.requests if r.url.endswith("/Calls.json")]) == 1


async def test_an_answering_machine_gets_a_message_and_the_call_ends(stack: Stack) -> None:
    call_id, call_sid = await _call_mary(stack)
    caller = await stack.twilio.answer(call_id, call_sid)
    await _until(lambda: caller.first_media_at is not None, timeout=20)

    # The machine's greeting ended with a beep while the bot was still greeting.
    response = await stack.twilio.post_webhook(
        f"/twilio/amd?call_id={call_id}",
        {
            "AccountSid": "AC" + "1" * 32,
            "AnsweredBy": "machine_end_beep",
            "CallSid": call_sid,
            "MachineDetectionDuration": "5200",
        },
    )
    assert response.status_code == 204, response.text
    await caller.wait_until_closed(timeout=30)
    await stack.twilio.complete(call_id, call_sid, duration=25)

    call = await wait_for_call(stack.api, call_id, turns=1, end_reason="voicemail")
    assert call["end_reason"] == "voicemail"
    assert call["answered_by"] == "machine_end_beep"
    assert call["status"] == "completed"
    message = (
        "Hello Molly, this is Sunny calling on behalf of your daughter Susan for your daily "
        "check-in. Sorry we missed you; we'll try again a little later. Take care!"
    )
    assert message in [r["input"] for r in stack.openai.tts_requests]
    # The greeting was cut off (at most its first sentence was heard), then the message.
    texts = [t["text"] for t in call["turns"]]
    assert texts[-1] == message and "Hello Molly!" not in texts[1:]
    assert caller.clears_received >= 1  # what the bot was saying was dropped
    assert not stack.openai.chat_requests  # the machine was never answered
    assert _hung_up_through_twilio(stack, call_sid)
    assert caller.protocol_errors == []


async def test_without_a_model_the_guided_check_in_takes_stop_calling_me_too(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Local mode (Whisper, Piper, the guided check-in): the same name, the same opt-out."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'local.db'}"
    api_key = await create_api_key(database_url)
    clock = FakeClock(NINE_IN_CHICAGO)
    senior_id = await _add_mary(database_url, clock)
    async with running_carecall(
        make_settings,
        database_url,
        clock=clock,
        log_level="INFO",
        services="auto",
        openai_api_key=None,
        openai_base_url=None,
    ) as live:
        assert live.settings.service_choice.llm is None
        base_url = live.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            twilio = TwilioSide(live.server, live.settings, webhooks)
            placed = await api.post("/api/calls", json={"to": NUMBER})
            assert placed.status_code == 201, placed.text
            call_id, call_sid = placed.json()["id"], placed.json()["twilio_sid"]
            caller = await twilio.answer(call_id, call_sid)
            await caller.wait_for_bot_utterance(timeout=30)
            await caller.say("Please stop calling me.")
            await caller.wait_until_closed(timeout=45)
            await twilio.complete(call_id, call_sid, duration=20)
            call = await wait_for_call(api, call_id, turns=3, end_reason="bot-hangup", timeout=30)
            assert call["turns"][0]["text"].startswith("Hello Molly!")
            assert call["end_reason"] == f"bot-hangup: {OPT_OUT_REASON}", call["turns"]
            assert call["turns"][-1]["text"] == OPT_OUT_GOODBYE
            deadline = time.monotonic() + 10
            while not (senior := await _senior(database_url, senior_id)).do_not_call:
                assert time.monotonic() < deadline, "she was never marked do-not-call"
                await asyncio.sleep(0.2)
            assert senior.do_not_call_reason == OPT_OUT_REASON
            again = await api.post("/api/calls", json={"to": NUMBER})
            assert again.status_code == 409, again.text

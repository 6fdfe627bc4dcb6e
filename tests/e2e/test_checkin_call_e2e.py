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

from carecall.bot.prompts import OPT_OUT_GOODBYE
from carecall.checkins.roster import ConsentInput, RosterService, SeniorInput
from carecall.core.end_reasons import OPT_OUT_REASON
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.models import Senior
from carecall.persistence.roster import SeniorRepository
from carecall.persistence.wellbeing import WellbeingRepository
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call
from tests.fakes.answering_machine import AnsweringMachine, spoken_seconds
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_caller import SimulatedCaller
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


MILLER = "Hello, you have reached the Miller residence. Please leave a message after the tone."
"""A machine's greeting whose words say what it is."""
WALT = (
    "Hi there, you've got Walt and Edna. We're probably out in the garden, so talk to us and we "
    "will ring you back."
)
"""One whose words don't: only Twilio's verdict tells."""
MOLLY_MESSAGE = (
    "Hello Molly, this is Sunny calling on behalf of your daughter Susan for your daily "
    "check-in. Sorry we missed you; we'll try again a little later. Take care!"
)


async def _amd_verdict(stack: Stack, call_id: int, call_sid: str, answered_by: str) -> None:
    response = await stack.twilio.post_webhook(
        f"/twilio/amd?call_id={call_id}",
        {
            "AccountSid": "AC" + "1" * 32,
            "AnsweredBy": answered_by,
            "CallSid": call_sid,
            "MachineDetectionDuration": "6100",
        },
    )
    assert response.status_code == 204, response.text


async def _record_job_of(database_url: str, call_id: int) -> object | None:
    engine = create_engine(database_url)
    try:
        return await WellbeingRepository(create_session_factory(engine)).job_for(call_id)
    finally:
        await engine.dispose()


async def _left_a_message_once(
    stack: Stack, caller: SimulatedCaller, call_id: int, call_sid: str, beep_ended_at: float
) -> dict[str, object]:
    """The message was said once, after the beep, heard to its end; the call ended; nothing
    of the machine's is stored as Mary's words, and no wellbeing record is asked for."""
    await caller.wait_until_closed(timeout=40)
    await stack.twilio.complete(call_id, call_sid, duration=30)
    call = await wait_for_call(stack.api, call_id, turns=1, end_reason="voicemail")
    assert call["answered_by"] == "machine_end_beep"
    assert [r["input"] for r in stack.openai.tts_requests].count(MOLLY_MESSAGE) == 1
    after_beep = [u for u in caller.utterances if u.started_at > beep_ended_at]
    assert len(after_beep) == 1, after_beep  # the message, and nothing after it
    assert not after_beep[0].interrupted and after_beep[0].audio_seconds > 5
    turns = call["turns"]
    assert [t["role"] for t in turns if t["role"] == "user"] == []
    assert turns[-1]["text"] == MOLLY_MESSAGE
    assert _hung_up_through_twilio(stack, call_sid)
    assert await _record_job_of(stack.database_url, call_id) is None
    assert caller.protocol_errors == []
    return call


@pytest.mark.parametrize("verdict", ["before", "during", "after"])
async def test_an_answering_machine_is_never_answered_and_gets_the_message_once(
    stack: Stack, verdict: str
) -> None:
    """The machine greets for about 5 s over the bot's greeting, then beeps. Twilio's verdict
    comes 0.7 s after the beep, before its greeting is transcribed; or while it is; or after
    (the greeting's words already made the bot fall silent)."""
    assert 4 < spoken_seconds(MILLER) < 8
    stack.openai.set_latency(stt={"before": 3.0, "during": 2.0, "after": 0.0}[verdict])
    call_id, call_sid = await _call_mary(stack)
    caller = await stack.twilio.answer(call_id, call_sid)
    await _until(lambda: caller.first_media_at is not None, timeout=20)
    machine = AnsweringMachine(caller, MILLER, announce=stack.openai.expect_utterance)

    greeted = await machine.greet_and_beep()
    if verdict == "before":
        await asyncio.sleep(0.7)
        # Transcribing starts once the greeting is over and takes 3 s: it can't be back yet.
        assert time.monotonic() < greeted.greeting_ended_at + 3.0
    else:
        await _until(lambda: any(r["text"] == MILLER for r in stack.openai.stt_requests), 10)
        if verdict == "after":
            await asyncio.sleep(1.0)  # transcribed: the bot has gone quiet, waiting for the beep
            sent = caller.media_received
            await asyncio.sleep(1.0)
            assert caller.media_received == sent
    await _amd_verdict(stack, call_id, call_sid, "machine_end_beep")

    await _left_a_message_once(stack, caller, call_id, call_sid, greeted.beep_ended_at)
    assert not stack.openai.chat_requests  # the machine's greeting never reached the model


async def test_a_reply_under_way_when_the_verdict_comes_is_never_heard(stack: Stack) -> None:
    """A greeting that doesn't sound like a machine is answered like a person; the model's
    reply is under way when Twilio's verdict comes (late): it is dropped, the message said."""
    assert 4 < spoken_seconds(WALT) < 8
    stack.openai.set_latency(llm=2.5)
    call_id, call_sid = await _call_mary(stack)
    caller = await stack.twilio.answer(call_id, call_sid)
    await _until(lambda: caller.first_media_at is not None, timeout=20)
    machine = AnsweringMachine(caller, WALT, announce=stack.openai.expect_utterance)

    greeted = await machine.greet_and_beep()
    await _until(lambda: bool(stack.openai.chat_requests), 15)  # the model is thinking
    await _amd_verdict(stack, call_id, call_sid, "machine_end_beep")

    await _left_a_message_once(stack, caller, call_id, call_sid, greeted.beep_ended_at)
    said = [r["input"] for r in stack.openai.tts_requests]
    assert not any("Walt and Edna" in text for text in said)  # the fake model echoes the line


SCREENER = (
    "Hi, the person you're calling is using a screening service and will get a copy of this "
    "conversation. Go ahead and say your name and why you're calling."
)


async def test_a_call_screener_is_told_who_calls_in_one_sentence_then_mary_picks_up(
    stack: Stack,
) -> None:
    call_id, call_sid = await _call_mary(stack)
    caller = await stack.twilio.answer(call_id, call_sid)
    await _until(lambda: caller.first_media_at is not None, timeout=20)

    # Her phone's assistant answers over the bot's greeting.
    await caller.say(SCREENER, announce=stack.openai.expect_utterance)
    answer = await caller.wait_for_bot_utterance(timeout=20)
    assert not answer.interrupted
    care = stack.twilio.settings.organization_name
    said = f"This is Sunny calling for Molly's daily check-in from {care}."
    assert said in [r["input"] for r in stack.openai.tts_requests]
    await caller.say("Thanks, please stay on the line.", announce=stack.openai.expect_utterance)
    with pytest.raises(TimeoutError):
        await caller.wait_for_bot_utterance(timeout=4)  # the bot waits, saying nothing more

    # Mary picks up: she is greeted, and from then on it is a check-in as usual.
    await caller.say("Hello? Who is this?", announce=stack.openai.expect_utterance)
    await caller.wait_for_bot_utterance(timeout=20)
    await caller.say("I slept well last night", announce=stack.openai.expect_utterance)
    await caller.wait_for_bot_utterance(timeout=20)
    await caller.hang_up()
    await stack.twilio.complete(call_id, call_sid, duration=40)

    call = await wait_for_call(stack.api, call_id, turns=6, end_reason="caller-hangup")
    turns = [(t["role"], t["text"]) for t in call["turns"]]
    assert [text for role, text in turns if role == "user"] == [
        "Hello? Who is this?",
        "I slept well last night",
    ]
    # The greeting the screener talked over, the one sentence to the screener, then Mary, who
    # is greeted in full, then the check-in.
    answered_at = turns.index(("assistant", said))
    assert [role for role, _ in turns[:answered_at]] == ["assistant"] * answered_at, turns
    mary = turns[answered_at + 1 :]
    assert mary[0] == ("user", "Hello? Who is this?")
    assert mary[1][0] == "assistant" and mary[1][1].startswith("Hello Molly!")
    assert "automated assistant calling on behalf of your daughter Susan" in mary[1][1]
    assert mary[2] == ("user", "I slept well last night")
    # The model answered Mary alone, and never saw the screener's words.
    assert len(stack.openai.chat_requests) == 1
    messages = stack.openai.chat_requests[0]["messages"]
    assert messages[-1]["content"] == "I slept well last night"
    assert not any("screening" in str(m.get("content")) for m in messages)
    assert not any("stay on the line" in str(m.get("content")) for m in messages)
    assert await _record_job_of(stack.database_url, call_id) is not None  # Mary spoke


async def test_machine_start_silences_the_bot_and_without_an_end_verdict_the_message_is_left(
    stack: Stack,
) -> None:
    """Twilio says ``machine_start`` while the machine greets (its greeting's words don't
    tell) and no verdict comes after the beep: once the line has been quiet a while the bot
    leaves the message itself, once, and the model never hears the greeting."""
    call_id, call_sid = await _call_mary(stack)
    caller = await stack.twilio.answer(call_id, call_sid)
    await _until(lambda: caller.first_media_at is not None, timeout=20)
    machine = AnsweringMachine(caller, WALT, announce=stack.openai.expect_utterance)

    greeting = asyncio.create_task(machine.greet_and_beep())
    await asyncio.sleep(1.5)
    await _amd_verdict(stack, call_id, call_sid, "machine_start")
    greeted = await greeting

    await caller.wait_until_closed(timeout=40)
    await stack.twilio.complete(call_id, call_sid, duration=30)
    call = await wait_for_call(stack.api, call_id, turns=1, end_reason="voicemail")
    assert call["answered_by"] == "machine_start"
    after_beep = [u for u in caller.utterances if u.started_at > greeted.beep_ended_at]
    assert len(after_beep) == 1 and not after_beep[0].interrupted
    assert [t["text"] for t in call["turns"]][-1] == MOLLY_MESSAGE
    assert [t for t in call["turns"] if t["role"] == "user"] == []
    assert not stack.openai.chat_requests
    assert await _record_job_of(stack.database_url, call_id) is None

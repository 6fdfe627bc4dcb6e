"""A call to a Spanish speaker, end to end: the real server on loopback (on a test clock inside
her calling hours), the real Twilio SDK over a fake HTTP client, the fake OpenAI-compatible
server and a simulated Twilio caller, on SQLite and PostgreSQL. Everything she hears is Spanish
(what the voice was asked to say), the speech-to-text is told "es", the model is told to speak
Spanish, a red flag in Spanish (which the English rules don't read) is caught by the model's
check and texted to her daughter in Spanish, and an answering machine gets the Spanish
message. In local mode (English only) a call that connects in Spanish is hung up unspoken."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from carecall.bot.prompts import call_lines
from carecall.checkins.roster import CaregiverInput, ConsentInput, RosterService, SeniorInput
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.models import Senior
from carecall.persistence.roster import SeniorRepository
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

pytestmark = pytest.mark.e2e

ROSA = "+14155550100"
ANA = "+14155550190"  # her daughter, texted
NINE_IN_CHICAGO = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
SPANISH = call_lines("es")
GREETING = [
    "¡Hola, Rosita!",
    "Soy Sunny, un asistente automático que le llama de parte de su hija Ana para saber cómo "
    "está hoy.",
    "¿Cómo se encuentra hoy?",
]
FALL = "Me caí en el baño y no me puedo levantar"


@dataclass
class Stack:
    openai: FakeOpenAI
    twilio_http: FakeAsyncTwilioHttpClient
    api: httpx.AsyncClient
    twilio: TwilioSide
    senior_id: int


async def _add_rosa(database_url: str, clock: FakeClock) -> int:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    try:
        roster = RosterService(SeniorRepository(create_session_factory(engine)), clock)
        rosa = await roster.create(
            SeniorInput(
                name="Rosa Díaz",
                phone_number=ROSA,
                timezone="America/Chicago",
                preferred_name="Rosita",
                language="es",
                on_behalf_of="su hija Ana",
                caregivers=[CaregiverInput("Ana Díaz", ANA, "hija", "sms")],
            )
        )
        await roster.record_consent(rosa.id, ConsentInput("Rosa Díaz", "verbal"), recorded_by="e2e")
        return rosa.id
    finally:
        await engine.dispose()


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], database_url: str) -> AsyncIterator[Stack]:
    api_key = await create_api_key(database_url)
    clock = FakeClock(NINE_IN_CHICAGO)
    senior_id = await _add_rosa(database_url, clock)
    async with running_carecall(make_settings, database_url, clock=clock) as live:
        base_url = live.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            twilio = TwilioSide(live.server, live.settings, webhooks)
            yield Stack(live.openai, live.twilio_http, api, twilio, senior_id)


async def _call_rosa(stack: Stack) -> tuple[int, str]:
    response = await stack.api.post("/api/calls", json={"senior_id": stack.senior_id})
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["twilio_sid"]


def _texts_to(stack: Stack, number: str) -> list[str]:
    return [
        str(r.data["Body"])
        for r in stack.twilio_http.requests
        if r.method == "POST" and r.url.endswith("/Messages.json") and r.data.get("To") == number
    ]


def _said(stack: Stack) -> list[str]:
    return [str(r["input"]) for r in stack.openai.tts_requests]


async def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_spanish_call_is_heard_spoken_and_texted_in_spanish(stack: Stack) -> None:
    call_id, call_sid = await _call_rosa(stack)
    caller = await stack.twilio.answer(call_id, call_sid)
    greeting = await caller.wait_for_bot_utterance(timeout=20)
    assert greeting.audio_seconds > 1
    said = _said(stack)
    for sentence in GREETING:
        assert sentence in said, sentence
    # Her voice is the usual one, told to speak Spanish; her language's fixed lines were made
    # while it rang (the hold cue among them), in that voice.
    spanish_requests = [r for r in stack.openai.tts_requests if r["input"] in GREETING]
    assert all("Speak in Spanish." in str(r["instructions"]) for r in spanish_requests)
    await _until(lambda: SPANISH.hold_cue in _said(stack), 10, "the Spanish hold cue was made")
    assert SPANISH.fallback in _said(stack)

    stack.openai.red_flag_verdicts[FALL] = ("fall", "Me caí en el baño")
    await caller.say(FALL, announce=stack.openai.expect_utterance)
    finished = time.monotonic()
    await _until(lambda: bool(_texts_to(stack, ANA)), 10, "Ana was never texted")
    print(f"the model's red flag texted {time.monotonic() - finished:.2f} s after the line")
    (text,) = _texts_to(stack, ANA)
    assert text == (
        "Su equipo de cuidados: URGENTE — en la llamada de hoy, Rosita dijo «Me caí en el baño y "
        "no me puedo levantar». Le aconsejamos llamar al 911. Por favor, asegúrese ahora mismo "
        "de que Rosita esté bien."
    )
    alerts = (await stack.api.get("/api/alerts")).json()["items"]
    assert [(a["category"], a["detector"]) for a in alerts] == [("fall", "llm")]
    # The model was told to speak Spanish, in a prompt whose plan is in Spanish.
    await caller.wait_for_bot_utterance(timeout=20)
    system = stack.openai.chat_requests[-1]["messages"][0]["content"]
    assert "speak only Spanish in this call" in system and "¿Ha comido algo hoy?" in system

    await caller.say("Bueno, adiós", announce=stack.openai.expect_utterance)
    await caller.wait_until_closed(timeout=30)
    await stack.twilio.complete(call_id, call_sid, duration=40)
    call = await wait_for_call(stack.api, call_id, turns=5, end_reason="bot-hangup")
    # What she heard: the Spanish greeting, the (fake, English-echoing) model's reply, and the
    # Spanish goodbye.
    assert call["turns"][0]["text"] == " ".join(GREETING)
    # The model ended the call without a goodbye of its own: the Spanish one was said.
    assert SPANISH.goodbye in _said(stack)
    assert call["turns"][-1]["text"] == SPANISH.goodbye
    assert [t["text"] for t in call["turns"] if t["role"] == "user"] == [FALL, "Bueno, adiós"]
    # Every transcription was asked for in Spanish.
    assert {r["language"] for r in stack.openai.stt_requests} == {"es"}
    assert len(stack.openai.stt_requests) >= 2


async def test_an_answering_machine_gets_the_spanish_message(stack: Stack) -> None:
    call_id, call_sid = await _call_rosa(stack)
    caller = await stack.twilio.answer(call_id, call_sid)
    await _until(lambda: caller.first_media_at is not None, 20, "the greeting never started")
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
    call: dict[str, Any] = await wait_for_call(stack.api, call_id, turns=1, end_reason="voicemail")
    message = (
        "Hola, Rosita. Le habla Sunny, de parte de su hija Ana, para su llamada de cada día. "
        "Lamentamos no haberle encontrado; volveremos a intentarlo un poco más tarde. ¡Cuídese!"
    )
    assert _said(stack).count(message) == 1
    assert call["turns"][-1]["text"] == message


async def test_in_local_mode_a_call_that_connects_in_spanish_is_hung_up_unspoken(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    """Local mode refuses to place the call (tests/web/test_person_language.py); should one
    connect all the same (her language was changed while it rang), nothing is said: the call
    is hung up, and why is stored."""
    api_key = await create_api_key(database_url)
    clock = FakeClock(NINE_IN_CHICAGO)
    senior_id = await _add_rosa(database_url, clock)
    await _set_language(database_url, senior_id, "en")
    local = {"openai_api_key": None, "openai_base_url": None}
    async with running_carecall(make_settings, database_url, clock=clock, **local) as live:
        assert live.settings.service_choice.speech == "local"
        headers = {"Authorization": f"Bearer {api_key}"}
        async with (
            httpx.AsyncClient(base_url=live.server.base_url, timeout=10, headers=headers) as api,
            httpx.AsyncClient(base_url=live.server.base_url, timeout=10) as webhooks,
        ):
            placed = await api.post("/api/calls", json={"senior_id": senior_id})
            assert placed.status_code == 201, placed.text
            call_id, call_sid = placed.json()["id"], placed.json()["twilio_sid"]
            await _set_language(database_url, senior_id, "es")
            twilio = TwilioSide(live.server, live.settings, webhooks)
            caller = await twilio.answer(call_id, call_sid)
            await caller.wait_until_closed(timeout=20)
            assert caller.utterances == []
            await _until(
                lambda: any(
                    r.url.endswith(f"/Calls/{call_sid}.json")
                    and r.data.get("Status") == "completed"
                    for r in live.twilio_http.requests
                ),
                10,
                "the call was never hung up",
            )
            call = await wait_for_call(api, call_id, turns=0, end_reason="refused")
            assert call["end_reason"] == "refused: not in their language"
            assert call["error"].startswith(
                "Not called in a language they may not understand: Rosita speaks Spanish (es)"
            )


async def _set_language(database_url: str, senior_id: int, language: str) -> None:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            await session.execute(
                update(Senior).where(Senior.id == senior_id).values(language=language)
            )
    finally:
        await engine.dispose()

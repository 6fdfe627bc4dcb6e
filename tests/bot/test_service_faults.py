"""The call's services against a failing fake OpenAI: retried where it is safe (speech-to-text,
the model before its first token, a sentence before its first audio), a circuit that opens
and then closes after a trial, and a hang cut off within the in-call budget."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import run_test

from carecall.bot import prompts
from carecall.bot.circuit import CircuitState
from carecall.bot.services import CallServices, ServiceClients, build_call_services
from carecall.settings import Settings
from tests.fakes.openai_server import FakeOpenAI, echo_reply, tone_pcm


@pytest.fixture
async def openai() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(tts_mode="tone")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def clients(
    openai: FakeOpenAI, make_settings: Callable[..., Settings]
) -> AsyncIterator[tuple[Settings, ServiceClients]]:
    settings = make_settings(
        openai_base_url=openai.base_url, circuit_failure_threshold=4, circuit_cooldown_seconds=0.5
    )
    clients = ServiceClients(settings)
    yield settings, clients
    await clients.aclose()


def _services(pair: tuple[Settings, ServiceClients]) -> CallServices:
    return build_call_services(pair[0], pair[1], system_prompt="Be kind.")


async def _reply(services: CallServices, line: str) -> tuple[Sequence[Frame], Sequence[Frame]]:
    assert services.llm is not None
    context = LLMContext(messages=[{"role": "user", "content": line}])
    return await run_test(
        services.llm,
        frames_to_send=[LLMContextFrame(context)],
        expected_down_frames=None,
        expected_up_frames=None,
    )


def _errors(frames: Sequence[Frame]) -> list[ErrorFrame]:
    return [f for f in frames if isinstance(f, ErrorFrame)]


def _text(frames: Sequence[Frame]) -> str:
    return "".join(f.text for f in frames if isinstance(f, LLMTextFrame))


async def test_the_model_is_retried_before_its_first_token(
    openai: FakeOpenAI, clients: tuple[Settings, ServiceClients]
) -> None:
    openai.fail_next_chats(2, status=503)
    down, up = await _reply(_services(clients), "I slept well")
    assert _text(down) == echo_reply("I slept well")  # said once, whole: no repeated words
    response = [f for f in down if isinstance(f, LLMFullResponseStartFrame | LLMTextFrame)]
    assert isinstance(response[0], LLMFullResponseStartFrame)
    assert isinstance(down[-1], LLMFullResponseEndFrame)
    assert _errors(up) == []
    assert len(openai.chat_requests) == 3
    assert clients[1].breakers.llm.state is CircuitState.CLOSED


async def test_a_hung_model_is_an_error_within_the_budget(
    openai: FakeOpenAI, clients: tuple[Settings, ServiceClients]
) -> None:
    openai.outage("chat", "hang")
    started = time.monotonic()
    down, up = await _reply(_services(clients), "Hello")
    took = time.monotonic() - started
    budget = clients[1].breakers.llm.budget
    assert budget == 2.0  # half a second under the default reply deadline (2.5 s)
    assert budget - 0.1 < took < budget + 0.5
    assert _text(down) == ""
    [error] = _errors(up)
    assert "no answer within 2.0 s" in error.error
    assert openai.outage_requests["chat"] == 1  # no time left for a retry


async def test_a_failing_model_opens_its_circuit_then_a_trial_closes_it(
    openai: FakeOpenAI, clients: tuple[Settings, ServiceClients]
) -> None:
    services = _services(clients)
    breaker = clients[1].breakers.llm
    openai.outage("chat", "error", status=500)
    _down, up = await _reply(services, "one")
    assert len(_errors(up)) == 1 and openai.outage_requests["chat"] == 3
    _down, up = await _reply(services, "two")  # the 4th failure in a row opens it
    assert breaker.state is CircuitState.OPEN
    sent = len(openai.chat_requests)
    started = time.monotonic()
    _down, up = await _reply(services, "three")
    assert time.monotonic() - started < 0.3  # no waiting on a service that is down
    [error] = _errors(up)
    assert "circuit open" in error.error
    assert len(openai.chat_requests) == sent

    openai.outage("chat", None)
    await asyncio.sleep(0.5)  # the cool-down
    down, up = await _reply(services, "four")
    assert _text(down) == echo_reply("four") and _errors(up) == []
    assert breaker.state is CircuitState.CLOSED


async def test_a_sentence_is_retried_before_its_first_audio(
    openai: FakeOpenAI, clients: tuple[Settings, ServiceClients]
) -> None:
    tts: Any = _services(clients).tts
    openai.outage("speech", "error", status=502, requests=2)
    frames = [f async for f in tts.run_tts("I heard you.", "ctx")]
    audio = b"".join(f.audio for f in frames if isinstance(f, TTSAudioRawFrame))
    assert audio == tone_pcm("I heard you.")  # all of it, once
    assert [r["input"] for r in openai.tts_requests] == ["I heard you."]


async def test_the_fallback_line_plays_from_the_cache_while_speech_is_down(
    openai: FakeOpenAI, clients: tuple[Settings, ServiceClients]
) -> None:
    await clients[1].prepare_speech()
    tts: Any = _services(clients).tts
    openai.outage("speech", "error", status=500)
    for sentence in ("First.", "Second."):  # 3 + 1 failures: the circuit opens
        with pytest.raises(Exception, match=r"500|circuit open"):
            [f async for f in tts.run_tts(sentence, "ctx")]
    assert clients[1].breakers.tts.state is CircuitState.OPEN
    failed = openai.outage_requests["speech"]
    frames = [f async for f in tts.run_tts(prompts.FALLBACK_LINE, "ctx")]
    audio = b"".join(f.audio for f in frames if isinstance(f, TTSAudioRawFrame))
    assert audio == tone_pcm(prompts.FALLBACK_LINE)
    assert openai.outage_requests["speech"] == failed  # no request for it


def _wav(seconds: float = 0.5) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(bytes(int(seconds * 16_000) * 2))
    return buffer.getvalue()


async def test_a_turn_is_transcribed_again_after_a_failure(
    openai: FakeOpenAI, clients: tuple[Settings, ServiceClients]
) -> None:
    stt: Any = _services(clients).stt
    openai.expect_utterance("I feel fine")
    openai.outage("transcription", "error", status=429, requests=1)
    transcription = await stt._transcribe(_wav())
    assert transcription.text == "I feel fine"
    assert [r["text"] for r in openai.stt_requests] == ["I feel fine"]

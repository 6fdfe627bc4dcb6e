"""The fake OpenAI server answers the real ``openai`` SDK like OpenAI would."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import openai
import pytest
import pytest_asyncio
from openai.types.chat import ChatCompletionFunctionToolParam

from tests.fakes.openai_server import GOODBYE_REPLY, GREETING_REPLY, FakeOpenAI, TTSMode
from tests.fakes.speech import espeak_pcm, pcm16_to_ulaw, pcm16_wav, ulaw_to_pcm16

REPO_ROOT = Path(__file__).resolve().parent.parent

END_CALL_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "end_call",
        "description": "Hang up once the conversation is over.",
        "parameters": {
            "type": "object",
            "properties": {"reason": {"type": "string"}},
            "required": [],
        },
    },
}


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(tts_mode="tone")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _client(fake: FakeOpenAI) -> openai.AsyncOpenAI:
    # max_retries=0: the SDK would otherwise silently retry injected 5xx failures.
    return openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)


async def _stream_chat(client: openai.AsyncOpenAI, **kwargs: object) -> tuple[str, list[str]]:
    """Run a streaming chat; return the text and the finish reasons seen."""
    stream = await client.chat.completions.create(  # type: ignore[call-overload]
        model="gpt-4.1", stream=True, stream_options={"include_usage": True}, **kwargs
    )
    text, finishes = "", []
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            if chunk.choices[0].finish_reason:
                finishes.append(chunk.choices[0].finish_reason)
        else:
            assert chunk.usage is not None and chunk.usage.total_tokens > 0
    return text, finishes


@pytest.mark.asyncio
async def test_transcription_returns_announced_utterances_fifo(
    fake: FakeOpenAI,
) -> None:
    client = _client(fake)
    wav = pcm16_wav(espeak_pcm("I slept well", 16000), 16000)
    fake.expect_utterance("I slept well")

    first = await client.audio.transcriptions.create(
        file=("audio.wav", wav, "audio/wav"), model="gpt-4o-transcribe", language="en"
    )
    second = await client.audio.transcriptions.create(
        file=("audio.wav", wav, "audio/wav"), model="gpt-4o-transcribe", language="en"
    )

    assert first.text == "I slept well"
    assert second.text == ""
    assert [r["text"] for r in fake.stt_requests] == ["I slept well", ""]
    assert fake.stt_requests[0]["language"] == "en"
    assert 0.5 < fake.stt_requests[0]["audio_seconds"] < 3.0


@pytest.mark.asyncio
async def test_transcription_response_formats(fake: FakeOpenAI) -> None:
    client = _client(fake)
    wav = pcm16_wav(bytes(32000), 16000)
    fake.expect_utterance("one")
    fake.expect_utterance("two")

    verbose = await client.audio.transcriptions.create(
        file=("a.wav", wav, "audio/wav"),
        model="whisper-1",
        response_format="verbose_json",
    )
    plain = await client.audio.transcriptions.create(
        file=("a.wav", wav, "audio/wav"), model="whisper-1", response_format="text"
    )

    assert verbose.text == "one" and verbose.duration == pytest.approx(1.0)
    assert plain.strip() == "two"


@pytest.mark.asyncio
async def test_streaming_chat_replies_from_script(fake: FakeOpenAI) -> None:
    client = _client(fake)

    greeting, _ = await _stream_chat(
        client, messages=[{"role": "system", "content": "You are a caring assistant."}]
    )
    echo, finishes = await _stream_chat(
        client,
        messages=[
            {"role": "system", "content": "You are a caring assistant."},
            {"role": "user", "content": [{"type": "text", "text": "I slept well."}]},
        ],
        tools=[END_CALL_TOOL],
    )
    after_tool, _ = await _stream_chat(
        client,
        messages=[
            {"role": "user", "content": "bye"},
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ],
    )

    assert greeting == GREETING_REPLY
    assert echo == (
        "I heard you say: I slept well. Thank you for telling me. How else are you doing today?"
    )
    assert finishes == ["stop"]
    assert after_tool == GOODBYE_REPLY
    assert len(fake.chat_requests) == 3


@pytest.mark.asyncio
async def test_goodbye_streams_end_call_tool_call(fake: FakeOpenAI) -> None:
    client = _client(fake)
    stream = await client.chat.completions.create(
        model="gpt-4.1",
        stream=True,
        messages=[{"role": "user", "content": "okay goodbye"}],
        tools=[END_CALL_TOOL],
    )
    names, arguments, finishes = "", "", []
    async for chunk in stream:
        choice = chunk.choices[0]
        for call in choice.delta.tool_calls or []:
            assert call.index == 0
            if call.function and call.function.name:
                names += call.function.name
                assert call.id and call.id.startswith("call_")
            if call.function and call.function.arguments:
                arguments += call.function.arguments
        if choice.finish_reason:
            finishes.append(choice.finish_reason)

    assert names == "end_call"
    assert json.loads(arguments) == {"reason": "caller said goodbye"}
    assert finishes == ["tool_calls"]


@pytest.mark.asyncio
async def test_goodbye_without_end_call_tool_is_echoed(fake: FakeOpenAI) -> None:
    result = await _client(fake).chat.completions.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "Goodbye!"}]
    )
    assert result.choices[0].message.content == (
        "I heard you say: Goodbye. Thank you for telling me. How else are you doing today?"
    )


@pytest.mark.asyncio
async def test_injected_chat_failure_then_recovery(fake: FakeOpenAI) -> None:
    client = _client(fake)
    fake.fail_next_chats(1)

    with pytest.raises(openai.InternalServerError) as failure:
        await _stream_chat(client, messages=[{"role": "user", "content": "hi"}])
    text, _ = await _stream_chat(client, messages=[{"role": "user", "content": "hi"}])

    assert failure.value.status_code == 500
    assert "Fake upstream failure" in str(failure.value)
    assert text.startswith("I heard you say: hi.")


@pytest.mark.asyncio
async def test_bad_requests_get_openai_shaped_400s(fake: FakeOpenAI) -> None:
    client = _client(fake)
    with pytest.raises(openai.BadRequestError):
        await client.audio.transcriptions.create(
            file=("a.wav", b"not a wav", "audio/wav"), model="whisper-1"
        )
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.base_url}/chat/completions", data=b"{nope") as response,
    ):
        assert response.status == 400
        assert (await response.json())["error"]["type"] == "invalid_request_error"


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["espeak", "tone"])
async def test_speech_streams_pcm(mode: TTSMode) -> None:
    server = FakeOpenAI(tts_mode=mode)
    await server.start()
    try:
        client = _client(server)
        async with client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts",
            voice="alloy",
            input="Hello! How are you today?",
            response_format="pcm",
        ) as response:
            assert response.status_code == 200
            pcm = b"".join([chunk async for chunk in response.iter_bytes(4800)])
    finally:
        await server.stop()

    assert len(pcm) % 2 == 0
    seconds = len(pcm) / 2 / 24000
    assert 0.3 < seconds < 5.0
    assert np.abs(np.frombuffer(pcm, "<i2")).max() > 1000
    assert server.tts_requests == [
        {
            "model": "gpt-4o-mini-tts",
            "voice": "alloy",
            "input": "Hello! How are you today?",
            "response_format": "pcm",
            "instructions": None,
        }
    ]


def test_ulaw_matches_g711() -> None:
    assert pcm16_to_ulaw(np.array([0, 32767, -32768], dtype="<i2").tobytes()) == b"\xff\x80\x00"
    assert np.frombuffer(ulaw_to_pcm16(b"\xff\x80\x00"), "<i2").tolist() == [
        0,
        32124,
        -32124,
    ]

    pcm = np.array([0, 100, -100, 1000, -1000, 20000, -20000], dtype="<i2")
    encoded = pcm16_to_ulaw(pcm.tobytes())
    decoded = np.frombuffer(ulaw_to_pcm16(encoded), "<i2").astype(int)
    assert len(encoded) == len(pcm)
    assert np.all(np.abs(decoded - pcm) <= np.maximum(8, np.abs(pcm.astype(int)) // 16))


@pytest.mark.asyncio
async def test_subprocess_mode_serves_and_is_controllable() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.openai_server",
        "--port",
        "0",
        "--tts-mode",
        "tone",
        "--llm-latency",
        "0.05",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        assert line.startswith("READY http://127.0.0.1:")
        base_url = line.split()[1]
        root = base_url.removesuffix("/v1")

        async with aiohttp.ClientSession() as session:
            async with session.post(f"{root}/control/said", json={"text": "I feel fine"}):
                pass
            client = openai.AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)
            result = await client.audio.transcriptions.create(
                file=("a.wav", pcm16_wav(bytes(16000), 8000), "audio/wav"),
                model="whisper-1",
            )
            async with session.get(f"{root}/control/requests") as response:
                recorded = await response.json()

        assert result.text == "I feel fine"
        assert recorded["stt_requests"][0]["audio_seconds"] == pytest.approx(1.0)
        assert recorded["chat_requests"] == [] and recorded["tts_requests"] == []
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0


@pytest.mark.asyncio
async def test_with_several_utterances_pending_the_audio_decides_which(fake: FakeOpenAI) -> None:
    """Two callers' voices end at almost the same moment; their transcription requests may
    arrive in either order. Each gets its own words back, as a real STT would give."""
    client = _client(fake)
    sentences = [
        "I am watching the birds outside",
        "I slept well last night",
        "My neighbour brought me flowers",
        "Okay, goodbye",
    ]
    for text in sentences:
        fake.expect_utterance(text)
    silence = bytes(8000)  # 0.5 s at 8 kHz, as a server's VAD segment has around the voice
    heard = []
    for text in reversed(sentences):
        # What a server sends: the caller's μ-law audio, decoded, with silence around it.
        pcm = ulaw_to_pcm16(pcm16_to_ulaw(espeak_pcm(text, 8000)))
        wav = pcm16_wav(silence[:3200] + pcm + silence, 8000)
        result = await client.audio.transcriptions.create(
            file=("audio.wav", wav, "audio/wav"), model="gpt-4o-transcribe"
        )
        heard.append(result.text)
    assert heard == list(reversed(sentences))


@pytest.mark.asyncio
async def test_replies_stream_at_the_set_token_rate_and_echo_a_few_words() -> None:
    """The default fake streams a chunk every 10 ms; a benchmark sets a model's pace (40
    tokens/s: 3 words per 75 ms) and may keep echoes short."""
    said = "I went to the shop this morning and bought some bread and milk for my tea"
    messages = [{"role": "user", "content": said}]
    timings = {}
    for rate in (None, 40.0):
        server = FakeOpenAI(tts_mode="tone", tokens_per_second=rate, echo_words=4)
        await server.start()
        try:
            client = _client(server)
            await _stream_chat(client, messages=messages)  # connections and imports made
            started = asyncio.get_running_loop().time()
            text, _ = await _stream_chat(client, messages=messages)
            timings[rate] = asyncio.get_running_loop().time() - started
        finally:
            await server.stop()
        assert text.startswith("I heard you say: I went to the. Thank you")
    chunks = -(-len(text.split()) // 3)  # 3 words a chunk, after the first (empty) one
    assert timings[40.0] - timings[None] >= chunks * (3 / 40.0 - 0.01) * 0.9


@pytest.mark.asyncio
async def test_an_utterance_can_be_withdrawn_and_counts_are_kept(fake: FakeOpenAI) -> None:
    client = _client(fake)
    fake.expect_utterance("I went to the shop and")
    assert fake.withdraw_utterance("I went to the shop and")
    assert not fake.withdraw_utterance("I went to the shop and")
    fake.expect_utterance("I went to the shop and I bought bread.")
    wav = pcm16_wav(bytes(1600), 8000)
    result = await client.audio.transcriptions.create(
        file=("audio.wav", wav, "audio/wav"), model="gpt-4o-transcribe"
    )
    assert result.text == "I went to the shop and I bought bread."
    await _stream_chat(client, messages=[{"role": "user", "content": result.text}])
    async with aiohttp.ClientSession() as http:
        counts = await (
            await http.get(fake.base_url.removesuffix("/v1") + "/control/counts")
        ).json()
    assert counts["chat_requests"] == 1 and counts["stt_requests"] == 1
    assert counts["chats_abandoned"] == 0 and counts["pending_utterances"] == 0


@pytest.mark.asyncio
async def test_an_announced_envelope_tells_other_voices_apart(fake: FakeOpenAI) -> None:
    """Callers speaking in voices other than espeak-ng's default (slower, another accent)
    announce how their words sounded; the fake compares the audio with that."""
    from tests.fakes.openai_server import voice_envelope
    from tests.fakes.speech import espeak_wav_to_pcm16

    def slow_voice(text: str) -> bytes:
        command = ["espeak-ng", "-v", "en-gb-x-rp", "-s", "110", "--stdout", "--", text]
        wav = subprocess.run(command, capture_output=True, check=True).stdout
        return espeak_wav_to_pcm16(wav, 8000)

    client = _client(fake)
    sentences = ["Yes, this morning.", "My son is taking me out for lunch on Sunday."]
    audio = {text: slow_voice(text) for text in sentences}
    for text in sentences:
        fake.expect_utterance(text, voice_envelope(audio[text], 8000).tolist())
    heard = []
    for text in reversed(sentences):
        wav = pcm16_wav(bytes(3200) + audio[text] + bytes(8000), 8000)
        result = await client.audio.transcriptions.create(
            file=("audio.wav", wav, "audio/wav"), model="gpt-4o-transcribe"
        )
        heard.append(result.text)
    assert heard == list(reversed(sentences))


@pytest.mark.asyncio
async def test_part_of_a_sentence_takes_no_other_callers_words_and_its_end_gets_it_all(
    fake: FakeOpenAI,
) -> None:
    """A server whose VAD cut a sentence at a comma asks for its first half before the caller
    has finished (so before its words are announced), while another caller's words are
    pending: it gets nothing rather than those. Its end gets the whole sentence, as a real
    STT's two answers would add up to; the other caller still gets its own words."""
    from tests.fakes.openai_server import voice_envelope

    client = _client(fake)

    async def transcribe(pcm: bytes) -> str:
        wav = pcm16_wav(bytes(3200) + pcm + bytes(3200), 8000)
        result = await client.audio.transcriptions.create(
            file=("audio.wav", wav, "audio/wav"), model="gpt-4o-transcribe"
        )
        return result.text

    mine = "I had porridge with honey for breakfast, and a cheese sandwich at lunchtime."
    theirs = "My daughter came over on Sunday with the grandchildren."
    audio = {text: espeak_pcm(text, 8000) for text in (mine, theirs)}
    fake.expect_utterance(theirs, voice_envelope(audio[theirs], 8000).tolist())
    cut = len(audio[mine]) // 2 // 320 * 320
    assert await transcribe(audio[mine][:cut]) == ""
    fake.expect_utterance(mine, voice_envelope(audio[mine], 8000).tolist())
    assert await transcribe(audio[mine][cut:]) == mine
    assert await transcribe(audio[theirs]) == theirs

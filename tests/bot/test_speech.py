"""Fixed lines' audio made once per process; live speech pushed as it arrives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from openai import AsyncOpenAI
from pipecat.frames.frames import TTSAudioRawFrame

from carecall.bot.services import ServiceClients, build_call_services
from carecall.bot.speech import (
    FirstClauseAggregator,
    SpeechCache,
    Voice,
    chunk_bytes,
    first_clause,
    split_audio,
)
from carecall.settings import Settings
from tests.fakes.openai_server import FakeOpenAI, tone_pcm

VOICE = Voice(model="gpt-4o-mini-tts", voice="sage", instructions=None, sample_rate=24_000)


@pytest.fixture
async def openai() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(tts_mode="tone")
    await server.start()
    yield server
    await server.stop()


def test_a_cached_line_is_played_as_a_short_first_chunk_then_half_seconds() -> None:
    audio = bytes(24_000 * 2 * 2 + 3)  # 2 s and an odd byte
    chunks = split_audio(audio, 24_000)
    assert len(chunks[0]) == chunk_bytes(0.04, 24_000) == 1920
    assert all(len(c) == 24_000 for c in chunks[1:-1])
    assert sum(len(c) for c in chunks) == len(audio) - 3 + 2  # whole samples only
    assert all(len(c) % 2 == 0 for c in chunks)


async def test_warming_synthesizes_each_line_once_however_many_ask(openai: FakeOpenAI) -> None:
    cache = SpeechCache(AsyncOpenAI(api_key="sk-test", base_url=openai.base_url))
    lines = ["Hello!", "How are you today?"]
    await asyncio.gather(cache.warm(VOICE, lines), cache.warm(VOICE, lines))
    await cache.warm(VOICE, lines)
    assert sorted(r["input"] for r in openai.tts_requests) == sorted(lines)
    assert b"".join(cache.get(VOICE, "Hello!") or ()) == tone_pcm("Hello!")
    other_voice = Voice("gpt-4o-mini-tts", "alloy", None, 24_000)
    assert cache.get(other_voice, "Hello!") is None


async def test_a_line_that_cannot_be_made_is_left_for_the_call() -> None:
    cache = SpeechCache(AsyncOpenAI(api_key="sk", base_url="http://127.0.0.1:9/v1", max_retries=0))
    await cache.warm(VOICE, ["Hello!"])  # nothing listens there: logged, not raised
    assert cache.get(VOICE, "Hello!") is None and len(cache) == 0


async def test_the_cache_keeps_the_most_recently_used_lines() -> None:
    cache = SpeechCache(None, max_lines=2)
    for text in ("one", "two"):
        cache.put(VOICE, text, bytes(100))
    assert cache.get(VOICE, "one") is not None  # "two" is now the least recently used
    cache.put(VOICE, "three", bytes(100))
    assert cache.get(VOICE, "two") is None
    assert cache.get(VOICE, "one") is not None and cache.get(VOICE, "three") is not None


async def _frames(clients: ServiceClients, settings: Settings, text: str) -> list[bytes]:
    tts = build_call_services(settings, clients, system_prompt="").tts
    return [
        frame.audio
        async for frame in tts.run_tts(text, "context")
        if isinstance(frame, TTSAudioRawFrame)
    ]


async def test_calls_say_cached_lines_without_a_request_and_stream_the_rest(
    openai: FakeOpenAI, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(openai_base_url=openai.base_url)
    clients = ServiceClients(settings)
    try:
        await clients.prepare_speech()
        prepared = len(openai.tts_requests)
        assert prepared == len(clients.fixed_lines())
        greeting = clients.fixed_lines()[0]
        played = await _frames(clients, settings, greeting)
        assert len(openai.tts_requests) == prepared  # from the cache
        assert b"".join(played) == tone_pcm(greeting)

        live = await _frames(clients, settings, "I heard you say you slept well.")
        assert len(openai.tts_requests) == prepared + 1
        assert b"".join(live) == tone_pcm("I heard you say you slept well.")
        assert len(live[0]) >= chunk_bytes(0.04, 24_000)
        assert all(len(chunk) % 2 == 0 for chunk in live)
    finally:
        await clients.aclose()


async def _aggregate(tokens: list[str], aggregator: FirstClauseAggregator) -> list[str]:
    """What the voice is given, piece by piece, for a reply streamed as ``tokens``."""
    pieces = []
    for token in tokens:
        pieces += [a.text async for a in aggregator.aggregate(token)]
    rest = await aggregator.flush()
    return pieces + ([rest.text] if rest and rest.text else [])


def _tokens(text: str) -> list[str]:
    """``text`` the way a model streams it: words with their leading space."""
    words = text.split(" ")
    return [words[0], *(" " + w for w in words[1:])]


async def test_a_replys_first_clause_goes_to_the_voice_as_soon_as_it_ends() -> None:
    aggregator = FirstClauseAggregator()
    reply = "Oh, I'm so sorry to hear that, Mary. Did you sleep at all? Tell me, please."
    assert await _aggregate(_tokens(reply), aggregator) == [
        "Oh, I'm so sorry to hear that,",  # "Oh," alone is too short to say on its own
        "Mary.",
        "Did you sleep at all?",
        "Tell me, please.",  # later clauses wait for their sentence
    ]
    # The next reply starts with a clause again; a first sentence that ends before any clause
    # goes as a sentence; numbers keep their commas.
    assert await _aggregate(_tokens("I heard you say: Not too bad. Good."), aggregator) == [
        "I heard you say:",
        "Not too bad.",
        "Good.",
    ]
    assert await _aggregate(
        _tokens("That's lovely. Yes, it was 1,000 steps, well done."), aggregator
    ) == [
        "That's lovely.",
        "Yes, it was 1,000 steps, well done.",
    ]


@pytest.mark.parametrize(
    "reply",
    [
        "Oh, I'm so sorry to hear that, Mary. Did you sleep at all?",
        "I heard you say: Not too bad. Good.",
        "That's lovely. Yes, it was 1,000 steps, well done.",
        "All right, no hurry at all, take your time.",
        "Good morning Walt — how did you sleep?",
        "Yes.",
    ],
)
async def test_the_first_clause_rule_is_the_aggregators(reply: str) -> None:
    # `first_clause` is what the benchmark counts on; it must cut where the voice is given text.
    spoken = await _aggregate(_tokens(reply), FirstClauseAggregator())
    clause = first_clause(reply)
    assert (spoken[0] if clause is not None else None) == clause


async def test_an_interrupted_reply_leaves_the_next_one_its_first_clause() -> None:
    aggregator = FirstClauseAggregator()
    assert [a.text async for a in aggregator.aggregate("Well, I think that ")] == []
    await aggregator.handle_interruption()
    assert await _aggregate(_tokens("All right, no hurry at all, take your time."), aggregator) == [
        "All right, no hurry at all,",
        "take your time.",
    ]


async def test_every_call_voice_speaks_first_clauses_early(
    openai: FakeOpenAI, make_settings: Callable[..., Settings]
) -> None:
    # pipecat keeps a TTS service's aggregator in `_text_aggregator` (no public way to give
    # one): this fails if that moves, rather than first clauses silently waiting again.
    settings = make_settings(openai_base_url=openai.base_url)
    clients = ServiceClients(settings)
    try:
        services = build_call_services(settings, clients, system_prompt="")
        assert isinstance(services.tts._text_aggregator, FirstClauseAggregator)
    finally:
        await clients.aclose()

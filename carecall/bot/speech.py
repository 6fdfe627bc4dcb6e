"""Text-to-speech for calls: first audio sooner, and the lines every call says made only once.

* `SpeechCache` keeps the synthesized audio of the fixed lines (the greeting, the fallback and
  goodbye lines) per model, voice, instructions and text, for the whole process. The server fills
  it when it starts and again before each call is answered, so a caller hears the greeting as
  soon as the stream opens instead of after a text-to-speech round trip.
* `CallTTSService` is pipecat's `OpenAITTSService` with two changes: it plays cached lines from
  the cache, and it pushes audio as it arrives (at least 40 ms at a time). pipecat waits for half
  a second of audio before pushing anything (`TTSService.chunk_size`), which adds the time the
  service takes to stream half a second to every answer. Text-to-speech streams faster than
  real time, so what arrives while the first 40 ms play keeps the output fed.
* `FirstClauseAggregator` sends a reply's first clause to the voice as soon as it ends ("Oh,
  I'm sorry to hear that," then the rest by sentences): the caller hears the answer start
  while the model is still writing its first sentence, a few tokens' time sooner.
"""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import httpx2
from loguru import logger
from openai import AsyncOpenAI, OpenAIError, omit
from pipecat.frames.frames import ErrorFrame, Frame, TTSAudioRawFrame
from pipecat.services.openai.tts import VALID_VOICES, OpenAITTSService, OpenAITTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.utils.string import SENTENCE_ENDING_PUNCTUATION
from pipecat.utils.text.base_text_aggregator import Aggregation, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator

from carecall.bot.circuit import CircuitBreaker, call_with_retries

BYTES_PER_SAMPLE = 2
FIRST_CHUNK_SECONDS = 0.04
"""The least audio pushed at once while streaming (and the first chunk of a cached line)."""
CHUNK_SECONDS = 0.5
"""Chunks of a cached line after the first (the audio is all there: fewer, larger frames)."""
MAX_CACHED_LINES = 256
FIRST_CLAUSE_WORDS = 4
"""A reply's first clause goes to the voice on its own once it has at least this many words
("I'm so sorry to hear that," but not "Oh,": a word alone sounds clipped)."""
CLAUSE_MARKS = frozenset(",:—–")


@dataclass(frozen=True)
class Voice:
    """Everything that changes the audio of a line, besides its text."""

    model: str
    voice: str
    instructions: str | None
    sample_rate: int
    speed: float | None = None


LineSynthesizer = Callable[["Voice", str], Awaitable[bytes]]
"""Makes a line's audio (16-bit mono PCM at the voice's rate) without an OpenAI client: the
voice on this machine (`bot.local_speech`)."""


class SpeechCache:
    """Process-wide audio of fixed lines, least recently used dropped beyond a bound.

    A line is 16-bit mono PCM at the voice's sample rate, kept as the chunks it is played in.
    Lines are made by the OpenAI-compatible ``client``, or by ``synthesize`` when given (Piper on
    this machine). `warm()` synthesizes missing lines in the background (one request per line
    at a time, however many calls ask); a line that fails is simply not cached, and its call
    synthesizes it live.
    """

    def __init__(
        self,
        client: AsyncOpenAI | None,
        *,
        max_lines: int = MAX_CACHED_LINES,
        synthesize: LineSynthesizer | None = None,
    ) -> None:
        self._client = client
        self._synthesize = synthesize
        self._lines: OrderedDict[tuple[Voice, str], tuple[bytes, ...]] = OrderedDict()
        self._max_lines = max_lines
        self._in_flight: dict[tuple[Voice, str], asyncio.Task[None]] = {}

    def get(self, voice: Voice, text: str) -> tuple[bytes, ...] | None:
        key = (voice, text)
        chunks = self._lines.get(key)
        if chunks is not None:
            self._lines.move_to_end(key)
        return chunks

    async def get_or_wait(self, voice: Voice, text: str) -> tuple[bytes, ...] | None:
        """`get`, after waiting for the line if it is being made right now (a call that starts
        while the lines are warmed plays them as they are made instead of making them twice)."""
        task = self._in_flight.get((voice, text))
        if task is not None:
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise  # this call was cancelled, not the warming
        return self.get(voice, text)

    def put(self, voice: Voice, text: str, audio: bytes) -> None:
        self._lines[(voice, text)] = split_audio(audio, voice.sample_rate)
        self._lines.move_to_end((voice, text))
        while len(self._lines) > self._max_lines:
            self._lines.popitem(last=False)

    def __len__(self) -> int:
        return len(self._lines)

    async def warm(self, voice: Voice, texts: Iterable[str]) -> None:
        """Make sure every line in ``texts`` is cached; waits for them (bounded by the client's
        timeout). Never raises: a failure is logged and leaves that line uncached."""
        if self._client is None and self._synthesize is None:
            return
        tasks = []
        for text in dict.fromkeys(t for t in texts if t.strip()):
            key = (voice, text)
            if key in self._lines:
                continue
            task = self._in_flight.get(key)
            if task is None:
                task = asyncio.create_task(self._fetch(voice, text))
                self._in_flight[key] = task
                task.add_done_callback(functools.partial(self._forget, key))
            tasks.append(task)
        if tasks:
            await asyncio.gather(*tasks)

    def _forget(self, key: tuple[Voice, str], _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(key, None)

    async def _fetch(self, voice: Voice, text: str) -> None:
        if self._synthesize is not None:
            try:
                audio = await self._synthesize(voice, text)
            except Exception as exc:  # a line that fails is made live in its call
                logger.warning(f"Could not prepare the audio of a fixed line ({exc}); live then")
                return
            if audio:
                self.put(voice, text, audio)
            return
        assert self._client is not None
        try:
            response = await self._client.audio.speech.create(
                input=text,
                model=voice.model,
                voice=voice.voice,
                response_format="pcm",
                instructions=voice.instructions or omit,
                speed=voice.speed or omit,
            )
            audio = response.content
        except (OpenAIError, OSError) as exc:
            logger.warning(f"Could not prepare the audio of a fixed line ({exc}); it will be live")
            return
        if audio:
            self.put(voice, text, audio)


def split_audio(audio: bytes, sample_rate: int) -> tuple[bytes, ...]:
    """Chunks as `CallTTSService` streams them: a short first one, then half seconds."""
    audio = audio[: len(audio) - len(audio) % BYTES_PER_SAMPLE]
    first = chunk_bytes(FIRST_CHUNK_SECONDS, sample_rate)
    rest = chunk_bytes(CHUNK_SECONDS, sample_rate)
    chunks = [audio[:first]] if audio else []
    chunks += [audio[i : i + rest] for i in range(first, len(audio), rest)]
    return tuple(chunks)


def chunk_bytes(seconds: float, sample_rate: int) -> int:
    return int(seconds * sample_rate) * BYTES_PER_SAMPLE


class _Refused(Exception):
    """Text-to-speech refused a line (HTTP 400): not worth a retry, not a service failure."""


def is_first_clause(text: str) -> bool:
    """Whether ``text``, the start of a reply, is a first clause to speak on its own: it ends in a
    comma, colon or dash, has `FIRST_CLAUSE_WORDS` words or more, and no sentence ended in it."""
    return (
        bool(text)
        and text[-1] in CLAUSE_MARKS
        and len(text.split()) >= FIRST_CLAUSE_WORDS
        and not any(c in SENTENCE_ENDING_PUNCTUATION for c in text)
    )


def first_clause(reply: str) -> str | None:
    """The first clause of ``reply`` that `FirstClauseAggregator` speaks on its own, if any."""
    for index, char in enumerate(reply[:-1]):
        if char.isspace() and is_first_clause(reply[:index].strip()):
            return reply[:index].strip()
    return None


class FirstClauseAggregator(SimpleTextAggregator):
    """pipecat's sentence aggregator, except that the first clause of each reply is spoken as
    soon as it ends (a comma, colon or dash, then a space), when it has `FIRST_CLAUSE_WORDS`
    words and no sentence has ended before it. Everything after goes by sentences, as before.

    The first audio of an answer waits for the first piece of text the voice is given; with a
    model writing 40-60 tokens a second, a first clause ends about 100-150 ms before its
    sentence does."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._reply_started = False
        """Something of this reply has gone to the voice: the rest goes by sentences."""

    async def aggregate(self, text: str) -> AsyncIterator[Aggregation]:
        if self._reply_started or self.aggregation_type != TextType.SENTENCE:
            async for aggregation in super().aggregate(text):
                self._reply_started = True
                yield aggregation
            return
        for char in text:  # one at a time, so that a clause is cut where it ends
            async for aggregation in super().aggregate(char):
                self._reply_started = True
                yield aggregation
            if not self._reply_started and char.isspace():
                clause = self._first_clause()
                if clause is not None:
                    yield clause

    def _first_clause(self) -> Aggregation | None:
        # `_text` is SimpleTextAggregator's buffer, made for subclasses to extend (pipecat's
        # own tag and pattern aggregators do); `tests/bot/test_speech.py` fails if it moves.
        clause = self._text.strip()
        if not is_first_clause(clause):
            return None
        self._text = ""
        self._reply_started = True
        return Aggregation(text=clause, type=TextType.SENTENCE)

    async def flush(self) -> Aggregation | None:
        self._reply_started = False  # the reply ended: the next one starts with a clause
        return await super().flush()

    async def handle_interruption(self) -> None:
        self._reply_started = False
        await super().handle_interruption()

    async def reset(self) -> None:
        self._reply_started = False
        await super().reset()


def speak_first_clauses_early(service: TTSService) -> None:
    """Give ``service`` a `FirstClauseAggregator` in place of its sentence aggregator.

    pipecat 1.14's `TTSService` takes no aggregator (only a mode) and keeps its own in
    ``_text_aggregator``; this swaps it, keeping its mode and language. The test of this
    module fails if pipecat renames or drops that attribute."""
    current = service._text_aggregator
    service._text_aggregator = FirstClauseAggregator(
        aggregation_type=current.aggregation_type, language=current.language
    )


class CachedLines:
    """What a call's text-to-speech service offers besides speaking: the audio of a fixed line
    from the process's `SpeechCache`, for a processor that plays it without asking the
    service (`processors.hold_cue`)."""

    _cache: SpeechCache
    if TYPE_CHECKING:  # each service has its own `voice` property

        @property
        def voice(self) -> Voice: ...

    def cached_audio(self, text: str) -> tuple[tuple[bytes, ...], int] | None:
        """``text``'s audio chunks in this call's voice and their sample rate; None if the
        line isn't made (yet)."""
        voice = self.voice
        chunks = self._cache.get(voice, text)
        return None if chunks is None else (chunks, voice.sample_rate)


class CallTTSService(CachedLines, OpenAITTSService):
    """OpenAI text-to-speech for one call: cached fixed lines (played even while the service is
    down), a short first chunk, and a sentence retried until its first audio arrives, behind
    the process's circuit breaker (`bot.circuit`)."""

    def __init__(
        self,
        *,
        cache: SpeechCache,
        endpoint: AsyncOpenAI,
        pool: httpx2.AsyncClient,
        breaker: CircuitBreaker | None = None,
        sample_rate: int,
        **kwargs: object,
    ) -> None:
        super().__init__(sample_rate=sample_rate, **kwargs)  # type: ignore[arg-type]
        self._cache = cache
        self._breaker = breaker or CircuitBreaker("text-to-speech")
        # A sentence is requested with ``endpoint``'s URL, key and time limit straight through
        # ``pool`` (see `run_tts`); pipecat's own OpenAI client, private to it, is never used.
        self._endpoint = endpoint
        self._pool = pool
        self._init_rate = sample_rate
        speak_first_clauses_early(self)

    @property
    def voice(self) -> Voice:
        settings = cast(OpenAITTSSettings, self.settings)
        return Voice(
            model=str(settings.model),
            voice=str(settings.voice),
            instructions=settings.instructions or None,
            sample_rate=self.sample_rate or self._init_rate,  # the latter before the call starts
            speed=settings.speed or None,
        )

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        cached = self._cache.get(self.voice, text)
        if cached is not None:
            for chunk in cached:
                yield TTSAudioRawFrame(chunk, self.sample_rate, 1, context_id=context_id)
                await asyncio.sleep(0)  # see below
            return
        voice = self.voice
        if voice.voice not in VALID_VOICES:
            yield ErrorFrame(error=f"OpenAI TTS voice {voice.voice!r} is not supported")
            return
        least = chunk_bytes(FIRST_CHUNK_SECONDS, self.sample_rate)
        buffer = bytearray()
        body: dict[str, object] = {
            "input": text,
            "model": voice.model,
            "voice": voice.voice,
            "response_format": "pcm",
        }
        if voice.instructions:
            body["instructions"] = voice.instructions
        if voice.speed:
            body["speed"] = voice.speed
        # The request goes straight through the shared pool: the OpenAI client's request
        # building costs about a millisecond, on every sentence, before any audio.
        client = self._endpoint
        http = self._pool

        async def first_audio(_left: float) -> tuple[httpx2.Response, AsyncIterator[bytes], bytes]:
            request = http.build_request(
                "POST",
                f"{str(client.base_url).rstrip('/')}/audio/speech",
                json=body,
                headers={"Authorization": f"Bearer {client.api_key}"},
                timeout=client.timeout,
            )
            response = await http.send(request, stream=True)
            try:
                if response.status_code != 200:
                    error = (await response.aread()).decode(errors="replace")[:300]
                    if response.status_code == 400:  # as pipecat: a refused line is no failure
                        raise _Refused(error)
                    response.raise_for_status()
                chunks = response.aiter_bytes()
                return response, chunks, await anext(chunks, b"")
            except BaseException:
                await response.aclose()
                raise

        try:
            # Retried only before any of the sentence's audio: the caller hears nothing twice.
            response, chunks, first = await call_with_retries(
                self._breaker, first_audio, budget=self._breaker.budget
            )
        except _Refused as exc:
            yield ErrorFrame(error=f"Text-to-speech refused the request: {exc}")
            return
        try:
            async for data in _after(first, chunks):
                buffer += data
                if len(buffer) >= least:
                    whole = len(buffer) - len(buffer) % BYTES_PER_SAMPLE
                    yield TTSAudioRawFrame(
                        bytes(buffer[:whole]), self.sample_rate, 1, context_id=context_id
                    )
                    del buffer[:whole]
                    # Let the frame on its way to the caller before reading on: audio that
                    # has already arrived would otherwise be read to the end (and the next
                    # sentence requested) before the first chunk reaches the output.
                    await asyncio.sleep(0)
        finally:
            await response.aclose()
        whole = len(buffer) - len(buffer) % BYTES_PER_SAMPLE
        if whole:
            yield TTSAudioRawFrame(
                bytes(buffer[:whole]), self.sample_rate, 1, context_id=context_id
            )


async def _after(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for data in rest:
        yield data

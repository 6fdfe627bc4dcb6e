"""Speech and language services for one call, built from `Settings`.

Which services: `Settings.service_choice` (the `SERVICES` setting and the keys): OpenAI's
speech-to-text, model and text-to-speech, or Whisper and Piper on this machine
(`bot.local_speech`) with an OpenAI-compatible model, OpenAI's model, or none (`llm` is None:
the pipeline then follows a guided check-in script).

Whatever can be shared is made once per server process (`ServiceClients`): the pooled HTTP
client the OpenAI services use (building TLS contexts and clients per call stalls every
other call's audio), the voice activity detector's model and batcher, the local speech models,
and the audio of the lines every call says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from loguru import logger
from openai import AsyncOpenAI, AsyncStream, DefaultAsyncHttpxClient
from openai.types.audio import Transcription
from openai.types.chat import ChatCompletionChunk
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language

from carecall.bot import prompts
from carecall.bot.circuit import CircuitBreaker, ServiceBreakers, call_with_retries
from carecall.bot.speech import CallTTSService, SpeechCache, Voice
from carecall.bot.vad import SileroBatcher
from carecall.core.languages import DEFAULT_LANGUAGE, LANGUAGES, catalogue, language_code
from carecall.core.policy import NOT_IN_THEIR_LANGUAGE
from carecall.processors.extensions import Extension, extension_names, load_extensions
from carecall.settings import MissingConfiguration, ServiceChoice, Settings
from carecall.wellbeing.red_flags import LLMCheck

if TYPE_CHECKING:
    from carecall.bot.local_speech import LocalSpeech

OPENAI_TTS_SAMPLE_RATE = 24_000
NO_KEY = "not-needed"
"""The API key sent to an OpenAI-compatible server when none is set (most ignore it)."""
LOCAL_SPEECH_LANGUAGES = frozenset({"en"})
"""What speech on this machine speaks: Whisper tiny.en hears English only, and the Piper voice
en_US-joe-medium speaks English only (`bot.local_speech`)."""
LOCAL_SPEECH_MODELS = "Whisper tiny.en and the Piper voice en_US-joe-medium"


class LanguageNotSpoken(RuntimeError):
    """A call would be in a language this server's speech services don't speak: it is refused
    rather than made in a language the person may not understand."""


@dataclass(frozen=True)
class CallLanguages:
    """The languages this server's calls can be in: those of carecall's catalogue
    (`core.languages`) that its speech services speak. OpenAI's speech-to-text, model and voices
    speak every one of them; speech on this machine speaks English only."""

    codes: frozenset[str]
    limit: str = ""
    """Why the others can't be spoken, in a sentence part ("" when none is left out)."""

    @classmethod
    def of(cls, settings: Settings) -> CallLanguages:
        if settings.service_choice.speech == "local":
            return cls(
                LOCAL_SPEECH_LANGUAGES & frozenset(LANGUAGES),
                f"this server's speech runs on this machine ({LOCAL_SPEECH_MODELS}), which "
                "speaks English only; with OPENAI_API_KEY (SERVICES=openai) calls use OpenAI's "
                f"speech services, which speak {_names(frozenset(LANGUAGES))}",
            )
        return cls(frozenset(LANGUAGES))

    def speaks(self, language: str | None) -> bool:
        return language_code(language) in self.codes

    def refusal(self, name: str, language: str) -> str | None:
        """Why ``name``, whose language is ``language``, can't be called, or None if they can
        (the words an operator reads, on the dashboard and from the API)."""
        code = language_code(language)
        if code is None:
            return (
                f"{NOT_IN_THEIR_LANGUAGE}: {name}'s language is '{language[:16]}', which "
                f"carecall doesn't speak (it speaks {_names(frozenset(LANGUAGES))}); change it "
                "on their page."
            )
        if code not in self.codes:
            return (
                f"{NOT_IN_THEIR_LANGUAGE}: {name} speaks {catalogue(code).label}, and {self.limit}."
            )
        return None

    def require(self, language: str) -> str:
        """``language``'s catalogue code, or `LanguageNotSpoken`."""
        why = self.refusal("The person", language)
        if why is not None:
            raise LanguageNotSpoken(why)
        return catalogue(language).code


def _names(codes: frozenset[str]) -> str:
    named = [LANGUAGES[code].label for code in sorted(codes)]
    return " and ".join([", ".join(named[:-1]), named[-1]]) if len(named) > 1 else named[0]


def in_call_budget(settings: Settings) -> float:
    """How long one in-call request may take, all its tries together: half a second under the
    reply deadline, so a hung service is a failure its breaker counts (and its error's line is
    said) before the reply clock has to cut in."""
    return max(0.5, settings.reply_deadline_seconds - 0.5)


class ServiceClients:
    """What every call of a server process shares: the HTTP pool for the OpenAI-compatible
    services, the VAD batcher, the local speech models, the cache of fixed lines' audio, the
    circuit breakers of the OpenAI-compatible services (`bot.circuit`) and the extensions
    named in EXTENSIONS (`processors.extensions`; an unknown one is an `ExtensionError` here,
    when the server starts)."""

    def __init__(
        self, settings: Settings, *, local_speech: Callable[[], LocalSpeech] | None = None
    ) -> None:
        self.extensions: tuple[Extension, ...] = load_extensions(
            extension_names(settings.extensions)
        )
        # openai's own client class: it keeps openai's pool limits and error mapping.
        self.http = DefaultAsyncHttpxClient(timeout=settings.service_timeout_seconds)
        self.vad = SileroBatcher()
        self.breakers = ServiceBreakers(
            threshold=settings.circuit_failure_threshold,
            cooldown=settings.circuit_cooldown_seconds,
            budget=in_call_budget(settings),
        )
        self.choice: ServiceChoice = settings.service_choice
        self.local: LocalSpeech | None = None
        self.local_problem: Exception | None = None
        self.speech: SpeechCache
        self.voice: Voice
        self._settings = settings
        self._background: set[asyncio.Task[None]] = set()
        self.red_flag_check = self._red_flag_check(settings)
        if self.choice.speech == "local":
            self._find_local_speech(local_speech)
            if self.local is not None:
                self.speech = SpeechCache(None, synthesize=self.local.synthesize_line)
                self.voice = self.local.voice
            else:
                self.speech = SpeechCache(None)
                self.voice = Voice("none", "none", None, sample_rate=0)
            return
        self.speech_client: AsyncOpenAI | None = None
        """The OpenAI-compatible speech endpoint (with an OpenAI key): fixed lines, and each
        call's text-to-speech requests (`bot.speech.CallTTSService`)."""
        if settings.openai_api_key is not None:
            self.speech_client = AsyncOpenAI(
                api_key=settings.openai_api_key.get_secret_value(),
                base_url=settings.openai_base_url,
                http_client=self.http,
                timeout=settings.service_timeout_seconds,
                max_retries=1,  # not in a call: one retry costs nobody a silence
            )
        self.speech = SpeechCache(self.speech_client)
        self.voice = Voice(
            model=settings.tts_model,
            voice=settings.tts_voice,
            instructions=settings.tts_instructions or None,
            sample_rate=OPENAI_TTS_SAMPLE_RATE,
        )

    def _red_flag_check(self, settings: Settings) -> LLMCheck | None:
        """The model's second opinion on caller lines the red-flag rules pass over; only
        when calls have a model. Its client makes no retries: a check is never waited for."""
        if self.choice.llm is None:
            return None
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        client = AsyncOpenAI(
            api_key=key or "not-needed",
            base_url=settings.openai_base_url,
            http_client=self.http,
            timeout=settings.service_timeout_seconds,
            max_retries=0,
        )
        return LLMCheck(client, model=settings.llm_model)

    def _find_local_speech(self, make: Callable[[], LocalSpeech] | None) -> None:
        """Find this machine's speech models (not load them); a missing package is kept, and
        named in the log now and to each call that needs it."""
        from carecall.bot.local_speech import LocalSpeech, LocalSpeechMissing

        try:
            self.local = (make or LocalSpeech)()
        except LocalSpeechMissing as exc:
            self.local_problem = exc
            logger.error(str(exc))

    def require_local(self) -> LocalSpeech:
        """The local speech models, or the reason they can't be had (names the install)."""
        if self.local is None:
            if self.local_problem is not None:
                raise self.local_problem
            raise RuntimeError("This server's services are OpenAI's, not local speech.")
        return self.local

    def describe(self) -> str:
        """Which services calls use, for the startup log (no secrets)."""
        settings, choice = self._settings, self.choice
        where = _safe_url(settings.openai_base_url) if settings.openai_base_url else None
        if choice.speech == "openai":
            at = f" at {where}" if where else ""
            return (
                f"OpenAI{at}: speech-to-text {settings.stt_model}, model {settings.llm_model}, "
                f"text-to-speech {settings.tts_model} ({settings.tts_voice})"
            )
        from carecall.bot.local_speech import PIPER_VOICE_NAME, WHISPER_MODEL_NAME

        if choice.llm == "compatible":
            llm = f"model {settings.llm_model} at the OpenAI-compatible server {where}"
        elif choice.llm == "openai":
            llm = f"OpenAI's model {settings.llm_model}"
        else:
            llm = (
                "no language model: the guided check-in script (set OPENAI_BASE_URL to an "
                "OpenAI-compatible server, or OPENAI_API_KEY, for a conversation model)"
            )
        missing = f" — NOT INSTALLED: {self.local_problem}" if self.local_problem else ""
        return (
            f"on this machine: speech-to-text {WHISPER_MODEL_NAME}, text-to-speech Piper "
            f"{PIPER_VOICE_NAME}; {llm}{missing}"
        )

    def voice_for(self, language: str = DEFAULT_LANGUAGE) -> Voice:
        """The voice of calls in ``language``: the same voice (OpenAI's speak every language
        of the catalogue), told which language it speaks when it takes instructions."""
        lines = catalogue(language)
        if self.choice.speech == "local" or lines.code == DEFAULT_LANGUAGE:
            return self.voice
        return Voice(
            model=self.voice.model,
            voice=self.voice.voice,
            instructions=tts_instructions(self._settings, lines.code),
            sample_rate=self.voice.sample_rate,
            speed=self.voice.speed,
        )

    def fixed_lines(self, language: str = DEFAULT_LANGUAGE) -> list[str]:
        """The lines calls in ``language`` say word for word: the greeting, the fallback and
        goodbye lines, the hold cue."""
        settings = self._settings
        return [
            *prompts.greeting(
                bot_name=settings.bot_name,
                organization_name=settings.organization_name,
                language=language,
            ),
            *prompts.call_lines(language).fixed,
        ]

    async def prepare_speech(
        self, lines: Sequence[str] = (), language: str = DEFAULT_LANGUAGE
    ) -> None:
        """Load this machine's models (once) and synthesize the fixed lines of ``language``,
        and ``lines`` (a person's own greeting), not cached yet (before a call is answered).
        Never raises: a failure is logged; a language this server doesn't speak is skipped."""
        if self.local is not None:
            try:
                await self.local.aload()
            except Exception as exc:
                logger.error(f"Could not load the speech models on this machine: {exc}")
                return
        if not CallLanguages.of(self._settings).speaks(language):
            return
        voice = self.voice_for(language)
        await self.speech.warm(voice, [*self.fixed_lines(language), *lines])

    def prepare_speech_soon(
        self, lines: Sequence[str] = (), language: str = DEFAULT_LANGUAGE
    ) -> None:
        """`prepare_speech` in the background (when the server starts, when a call rings, when
        a call for someone on the roster is answered: their greeting and the lines of their
        language)."""
        task = asyncio.create_task(self.prepare_speech(lines, language))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self.vad.close()
        await self.http.aclose()


@dataclass(frozen=True)
class CallServices:
    stt: STTService
    llm: OpenAILLMService | None
    """None: no language model; the call follows the guided check-in script."""
    tts: TTSService
    vad: SileroBatcher
    extensions: tuple[Extension, ...] = ()
    """Each makes a processor of its own for the call (`processors.extensions`)."""


class _PooledOpenAILLMService(OpenAILLMService):
    """OpenAILLMService on the shared HTTP pool, behind the process's circuit breaker, retried
    only before the first token (`bot.circuit`: a retry after words were streamed would repeat
    them) and within the in-call budget; no retries of the OpenAI client's own."""

    def __init__(
        self,
        *,
        http_client: DefaultAsyncHttpxClient,
        timeout: float,
        breaker: CircuitBreaker,
        **kwargs: object,
    ) -> None:
        self._pooled_http = http_client
        self._timeout = timeout
        self._breaker = breaker
        super().__init__(**kwargs)  # type: ignore[arg-type]

    async def get_chat_completions(  # type: ignore[override]
        self, context: LLMContext
    ) -> _PrimedStream:
        async def first_token(_left: float) -> _PrimedStream:
            stream = await OpenAILLMService.get_chat_completions(self, context)
            try:
                first = await anext(aiter(stream), None)
            except BaseException:
                await stream.close()
                raise
            return _PrimedStream(stream, first)

        return await call_with_retries(self._breaker, first_token, budget=self._breaker.budget)

    def create_client(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> AsyncOpenAI:
        return AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            default_headers=default_headers,
            http_client=self._pooled_http,
            timeout=self._timeout,
            max_retries=0,
        )


class _PrimedStream:
    """A chat completion stream whose first chunk was read already (to know it had begun)."""

    def __init__(
        self, stream: AsyncStream[ChatCompletionChunk], first: ChatCompletionChunk | None
    ) -> None:
        self._stream = stream
        self._first = first

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[ChatCompletionChunk]:
        if self._first is None:
            return
        yield self._first
        async for chunk in self._stream:
            yield chunk

    async def close(self) -> None:
        await self._stream.close()


class _ResilientSTTService(OpenAISTTService):
    """OpenAI speech-to-text behind the process's circuit breaker; a turn's audio is simply
    sent again after a failure, within the in-call budget."""

    def __init__(self, *, breaker: CircuitBreaker, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._breaker = breaker

    # pipecat's OpenAI speech-to-text sends each segment through `_transcribe`, its one hook
    # for the request (the public `run_stt` around it also makes the frames and metrics), so
    # the retries wrap that (pinned pipecat; tests/test_upstream_names.py checks).
    async def _transcribe(self, audio: bytes) -> Transcription:
        return await call_with_retries(
            self._breaker,
            lambda _left: OpenAISTTService._transcribe(self, audio),
            budget=self._breaker.budget,
        )


def build_call_services(
    settings: Settings,
    clients: ServiceClients,
    *,
    system_prompt: str,
    language: str = DEFAULT_LANGUAGE,
) -> CallServices:
    """The services of one call, as `Settings.service_choice` says, in ``language``: the
    speech-to-text is told it, the voice speaks it.

    Raises `MissingConfiguration` (OpenAI's services without OPENAI_API_KEY),
    `bot.local_speech.LocalSpeechMissing` (local speech without its packages; the message names
    the install command) or `LanguageNotSpoken` (speech on this machine is English only)."""
    code = CallLanguages.of(settings).require(language)
    choice = settings.service_choice
    if choice.speech == "openai":
        return _openai_services(settings, clients, system_prompt=system_prompt, language=code)
    local = clients.require_local()
    from carecall.bot.local_speech import LocalPiperTTSService, LocalWhisperSTTService

    # The models are normally loaded already (when the server started or the call rang).
    stt = LocalWhisperSTTService(engine=local.whisper)
    tts = LocalPiperTTSService(engine=local.piper, voice=local.voice, cache=clients.speech)
    llm = None
    if choice.llm is not None:
        key = settings.openai_api_key
        llm = _llm(
            settings,
            clients,
            api_key=key.get_secret_value() if key is not None else NO_KEY,
            system_prompt=system_prompt,
        )
    return CallServices(stt=stt, llm=llm, tts=tts, vad=clients.vad, extensions=clients.extensions)


def tts_instructions(settings: Settings, language: str) -> str:
    """TTS_INSTRUCTIONS, with the language to speak for a call in another than English (only
    when there are instructions: a voice model that takes none gets none)."""
    instructions = settings.tts_instructions
    if not instructions or language == DEFAULT_LANGUAGE:
        return instructions
    return f"{instructions.rstrip()} Speak in {catalogue(language).name}."


def _openai_services(
    settings: Settings, clients: ServiceClients, *, system_prompt: str, language: str
) -> CallServices:
    if settings.openai_api_key is None:
        raise MissingConfiguration("Speech and language services", ["OPENAI_API_KEY"])
    api_key = settings.openai_api_key.get_secret_value()
    common = {"api_key": api_key, "base_url": settings.openai_base_url, "http_client": clients.http}
    stt = _ResilientSTTService(
        breaker=clients.breakers.stt,
        **common,
        settings=OpenAISTTService.Settings(model=settings.stt_model, language=Language(language)),
    )
    llm = _llm(settings, clients, api_key=api_key, system_prompt=system_prompt)
    assert clients.speech_client is not None  # made with the key
    tts = CallTTSService(
        cache=clients.speech,
        endpoint=clients.speech_client,
        pool=clients.http,
        breaker=clients.breakers.tts,
        **common,
        sample_rate=OPENAI_TTS_SAMPLE_RATE,
        settings=OpenAITTSService.Settings(
            model=settings.tts_model,
            voice=settings.tts_voice,
            instructions=tts_instructions(settings, language),
        ),
    )
    _bound_requests(stt, settings.service_timeout_seconds)
    return CallServices(stt=stt, llm=llm, tts=tts, vad=clients.vad, extensions=clients.extensions)


def _llm(
    settings: Settings, clients: ServiceClients, *, api_key: str, system_prompt: str
) -> OpenAILLMService:
    return _PooledOpenAILLMService(
        api_key=api_key,
        base_url=settings.openai_base_url,
        http_client=clients.http,
        timeout=settings.service_timeout_seconds,
        breaker=clients.breakers.llm,
        settings=OpenAILLMService.Settings(
            model=settings.llm_model,
            system_instruction=system_prompt,
            temperature=settings.llm_temperature,
        ),
    )


def _safe_url(url: str) -> str:
    """``url`` without any user name or password in it (for logs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _bound_requests(service: _ResilientSTTService, timeout: float) -> None:
    """Give the speech-to-text service's OpenAI client a per-request time limit and no retries.

    pipecat builds this client itself with openai's defaults (10 minutes, 2 retries), which a
    caller would hear as dead air; a failed request instead makes the caller hear a fallback
    line at once (`ServiceErrorFallback`). pipecat 1.14 offers no way to pass a client or its
    options (only an HTTP client), so its private `_client` is replaced (pinned pipecat;
    tests/test_upstream_names.py checks that it is still the one requests go through).
    """
    client: AsyncOpenAI = service._client
    service._client = client.with_options(timeout=timeout, max_retries=0)

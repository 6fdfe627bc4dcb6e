"""Speech and language services for one call, built from `Settings`.

Whatever can be shared is made once per server process (`ServiceClients`): the pooled HTTP
client all three OpenAI services use (building TLS contexts and clients per call stalls every
other call's audio), the voice activity detector's model and batcher, and the audio of the
lines every call says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openai import AsyncOpenAI, DefaultAsyncHttpxClient
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.transcriptions.language import Language

from bot import prompts
from bot.speech import CallTTSService, SpeechCache, Voice
from pipeline.vad import SileroBatcher
from settings import MissingConfiguration, Settings

OPENAI_TTS_SAMPLE_RATE = 24_000


class ServiceClients:
    """What every call of a server process shares: the HTTP pool for the OpenAI-compatible
    services, the VAD batcher and the cache of fixed lines' audio."""

    def __init__(self, settings: Settings) -> None:
        # openai's own client class: it keeps openai's pool limits and error mapping.
        self.http = DefaultAsyncHttpxClient(timeout=settings.service_timeout_seconds)
        self.vad = SileroBatcher()
        speech_client = None
        if settings.openai_api_key is not None:
            speech_client = AsyncOpenAI(
                api_key=settings.openai_api_key.get_secret_value(),
                base_url=settings.openai_base_url,
                http_client=self.http,
                timeout=settings.service_timeout_seconds,
                max_retries=1,  # not in a call: one retry costs nobody a silence
            )
        self.speech = SpeechCache(speech_client)
        self.voice = Voice(
            model=settings.tts_model,
            voice=settings.tts_voice,
            instructions=settings.tts_instructions or None,
            sample_rate=OPENAI_TTS_SAMPLE_RATE,
        )
        self._settings = settings
        self._background: set[asyncio.Task[None]] = set()

    def fixed_lines(self) -> list[str]:
        """The lines calls say word for word: the greeting, the fallback and goodbye lines."""
        settings = self._settings
        return [
            *prompts.greeting(
                bot_name=settings.bot_name, organization_name=settings.organization_name
            ),
            *prompts.FIXED_LINES,
        ]

    async def prepare_speech(self) -> None:
        """Synthesize the fixed lines not cached yet (before a call is answered)."""
        await self.speech.warm(self.voice, self.fixed_lines())

    def prepare_speech_soon(self) -> None:
        """`prepare_speech` in the background (when the server starts, when a call rings)."""
        task = asyncio.create_task(self.prepare_speech())
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
    stt: OpenAISTTService
    llm: OpenAILLMService
    tts: CallTTSService
    vad: SileroBatcher


class _PooledOpenAILLMService(OpenAILLMService):
    """OpenAILLMService on the shared HTTP pool, with a per-request time limit and no
    client-side retries (a retry storm means dead air; the caller hears a fallback line)."""

    def __init__(
        self, *, http_client: DefaultAsyncHttpxClient, timeout: float, **kwargs: object
    ) -> None:
        self._pooled_http = http_client
        self._timeout = timeout
        super().__init__(**kwargs)  # type: ignore[arg-type]

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


def build_call_services(
    settings: Settings, clients: ServiceClients, *, system_prompt: str
) -> CallServices:
    if settings.openai_api_key is None:
        raise MissingConfiguration("Speech and language services", ["OPENAI_API_KEY"])
    api_key = settings.openai_api_key.get_secret_value()
    common = {"api_key": api_key, "base_url": settings.openai_base_url, "http_client": clients.http}
    stt = OpenAISTTService(
        **common,  # type: ignore[arg-type]
        settings=OpenAISTTService.Settings(model=settings.stt_model, language=Language.EN),
    )
    llm = _PooledOpenAILLMService(
        api_key=api_key,
        base_url=settings.openai_base_url,
        http_client=clients.http,
        timeout=settings.service_timeout_seconds,
        settings=OpenAILLMService.Settings(
            model=settings.llm_model,
            system_instruction=system_prompt,
            temperature=settings.llm_temperature,
        ),
    )
    tts = CallTTSService(
        cache=clients.speech,
        **common,
        sample_rate=OPENAI_TTS_SAMPLE_RATE,
        settings=OpenAITTSService.Settings(
            model=settings.tts_model,
            voice=settings.tts_voice,
            instructions=settings.tts_instructions,
        ),
    )
    for service in (stt, tts):
        _bound_requests(service, settings.service_timeout_seconds)
    return CallServices(stt=stt, llm=llm, tts=tts, vad=clients.vad)


def _bound_requests(service: OpenAISTTService | CallTTSService, timeout: float) -> None:
    """Give the service's OpenAI client a per-request time limit and no retries.

    pipecat builds these clients itself with openai's defaults (10 minutes, 2 retries), which a
    caller would hear as dead air; a failed request instead makes the caller hear a fallback
    line at once (`ServiceErrorFallback`). pipecat 1.14 keeps the client in `_client`.
    """
    client: AsyncOpenAI = service._client
    service._client = client.with_options(timeout=timeout, max_retries=0)

"""Speech and language services for one call, built from `Settings`.

All three OpenAI services share one pooled HTTP client (`ServiceClients`), made once per server
process: building TLS contexts and clients per call stalls every other call's audio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openai import AsyncOpenAI, DefaultAsyncHttpxClient
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.transcriptions.language import Language

from settings import MissingConfiguration, Settings

OPENAI_TTS_SAMPLE_RATE = 24_000


class ServiceClients:
    """Process-wide HTTP client pool for the OpenAI-compatible services."""

    def __init__(self, settings: Settings) -> None:
        # openai's own client class: it keeps openai's pool limits and error mapping.
        self.http = DefaultAsyncHttpxClient(timeout=settings.service_timeout_seconds)

    async def aclose(self) -> None:
        await self.http.aclose()


@dataclass(frozen=True)
class CallServices:
    stt: OpenAISTTService
    llm: OpenAILLMService
    tts: OpenAITTSService


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
    tts = OpenAITTSService(
        **common,  # type: ignore[arg-type]
        sample_rate=OPENAI_TTS_SAMPLE_RATE,
        settings=OpenAITTSService.Settings(
            model=settings.tts_model,
            voice=settings.tts_voice,
            instructions=settings.tts_instructions,
        ),
    )
    for service in (stt, tts):
        _bound_requests(service, settings.service_timeout_seconds)
    return CallServices(stt=stt, llm=llm, tts=tts)


def _bound_requests(service: OpenAISTTService | OpenAITTSService, timeout: float) -> None:
    """Give the service's OpenAI client a per-request time limit and no retries.

    pipecat builds these clients itself with openai's defaults (10 minutes, 2 retries), which a
    caller would hear as dead air; a failed request instead makes the caller hear a fallback
    line at once (`ServiceErrorFallback`). pipecat 1.14 keeps the client in `_client`.
    """
    client: AsyncOpenAI = service._client
    service._client = client.with_options(timeout=timeout, max_retries=0)

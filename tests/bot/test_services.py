from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from carecall.bot.services import ServiceClients, build_call_services
from carecall.settings import MissingConfiguration, Settings


async def test_every_service_uses_the_configured_endpoint_time_limit_and_no_retries(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(openai_base_url="http://127.0.0.1:9/v1", service_timeout_seconds=3.5)
    clients = ServiceClients(settings)
    try:
        services = build_call_services(settings, clients, system_prompt="Be kind.")
        # pipecat's clients of the speech-to-text and the model (`_client`, no public way)...
        openai_services: list[Any] = [services.stt, services.llm]
        clients_used = [service._client for service in openai_services]
        for client in clients_used:
            assert client.max_retries == 0
        # ...and the endpoint text-to-speech requests go to (through the pool, no retries).
        assert clients.speech_client is not None
        for client in [*clients_used, clients.speech_client]:
            assert str(client.base_url) == "http://127.0.0.1:9/v1/"
            assert client.timeout == 3.5
        tts: Any = services.tts
        assert tts.voice.sample_rate == 24_000  # OpenAI streams 24 kHz PCM
    finally:
        await clients.aclose()


def test_openai_services_need_an_openai_key(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(services="openai", openai_api_key=None)  # without: local speech
    with pytest.raises(MissingConfiguration, match="OPENAI_API_KEY"):
        build_call_services(settings, ServiceClients(settings), system_prompt="")

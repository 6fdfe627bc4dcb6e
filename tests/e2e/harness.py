"""A real carecall server on loopback (uvicorn in its own thread and event loop), an API key
for the test's API client, and the Twilio side of a call: signed webhooks (no API key) and the
simulated media-stream caller."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from twilio.request_validator import RequestValidator

from carecall.cli import standalone_auth
from carecall.core.clock import Clock
from carecall.server import create_app
from carecall.settings import Settings
from tests.conftest import TEST_AUTH_TOKEN
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_caller import SimulatedCaller
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient


async def create_api_key(database_url: str, name: str = "e2e") -> str:
    """An API key in the server's database, made before the server starts (on an engine of its
    own, as `carecall create-api-key` makes one); returns the secret to send."""
    async with standalone_auth(database_url) as auth:
        return (await auth.create_api_key(name)).secret


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """`uvicorn server:app` equivalent, started in a thread so the test loop stays free."""

    def __init__(
        self,
        settings: Settings,
        twilio_http: FakeAsyncTwilioHttpClient,
        port: int,
        clock: Clock | None = None,
    ) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.app = create_app(settings, twilio_http_client=twilio_http, clock=clock)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="carecall-server", daemon=True
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the carecall server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


@dataclass
class RunningCarecall:
    openai: FakeOpenAI
    twilio_http: FakeAsyncTwilioHttpClient
    server: LiveServer
    settings: Settings


@asynccontextmanager
async def running_carecall(
    make_settings: Callable[..., Settings],
    database_url: str,
    *,
    clock: Clock | None = None,
    **overrides: Any,
) -> AsyncIterator[RunningCarecall]:
    """The fake OpenAI server (espeak speech) and a live carecall server configured for it
    (on ``clock``, e.g. inside a person's calling hours)."""
    openai = FakeOpenAI(tts_mode="espeak")
    await openai.start()
    port = free_port()
    values: dict[str, Any] = {
        "database_url": database_url,
        "openai_base_url": openai.base_url,
        "webhook_url": f"http://127.0.0.1:{port}",
    }
    values.update(overrides)  # e.g. openai_base_url=None: local mode, no model
    settings = make_settings(**values)
    twilio_http = FakeAsyncTwilioHttpClient()
    try:
        with LiveServer(settings, twilio_http, port, clock) as server:
            yield RunningCarecall(openai, twilio_http, server, settings)
    finally:
        await openai.stop()


@asynccontextmanager
async def local_carecall(
    make_settings: Callable[..., Settings],
    database_url: str,
    *,
    operator: tuple[str, str] | None = None,
    **overrides: Any,
) -> AsyncIterator[LiveServer]:
    """A live carecall in local mode: no OpenAI key or base URL, so Whisper, Piper and the
    guided check-in; ``operator`` (email, password) is created first, for a browser."""
    if operator is not None:
        async with standalone_auth(database_url) as auth:
            await auth.create_operator(*operator, is_admin=True)
    port = free_port()
    values: dict[str, Any] = {
        "database_url": database_url,
        "openai_api_key": None,
        "openai_base_url": None,
        "webhook_url": f"http://127.0.0.1:{port}",
    }
    settings = make_settings(**{**values, **overrides})
    assert settings.service_choice.speech == "local" and settings.service_choice.llm is None
    with LiveServer(settings, FakeAsyncTwilioHttpClient(), port) as server:
        yield server


@dataclass
class TwilioSide:
    """What Twilio does around a call: fetch TwiML, post status callbacks, open the stream."""

    server: LiveServer
    settings: Settings
    http: httpx.AsyncClient  # no API key: Twilio proves itself by signatures alone

    def _signed(self, path: str, params: dict[str, str]) -> dict[str, str]:
        assert self.settings.webhook_url is not None
        signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(
            self.settings.webhook_url + path, params
        )
        return {"X-Twilio-Signature": signature}

    async def post_webhook(self, path: str, params: dict[str, str]) -> httpx.Response:
        return await self.http.post(path, data=params, headers=self._signed(path, params))

    async def answer(self, call_id: int, call_sid: str) -> SimulatedCaller:
        """Ring, answer, fetch TwiML and open the media stream it names, as Twilio would."""
        for sequence, status in enumerate(("initiated", "ringing", "in-progress")):
            response = await self.post_webhook(
                f"/twilio/status?call_id={call_id}",
                {"CallSid": call_sid, "CallStatus": status, "SequenceNumber": str(sequence)},
            )
            assert response.status_code == 204, response.text
        twiml = await self.post_webhook(
            f"/twilio/voice?call_id={call_id}", {"CallSid": call_sid, "CallStatus": "in-progress"}
        )
        assert twiml.status_code == 200, twiml.text
        stream = ET.fromstring(twiml.text).find("./Connect/Stream")
        assert stream is not None
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        stream_url = stream.get("url", "")
        caller = SimulatedCaller(
            f"ws://127.0.0.1:{self.server.port}/ws",
            custom_parameters=parameters,
            call_sid=call_sid,
            auth_token=TEST_AUTH_TOKEN,
            signed_url=stream_url,
        )
        await caller.connect()
        return caller

    async def complete(self, call_id: int, call_sid: str, duration: int) -> None:
        response = await self.post_webhook(
            f"/twilio/status?call_id={call_id}",
            {
                "CallSid": call_sid,
                "CallStatus": "completed",
                "SequenceNumber": "3",
                "CallDuration": str(duration),
            },
        )
        assert response.status_code == 204, response.text


async def wait_for_call(
    http: httpx.AsyncClient, call_id: int, *, turns: int, end_reason: str, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll the API until the call has `turns` stored turns and an end reason starting with
    `end_reason` (records are written in the background, so they land a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        call: dict[str, Any] = (await http.get(f"/api/calls/{call_id}")).json()
        if len(call["turns"]) >= turns and (call["end_reason"] or "").startswith(end_reason):
            return call
        if time.monotonic() > deadline:
            raise AssertionError(f"call {call_id} never reached {turns} turns: {call}")
        await asyncio.sleep(0.2)

"""carecall as it runs in production: a `uvicorn server:app` process of its own, on a PostgreSQL
database of the test's own, with the fake OpenAI and the fake Twilio REST API on loopback, and
the Twilio side of its calls (signed webhooks, the simulated media-stream caller)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from twilio.request_validator import RequestValidator

from bench.calls import Secrets, Service, pick_up, server_env, start_server
from carecall.cli import standalone_auth
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import Call
from carecall.persistence.repositories import CallRepository
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.e2e.harness import free_port
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_caller import SimulatedCaller
from tests.fakes.twilio_rest_server import FakeTwilioRestServer
from tests.postgres_support import database_url, own_database

TO = "+14155550100"


@dataclass
class Instance:
    server: Service
    database_url: str
    openai: FakeOpenAI
    twilio: FakeTwilioRestServer
    api: httpx.AsyncClient
    """Signed in with an API key."""
    webhooks: httpx.AsyncClient
    """Twilio's requests: signed for the server's public URL, no API key."""

    async def post_webhook(self, path: str, params: dict[str, str]) -> httpx.Response:
        signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(
            self.server.url + path, params
        )
        return await self.webhooks.post(
            path, data=params, headers={"X-Twilio-Signature": signature}
        )

    async def place_and_answer(self, *, connect: bool = True) -> tuple[int, str, SimulatedCaller]:
        """Place a call, answer it as Twilio would and (unless not ``connect``) open its
        media stream."""
        placed = await self.api.post("/api/calls", json={"to": TO})
        assert placed.status_code == 201, placed.text
        call_id, call_sid = placed.json()["id"], placed.json()["twilio_sid"]
        caller = await pick_up(
            self._post_accepted,
            self.server.url.replace("http://", "ws://") + "/ws",
            call_id,
            call_sid,
            Secrets(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN),
            end_on_mark=True,
        )
        if connect:
            await caller.connect()
        return call_id, call_sid, caller

    async def _post_accepted(self, path: str, params: dict[str, str]) -> httpx.Response:
        response = await self.post_webhook(path, params)
        assert response.status_code < 300, response.text
        return response

    def hung_up_through_twilio(self, call_sid: str) -> bool:
        return any(
            r.method == "POST"
            and r.url.endswith(f"/Calls/{call_sid}.json")
            and r.data.get("Status") == "completed"
            for r in self.twilio.api.requests
        )

    async def stored(self, call_id: int) -> Call:
        engine = create_engine(self.database_url)
        try:
            call = await CallRepository(create_session_factory(engine)).get(
                call_id, with_turns=True
            )
        finally:
            await engine.dispose()
        assert call is not None
        return call

    def logged_errors(self) -> list[str]:
        return [line for line in self.server.log_tail(400).splitlines() if "| ERROR" in line]


@dataclass
class Backing:
    """What the instances of one test share: a PostgreSQL database of the test's own, an API
    key in it, the fake OpenAI and the fake Twilio REST API."""

    database_url: str
    api_key: str
    openai: FakeOpenAI
    twilio: FakeTwilioRestServer
    workdir: Path

    @contextlib.asynccontextmanager
    async def instance(self, tag: str, **env: str) -> AsyncIterator[Instance]:
        """A server process, stopped on the way out, with API/webhook clients for it; ``env``
        adds to or overrides its environment (e.g. ``SHUTDOWN_GRACE_SECONDS``)."""
        port = free_port()
        values = {
            "CARECALL_ENV": "development",
            "DATABASE_URL": self.database_url,
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
            "TWILIO_PHONE_NUMBER": "+15005550006",
            "TWILIO_API_BASE_URL": self.twilio.base_url,
            "WEBHOOK_URL": f"http://127.0.0.1:{port}",
            "SESSION_SECRET": secrets.token_urlsafe(36),
            "DISPATCHER_ENABLED": "false",
            "LOG_LEVEL": "INFO",
            **env,
        }
        async with contextlib.AsyncExitStack() as stack:
            server = await start_server(
                "carecall",
                "server:app",
                port,
                server_env(self.openai.base_url, **values),
                self.workdir,
                tag,
            )
            stack.push_async_callback(server.stop)
            auth = {"Authorization": f"Bearer {self.api_key}"}
            api = await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.url, timeout=10, headers=auth)
            )
            webhooks = await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.url, timeout=10)
            )
            yield Instance(server, self.database_url, self.openai, self.twilio, api, webhooks)


@contextlib.asynccontextmanager
async def backing(prefix: str, workdir: Path) -> AsyncIterator[Backing]:
    """A new database (``prefix``_…, dropped at the end) with an API key, and the fakes."""
    async with contextlib.AsyncExitStack() as stack:
        db = database_url(await stack.enter_async_context(own_database(prefix)))
        async with standalone_auth(db) as auth:  # migrated before any instance starts
            api_key = (await auth.create_api_key(prefix)).secret
        openai = FakeOpenAI(tts_mode="espeak")
        await openai.start()
        stack.push_async_callback(openai.stop)
        twilio = FakeTwilioRestServer()
        await twilio.start()
        stack.push_async_callback(twilio.stop)
        yield Backing(db, api_key, openai, twilio, workdir)

"""Two carecall instances, as behind a load balancer: two `uvicorn server:app` processes on one
PostgreSQL database and one Redis, one public WEBHOOK_URL. A call is placed on instance A, but
Twilio's callbacks and the call's media stream land on instance B; a dashboard signed in on A
sees B's call live: each status as it changes, and each turn while the call goes on.

The fake OpenAI (espeak speech) and the fake Twilio REST API run in the test's process, on
loopback; the simulated caller speaks to B's `/ws` as Twilio would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

from bench.calls import Service, server_env, start_server
from carecall.cli import standalone_auth
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.e2e.harness import free_port
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_caller import SimulatedCaller
from tests.fakes.twilio_rest_server import FakeTwilioRestServer
from tests.postgres_support import database_url, own_database
from tests.redis_support import TEST_REDIS_URL, unique_channel

pytestmark = pytest.mark.e2e

OPERATOR = ("coordinator@example.org", "correct horse battery staple")
TO = "+14155550100"
_CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


@dataclass
class Instances:
    a: Service
    b: Service
    public_url: str
    """WEBHOOK_URL of both: what Twilio signs its requests for (the load balancer's address)."""
    openai: FakeOpenAI
    twilio: FakeTwilioRestServer
    api_key: str


@pytest.fixture
async def instances(tmp_path: Path) -> AsyncIterator[Instances]:
    async with contextlib.AsyncExitStack() as stack:
        name = await stack.enter_async_context(own_database("carecall_two"))
        db = database_url(name)
        async with standalone_auth(db) as auth:  # migrated before either instance starts
            await auth.create_operator(*OPERATOR, is_admin=True)
            api_key = (await auth.create_api_key("two-instances")).secret
        openai = FakeOpenAI(tts_mode="espeak")
        await openai.start()
        stack.push_async_callback(openai.stop)
        twilio = FakeTwilioRestServer()
        await twilio.start()
        stack.push_async_callback(twilio.stop)

        port_a, port_b = free_port(), free_port()
        public_url = f"http://127.0.0.1:{port_a}"
        env = server_env(
            openai.base_url,
            CARECALL_ENV="development",
            DATABASE_URL=db,
            REDIS_URL=TEST_REDIS_URL,
            REDIS_CHANNEL=unique_channel(),
            TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=TEST_AUTH_TOKEN,
            TWILIO_PHONE_NUMBER="+15005550006",
            TWILIO_API_BASE_URL=twilio.base_url,
            WEBHOOK_URL=public_url,
            SESSION_SECRET=secrets.token_urlsafe(36),
            DISPATCHER_ENABLED="false",
            LOG_LEVEL="INFO",
        )
        starting = [
            asyncio.create_task(
                start_server(f"carecall-{label}", "server:app", port, env, tmp_path, "e2e")
            )
            for label, port in (("a", port_a), ("b", port_b))
        ]
        await asyncio.wait(starting)
        services = [task.result() for task in starting if task.exception() is None]
        try:
            a, b = (task.result() for task in starting)  # else fails, with the server's log
            yield Instances(a, b, public_url, openai, twilio, api_key)
        finally:
            for service in services:
                await service.stop()
            for service in services:
                errors = [line for line in service.log_tail(400).splitlines() if "| ERROR" in line]
                assert not errors, f"{service.name} logged errors:\n" + "\n".join(errors)


# --- what a browser and Twilio do -------------------------------------------------------------


async def sign_in(base_url: str) -> str:
    """Sign in through the login form; returns the session cookie's value."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as browser:
        page = await browser.get("/login")
        found = _CSRF_FIELD.search(page.text)
        assert found, page.text
        email, password = OPERATOR
        response = await browser.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": found.group(1), "next": "/"},
        )
        assert response.status_code == 303, response.text
        cookie = browser.cookies.get("carecall_session")
        assert cookie
        return cookie


@dataclass
class Dashboard:
    """One `/ws/dashboard` connection: every message it was sent, gathered as they come."""

    socket: ClientConnection
    messages: list[dict[str, Any]] = field(default_factory=list)

    async def gather(self) -> None:
        async for raw in self.socket:
            self.messages.append(json.loads(raw))

    async def until(
        self, found: Callable[[dict[str, Any]], bool], what: str, timeout: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages:
                if found(message):
                    return message
            assert time.monotonic() < deadline, f"the dashboard never showed {what}"
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def dashboard(base_url: str, cookie: str, query: str = "") -> AsyncIterator[Dashboard]:
    url = base_url.replace("http://", "ws://") + "/ws/dashboard" + query
    async with connect(url, additional_headers={"Cookie": f"carecall_session={cookie}"}) as ws:
        board = Dashboard(ws)
        task = asyncio.create_task(board.gather())
        try:
            await board.until(lambda m: m["type"] == "snapshot", "its snapshot")
            yield board
        finally:
            task.cancel()


class Twilio:
    """Twilio's side of the call: requests signed for the public URL, sent to instance B."""

    def __init__(self, instances: Instances, http: httpx.AsyncClient) -> None:
        self._public_url = instances.public_url
        self._http = http

    async def post(self, path: str, params: dict[str, str]) -> httpx.Response:
        signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(
            self._public_url + path, params
        )
        return await self._http.post(path, data=params, headers={"X-Twilio-Signature": signature})

    async def status(self, call_id: int, call_sid: str, status: str, sequence: int) -> None:
        params = {"CallSid": call_sid, "CallStatus": status, "SequenceNumber": str(sequence)}
        if status == "completed":
            params["CallDuration"] = "20"
        response = await self.post(f"/twilio/status?call_id={call_id}", params)
        assert response.status_code == 204, response.text


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"no {name}{labels} in /metrics")


def is_call(call_id: int, status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: (
        m["type"] == "call" and m["call"]["id"] == call_id and (m["call"]["status"] == status)
    )


def is_turn(sequence: int) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "turn" and m["turn"]["sequence"] == sequence


# --- the test ---------------------------------------------------------------------------------


async def test_a_dashboard_on_one_instance_sees_a_call_running_on_the_other(
    instances: Instances,
) -> None:
    a, b = instances.a.url, instances.b.url
    cookie = await sign_in(a)
    async with (
        httpx.AsyncClient(
            base_url=a, timeout=10, headers={"Authorization": f"Bearer {instances.api_key}"}
        ) as api_a,
        httpx.AsyncClient(base_url=b, timeout=10) as to_b,
        httpx.AsyncClient(base_url=a, timeout=10) as to_a,
        dashboard(a, cookie) as all_calls,
    ):
        for http in (to_a, to_b):
            assert (await http.get("/readyz")).json() == {"database": "ok", "redis": "ok"}
        placed = await api_a.post("/api/calls", json={"to": TO})
        assert placed.status_code == 201, placed.text
        call_id, call_sid = placed.json()["id"], placed.json()["twilio_sid"]
        await all_calls.until(is_call(call_id, "queued"), "the new call")

        async with dashboard(a, cookie, f"?call_id={call_id}") as call_page:
            twilio = Twilio(instances, to_b)
            for sequence, status in enumerate(("initiated", "ringing", "in-progress")):
                await twilio.status(call_id, call_sid, status, sequence)
                await all_calls.until(is_call(call_id, status), f"B's status {status}")

            twiml = await twilio.post(
                f"/twilio/voice?call_id={call_id}",
                {"CallSid": call_sid, "CallStatus": "in-progress"},
            )
            assert twiml.status_code == 200, twiml.text
            stream = ET.fromstring(twiml.text).find("./Connect/Stream")
            assert stream is not None
            caller = SimulatedCaller(
                b.replace("http://", "ws://") + "/ws",  # the load balancer picked B
                custom_parameters={
                    p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")
                },
                call_sid=call_sid,
                account_sid=TEST_ACCOUNT_SID,
                auth_token=TEST_AUTH_TOKEN,
                signed_url=stream.get("url", ""),
            )
            await caller.connect()
            assert caller.rejected_status is None

            # Live, while the caller is still on the line. (A turn is recorded once it is
            # over: the greeting when the caller starts to answer, the caller's words when the
            # bot starts to reply.)
            await caller.wait_for_bot_utterance(timeout=20)
            assert metric((await to_b.get("/metrics")).text, "carecall_active_calls") == 1
            line = "I slept well last night"
            await caller.say(line, announce=instances.openai.expect_utterance)
            await caller.wait_for_bot_utterance(timeout=20)
            greeting = await call_page.until(is_turn(1), "B's greeting")
            assert greeting["call_id"] == call_id
            assert greeting["turn"]["speaker"] == "Carecall"
            heard = await call_page.until(is_turn(2), "the caller's words")
            assert heard["turn"]["text"] == line

            await caller.say("Okay, goodbye", announce=instances.openai.expect_utterance)
            answer = await call_page.until(is_turn(3), "B's answer")
            assert answer["turn"]["speaker"] == "Carecall"
            assert line in answer["turn"]["text"]
            await caller.wait_until_closed(timeout=20)  # the bot said goodbye and hung up
            await twilio.status(call_id, call_sid, "completed", 3)
            done = await all_calls.until(is_call(call_id, "completed"), "the call completed")
            assert not done["call"]["live"]
            await call_page.until(is_turn(5), "B's goodbye")

        # Each event reached A's dashboard once (its own and B's, through Redis).
        ids = [m["id"] for m in call_page.messages if m["type"] in ("call", "turn")]
        assert len(ids) == len(set(ids))
        sequences = [m["turn"]["sequence"] for m in call_page.messages if m["type"] == "turn"]
        assert sequences == sorted(set(sequences))

        # Each instance counts what happened in it: the conversation ran on B only.
        metrics_a, metrics_b = (await to_a.get("/metrics")).text, (await to_b.get("/metrics")).text
        assert metric(metrics_b, "carecall_turn_latency_seconds_count") >= 2
        assert metric(metrics_a, "carecall_turn_latency_seconds_count") == 0
        assert metric(metrics_b, "carecall_calls_total", status="completed") == 1
        assert metric(metrics_a, "carecall_calls_total", status="completed") == 0
        deadline = time.monotonic() + 10
        while metric((await to_b.get("/metrics")).text, "carecall_active_calls") != 0:
            assert time.monotonic() < deadline, "B still counts the call as active"
            await asyncio.sleep(0.1)

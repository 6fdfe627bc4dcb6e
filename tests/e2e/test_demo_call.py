"""The dashboard's demo call, end to end: the real server in local mode (no keys: local Whisper,
Piper and the guided check-in), `POST /api/demo-calls`, and the simulated senior talking over
the Media Streams protocol on loopback until the bot says goodbye. And the demo streams' door:
a demo token opens no phone call's stream, a phone call's token no demo stream. And a live demo
call hung up from the dashboard ends."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from carecall.calls.demo import DemoTokens
from carecall.settings import Settings
from tests.conftest import TEST_AUTH_TOKEN
from tests.e2e.harness import create_api_key, running_carecall
from tests.fakes.twilio_caller import SimulatedCaller

pytestmark = pytest.mark.e2e

NO_KEYS: dict[str, Any] = {
    "services": "auto",
    "openai_api_key": None,
    "openai_base_url": None,
    "twilio_account_sid": None,
    "twilio_auth_token": None,
    "twilio_phone_number": None,
}


async def _until_finished(api: httpx.AsyncClient, call_id: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        call: dict[str, Any] = (await api.get(f"/api/calls/{call_id}")).json()
        if call["status"] in ("completed", "failed") and call["end_reason"]:
            return call
        assert time.monotonic() < deadline, f"the demo call never ended: {call}"
        await asyncio.sleep(0.5)


async def test_demo_call_talks_through_the_check_in_with_local_models(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    api_key = await create_api_key(database_url)
    async with (
        running_carecall(make_settings, database_url, log_level="INFO", **NO_KEYS) as live,
        httpx.AsyncClient(
            base_url=live.server.base_url,
            timeout=10,
            headers={"Authorization": f"Bearer {api_key}"},
        ) as api,
    ):
        started = time.monotonic()
        response = await api.post("/api/demo-calls")
        assert response.status_code == 202, response.text
        demo = response.json()
        assert demo["channel"] == "demo" and demo["to_number"] is None
        call = await _until_finished(api, demo["id"], timeout=240)
        elapsed = time.monotonic() - started

    turns = call["turns"]
    user = " ".join(t["text"].lower() for t in turns if t["role"] == "user")
    bot = [t["text"] for t in turns if t["role"] == "assistant"]
    print(f"demo call: {elapsed:.0f} s, {len(turns)} turns, ended {call['end_reason']}")
    for turn in turns:
        print(turn["role"], turn["latency_ms"], turn["text"])
    assert call["status"] == "completed" and call["channel"] == "demo"
    assert call["end_reason"].startswith("bot-hangup"), call["end_reason"]
    assert bot and "automated" in bot[0].lower()  # the greeting says what it is
    assert "fine" in user and "seven" in user and "breakfast" in user, user
    assert len(bot) >= 5, bot  # the guided check-in answered each step


async def test_a_demo_token_opens_no_phone_stream_and_a_phone_token_no_demo_stream(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'demo-door.db'}"
    api_key = await create_api_key(database_url)
    async with (
        running_carecall(make_settings, database_url) as live,
        httpx.AsyncClient(
            base_url=live.server.base_url,
            timeout=10,
            headers={"Authorization": f"Bearer {api_key}"},
        ) as api,
        httpx.AsyncClient(base_url=live.server.base_url, timeout=10) as webhooks,
    ):
        placed = await api.post("/api/calls", json={"to": "+14155550100"})
        assert placed.status_code == 201, placed.text
        call_id, call_sid = placed.json()["id"], placed.json()["twilio_sid"]
        path = f"/twilio/voice?call_id={call_id}"
        params = {"CallSid": call_sid, "CallStatus": "in-progress"}
        assert live.settings.webhook_url is not None
        from twilio.request_validator import RequestValidator

        signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(
            live.settings.webhook_url + path, params
        )
        twiml = await webhooks.post(path, data=params, headers={"X-Twilio-Signature": signature})
        stream = ET.fromstring(twiml.text).find("./Connect/Stream")
        assert stream is not None
        phone_params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        demo_token = DemoTokens(live.settings.session_secret.get_secret_value()).issue(call_id)
        port = live.server.port

        attempts = [
            # Twilio-signed, but with a demo token instead of the call's own: refused.
            SimulatedCaller(
                f"ws://127.0.0.1:{port}/ws",
                custom_parameters={"call_id": str(call_id), "token": demo_token},
                call_sid=call_sid,
                auth_token=TEST_AUTH_TOKEN,
                signed_url=stream.get("url", ""),
            ),
            # The demo door with a valid demo token for a phone call: refused (not a demo call).
            SimulatedCaller(
                f"ws://127.0.0.1:{port}/ws/demo",
                custom_parameters={"call_id": str(call_id), "token": demo_token},
                call_sid=call_sid,
            ),
            # The demo door with the phone call's own token: refused.
            SimulatedCaller(
                f"ws://127.0.0.1:{port}/ws/demo",
                custom_parameters=phone_params,
                call_sid=call_sid,
            ),
        ]
        for caller in attempts:
            await caller.connect()
            await caller.wait_until_closed(timeout=10)
            assert caller.close_code == 1008, (caller.ws_url, caller.close_code)
            assert caller.utterances == []
        # The real token, signed, still opens the phone call's stream.
        good = SimulatedCaller(
            f"ws://127.0.0.1:{port}/ws",
            custom_parameters=phone_params,
            call_sid=call_sid,
            auth_token=TEST_AUTH_TOKEN,
            signed_url=stream.get("url", ""),
        )
        await good.connect()
        await good.wait_for_bot_utterance(timeout=15)
        await good.hang_up()
        # And no demo call can be started by someone without the dashboard or an API key.
        assert (await webhooks.post("/api/demo-calls")).status_code in (401, 403)


async def test_a_live_demo_call_can_be_hung_up(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    api_key = await create_api_key(database_url)
    async with (
        running_carecall(make_settings, database_url) as live,
        httpx.AsyncClient(
            base_url=live.server.base_url,
            timeout=10,
            headers={"Authorization": f"Bearer {api_key}"},
        ) as api,
    ):
        response = await api.post("/api/demo-calls")
        assert response.status_code == 202, response.text
        call_id = response.json()["id"]
        deadline = time.monotonic() + 60
        while True:  # live, and the bot's greeting has been said
            call = (await api.get(f"/api/calls/{call_id}")).json()
            if call["status"] == "in-progress" and call["turns"]:
                break
            assert time.monotonic() < deadline, f"the demo call never got going: {call}"
            await asyncio.sleep(0.2)

        hung_up = await api.post(f"/api/calls/{call_id}/hangup")

        assert hung_up.status_code == 202, hung_up.text
        call = await _until_finished(api, call_id, timeout=30)
        again = await api.post(f"/api/calls/{call_id}/hangup")
    assert call["status"] == "completed" and call["end_reason"] == "operator-hangup", call
    assert call["turns"][0]["role"] == "assistant"
    assert again.status_code == 409


async def test_the_demo_door_makes_the_checks_of_every_media_stream(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """`/ws/demo` shares `/ws`'s handshake: a replayed start for a call whose stream runs is
    refused, and so is a stream past the limit of those waiting for their start."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'demo-checks.db'}"
    api_key = await create_api_key(database_url)
    async with (
        running_carecall(make_settings, database_url, max_pending_media_streams=1) as live,
        httpx.AsyncClient(
            base_url=live.server.base_url,
            timeout=10,
            headers={"Authorization": f"Bearer {api_key}"},
        ) as api,
    ):
        response = await api.post("/api/demo-calls")
        assert response.status_code == 202, response.text
        call_id = response.json()["id"]
        deadline = time.monotonic() + 60
        while (await api.get(f"/api/calls/{call_id}")).json()["status"] != "in-progress":
            assert time.monotonic() < deadline, "the demo call's stream never started"
            await asyncio.sleep(0.2)
        demo_url = f"ws://127.0.0.1:{live.server.port}/ws/demo"
        token = DemoTokens(live.settings.session_secret.get_secret_value()).issue(call_id)
        parameters = {"call_id": str(call_id), "token": token}

        replayed = SimulatedCaller(demo_url, custom_parameters=parameters)
        await replayed.connect()
        await replayed.wait_until_closed(timeout=10)
        assert replayed.close_code == 1008 and replayed.utterances == []

        async with websockets.connect(demo_url) as waiting:  # holds the one waiting place
            await asyncio.sleep(0.5)
            turned_away = SimulatedCaller(demo_url, custom_parameters=parameters)
            await turned_away.connect()
            await turned_away.wait_until_closed(timeout=10)
            assert turned_away.close_code == 1013
            assert waiting.close_code is None  # still waiting for its start
        assert (await api.post(f"/api/calls/{call_id}/hangup")).status_code == 202
        call = await _until_finished(api, call_id, timeout=30)
    assert call["end_reason"] == "operator-hangup"

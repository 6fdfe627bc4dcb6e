"""A red flag without a model, on the phone and in the demo call: the real server in local mode
(Whisper tiny.en, Piper, the guided check-in), a simulated Twilio caller saying "I fell in the
kitchen and I can't get up" in espeak-ng's voice over the Media Streams protocol. The reply to
that line is the care advice, never "didn't catch that", and the alert is raised for the call.
(A phone call with a model: `test_red_flag_e2e`; a talk in the browser, with and without one:
`tests/web/test_talk_red_flag_browser.py`.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from carecall.calls.demo import DEMO_NUMBER, DemoTokens
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import CallChannel
from carecall.persistence.repositories import CallRepository
from carecall.settings import Settings
from tests.e2e.harness import RunningCarecall, TwilioSide, create_api_key, running_carecall
from tests.fakes.twilio_caller import SimulatedCaller

pytestmark = pytest.mark.e2e

FALL = "I fell in the kitchen and I can't get up."
NOT_UNDERSTOOD = "didn't quite catch"


@dataclass
class LocalStack:
    live: RunningCarecall
    api: httpx.AsyncClient
    database_url: str


@pytest.fixture
async def stack(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[LocalStack]:
    """SQLite: the alert's storage is tested on both databases in tests/wellbeing."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"
    api_key = await create_api_key(database_url)
    async with running_carecall(
        make_settings, database_url, services="auto", openai_api_key=None, openai_base_url=None
    ) as live:
        assert live.settings.service_choice.llm is None
        async with httpx.AsyncClient(
            base_url=live.server.base_url,
            timeout=10,
            headers={"Authorization": f"Bearer {api_key}"},
        ) as api:
            yield LocalStack(live, api, database_url)


async def _reply_to_the_fall(api: httpx.AsyncClient, call_id: int) -> str:
    """The bot's turn after the caller's line about the fall, once it is stored."""
    deadline = time.monotonic() + 30
    while True:
        turns: list[dict[str, Any]] = (await api.get(f"/api/calls/{call_id}")).json()["turns"]
        fell = [i for i, t in enumerate(turns) if t["role"] == "user" and "fell" in t["text"]]
        after = [t for t in turns[fell[0] + 1 :] if t["role"] == "assistant"] if fell else []
        if after:
            return str(after[0]["text"])
        assert time.monotonic() < deadline, f"no reply to the fall was stored: {turns}"
        await asyncio.sleep(0.2)


async def _alert_for(api: httpx.AsyncClient, call_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        items = (await api.get("/api/alerts")).json()["items"]
        found = [a for a in items if a["call_id"] == call_id]
        if found:
            (alert,) = found
            return dict(alert)
        assert time.monotonic() < deadline, f"no alert for call {call_id}: {items}"
        await asyncio.sleep(0.2)


async def _until_the_bot_is_quiet(caller: SimulatedCaller) -> None:
    """Until the bot has spoken and then been quiet for 3 s (its sentences may come apart)."""
    await caller.wait_for_bot_utterance(timeout=45)
    while True:
        try:
            await caller.wait_for_bot_utterance(timeout=3)
        except TimeoutError:
            return


async def _say_the_fall_and_hang_up(caller: SimulatedCaller) -> None:
    """After the greeting, say the line; hang up once the bot has answered it (its answer is
    stored as the call ends)."""
    await _until_the_bot_is_quiet(caller)
    await caller.say(FALL)
    await _until_the_bot_is_quiet(caller)
    await caller.hang_up()


async def test_a_fall_on_a_phone_call_without_a_model_gets_the_advice_and_an_alert(
    stack: LocalStack,
) -> None:
    placed = await stack.api.post("/api/calls", json={"to": "+14155550100"})
    assert placed.status_code == 201, placed.text
    call_id, call_sid = placed.json()["id"], placed.json()["twilio_sid"]
    async with httpx.AsyncClient(base_url=stack.live.server.base_url, timeout=10) as webhooks:
        twilio = TwilioSide(stack.live.server, stack.live.settings, webhooks)
        await _say_the_fall_and_hang_up(await twilio.answer(call_id, call_sid))
    reply = await _reply_to_the_fall(stack.api, call_id)

    assert "9 1 1" in reply and NOT_UNDERSTOOD not in reply, reply
    alert = await _alert_for(stack.api, call_id)
    assert (alert["kind"], alert["category"], alert["senior_id"]) == ("red_flag", "fall", None)


async def test_a_fall_in_the_demo_call_gets_the_advice_and_an_alert(stack: LocalStack) -> None:
    # A demo call as the dashboard starts one, with the simulated senior saying the fall.
    engine = create_engine(stack.database_url)
    try:
        calls = CallRepository(create_session_factory(engine))
        call = await calls.create(DEMO_NUMBER, None, channel=CallChannel.DEMO)
    finally:
        await engine.dispose()
    token = DemoTokens(stack.live.settings.session_secret.get_secret_value()).issue(call.id)
    caller = SimulatedCaller(
        f"ws://127.0.0.1:{stack.live.server.port}/ws/demo",
        custom_parameters={"call_id": str(call.id), "token": token},
    )
    await caller.connect()
    await _say_the_fall_and_hang_up(caller)
    reply = await _reply_to_the_fall(stack.api, call.id)

    assert "9 1 1" in reply and NOT_UNDERSTOOD not in reply, reply
    alert = await _alert_for(stack.api, call.id)
    assert (alert["kind"], alert["category"], alert["senior_id"]) == ("red_flag", "fall", None)
    assert not [r for r in stack.live.twilio_http.requests if r.url.endswith("/Messages.json")]

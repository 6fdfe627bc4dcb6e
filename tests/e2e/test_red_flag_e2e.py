"""Red flags in a live call, end to end: the real server on loopback (on a test clock inside the
person's calling hours), the real Twilio SDK over a fake HTTP client, the fake OpenAI-compatible
server and a simulated Twilio caller. An urgent line raises the alert and texts the caregiver
within 2 seconds of the caller finishing it, the bot's very reply is told to address it (and to
offer the caregiver who takes calls), and "yes, connect me" has carecall phone them (the warm
hand-over: tests/e2e/test_handover_e2e.py).
A line only the model flags raises the alert too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from carecall.checkins.roster import CaregiverInput, ConsentInput, RosterService, SeniorInput
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.roster import SeniorRepository
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

pytestmark = pytest.mark.e2e


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, to keep CI's time in bounds: alerts and their texts are tested on both
    databases in tests/wellbeing."""
    return f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"


MARY = "+14155550100"
SUSAN = "+14155550190"  # texted
TOM = "+14155550191"  # phoned: the call can be put through to him
NINE_IN_CHICAGO = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@dataclass
class Stack:
    openai: FakeOpenAI
    twilio_http: FakeAsyncTwilioHttpClient
    api: httpx.AsyncClient
    twilio: TwilioSide


async def _add_mary(database_url: str, clock: FakeClock) -> None:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    try:
        roster = RosterService(SeniorRepository(create_session_factory(engine)), clock)
        mary = await roster.create(
            SeniorInput(
                name="Mary Jones",
                phone_number=MARY,
                timezone="America/Chicago",
                preferred_name="Molly",
                caregivers=[
                    CaregiverInput("Susan Jones", SUSAN, "daughter", "sms"),
                    CaregiverInput("Tom Jones", TOM, "son", "call"),
                ],
            )
        )
        await roster.record_consent(
            mary.id, ConsentInput("Mary Jones", "verbal"), recorded_by="e2e"
        )
    finally:
        await engine.dispose()


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], database_url: str) -> AsyncIterator[Stack]:
    api_key = await create_api_key(database_url)
    clock = FakeClock(NINE_IN_CHICAGO)
    await _add_mary(database_url, clock)
    async with running_carecall(make_settings, database_url, clock=clock) as live:
        base_url = live.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            yield Stack(
                live.openai, live.twilio_http, api, TwilioSide(live.server, live.settings, webhooks)
            )


def _texts_to(stack: Stack, number: str) -> list[dict[str, Any]]:
    return [
        r.data
        for r in stack.twilio_http.requests
        if r.method == "POST" and r.url.endswith("/Messages.json") and r.data.get("To") == number
    ]


async def _alerts(stack: Stack) -> list[dict[str, Any]]:
    response = await stack.api.get("/api/alerts")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_urgent_line_alerts_at_once_and_the_caregiver_is_phoned(stack: Stack) -> None:
    response = await stack.api.post("/api/calls", json={"to": MARY})
    assert response.status_code == 201, response.text
    call_id, call_sid = response.json()["id"], response.json()["twilio_sid"]
    caller = await stack.twilio.answer(call_id, call_sid)
    await caller.wait_for_bot_utterance(timeout=20)

    await caller.say(
        "I fell in the bathroom and I can't get up", announce=stack.openai.expect_utterance
    )
    finished = time.monotonic()
    while not (_texts_to(stack, SUSAN) and await _alerts(stack)):
        assert time.monotonic() - finished < 2.0, "no alert and text within 2 s of the line"
        await asyncio.sleep(0.05)
    alerted_after = time.monotonic() - finished
    (alert,) = await _alerts(stack)
    assert alert["kind"] == "red_flag" and alert["category"] == "fall"
    assert alert["detector"] == "rules" and alert["call_id"] == call_id
    (text,) = _texts_to(stack, SUSAN)
    assert "Molly" in text["Body"] and "911" in text["Body"] and "fell" in text["Body"].lower()
    print(f"alert and text {alerted_after * 1000:.0f} ms after the caller's last word")

    await caller.wait_for_bot_utterance(timeout=20)
    reply_request = stack.openai.chat_requests[-1]
    notes = [
        m["content"]
        for m in reply_request["messages"]
        if m["role"] == "system" and "Urgent" in str(m["content"])
    ]
    assert notes, "the reply to the urgent line was told to address it"
    assert "911" in notes[0] and "connect them to your son Tom" in notes[0]
    assert any(t["function"]["name"] == "connect_caregiver" for t in reply_request["tools"])

    await caller.say("Yes please connect me to Tom", announce=stack.openai.expect_utterance)
    deadline = time.monotonic() + 20
    while True:
        # The warm hand-over (tests/e2e/test_handover_e2e.py): Tom is phoned, Molly stays.
        rung = [
            r.data
            for r in stack.twilio_http.requests
            if r.url.endswith("/Calls.json") and r.data.get("To") == TOM
        ]
        if rung:
            break
        assert time.monotonic() < deadline, "Tom was never called"
        await asyncio.sleep(0.05)
    assert "Molly told me on our call just now" in rung[0]["Twiml"]
    assert "<Gather" in rung[0]["Twiml"]
    await caller.hang_up()
    call = await wait_for_call(stack.api, call_id, turns=4, end_reason="caller-hangup")
    assert [step["kind"] for step in call["steps"]][:1] == ["dialling"]


async def test_a_line_only_the_model_flags_raises_the_alert(stack: Stack) -> None:
    line = "Honestly everything feels pointless lately"
    stack.openai.red_flag_verdicts[line] = ("self_harm", "everything feels pointless")
    response = await stack.api.post("/api/calls", json={"to": MARY})
    call_id, call_sid = response.json()["id"], response.json()["twilio_sid"]
    caller = await stack.twilio.answer(call_id, call_sid)
    await caller.wait_for_bot_utterance(timeout=20)
    await caller.say(line, announce=stack.openai.expect_utterance)
    deadline = time.monotonic() + 10
    while not await _alerts(stack):
        assert time.monotonic() < deadline, "the model's red flag raised no alert"
        await asyncio.sleep(0.1)
    (alert,) = await _alerts(stack)
    assert (alert["category"], alert["detector"]) == ("self_harm", "llm")
    assert any(line in str(r["messages"]) for r in stack.openai.screening_requests)
    await caller.hang_up()

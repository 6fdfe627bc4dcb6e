"""Recorded calls, end to end: the real server on loopback, the fake OpenAI server and a
simulated Twilio caller. A call to someone whose consent includes recording, with "record
calls" on, leaves a file that decodes, lasts as long as the call, and has both sides in it (the
bot's greeting, the caller's answer); a call to someone who agreed to be called but not to be
recorded leaves nothing. SQLite only (the storage is tested on both databases in
tests/wellbeing/test_recordings.py)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile

from carecall.checkins.roster import ConsentInput, RosterService, SeniorInput
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.roster import SeniorRepository
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e

MARY = "+14155550100"
JOHN = "+14155550101"
NINE_IN_CHICAGO = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"


async def _add_people(database_url: str, clock: FakeClock) -> None:
    """Mary agreed to be called and recorded, and has "record calls" on; John agreed to be
    called only."""
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    try:
        roster = RosterService(SeniorRepository(create_session_factory(engine)), clock)
        for name, number, recorded in (("Mary Jones", MARY, True), ("John Doe", JOHN, False)):
            person = SeniorInput(name=name, phone_number=number, timezone="America/Chicago")
            senior = await roster.create(person)
            await roster.record_consent(
                senior.id, ConsentInput(name, "verbal", recording=recorded), recorded_by="e2e"
            )
            if recorded:
                person.record_calls = True
                await roster.update(senior.id, person)
    finally:
        await engine.dispose()


@dataclass
class Stack:
    openai: FakeOpenAI
    api: httpx.AsyncClient
    twilio: TwilioSide
    recordings: Path


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], database_url: str) -> AsyncIterator[Stack]:
    api_key = await create_api_key(database_url)
    clock = FakeClock(NINE_IN_CHICAGO)
    await _add_people(database_url, clock)
    async with running_carecall(make_settings, database_url, clock=clock) as live:
        base_url = live.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            twilio = TwilioSide(live.server, live.settings, webhooks)
            yield Stack(live.openai, api, twilio, live.settings.recordings_dir)


async def _call(stack: Stack, number: str) -> tuple[int, str]:
    response = await stack.api.post("/api/calls", json={"to": number})
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["twilio_sid"]


async def _recording(stack: Stack, call_id: int, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        recording = (await stack.api.get(f"/api/calls/{call_id}")).json()["recording"]
        if recording is not None and recording["state"] != "recording":
            return dict(recording)
        assert time.monotonic() < deadline, f"the recording never finished: {recording}"
        await asyncio.sleep(0.2)


def _rms(audio: np.ndarray, start: float, end: float, rate: int) -> float:
    part = audio[max(0, round(start * rate)) : round(end * rate)].astype(np.float64)
    assert len(part), (start, end)
    return float(np.sqrt(np.mean(part**2)))


async def test_a_consented_call_is_recorded_as_it_was_heard(stack: Stack) -> None:
    call_id, call_sid = await _call(stack, MARY)
    caller = await stack.twilio.answer(call_id, call_sid)
    greeting = await caller.wait_for_bot_utterance(timeout=20)
    assert greeting.audio_seconds > 2
    greeting_heard = (greeting.started_at, greeting.started_at + greeting.audio_seconds)

    said_from = time.monotonic()
    await caller.say("I slept well last night", announce=stack.openai.expect_utterance)
    said_until = time.monotonic()
    await caller.wait_for_bot_utterance(timeout=20)
    await caller.hang_up()
    hung_up = time.monotonic()
    await wait_for_call(stack.api, call_id, turns=3, end_reason="caller-hangup")

    recording = await _recording(stack, call_id)
    assert recording["state"] == "ready" and recording["format"] == "opus"
    assert recording["error"] is None and recording["dropped_seconds"] == 0
    files = list(stack.recordings.iterdir())
    assert len(files) == 1 and files[0].suffix == ".ogg"

    served = await stack.api.get(recording["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "audio/ogg"
    audio, rate = soundfile.read(io.BytesIO(served.content), dtype="int16")
    assert rate == 8000
    seconds = len(audio) / rate
    assert seconds == pytest.approx(recording["seconds"], abs=0.05)
    # As long as the call: from the stream's start (once the call is set up on the server, a
    # moment after the caller connected) to the hang-up.
    assert seconds == pytest.approx(hung_up - caller.connected_at, abs=0.5)

    # Both sides, where they were heard (the windows are kept well inside each stretch).
    start = caller.connected_at + (hung_up - caller.connected_at - seconds)
    bot = _rms(audio, greeting_heard[0] - start + 0.5, greeting_heard[1] - start - 0.5, rate)
    person = _rms(audio, said_from - start + 0.4, said_until - start - 0.4, rate)
    assert bot > 1000, "the bot's greeting is in the recording"
    assert person > 1000, "the caller's answer is in the recording"
    quiet = _rms(audio, greeting_heard[1] - start + 0.15, said_from - start - 0.1, rate)
    assert quiet < bot / 10, "between the two, the line was quiet"


async def test_a_person_who_did_not_agree_to_recording_is_never_recorded(stack: Stack) -> None:
    call_id, call_sid = await _call(stack, JOHN)
    caller = await stack.twilio.answer(call_id, call_sid)
    await caller.wait_for_bot_utterance(timeout=20)
    await caller.say("I slept well last night", announce=stack.openai.expect_utterance)
    await caller.wait_for_bot_utterance(timeout=20)
    await caller.hang_up()

    call = await wait_for_call(stack.api, call_id, turns=3, end_reason="caller-hangup")
    assert call["recording"] is None
    assert (await stack.api.get(f"/api/calls/{call_id}/recording")).status_code == 404
    assert not stack.recordings.exists(), "not even the folder: nothing was ever recorded"

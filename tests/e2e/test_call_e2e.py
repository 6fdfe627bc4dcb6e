"""A whole phone call, end to end: the real server on loopback, the real Twilio SDK over a fake
HTTP client, a fake OpenAI-compatible server, and a simulated Twilio caller speaking espeak-ng
speech over the Media Streams protocol in real time. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest

from carecall.bot.prompts import DEFAULT_GOODBYE, FALLBACK_LINE, IDLE_LINES
from carecall.settings import Settings
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

pytestmark = pytest.mark.e2e


@dataclass
class Stack:
    openai: FakeOpenAI
    twilio_http: FakeAsyncTwilioHttpClient
    api: httpx.AsyncClient
    twilio: TwilioSide


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], database_url: str) -> AsyncIterator[Stack]:
    api_key = await create_api_key(database_url)
    async with running_carecall(make_settings, database_url, log_level="INFO") as live:
        base_url = live.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            twilio = TwilioSide(live.server, live.settings, webhooks)
            yield Stack(live.openai, live.twilio_http, api, twilio)


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _start_call(stack: Stack) -> tuple[int, str]:
    response = await stack.api.post("/api/calls", json={"to": "+14155550100"})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["twilio_sid"]


async def test_a_full_check_in_call(stack: Stack) -> None:
    call_id, call_sid = await _start_call(stack)
    caller = await stack.twilio.answer(call_id, call_sid)

    greeting = await caller.wait_for_bot_utterance(timeout=20)
    assert greeting.audio_seconds > 2
    said = ["I slept well last night", "I had porridge for breakfast"]
    for line in said:
        await caller.say(line, announce=stack.openai.expect_utterance)
        answer = await caller.wait_for_bot_utterance(timeout=20)
        assert answer.audio_seconds > 1
    await caller.say("Okay, goodbye", announce=stack.openai.expect_utterance)
    await caller.wait_until_closed(timeout=20)  # the bot said goodbye and hung up
    await stack.twilio.complete(call_id, call_sid, duration=40)

    call = await wait_for_call(stack.api, call_id, turns=7, end_reason="bot-hangup")
    assert call["status"] == "completed"
    assert call["duration_seconds"] == 40
    assert call["answered_at"] and call["ended_at"]
    turns = call["turns"]
    assert [t["sequence"] for t in turns] == list(range(1, 8))
    assert [t["role"] for t in turns] == ["assistant", "user"] * 3 + ["assistant"]
    assert "automated assistant" in turns[0]["text"] and "on behalf of" in turns[0]["text"]
    assert [turns[1]["text"], turns[3]["text"], turns[5]["text"]] == [*said, "Okay, goodbye"]
    assert said[0] in turns[2]["text"] and said[1] in turns[4]["text"]
    assert turns[6]["text"] == DEFAULT_GOODBYE
    assert not any(t["interrupted"] for t in turns)
    for answer_turn in (turns[2], turns[4], turns[6]):
        assert answer_turn["latency_ms"] is not None and 0 < answer_turn["latency_ms"] < 5000

    # The bot ended the call through Twilio's REST API.
    hangups = [r for r in stack.twilio_http.requests if r.url.endswith(f"/Calls/{call_sid}.json")]
    assert hangups and hangups[-1].data.get("Status") == "completed"
    # The caller got a well-formed stream. (Audio gaps depend on machine load: they are
    # measured by bench/calls.py, not asserted here.)
    assert caller.protocol_errors == []
    assert len(caller.marks_echoed) >= 7  # a playback mark per sentence, echoed once heard
    # The model saw the senior-friendly prompt and the end_call tool.
    first_chat = stack.openai.chat_requests[0]
    assert "one question at a time" in first_chat["messages"][0]["content"]
    assert any(t["function"]["name"] == "end_call" for t in first_chat["tools"])


async def test_barge_in_and_a_failing_llm(stack: Stack) -> None:
    call_id, call_sid = await _start_call(stack)
    caller = await stack.twilio.answer(call_id, call_sid)

    # Talk over the greeting: the bot stops (Twilio `clear`) and answers. Audio is sent ahead
    # of playback: 3.5 s in, the caller has heard "Hello!" while the second sentence has been
    # sent but not yet played, so only "Hello!" may be stored (Twilio marks say what was heard).
    await _until(lambda: caller.first_media_at is not None, timeout=20)
    await asyncio.sleep(3.5)
    await caller.say("Sorry, who is calling?", announce=stack.openai.expect_utterance)
    answer = await caller.wait_for_bot_utterance(timeout=20)
    assert caller.clears_received >= 1
    assert "who is calling" in stack.openai.chat_requests[-1]["messages"][-1]["content"]
    assert answer.audio_seconds > 1

    # The model fails on the next turn, its retries too: the caller hears the fallback line,
    # the call goes on.
    stack.openai.fail_next_chats(3)
    await caller.say("I feel a bit tired", announce=stack.openai.expect_utterance)
    await caller.wait_for_bot_utterance(timeout=20)
    await caller.say("Are you still there", announce=stack.openai.expect_utterance)
    await caller.wait_for_bot_utterance(timeout=20)
    await caller.hang_up()

    call = await wait_for_call(stack.api, call_id, turns=7, end_reason="caller-hangup")
    turns = call["turns"]
    assert turns[0]["role"] == "assistant" and turns[0]["interrupted"]
    assert turns[0]["text"] == "Hello!"
    texts = [t["text"] for t in turns]
    assert texts[1] == "Sorry, who is calling?"
    assert texts[3] == "I feel a bit tired" and texts[4] == FALLBACK_LINE
    assert texts[5] == "Are you still there" and "Are you still there" in texts[6]
    assert call["error"] and "Fake upstream failure" in call["error"]
    assert call["end_reason"] == "caller-hangup"
    assert caller.protocol_errors == []


HOSTILE_MESSAGES: list[str | bytes] = [
    "this is not json",
    b"\x00\xff binary frame",
    '{"event": "media", "media": {"payload": "@@@ not base64 @@@"}}',
    '{"event": "media", "media": {"payload": 12345}}',
    '{"event": "media"}',
    '{"event": "surprise", "data": 1}',
    '{"event": "dtmf", "dtmf": {}}',
    '{"event": "start", "start": {}}',
    '["an", "array"]',
    '{"event": "media", "media": {"payload": "' + "A" * 50_000 + '"}}',
]


async def test_hostile_frames_harm_neither_this_call_nor_another(stack: Stack) -> None:
    first_id, first_sid = await _start_call(stack)
    second_id, second_sid = await _start_call(stack)
    hostile = await stack.twilio.answer(first_id, first_sid)
    other = await stack.twilio.answer(second_id, second_sid)
    await hostile.wait_for_bot_utterance(timeout=20)
    await other.wait_for_bot_utterance(timeout=20)

    for message in HOSTILE_MESSAGES:
        await hostile.send_raw(message)
    await hostile.say("My garden is lovely today", announce=stack.openai.expect_utterance)
    answer = await hostile.wait_for_bot_utterance(timeout=20)
    assert answer.audio_seconds > 1
    await other.say("I watched the birds", announce=stack.openai.expect_utterance)
    await other.wait_for_bot_utterance(timeout=20)
    await hostile.hang_up()
    await other.hang_up()

    hostile_call = await wait_for_call(stack.api, first_id, turns=3, end_reason="caller-hangup")
    other_call = await wait_for_call(stack.api, second_id, turns=3, end_reason="caller-hangup")
    # While the hostile frames were sent the callers said nothing for a while: a gentle
    # "Take your time" may have come in between (`processors.idle_prompts`).
    hostile_said = [t["text"] for t in hostile_call["turns"] if t["text"] not in IDLE_LINES]
    other_said = [t["text"] for t in other_call["turns"] if t["text"] not in IDLE_LINES]
    assert hostile_said[1] == "My garden is lovely today"
    assert "My garden is lovely today" in hostile_said[2]
    assert other_said[1] == "I watched the birds"
    assert "I watched the birds" in other_said[2]
    assert hostile.protocol_errors == [] and other.protocol_errors == []


async def test_hang_up_from_the_dashboard_ends_the_call_through_twilio(stack: Stack) -> None:
    call_id, call_sid = await _start_call(stack)
    caller = await stack.twilio.answer(call_id, call_sid)
    await caller.wait_for_bot_utterance(timeout=20)

    hung_up = await stack.api.post(f"/api/calls/{call_id}/hangup")

    assert hung_up.status_code == 202, hung_up.text
    ended = [r for r in stack.twilio_http.requests if r.url.endswith(f"/Calls/{call_sid}.json")]
    assert [r.data for r in ended if r.method == "POST"] == [{"Status": "completed"}]
    # Twilio ends the call: the media stream stops, then the final status callback.
    await caller.hang_up()
    await stack.twilio.complete(call_id, call_sid, duration=9)
    call = await wait_for_call(stack.api, call_id, turns=1, end_reason="operator-hangup")
    assert call["status"] == "completed" and call["channel"] == "phone"
    again = await stack.api.post(f"/api/calls/{call_id}/hangup")
    assert again.status_code == 409
    assert again.json() == {"detail": "This call has already ended."}

"""Turn-taking end to end, through the real server, the fake OpenAI and the simulated Twilio
caller: a pause mid-sentence is waited for, a prepared reply is withdrawn when the caller goes
on, backchannels don't stop the bot but a real interruption does, and a silent caller is
prompted gently before the bot says goodbye. Timings are the benchmark's (`bench.turns`);
these tests check what is heard, asked and stored. SQLite only: what the turns store is
tested on both databases in tests/persistence."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from carecall.bot.prompts import IDLE_GOODBYE, IDLE_LINES
from carecall.settings import Settings
from tests.e2e.harness import (
    RunningCarecall,
    TwilioSide,
    create_api_key,
    running_carecall,
    wait_for_call,
)
from tests.fakes.speech import espeak_pcm
from tests.fakes.twilio_caller import SimulatedCaller

pytestmark = pytest.mark.e2e


@dataclass
class Live:
    running: RunningCarecall
    api: httpx.AsyncClient
    twilio: TwilioSide

    async def call(self) -> tuple[int, SimulatedCaller]:
        response = await self.api.post("/api/calls", json={"to": "+14155550100"})
        assert response.status_code == 201, response.text
        call_id, call_sid = response.json()["id"], response.json()["twilio_sid"]
        return call_id, await self.twilio.answer(call_id, call_sid)

    async def say(self, caller: SimulatedCaller, text: str) -> float:
        """Say ``text``; return when its last frame was sent."""
        await caller.say(text, announce=self.running.openai.expect_utterance)
        return time.monotonic()

    async def say_at_once(self, caller: SimulatedCaller, text: str, voice: bytes) -> float:
        """Say ``text`` from speech made beforehand (no time lost making it now)."""
        self.running.openai.expect_utterance(text)
        await caller.say_pcm(voice)
        return time.monotonic()

    def chats_answering(self, words: str) -> list[dict[str, Any]]:
        return [
            body for body in self.running.openai.chat_requests if _last_user_text(body) == words
        ]


def _last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1]["content"]).strip() if users else ""


@pytest.fixture
async def live(make_settings: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[Live]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}"
    api_key = await create_api_key(database_url)
    async with running_carecall(make_settings, database_url, log_level="INFO") as running:
        base_url = running.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            yield Live(running, api, TwilioSide(running.server, running.settings, webhooks))


async def test_a_pause_mid_sentence_is_waited_for_and_the_whole_sentence_answered(
    live: Live,
) -> None:
    call_id, caller = await live.call()
    await caller.wait_for_bot_utterance(timeout=20)  # the greeting
    heard_before = len(caller.utterances)

    await live.say(caller, "I went to the shop and")
    await asyncio.sleep(1.6)  # an older caller searching for the next words
    finished_at = await live.say(caller, "bought some milk.")
    answer = await caller.wait_for_bot_utterance(timeout=15)

    # Nothing was said into the pause: the first bot audio since the greeting is the answer,
    # and it started after the caller had finished.
    assert caller.utterances[heard_before] is answer
    assert answer.started_at > finished_at
    # No reply was prepared for the fragment, and the one reply answers the whole sentence.
    assert live.chats_answering("I went to the shop and") == []
    assert len(live.chats_answering("I went to the shop and bought some milk.")) == 1
    await caller.hang_up()

    call = await wait_for_call(live.api, call_id, turns=3, end_reason="caller-hangup")
    user_turns = [t["text"] for t in call["turns"] if t["role"] == "user"]
    assert user_turns == ["I went to the shop and bought some milk."]
    assert "I went to the shop and bought some milk" in call["turns"][2]["text"]


async def test_a_prepared_reply_is_withdrawn_when_the_caller_goes_on(live: Live) -> None:
    call_id, caller = await live.call()
    await caller.wait_for_bot_utterance(timeout=20)
    heard_before = len(caller.utterances)

    # No full stop: carecall can't tell, prepares a reply, and waits a little longer
    # (0.25 s for the VAD, then 0.8 s); they go on before that wait is over.
    rest = await asyncio.to_thread(espeak_pcm, "but my back hurts.", 8000)
    await live.say(caller, "I slept well")  # its last 0.35 s are silent: the pause
    finished_at = await live.say_at_once(caller, "but my back hurts.", rest)
    answer = await caller.wait_for_bot_utterance(timeout=15)

    # The reply to "I slept well" was asked for, and never heard: the first bot audio since
    # the greeting answers the whole turn.
    assert len(live.chats_answering("I slept well")) == 1
    assert caller.utterances[heard_before] is answer and answer.started_at > finished_at
    [final] = live.chats_answering("I slept well but my back hurts.")
    # Nothing of the withdrawn reply is in what the model was told.
    assert not any(
        "I slept well." in str(m.get("content"))
        for m in final["messages"]
        if m["role"] == "assistant"
    )
    await caller.hang_up()

    call = await wait_for_call(live.api, call_id, turns=3, end_reason="caller-hangup")
    texts = [(t["role"], t["text"]) for t in call["turns"]]
    assert texts[1] == ("user", "I slept well but my back hurts.")
    assert texts[2][0] == "assistant" and "I slept well but my back hurts" in texts[2][1]
    assert len(texts) == 3  # the withdrawn reply left no turn


async def test_backchannels_do_not_stop_the_bot_and_a_real_interruption_does(
    live: Live,
) -> None:
    call_id, caller = await live.call()
    # While the greeting plays, the caller murmurs along.
    await asyncio.wait_for(_until(lambda: caller.first_media_at is not None), 20)
    await asyncio.sleep(1.0)
    await live.say(caller, "Mm-hm.")
    # The bot fell silent at the murmur's first sound (its audio held: one `clear`), and took
    # its sentence up again once the words were only "mm-hm".
    greeting = await caller.wait_for_bot_utterance(timeout=20)
    assert not greeting.interrupted and caller.clears_received == 1
    assert greeting.audio_seconds > 1.0
    assert live.chats_answering("Mm-hm.") == []

    # A long answer, and the caller stops it: the bot goes quiet at once (Twilio `clear`).
    await live.say(caller, "I had a lovely long walk in the park with my daughter and her dog.")
    await asyncio.wait_for(_until(lambda: caller._current is not None), 15)
    await asyncio.sleep(1.0)
    await live.say(caller, "Wait, sorry?")
    await asyncio.wait_for(_until(lambda: caller.clears_received >= 2), 5)
    await caller.wait_for_bot_utterance(timeout=15)  # the answer to "Wait, sorry?"
    await caller.hang_up()

    call = await wait_for_call(live.api, call_id, turns=5, end_reason="caller-hangup")
    turns = call["turns"]
    assert turns[0]["role"] == "assistant" and turns[0]["backchannels"] == "Mm-hm."
    assert [t["text"] for t in turns if t["role"] == "user"] == [
        "I had a lovely long walk in the park with my daughter and her dog.",
        "Wait, sorry?",
    ]
    assert turns[2]["interrupted"]


async def test_a_silent_caller_is_prompted_gently_before_the_bot_says_goodbye(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'idle.db'}"
    api_key = await create_api_key(database_url)
    async with (
        running_carecall(
            make_settings, database_url, log_level="INFO", idle_prompt_seconds=2.0
        ) as running,
        httpx.AsyncClient(
            base_url=running.server.base_url,
            timeout=10,
            headers={"Authorization": f"Bearer {api_key}"},
        ) as api,
        httpx.AsyncClient(base_url=running.server.base_url, timeout=10) as webhooks,
    ):
        live = Live(running, api, TwilioSide(running.server, running.settings, webhooks))
        call_id, caller = await live.call()
        await caller.wait_for_bot_utterance(timeout=20)  # the greeting; then nothing
        await caller.wait_for_bot_utterance(timeout=10)  # "Take your time…"
        # An answer starts the count again: two more prompts before the goodbye.
        await live.say(caller, "Sorry, I was making tea.")
        await caller.wait_for_bot_utterance(timeout=10)
        for _ in range(3):  # "Take your time…", "Are you still there?…", the goodbye
            await caller.wait_for_bot_utterance(timeout=10)
        await caller.wait_until_closed(timeout=15)

        call = await wait_for_call(api, call_id, turns=7, end_reason="bot-hangup")
        texts = [t["text"] for t in call["turns"]]
        assert texts[1] == IDLE_LINES[0]
        assert texts[2] == "Sorry, I was making tea."
        assert texts[4:] == [*IDLE_LINES, IDLE_GOODBYE]
        assert [t["role"] for t in call["turns"]] == ["assistant", "assistant", "user"] + [
            "assistant"
        ] * 4
        assert call["end_reason"] == "bot-hangup: no response"


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 (the caller's state has no event to wait on)
        await asyncio.sleep(0.02)

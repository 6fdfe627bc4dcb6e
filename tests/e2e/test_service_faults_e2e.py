"""A call through a service outage, end to end: the fake OpenAI's speech-to-text hangs, its
model fails with 500s, then hangs, then its circuit is open, then text-to-speech hangs, then
all is well again. Every
caller line gets something audible within 3 s of the caller's last word (measured at the
simulated caller: the end of its speech to the first bot audio it receives), the call goes
on, and after the outage the bot answers normally again. Then, with the default turn-taking
(0.65–1.05 s from the caller's last word to the end of their turn), a hung model and a hung voice:
a short "Mm-hmm." from memory 2.2 s after the last word, then the fallback line, never 3 s
without bot audio. SQLite only: the database plays no part in this."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.calls import voice_seconds
from carecall.bot.circuit import CircuitState
from carecall.bot.prompts import FALLBACK_LINE
from carecall.settings import Settings
from tests.e2e.harness import (
    RunningCarecall,
    TwilioSide,
    create_api_key,
    running_carecall,
    wait_for_call,
)
from tests.fakes.twilio_caller import FRAME_SECONDS, SimulatedCaller, _speech_frames

pytestmark = pytest.mark.e2e

SILENCE_LIMIT = 3.0
FAST_TURNS: dict[str, Any] = {
    # Turn-taking as short as the settings allow, so the end of the caller's speech and the
    # end of their turn are about half a second apart and the 3 s can be measured from the
    # caller's last word (with the defaults the turn ends 0.4–2.75 s after it, by its words).
    "vad_stop_seconds": 0.3,
    "turn_pause_complete_seconds": 0.15,
    "user_turn_pause_seconds": 0.3,
    "reply_deadline_seconds": 2.0,
    # The fallback line alone (the hold cue before it is the next test's).
    "hold_cue_seconds": 0,
    "circuit_failure_threshold": 4,
    "circuit_cooldown_seconds": 10.0,
}


@pytest.fixture
async def live(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[tuple[RunningCarecall, httpx.AsyncClient, TwilioSide]]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'faults.db'}"
    api_key = await create_api_key(database_url)
    async with running_carecall(
        make_settings, database_url, log_level="INFO", **FAST_TURNS
    ) as running:
        base_url = running.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            yield running, api, TwilioSide(running.server, running.settings, webhooks)


async def _turn(
    caller: SimulatedCaller, running: RunningCarecall, line: str
) -> tuple[float, float]:
    """Say ``line``; return the silence from its last word to the bot's first audio, and how
    long the bot then spoke."""
    await caller.say(line, announce=running.openai.expect_utterance)
    said_at = time.monotonic()
    answer = await caller.wait_for_bot_utterance(timeout=15)
    return answer.started_at - said_at, answer.audio_seconds


async def test_the_caller_never_waits_in_silence_through_an_outage(
    live: tuple[RunningCarecall, httpx.AsyncClient, TwilioSide],
) -> None:
    running, api, twilio = live
    openai = running.openai
    breakers = running.server.app.state.carecall.service_clients.breakers
    response = await api.post("/api/calls", json={"to": "+14155550100"})
    assert response.status_code == 201, response.text
    call_id, call_sid = response.json()["id"], response.json()["twilio_sid"]
    caller = await twilio.answer(call_id, call_sid)
    await caller.wait_for_bot_utterance(timeout=20)  # the greeting
    assert any(r["input"] == FALLBACK_LINE for r in openai.tts_requests)  # made at start

    silences: dict[str, float] = {}
    openai.outage("transcription", "hang")
    silences["speech-to-text hangs"], _ = await _turn(caller, running, "Can you hear me")
    openai.outage("transcription", None)
    openai.reset()  # that line's audio was lost with its request: forget what it said
    openai.outage("chat", "error", status=500)
    silences["model 500s (retried, then the line)"], _ = await _turn(caller, running, "I had toast")
    assert openai.outage_requests["chat"] == 3  # tried three times within the budget
    openai.outage("chat", "hang")
    silences["model hangs (4th failure: circuit opens)"], _ = await _turn(
        caller, running, "The weather is nice"
    )
    assert breakers.llm.state is CircuitState.OPEN
    asked = openai.outage_requests["chat"]
    silences["circuit open"], _ = await _turn(caller, running, "I went for a walk")
    assert openai.outage_requests["chat"] == asked  # the model was not even asked

    openai.outage("chat", None)
    await asyncio.sleep(breakers.llm.trial_in())  # the cool-down: the next turn is a trial
    openai.outage("speech", "hang")
    silences["voice hangs (the model's trial answers)"], _ = await _turn(
        caller, running, "Are you there"
    )
    assert breakers.llm.state is CircuitState.CLOSED
    assert openai.outage_requests["speech"] >= 1

    openai.outage("speech", None)
    silences["recovered"], spoken = await _turn(caller, running, "I feel much better now")
    assert spoken > 2.0  # a whole answer, not the short fallback line
    await caller.hang_up()

    print("silence from the caller's last word to the bot's first audio:")
    for what, seconds in silences.items():
        print(f"  {what}: {seconds:.2f} s")
    assert max(silences.values()) < SILENCE_LIMIT, silences
    call = await wait_for_call(api, call_id, turns=4, end_reason="caller-hangup")
    texts = [t["text"] for t in call["turns"]]
    assert texts.count(FALLBACK_LINE) == 5
    assert "Can you hear me" not in texts  # never transcribed
    assert "I feel much better now" in texts[-1]  # the model answered the last line itself
    assert caller.protocol_errors == []


async def _heard_after(
    caller: SimulatedCaller, running: RunningCarecall, line: str
) -> list[tuple[float, float, float]]:
    """Say ``line``; return what the caller heard until an utterance longer than a second
    (an answer or the fallback line): (start, end, audio seconds) of each, in seconds from the
    caller's last word (the end of the voice in the audio sent, not of its trailing silence)."""
    await caller.say(line, announce=running.openai.expect_utterance)
    frames = _speech_frames(line)  # what was just sent: the voice, then a little silence
    said_at = time.monotonic() - (len(frames) * FRAME_SECONDS - voice_seconds(frames))
    heard: list[tuple[float, float, float]] = []
    while not heard or heard[-1][2] <= 1.0:
        utterance = await caller.wait_for_bot_utterance(timeout=15)
        heard.append(
            (utterance.started_at - said_at, utterance.ended_at - said_at, utterance.audio_seconds)
        )
    return heard


def _longest_silence(heard: list[tuple[float, float, float]]) -> float:
    """The longest stretch without bot audio from the caller's last word on."""
    silences = [heard[0][0]]
    silences += [start - end for (_, end, _), (start, _, _) in itertools.pairwise(heard)]
    return max(silences)


async def test_with_the_default_turn_taking_a_slow_answer_is_bridged_by_a_cue(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # The defaults end the turn 0.65–1.05 s after the caller's last word (2.75 s mid-clause),
    # and give the answer 2.5 s after that: without the cue a hung model or voice would mean
    # over 3 s of silence.
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'cue.db'}"
    api_key = await create_api_key(database_url)
    async with (
        running_carecall(make_settings, database_url, log_level="INFO") as running,
        httpx.AsyncClient(
            base_url=running.server.base_url,
            timeout=10,
            headers={"Authorization": f"Bearer {api_key}"},
        ) as api,
        httpx.AsyncClient(base_url=running.server.base_url, timeout=10) as webhooks,
    ):
        settings = running.settings
        assert (settings.vad_stop_seconds, settings.user_turn_pause_seconds) == (0.25, 0.8)
        assert (settings.reply_deadline_seconds, settings.hold_cue_seconds) == (2.5, 2.2)
        openai = running.openai
        response = await api.post("/api/calls", json={"to": "+14155550100"})
        assert response.status_code == 201, response.text
        call_id, call_sid = response.json()["id"], response.json()["twilio_sid"]
        caller = await TwilioSide(running.server, settings, webhooks).answer(call_id, call_sid)
        await caller.wait_for_bot_utterance(timeout=20)  # the greeting

        heard: dict[str, list[tuple[float, float, float]]] = {}
        openai.outage("chat", "hang")
        heard["model hangs"] = await _heard_after(caller, running, "The weather is nice")
        openai.outage("chat", None)
        openai.outage("speech", "hang")
        heard["voice hangs"] = await _heard_after(caller, running, "I went for a walk")
        openai.outage("speech", None)
        heard["all well"] = await _heard_after(caller, running, "I feel much better now")
        await caller.hang_up()

        print("what the caller heard, seconds from their last word (start, end, audio):")
        for what, stretches in heard.items():
            print(f"  {what}: {[tuple(round(x, 2) for x in s) for s in stretches]}")
        for what in ("model hangs", "voice hangs"):
            cue, fallback = heard[what]
            assert 2.1 <= cue[0] < SILENCE_LIMIT, (what, cue)  # "Mm-hmm." first
            assert cue[2] < 1.0 < fallback[2], (what, heard[what])  # then the fallback line
            assert _longest_silence(heard[what]) < SILENCE_LIMIT, (what, heard[what])
        (answer,) = heard["all well"]  # an answer in time: no cue before it
        assert answer[0] < 2.1 and answer[2] > 2.0, answer

        call = await wait_for_call(api, call_id, turns=7, end_reason="caller-hangup")
        texts = [t["text"] for t in call["turns"]]
        assert texts.count(FALLBACK_LINE) == 2, texts
        assert not any("Mm-hmm" in text for text in texts), texts  # the cue is not a turn
        assert "I feel much better now" in texts[-1]
        assert caller.protocol_errors == []

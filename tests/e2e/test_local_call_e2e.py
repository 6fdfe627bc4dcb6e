"""A phone call with no OpenAI at all: the real server in local mode (no OPENAI_API_KEY, no
OPENAI_BASE_URL: Whisper tiny.en, Piper and the guided check-in), the Twilio SDK over the fake
HTTP client, and the simulated Twilio caller speaking espeak-ng speech in real time. The caller
answers each question, the bot says goodbye and hangs up through Twilio's REST API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from carecall.settings import Settings
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call

pytestmark = pytest.mark.e2e

ANSWERS = (
    "I am fine, thank you.",
    "I slept about eight hours.",
    "Yes, I had some toast.",
    "Yes, I took my pills.",
    "My knee hurts a little.",
    "No, that is all. Goodbye.",
)


async def test_a_phone_call_in_local_mode_runs_the_guided_check_in(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'local.db'}"
    api_key = await create_api_key(database_url)
    async with running_carecall(
        make_settings,
        database_url,
        log_level="INFO",
        services="auto",
        openai_api_key=None,
        openai_base_url=None,  # no model anywhere: the guided check-in answers
    ) as live:
        choice = live.settings.service_choice
        assert choice.speech == "local" and choice.llm is None, choice
        base_url = live.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            twilio = TwilioSide(live.server, live.settings, webhooks)
            placed = await api.post("/api/calls", json={"to": "+14155550100"})
            assert placed.status_code == 201, placed.text
            call_id, call_sid = placed.json()["id"], placed.json()["twilio_sid"]
            caller = await twilio.answer(call_id, call_sid)
            greeting = await caller.wait_for_bot_utterance(timeout=30)
            assert greeting.audio_seconds > 2
            for answer in ANSWERS:
                await caller.say(answer)
                if answer != ANSWERS[-1]:
                    await caller.wait_for_bot_utterance(timeout=30)
            await caller.wait_until_closed(timeout=45)  # the bot hung up after its goodbye
            await twilio.complete(call_id, call_sid, duration=60)
            call = await wait_for_call(
                api, call_id, turns=2 * len(ANSWERS) + 1, end_reason="bot-hangup", timeout=30
            )

    for turn in call["turns"]:
        print(turn["role"], turn["latency_ms"], turn["text"])
    assert call["channel"] == "phone" and call["status"] == "completed"
    assert not caller.protocol_errors, caller.protocol_errors
    turns = call["turns"]
    assert [t["role"] for t in turns[:3]] == ["assistant", "user", "assistant"]
    assert "automated" in turns[0]["text"].lower()
    said = " ".join(t["text"].lower() for t in turns if t["role"] == "user")
    # Whisper tiny.en hears espeak-ng's robot voice through an 8 kHz line: not every word
    # survives ("I slept about eight hours" came out as nonsense), these do.
    assert "fine" in said and "knee" in said and "goodbye" in said, said
    replies = [t for t in turns if t["role"] == "assistant"][1:]
    assert all(t["latency_ms"] is not None and t["latency_ms"] < 10_000 for t in replies), replies
    hangups = [r for r in live.twilio_http.requests if r.url.endswith(f"/Calls/{call_sid}.json")]
    assert hangups and hangups[-1].data.get("Status") == "completed"

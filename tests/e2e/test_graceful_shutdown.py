"""Graceful shutdown of a real `uvicorn server:app` process (PostgreSQL of the test's own, the
fake Twilio REST API and the fake OpenAI on loopback, a simulated caller on the media stream).

SIGTERM while two calls run: `/readyz` says 503 at once, `POST /api/calls` is refused (503,
saying why) and so is a new media stream (close 1013); the calls go on. One ends by itself
within the (test's short) grace and hears no forced goodbye; in the other, when the grace is
over, the bot says its shutdown goodbye and hangs up through Twilio. Every turn and both end
reasons are stored, and the process exits 0."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.calls import Service
from carecall.bot.prompts import IDLE_LINES, SHUTDOWN_GOODBYE
from tests.e2e.instances import TO, Instance, backing

pytestmark = pytest.mark.e2e

GRACE_SECONDS = 10.0


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    async with (
        backing("carecall_shutdown", tmp_path) as shared,
        shared.instance("shutdown", SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS)) as instance,
    ):
        yield instance
        errors = instance.logged_errors()
        assert not errors, "the server logged errors:\n" + "\n".join(errors)


async def exit_code(server: Service, timeout: float) -> int:
    return await asyncio.wait_for(server.process.wait(), timeout)


async def test_sigterm_drains_the_instance_and_ends_running_calls_politely(
    instance: Instance,
) -> None:
    # Two calls run: one ends by itself within the grace, the other is still going at its end.
    (ending, ending_sid, ends_itself), (running, running_sid, keeps_talking) = await asyncio.gather(
        instance.place_and_answer(), instance.place_and_answer()
    )
    # A third call was answered, but its media stream only comes once the instance drains.
    _, _, too_late = await instance.place_and_answer(connect=False)
    await asyncio.gather(
        ends_itself.wait_for_bot_utterance(timeout=30),
        keeps_talking.wait_for_bot_utterance(timeout=30),
    )

    signalled = time.monotonic()
    instance.server.process.send_signal(signal.SIGTERM)
    ready = await instance.api.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "shutting down"
    refused = await instance.api.post("/api/calls", json={"to": TO})
    assert refused.status_code == 503
    assert "shutting down" in refused.json()["detail"]
    await too_late.connect()
    await too_late.wait_until_closed(timeout=5)
    assert too_late.close_code == 1013  # try again later: this instance takes no new call

    await ends_itself.say("Okay, goodbye", announce=instance.openai.expect_utterance)
    await ends_itself.wait_until_closed(timeout=GRACE_SECONDS)
    assert time.monotonic() - signalled < GRACE_SECONDS, "it waited for the grace"
    assert not keeps_talking.closed, "the other call was cut short"

    goodbye = await keeps_talking.wait_for_bot_utterance(timeout=GRACE_SECONDS + 10)
    assert time.monotonic() - signalled >= GRACE_SECONDS * 0.9, "the grace was not given"
    assert goodbye.audio_seconds > 1
    await keeps_talking.wait_until_closed(timeout=20)
    assert await exit_code(instance.server, 30) == 0
    assert ends_itself.protocol_errors == keeps_talking.protocol_errors == []
    assert instance.hung_up_through_twilio(running_sid)
    assert instance.hung_up_through_twilio(ending_sid)

    ended = await instance.stored(ending)
    assert ended.end_reason is not None and ended.end_reason.startswith("bot-hangup")
    assert ended.end_reason != "bot-hangup: server shutting down"
    said = [(t.sequence, t.role.value, t.text) for t in ended.turns]
    assert [sequence for sequence, _, _ in said] == [1, 2, 3]
    assert said[1] == (2, "user", "Okay, goodbye")
    assert SHUTDOWN_GOODBYE not in said[2][2]

    wrapped_up = await instance.stored(running)
    assert wrapped_up.end_reason == "bot-hangup: server shutting down"
    heard = [(t.role.value, t.text) for t in wrapped_up.turns]
    # The caller said nothing after the greeting: the bot only prompted gently ("Take your
    # time", `processors.idle_prompts`), and the goodbye closes its open turn.
    assert {role for role, _ in heard} == {"assistant"}, heard
    assert all(text in IDLE_LINES for _, text in heard[1:-1]), heard
    assert heard[-1][1].endswith(SHUTDOWN_GOODBYE), heard

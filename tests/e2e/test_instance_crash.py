"""An instance killed mid-call (SIGKILL: no drain, no last words) and the instance that starts
after it: a real `uvicorn server:app` process, PostgreSQL of the test's own, the fake Twilio REST
API and the fake OpenAI on loopback, simulated callers on the media streams.

Two calls are talking on the first instance when it is killed, each caller mid-sentence (that
unfinished line is lost with the process; every finished turn was already handed to the
database). Twilio ends one (its stream
dropped) but the "completed" callback reaches no one; the other is still live on Twilio's side.
The next instance, on start, asks Twilio about both: it closes the first as Twilio says
(status, duration, why it ended), keeps every turn that was stored, and leaves the live one
alone."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path

import pytest

from carecall.persistence.models import Call, CallStatus
from tests.e2e.instances import Instance, backing
from tests.fakes.twilio_caller import SimulatedCaller

pytestmark = pytest.mark.e2e


async def talk(
    instance: Instance, caller: SimulatedCaller, call_id: int, line: str, next_line: str
) -> tuple[Call, asyncio.Task[None]]:
    """Hear the greeting, say ``line``, hear the reply, and start saying ``next_line`` (which
    closes the reply's turn); returns the call once those three turns are stored, and the task
    still saying ``next_line``."""
    await caller.wait_for_bot_utterance(timeout=30)
    await caller.say(line, announce=instance.openai.expect_utterance)
    await caller.wait_for_bot_utterance(timeout=30)
    saying = asyncio.create_task(caller.say(next_line))
    deadline = time.monotonic() + 20
    while len((call := await instance.stored(call_id)).turns) < 3:
        assert time.monotonic() < deadline, f"the turns were never stored: {call.turns}"
        await asyncio.sleep(0.1)
    return call, saying


async def test_calls_of_a_killed_instance_are_reconciled_by_the_next_one(tmp_path: Path) -> None:
    # Calls older than a second are reconciled: at once, on start.
    reconcile = {"RECONCILE_GRACE_SECONDS": "1"}
    async with backing("carecall_crash", tmp_path) as shared:
        twilio = shared.twilio
        async with shared.instance("killed", **reconcile) as first:
            (ended, ended_sid, caller), (live, live_sid, other) = await asyncio.gather(
                first.place_and_answer(), first.place_and_answer()
            )
            (before, saying), (_, also_saying) = await asyncio.gather(
                talk(first, caller, ended, "I had porridge for breakfast", "And then I went"),
                talk(first, other, live, "My daughter is coming over later", "She will bring"),
            )
            for sid in (ended_sid, live_sid):
                twilio.api.set_call_status(sid, "in-progress")
            await asyncio.sleep(1.0)  # Twilio's clock: the call lasted at least a second

            first.server.process.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(first.server.process.wait(), 10) == -signal.SIGKILL
            await asyncio.gather(caller.wait_until_closed(10), other.wait_until_closed(10))
            for task in (saying, also_saying):  # cut off mid-sentence: that turn is lost
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            # Twilio hangs up the call whose stream dropped; its callback finds no server.
            twilio.api.set_call_status(ended_sid, "completed")
            assert (await first.stored(ended)).status is CallStatus.IN_PROGRESS

        lookups_before = len(twilio.api.requests)
        async with shared.instance("restarted", **reconcile) as second:
            deadline = time.monotonic() + 20
            while (closed := await second.stored(ended)).status is not CallStatus.COMPLETED:
                assert time.monotonic() < deadline, "the restarted instance never closed it"
                await asyncio.sleep(0.2)
            looked_up = [
                r.url.rsplit("/", 1)[-1]
                for r in twilio.api.requests[lookups_before:]
                if r.method == "GET"
            ]
            assert sorted(looked_up) == sorted([f"{ended_sid}.json", f"{live_sid}.json"])
            assert closed.end_reason == "server-stopped"
            assert closed.ended_at is not None
            assert closed.duration_seconds is not None and closed.duration_seconds >= 1
            assert [(t.sequence, t.role, t.text) for t in closed.turns] == [
                (t.sequence, t.role, t.text) for t in before.turns
            ]
            assert closed.turns[1].text == "I had porridge for breakfast"
            still_live = await second.stored(live)
            assert still_live.status is CallStatus.IN_PROGRESS and still_live.end_reason is None
            assert len(still_live.turns) == 3

            # The history says how it ended.
            page = await second.api.get(f"/api/calls/{ended}")
            assert page.status_code == 200 and page.json()["status"] == "completed"
            errors = second.logged_errors()
            assert not errors, "the restarted server logged errors:\n" + "\n".join(errors)

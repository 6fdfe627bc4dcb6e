"""PostgreSQL away for 30 s mid-call: the call carries on, and nothing it said is lost.

The server reaches its own PostgreSQL database through a TCP proxy the test cuts (every
connection dropped, new ones refused, as a restarted or unreachable database) while the caller
keeps talking: lines before, during and after the outage each get their answer in time, the
call ends with the bot's goodbye and hang-up, and once the database is back every turn is
stored exactly once, in order, and the pool serves requests again. Twilio's status callbacks
and answering-machine verdicts during the outage (Twilio never retries them) are acknowledged,
kept, and applied once it is back: another call's "no-answer" and this one's "human" are
stored. The log says once that the database went away and once that it is back, with no
traceback from the workers that kept trying meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from loguru import logger

from carecall.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call
from tests.postgres_support import database_url, own_database
from tests.redis_support import ProxyThread

pytestmark = pytest.mark.e2e

OUTAGE_SECONDS = 30.0
ANSWER_WITHIN_SECONDS = 4.0
"""From the end of the caller's line to the first audio of the bot's answer."""
BEFORE = ("I slept well last night",)
DURING = ("I had porridge for breakfast", "My knee is a little sore today")
AFTER = ("My daughter visited on Sunday",)
GOODBYE = "Okay, goodbye"


def via(proxy: ProxyThread, url: str) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}@127.0.0.1:{proxy.port}"))


async def test_a_call_carries_on_through_a_database_outage(
    make_settings: Callable[..., Settings],
) -> None:
    target = urlsplit(POSTGRES_URL)
    # The proxy runs on a thread of its own: the server's start blocks the test's loop.
    with ProxyThread((target.hostname or "127.0.0.1", target.port or 5432)) as proxy:
        async with own_database("carecall_outage") as name:
            direct = database_url(name)
            api_key = await create_api_key(direct)  # migrates the database too
            async with (
                # The caller waits through the outage in silence: no "Take your time" prompts
                # in the turns counted here (they are tested in test_turn_taking_e2e).
                running_carecall(make_settings, via(proxy, direct), idle_prompt_seconds=0) as live,
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
                # Another call, still ringing; nobody answers it during the outage.
                other = await api.post("/api/calls", json={"to": "+14155550101"})
                assert other.status_code == 201, other.text
                unanswered_id, unanswered_sid = other.json()["id"], other.json()["twilio_sid"]
                twilio = TwilioSide(live.server, live.settings, webhooks)
                # What this instance's dashboard is sent (the database plays no part in it).
                with live.server.app.state.carecall.feed.listen() as own_dashboard:
                    caller = await twilio.answer(call_id, call_sid)
                    await caller.wait_for_bot_utterance(timeout=30)

                    async def talk(line: str) -> None:
                        await caller.say(line, announce=live.openai.expect_utterance)
                        said = time.monotonic()
                        answer = await caller.wait_for_bot_utterance(timeout=20)
                        assert answer.started_at - said < ANSWER_WITHIN_SECONDS, "dead air"

                    for line in BEFORE:
                        await talk(line)

                    logs: list[Any] = []
                    sink = logger.add(logs.append, level="INFO", format="{message}")
                    proxy.stop()
                    cut = time.monotonic()
                    unready = await api.get("/readyz")
                    assert unready.status_code == 503
                    assert unready.json()["database"] != "ok"
                    for line in DURING:
                        await talk(line)
                    assert time.monotonic() - cut < OUTAGE_SECONDS, "the lines outlasted the outage"
                    # Twilio's status callbacks can't be stored now, and Twilio never sends
                    # one again: each is acknowledged, kept, and applied once it is back.
                    for status_call, sid, params in (
                        (call_id, call_sid, {"CallStatus": "in-progress", "SequenceNumber": "2"}),
                        (unanswered_id, unanswered_sid, {"CallStatus": "no-answer"}),
                    ):
                        status = await twilio.post_webhook(
                            f"/twilio/status?call_id={status_call}", {"CallSid": sid, **params}
                        )
                        assert status.status_code == 204, status.text
                    verdict = await twilio.post_webhook(
                        f"/twilio/amd?call_id={call_id}",
                        {"CallSid": call_sid, "AnsweredBy": "human"},
                    )
                    assert verdict.status_code == 204, verdict.text
                    # Other requests that need the database: a clear 503, not a crash.
                    refused = await api.get(f"/api/calls/{unanswered_id}")
                    assert refused.status_code == 503, refused.text
                    # The dashboard followed the call all along: each finished turn shown.
                    shown = [
                        item.event.data["sequence"]
                        for item in (
                            own_dashboard.queue.get_nowait()
                            for _ in range(own_dashboard.queue.qsize())
                        )
                        if item.event.kind == "call.turn" and item.event.call_id == call_id
                    ]
                    assert shown == list(range(1, 2 * (len(BEFORE) + len(DURING)) + 1))
                    await asyncio.sleep(OUTAGE_SECONDS - (time.monotonic() - cut))
                    proxy.start()

                    for line in AFTER:
                        await talk(line)
                    await caller.say(GOODBYE, announce=live.openai.expect_utterance)
                    await caller.wait_until_closed(timeout=20)  # the bot said goodbye, hung up
                    assert caller.protocol_errors == []
                    await twilio.complete(call_id, call_sid, duration=60)

                    lines = [*BEFORE, *DURING, *AFTER, GOODBYE]
                    expected_turns = 1 + 2 * len(lines)
                    call = await wait_for_call(
                        api, call_id, turns=expected_turns, end_reason="bot-hangup", timeout=30
                    )
                    assert call["status"] == "completed"
                    assert call["answered_by"] == "human"  # the verdict sent mid-outage
                    turns = call["turns"]
                    assert [t["sequence"] for t in turns] == list(range(1, expected_turns + 1))
                    assert [t["text"] for t in turns if t["role"] == "user"] == lines
                    roles = [t["role"] for t in turns]
                    assert roles == ["assistant", *["user", "assistant"] * len(lines)]
                    assert (await api.get("/readyz")).status_code == 200
                    logger.remove(sink)
                    assert [m.record["message"] for m in logs if m.record["exception"]] == []
                    said = [m.record["message"] for m in logs if "The database is" in str(m)]
                    assert len(said) == 2, said
                    assert said[0].startswith("The database is unreachable (")
                    assert said[1].startswith("The database is back after ")
                    unanswered = (await api.get(f"/api/calls/{unanswered_id}")).json()
                    assert unanswered["status"] == "no-answer", unanswered

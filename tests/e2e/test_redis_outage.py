"""A Redis outage never touches a call: with REDIS_URL set and Redis gone, a whole call is held
(greeting, an answer, goodbye, the bot's hang-up) and stored, the instance's own dashboard still
follows it live, and once Redis is back the events flow between instances again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from carecall.core.events import CallEvent
from carecall.pipeline.redis_bus import RedisEventBus
from carecall.settings import Settings
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall, wait_for_call
from tests.redis_support import TEST_REDIS_URL, TcpProxy, redis_url_via, unique_channel

pytestmark = pytest.mark.e2e


async def test_a_call_goes_on_while_redis_is_away(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"
    api_key = await create_api_key(database_url)
    channel = unique_channel()
    proxy = TcpProxy()
    await proxy.start()
    other_instance = RedisEventBus(TEST_REDIS_URL, channel=channel)
    await other_instance.start()
    heard_elsewhere: list[CallEvent] = []
    try:
        async with (
            running_carecall(
                make_settings,
                database_url,
                redis_url=redis_url_via(proxy.port),
                redis_channel=channel,
            ) as live,
            other_instance.subscribe() as elsewhere,
            httpx.AsyncClient(
                base_url=live.server.base_url,
                timeout=10,
                headers={"Authorization": f"Bearer {api_key}"},
            ) as api,
            httpx.AsyncClient(base_url=live.server.base_url, timeout=10) as webhooks,
        ):
            listening = asyncio.create_task(_gather(elsewhere, heard_elsewhere))
            state = live.server.app.state.carecall
            assert (await api.get("/readyz")).json()["redis"] == "ok"
            await proxy.stop()
            assert (await api.get("/readyz")).status_code == 503

            placed = await api.post("/api/calls", json={"to": "+14155550100"})
            assert placed.status_code == 201, placed.text
            call_id, call_sid = placed.json()["id"], placed.json()["twilio_sid"]
            twilio = TwilioSide(live.server, live.settings, webhooks)
            with state.feed.listen() as own_dashboard:
                caller = await twilio.answer(call_id, call_sid)
                greeting = await caller.wait_for_bot_utterance(timeout=20)
                assert greeting.audio_seconds > 1
                await caller.say("I slept well last night", announce=live.openai.expect_utterance)
                await caller.wait_for_bot_utterance(timeout=20)
                await caller.say("Okay, goodbye", announce=live.openai.expect_utterance)
                await caller.wait_until_closed(timeout=20)  # the bot hung up, as always
                await twilio.complete(call_id, call_sid, duration=20)
                call = await wait_for_call(api, call_id, turns=5, end_reason="bot-hangup")
                seen = [
                    own_dashboard.queue.get_nowait() for _ in range(own_dashboard.queue.qsize())
                ]
            assert call["status"] == "completed"
            assert caller.protocol_errors == []
            turns = [item.event.data["sequence"] for item in seen if item.event.kind == "call.turn"]
            assert turns == [1, 2, 3, 4, 5]  # this instance's dashboard followed it all
            assert state.bus.dropped > 0
            assert not any(event.call_id == call_id for event in heard_elsewhere)

            await proxy.start()  # Redis is back: the next events reach the other instance
            deadline = time.monotonic() + 15
            while (await api.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, "never ready again"
                await asyncio.sleep(0.1)
            again = await api.post("/api/calls", json={"to": "+14155550100"})
            assert again.status_code == 201, again.text
            while not any(event.call_id == again.json()["id"] for event in heard_elsewhere):
                assert time.monotonic() < deadline, "the other instance never heard of it"
                await asyncio.sleep(0.05)
            listening.cancel()
    finally:
        await other_instance.stop()
        await proxy.stop()


async def _gather(events: AsyncIterator[CallEvent], into: list[CallEvent]) -> None:
    async for event in events:
        into.append(event)

"""The demo caller speaks Twilio's side of a media stream to a websocket server standing in for
`/ws/demo` (the network boundary), `DemoCalls` lets two run at once, and a demo call hung up
from the dashboard ends its stream as Twilio would."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import ServerConnection, serve

from carecall.calls.channels import CallAlreadyEnded
from carecall.calls.demo import DemoCalls, DemoCallsBusy, DemoTokens
from carecall.core.events import InProcessEventBus
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.models import CallChannel, CallStatus
from carecall.persistence.repositories import CallRepository
from carecall.telephony.media_client import FRAME_BYTES

SAID = b"\x10" * (FRAME_BYTES * 25)  # half a second of "speech"


class FakeMediaServer:
    """Accepts demo streams, records what arrives, plays one bot utterance with a mark, then
    (when told) hangs up."""

    def __init__(self) -> None:
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.hang_up = asyncio.Event()
        self.url = ""

    async def handle(self, ws: ServerConnection) -> None:
        received: list[dict[str, Any]] = []
        started = asyncio.Event()

        async def read() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for raw in ws:
                    message = json.loads(raw)
                    message["_at"] = time.monotonic()
                    received.append(message)
                    if message["event"] == "start":
                        started.set()

        reader = asyncio.create_task(read())
        await started.wait()
        start = next(m for m in received if m["event"] == "start")
        self.messages[int(start["start"]["customParameters"]["call_id"])] = received
        sid = start["streamSid"]
        bot = base64.b64encode(b"\x20" * 8000).decode()  # one second of the bot's voice
        await ws.send(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": bot}}))
        await ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "m1"}}))
        told = asyncio.create_task(self.hang_up.wait())
        await asyncio.wait([told, reader], return_when=asyncio.FIRST_COMPLETED)
        told.cancel()
        await ws.close()
        await reader


@pytest.fixture
async def media_server() -> AsyncIterator[FakeMediaServer]:
    fake = FakeMediaServer()
    async with serve(fake.handle, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        fake.url = f"ws://127.0.0.1:{port}/ws/demo"
        yield fake


async def test_two_demo_calls_run_a_third_is_refused_and_each_speaks_twilios_protocol(
    media_server: FakeMediaServer, tmp_path: Path
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    await upgrade_to_head(engine)
    calls = CallRepository(create_session_factory(engine))
    bus = InProcessEventBus()
    tokens = DemoTokens("a secret that is long enough for the test 0123")

    async def speak(_text: str) -> bytes:
        return SAID

    demo = DemoCalls(calls, bus, tokens, speak=lambda: speak, limit=2)
    statuses: list[tuple[int, str]] = []
    try:
        async with bus.subscribe() as events:

            async def collect() -> None:
                async for event in events:
                    if event.kind == "call.status":
                        statuses.append((event.call_id, event.data["status"]))

            collector = asyncio.create_task(collect())
            first = await demo.start(media_server.url)
            second = await demo.start(media_server.url)
            with pytest.raises(DemoCallsBusy, match="2 demo calls are running"):
                await demo.start(media_server.url)
            assert first.channel is CallChannel.DEMO and first.to_number == "demo"

            await asyncio.sleep(3.0)  # the bot's second of audio plays, then the senior speaks
            media_server.hang_up.set()
            deadline = time.monotonic() + 10
            while demo.running:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            collector.cancel()
    finally:
        await demo.aclose()

    for call in (first, second):
        stored = await calls.get(call.id)
        assert stored is not None and stored.status is CallStatus.COMPLETED
        assert [s for i, s in statuses if i == call.id] == ["created", "in-progress", "completed"]
        messages = media_server.messages[call.id]
        assert [m["event"] for m in messages[:2]] == ["connected", "start"]
        start = messages[1]["start"]
        assert tokens.verify(call.id, start["customParameters"]["token"])
        media = [m for m in messages if m["event"] == "media"]
        payloads = [base64.b64decode(m["media"]["payload"]) for m in media]
        assert all(len(p) == FRAME_BYTES for p in payloads)
        # Real time: 20 ms a frame.
        span = media[-1]["_at"] - media[0]["_at"]
        assert abs(span - 0.02 * (len(media) - 1)) < 0.3, (span, len(media))
        # The senior waited for the bot's second of audio (and a quiet second) before speaking.
        spoke = next(i for i, p in enumerate(payloads) if p == b"\x10" * FRAME_BYTES)
        assert spoke >= 90, spoke
        # The mark came back once the second of audio before it had played.
        mark = next(m for m in messages if m["event"] == "mark")
        assert mark["mark"]["name"] == "m1"
        assert mark["_at"] - messages[1]["_at"] > 0.9
    await engine.dispose()


async def test_a_demo_call_hung_up_from_the_dashboard_ends_its_stream_with_stop(
    media_server: FakeMediaServer, tmp_path: Path
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    await upgrade_to_head(engine)
    calls = CallRepository(create_session_factory(engine))

    async def speak(_text: str) -> bytes:
        return SAID

    demo = DemoCalls(calls, InProcessEventBus(), DemoTokens("x" * 40), speak=lambda: speak)
    try:
        call = await demo.start(media_server.url)
        deadline = time.monotonic() + 10
        while (
            stored := await calls.get(call.id)
        ) is None or stored.status is not CallStatus.IN_PROGRESS:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the bot is speaking

        hung_up = await demo.hang_up(call.id)

        assert hung_up.id == call.id
        while demo.running:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        with pytest.raises(CallAlreadyEnded):
            await demo.hang_up(call.id)
    finally:
        await demo.aclose()
    stored = await calls.get(call.id)
    assert stored is not None and stored.status is CallStatus.COMPLETED
    assert stored.end_reason == "operator-hangup"
    # The senior's side said it was hanging up (`stop`), as Twilio does, before closing.
    events = [m["event"] for m in media_server.messages[call.id]]
    assert events[-1] == "stop", events[-5:]
    await engine.dispose()

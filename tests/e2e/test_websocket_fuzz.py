"""The media websocket under fire: while one good call holds a whole conversation, well over a
thousand malformed frames are thrown at `/ws` on other connections and inside a second, otherwise
valid stream. The good call completes untouched, every bad connection is closed with the code
that says why, nothing is logged as a server error, and the server stays healthy."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from loguru import logger
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from carecall.bot.prompts import DEFAULT_GOODBYE
from carecall.settings import Settings
from tests.conftest import TEST_AUTH_TOKEN
from tests.e2e.harness import (
    RunningCarecall,
    TwilioSide,
    create_api_key,
    running_carecall,
    wait_for_call,
)
from tests.fakes.twilio_caller import SimulatedCaller

pytestmark = pytest.mark.e2e

Frame = str | bytes


def _garbage(rng: random.Random, n: int) -> list[Frame]:
    """`n` frames a media stream must survive: not JSON, not an object, no or unknown event,
    bad or missing base64, odd-length μ-law, a second start, marks and dtmf without their
    fields, a stop for another call."""
    odd_ulaw = base64.b64encode(bytes(rng.randrange(256) for _ in range(7))).decode()
    kinds: list[Callable[[], Frame]] = [
        lambda: "not json " + str(rng.random()),
        lambda: '{"event": "media", "media": {"payload": "' + "@" * rng.randrange(1, 64) + '"}}',
        lambda: '{"event": "media", "media": {"payload": "' + odd_ulaw + '"}}',
        lambda: '{"event": "media", "media": {"payload": 12345}}',
        lambda: '{"event": "media", "media": "no object"}',
        lambda: '{"event": "media"}',
        lambda: json.dumps({"event": f"surprise-{rng.randrange(1000)}", "data": [1, 2]}),
        lambda: '{"event": 42}',
        lambda: "[1, 2, 3]",
        lambda: '"just a string"',
        lambda: "{" * rng.randrange(1, 200),
        lambda: '{"event": "start", "start": {}}',
        lambda: '{"event": "mark", "mark": {}}',
        lambda: '{"event": "mark", "mark": {"name": "' + "m" * 300 + '"}}',
        lambda: '{"event": "dtmf", "dtmf": {"digit": "Z"}}',
        lambda: '{"event": "dtmf", "dtmf": {}}',
        lambda: '{"event": "connected", "protocol": "Call"}',
        lambda: '{"event": "media", "media": {"payload": "' + "A" * 30_000 + '"}}',
    ]
    return [rng.choice(kinds)() for _ in range(n)]


class Stack:
    def __init__(self, live: RunningCarecall, api: httpx.AsyncClient, twilio: TwilioSide) -> None:
        self.live = live
        self.api = api
        self.twilio = twilio
        self.ws_url = f"ws://127.0.0.1:{live.server.port}/ws"
        assert live.settings.webhook_url is not None
        signed_url = "wss://" + live.settings.webhook_url.split("://", 1)[1] + "/ws"
        self.signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(signed_url, {})

    async def place_and_answer(self) -> tuple[int, str, SimulatedCaller]:
        response = await self.api.post("/api/calls", json={"to": "+14155550100"})
        assert response.status_code == 201, response.text
        call_id, call_sid = response.json()["id"], response.json()["twilio_sid"]
        return call_id, call_sid, await self.twilio.answer(call_id, call_sid)


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[Stack]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"
    api_key = await create_api_key(database_url)
    async with running_carecall(
        make_settings, database_url, log_level="INFO", media_start_timeout_seconds=3
    ) as live:
        base_url = live.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
        ):
            yield Stack(live, api, TwilioSide(live.server, live.settings, webhooks))


@contextmanager
def server_errors() -> Iterator[list[str]]:
    """Errors the server logs meanwhile: loguru's, and uvicorn's for exceptions in the app."""
    found: list[str] = []
    sink = logger.add(lambda message: found.append(str(message)), level="ERROR")

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(self.format(record))

    handler = Collect(level=logging.ERROR)
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.addHandler(handler)
    try:
        yield found
    finally:
        logger.remove(sink)
        uvicorn_errors.removeHandler(handler)


async def _hostile_connection(
    stack: Stack, frames: list[Frame], *, signed: bool = True, then_wait: bool = True
) -> tuple[int | None, int]:
    """Open `/ws`, send `frames`, and return the server's close code and how many were sent."""
    headers = {"X-Twilio-Signature": stack.signature} if signed else {}
    sent = 0
    async with connect(stack.ws_url, additional_headers=headers, compression=None) as ws:
        try:
            for frame in frames:
                await ws.send(frame)
                sent += 1
            if then_wait:
                async with asyncio.timeout(10):
                    async for _ in ws:
                        pass
        except ConnectionClosed:
            pass
        await ws.wait_closed()
        code = ws.close_code
    return code, sent


def _start(call_id: int | str, token: str, call_sid: str = "CA" + "f" * 32) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ" + "e" * 32,
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": "MZ" + "e" * 32,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": {"call_id": str(call_id), "token": token},
            },
        }
    )


async def _attack(
    stack: Stack,
    good: tuple[int, dict[str, str]],
    victim: tuple[int, dict[str, str]],
    rng: random.Random,
) -> tuple[dict[str, list[int | None]], int]:
    """Every kind of bad connection at once; returns their close codes by kind, and how many
    frames they sent."""
    good_id, good_params = good
    victim_id, victim_params = victim
    stop = '{"event": "stop", "stop": {"callSid": "CA0"}}'
    jobs: dict[str, list[Any]] = {
        # No signature: refused at once, whatever follows.
        "unsigned": [_hostile_connection(stack, _garbage(rng, 5), signed=False) for _ in range(5)],
        # Signed, then 50 malformed messages (media before start, stop without start…): no start.
        "no start": [_hostile_connection(stack, [stop, *_garbage(rng, 49)]) for _ in range(18)],
        "binary": [
            _hostile_connection(stack, ['{"event": "connected"}', rng.randbytes(160)])
            for _ in range(5)
        ],
        "forged token": [
            _hostile_connection(stack, [_start(good_id, "f" * 64)]),
            _hostile_connection(stack, [_start("1; DROP TABLE calls", "x")]),
            _hostile_connection(stack, [_start(-1, "")]),
        ],
        # The victim's valid token presented for the good call, and the good call's own start
        # replayed while it streams.
        "replayed": [
            _hostile_connection(stack, [_start(good_id, victim_params["token"])]),
            _hostile_connection(stack, [_start(good_id, good_params["token"])]),
            _hostile_connection(stack, [_start(victim_id, victim_params["token"])]),
        ],
        "huge": [
            _hostile_connection(stack, ["x" * 70_000]),
            _hostile_connection(stack, [b"\x00" * 200_000]),
            _hostile_connection(stack, [_start(good_id, "f" * 64)[:-1] + " " * 70_000 + "}"]),
        ],
        # Open and say nothing: closed when the start timeout passes.
        "idle": [_hostile_connection(stack, []) for _ in range(20)],
    }
    tasks = {
        kind: [asyncio.create_task(job) for job in kind_jobs] for kind, kind_jobs in jobs.items()
    }
    codes: dict[str, list[int | None]] = {}
    sent = 0
    for kind, kind_tasks in tasks.items():
        results = await asyncio.gather(*kind_tasks)
        codes[kind] = [code for code, _ in results]
        sent += sum(count for _, count in results)
    return codes, sent


async def _garbage_inside(stack: Stack, victim: SimulatedCaller, rng: random.Random) -> int:
    """Malformed frames inside a live call's stream: the call goes on, until a message over
    the size limit ends it. Returns how many frames were sent."""
    inside = _garbage(rng, 700)
    for frame in inside:
        await victim.send_raw(frame)
        await asyncio.sleep(0)
    await victim.say("The garden is lovely", announce=stack.live.openai.expect_utterance)
    assert (await victim.wait_for_bot_utterance(timeout=20)).audio_seconds > 1
    await victim.send_raw('{"event": "media", "media": {"payload": "' + "A" * 70_000 + '"}}')
    await victim.wait_until_closed(timeout=10)
    return len(inside) + 1


async def test_a_call_survives_a_thousand_malformed_frames_around_it(stack: Stack) -> None:
    rng = random.Random(9)
    with server_errors() as errors:
        good_id, good_sid, good = await stack.place_and_answer()
        victim_id, _, victim = await stack.place_and_answer()
        greeting = await good.wait_for_bot_utterance(timeout=20)
        assert greeting.audio_seconds > 2
        await victim.wait_for_bot_utterance(timeout=20)

        attack = asyncio.create_task(
            _attack(
                stack,
                (good_id, good.custom_parameters),
                (victim_id, victim.custom_parameters),
                rng,
            )
        )
        inside = asyncio.create_task(_garbage_inside(stack, victim, rng))
        said = ["I slept well last night", "I had porridge for breakfast"]
        for line in said:
            await good.say(line, announce=stack.live.openai.expect_utterance)
            answer = await good.wait_for_bot_utterance(timeout=20)
            assert answer.audio_seconds > 1
        codes, sent = await attack
        sent += await inside
        assert sent >= 1000, sent

        await good.say("Okay, goodbye", announce=stack.live.openai.expect_utterance)
        await good.wait_until_closed(timeout=20)
        await stack.twilio.complete(good_id, good_sid, duration=40)
        call = await wait_for_call(stack.api, good_id, turns=7, end_reason="bot-hangup")
        health = await stack.api.get("/healthz")

    assert codes == {
        "unsigned": [1008] * 5,
        "no start": [1008] * 18,
        "binary": [1003] * 5,
        "forged token": [1008] * 3,
        "replayed": [1008] * 3,
        "huge": [1009] * 3,
        "idle": [1008] * 20,
    }
    assert victim.close_code == 1009

    turns = call["turns"]
    assert [t["sequence"] for t in turns] == list(range(1, 8))
    assert [t["role"] for t in turns] == ["assistant", "user"] * 3 + ["assistant"]
    assert [turns[1]["text"], turns[3]["text"], turns[5]["text"]] == [*said, "Okay, goodbye"]
    assert said[0] in turns[2]["text"] and said[1] in turns[4]["text"]
    assert turns[6]["text"] == DEFAULT_GOODBYE
    assert call["status"] == "completed"
    assert good.protocol_errors == [] and victim.protocol_errors == []

    victim_call = await wait_for_call(stack.api, victim_id, turns=3, end_reason="caller-hangup")
    assert [t["text"] for t in victim_call["turns"]][1] == "The garden is lovely"

    assert health.status_code == 200
    assert errors == []

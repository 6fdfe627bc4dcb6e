"""The Twilio fakes behave like Twilio: REST through the real SDK, Media Streams over a socket."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

import numpy as np
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from websockets.asyncio.server import ServerConnection, serve

from tests.fakes.twilio_caller import SimulatedCaller
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient, FakeTwilioHttpClient

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token"
PUBLIC_WS_URL = "wss://carecall.example/ws"
CREATE_KWARGS: dict[str, Any] = {
    "to": "+14155550100",
    "from_": "+14155550199",
    "url": "https://carecall.example/twilio/voice",
    "status_callback": "https://carecall.example/twilio/status",
    "status_callback_event": ["initiated", "ringing", "answered", "completed"],
    "status_callback_method": "POST",
}
EXPECTED_FORM = {
    "To": "+14155550100",
    "From": "+14155550199",
    "Url": "https://carecall.example/twilio/voice",
    "StatusCallback": "https://carecall.example/twilio/status",
    "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
    "StatusCallbackMethod": "POST",
}
PARAMETERS = {"call_id": "42", "token": "per-call-token"}
BOT_FRAME = bytes(range(160))  # not silence, valid μ-law


# ---------------------------------------------------------------- REST fake


def test_sync_client_creates_updates_and_fetches_a_call() -> None:
    fake = FakeTwilioHttpClient()
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=fake)

    call = client.calls.create(**CREATE_KWARGS)

    assert call.sid is not None and call.sid.startswith("CA") and len(call.sid) == 34
    assert call.status == "queued"
    assert call.to == "+14155550100"
    created = fake.requests[-1]
    assert created.method == "POST"
    assert created.url == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert created.data == EXPECTED_FORM
    assert created.auth == (ACCOUNT_SID, AUTH_TOKEN)

    updated = client.calls(call.sid).update(status="completed")

    assert updated.status == "completed"
    assert fake.requests[-1].method == "POST"
    assert fake.requests[-1].url.endswith(f"/Calls/{call.sid}.json")
    assert fake.requests[-1].data == {"Status": "completed"}
    assert client.calls(call.sid).fetch().status == "completed"
    assert fake.requests[-1].method == "GET"


def test_sync_client_raises_queued_twilio_errors() -> None:
    fake = FakeTwilioHttpClient()
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=fake)
    fake.queue_error(400, 21211, "The 'To' number +1555 is not a valid phone number.")

    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(**CREATE_KWARGS)

    assert raised.value.code == 21211
    assert raised.value.status == 400
    assert "not a valid phone number" in raised.value.msg
    # Only the next request fails.
    assert client.calls.create(**CREATE_KWARGS).sid.startswith("CA")
    with pytest.raises(TwilioRestException) as missing:
        client.calls("CA" + "f" * 32).fetch()
    assert (missing.value.status, missing.value.code) == (404, 20404)


def test_sync_client_is_thread_safe() -> None:
    fake = FakeTwilioHttpClient()
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=fake)

    with ThreadPoolExecutor(max_workers=8) as pool:
        sids = list(pool.map(lambda _: client.calls.create(**CREATE_KWARGS).sid, range(80)))

    assert len(set(sids)) == 80
    assert len(fake.requests) == 80
    assert set(fake.calls) == set(sids)


@pytest.mark.asyncio
async def test_async_client_behaves_the_same() -> None:
    fake = FakeAsyncTwilioHttpClient()
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=fake)

    call = await client.calls.create_async(**CREATE_KWARGS)
    assert call.sid is not None and call.sid.startswith("CA")
    assert fake.requests[-1].data == EXPECTED_FORM

    await client.calls(call.sid).update_async(status="completed")
    assert fake.requests[-1].data == {"Status": "completed"}
    assert (await client.calls(call.sid).fetch_async()).status == "completed"

    fake.queue_error(429, 20429, "Too Many Requests")
    with pytest.raises(TwilioRestException) as raised:
        await client.calls.create_async(**CREATE_KWARGS)
    assert (raised.value.status, raised.value.code) == (429, 20429)


# ---------------------------------------------------------------- Media Streams caller

BotScript = Callable[[ServerConnection, dict[str, Any]], Awaitable[None]]


async def _run_bot(
    script: BotScript, caller_kwargs: dict[str, Any] | None = None
) -> tuple[SimulatedCaller, asyncio.Future[None], Any]:
    """Start a one-connection bot server running ``script`` and connect a caller to it."""
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def handler(ws: ServerConnection) -> None:
        try:
            connected = json.loads(await ws.recv())
            assert connected == {
                "event": "connected",
                "protocol": "Call",
                "version": "1.0.0",
            }
            start = json.loads(await ws.recv())
            await script(ws, start)
            finished.set_result(None)
        except BaseException as exc:
            finished.set_exception(exc)
            raise

    server = await serve(handler, "127.0.0.1", 0, compression=None)
    port = server.sockets[0].getsockname()[1]
    kwargs: dict[str, Any] = {"custom_parameters": PARAMETERS}
    kwargs.update(caller_kwargs or {})
    caller = SimulatedCaller(f"ws://127.0.0.1:{port}/ws", **kwargs)
    await caller.connect()
    return caller, finished, server


class _Inbox:
    """Reads everything the caller sends, timestamped, while the bot script talks."""

    def __init__(self, ws: ServerConnection) -> None:
        self.media: list[tuple[float, dict[str, Any]]] = []
        self.marks: list[tuple[float, str]] = []
        self.other: list[dict[str, Any]] = []
        self._task = asyncio.create_task(self._read(ws))

    async def _read(self, ws: ServerConnection) -> None:
        async for raw in ws:
            message = json.loads(raw)
            now = time.monotonic()
            if message["event"] == "media":
                self.media.append((now, message))
            elif message["event"] == "mark":
                self.marks.append((now, message["mark"]["name"]))
            else:
                self.other.append(message)

    async def mark(self, name: str) -> float:
        async with asyncio.timeout(3.0):
            while True:
                for at, seen in self.marks:
                    if seen == name:
                        return at
                await asyncio.sleep(0.005)

    def stop(self) -> None:
        self._task.cancel()


def _media(stream_sid: str, audio: bytes) -> str:
    payload = base64.b64encode(audio).decode()
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


@pytest.mark.asyncio
async def test_caller_speaks_twilio_media_streams() -> None:
    seen: dict[str, Any] = {}

    async def bot(ws: ServerConnection, start: dict[str, Any]) -> None:
        assert ws.request is not None
        signature = ws.request.headers["X-Twilio-Signature"]
        assert RequestValidator(AUTH_TOKEN).validate(PUBLIC_WS_URL, {}, signature)
        assert ws.request.headers["X-Extra"] == "yes"
        sid = start["streamSid"]
        assert start["event"] == "start" and start["sequenceNumber"] == "1"
        assert sid.startswith("MZ") and len(sid) == 34
        body = start["start"]
        assert body["streamSid"] == sid and body["callSid"] == "CA" + "2" * 32
        assert body["accountSid"] == ACCOUNT_SID and body["tracks"] == ["inbound"]
        assert body["mediaFormat"] == {
            "encoding": "audio/x-mulaw",
            "sampleRate": 8000,
            "channels": 1,
        }
        assert body["customParameters"] == PARAMETERS

        inbox = _Inbox(ws)
        await asyncio.sleep(1.1)
        first_at, first = inbox.media[0]
        last_at, _ = inbox.media[50]
        assert 50 / (last_at - first_at) == pytest.approx(50, rel=0.1)
        assert first["sequenceNumber"] == "2" and first["media"]["chunk"] == "1"
        for n, (_, message) in enumerate(inbox.media[:50]):
            assert message["sequenceNumber"] == str(n + 2)
            assert message["media"]["track"] == "inbound"
            assert message["media"]["chunk"] == str(n + 1)
            assert message["media"]["timestamp"] == str(n * 20)
            assert message["streamSid"] == sid
            assert len(base64.b64decode(message["media"]["payload"])) == 160
        seen["heard_tone"] = any(
            base64.b64decode(m["media"]["payload"]) != b"\xff" * 160 for _, m in inbox.media
        )

        # 1 s of bot audio sent at twice real time, then a mark: echoed once it has played.
        sent_at = time.monotonic()
        for _ in range(50):
            await ws.send(_media(sid, BOT_FRAME))
            await asyncio.sleep(0.01)
        await ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "m1"}}))
        seen["m1_after"] = await inbox.mark("m1") - sent_at

        # Barge-in: queued audio is dropped and the pending mark echoed at once.
        for _ in range(25):
            await ws.send(_media(sid, BOT_FRAME))
        await ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "m2"}}))
        await asyncio.sleep(0.1)
        assert not any(name == "m2" for _, name in inbox.marks)
        cleared_at = time.monotonic()
        await ws.send(json.dumps({"event": "clear", "streamSid": sid}))
        seen["m2_after_clear"] = await inbox.mark("m2") - cleared_at
        inbox.stop()
        await ws.close(1000, "bot hung up")

    tone = (np.sin(np.arange(4000) * 2 * math.pi * 440 / 8000) * 8000).astype("<i2").tobytes()
    caller, finished, server = await _run_bot(
        bot,
        {
            "call_sid": "CA" + "2" * 32,
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "signed_url": PUBLIC_WS_URL,
            "extra_headers": {"X-Extra": "yes"},
        },
    )
    async with server:
        began = time.monotonic()
        await caller.say_pcm(tone)
        assert time.monotonic() - began == pytest.approx(0.5, abs=0.1)

        played = await caller.wait_for_bot_utterance(timeout=5)
        assert played.audio_seconds == pytest.approx(1.0)
        assert played.underruns == 0 and not played.interrupted
        cut = await caller.wait_for_bot_utterance(timeout=5)
        assert cut.interrupted and cut.audio_seconds == pytest.approx(0.5)

        await caller.wait_until_closed(timeout=5)
        await finished

    assert seen["heard_tone"]
    assert 0.95 <= seen["m1_after"] <= 1.2
    assert seen["m2_after_clear"] < 0.05
    assert caller.marks_echoed == ["m1", "m2"]
    assert caller.clears_received == 1
    assert caller.media_received == 75
    assert caller.bot_audio_ulaw() == BOT_FRAME * 75
    assert caller.close_code == 1000
    assert caller.first_media_at is not None and caller.first_media_at > caller.connected_at
    assert caller.protocol_errors == []


@pytest.mark.asyncio
async def test_pause_in_bot_audio_is_an_underrun() -> None:
    async def bot(ws: ServerConnection, start: dict[str, Any]) -> None:
        sid = start["streamSid"]
        inbox = _Inbox(ws)
        t0 = time.monotonic()
        for n in range(40):
            # Real time, with the second half 300 ms late.
            due = t0 + n * 0.02 + (0.3 if n >= 20 else 0.0)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await ws.send(_media(sid, BOT_FRAME))
        await asyncio.sleep(1.2)
        inbox.stop()
        await ws.close(1000)

    caller, finished, server = await _run_bot(bot)
    async with server:
        utterance = await caller.wait_for_bot_utterance(timeout=5)
        await caller.wait_until_closed(timeout=5)
        await finished

    assert utterance.underruns == 1
    assert utterance.audio_seconds == pytest.approx(0.8)
    assert utterance.ended_at - utterance.started_at == pytest.approx(1.08, abs=0.1)
    assert len(caller.utterances) == 1
    assert caller.protocol_errors == []


@pytest.mark.asyncio
async def test_bad_server_messages_are_recorded_and_refusal_is_seen() -> None:
    async def bot(ws: ServerConnection, start: dict[str, Any]) -> None:
        sid = start["streamSid"]
        await ws.send(_media("MZ" + "0" * 32, BOT_FRAME))
        await ws.send(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": "!"}}))
        await ws.send(json.dumps({"event": "playAudio", "streamSid": sid}))
        await ws.send("not json")
        await ws.close(1008, "invalid token")

    caller, finished, server = await _run_bot(bot)
    async with server:
        await caller.wait_until_closed(timeout=5)
        await finished
        with pytest.raises(ConnectionError):
            await caller.wait_for_bot_utterance(timeout=1)

    assert caller.close_code == 1008
    assert len(caller.protocol_errors) == 4
    assert caller.media_received == 0


@pytest.mark.asyncio
async def test_say_streams_espeak_speech_and_hang_up_sends_stop() -> None:
    heard: dict[str, Any] = {}
    announced: list[str] = []

    async def bot(ws: ServerConnection, start: dict[str, Any]) -> None:
        frames = []
        async for raw in ws:
            message = json.loads(raw)
            if message["event"] == "stop":
                heard["stop"] = message
                break
            frames.append(base64.b64decode(message["media"]["payload"]))
        heard["speech_frames"] = sum(frame != b"\xff" * 160 for frame in frames)
        heard["start"] = start

    caller, finished, server = await _run_bot(bot)
    async with server:
        await caller.say("I am fine, thank you.", announce=announced.append)
        await caller.hang_up()
        await finished

    assert announced == ["I am fine, thank you."]
    assert heard["speech_frames"] > 40  # over 0.8 s of speech
    stop = heard["stop"]
    assert stop["streamSid"] == caller.stream_sid
    assert stop["stop"] == {
        "accountSid": caller.account_sid,
        "callSid": caller.call_sid,
    }
    assert int(stop["sequenceNumber"]) > 2
    assert caller.closed and caller.close_code == 1000


@pytest.mark.asyncio
async def test_refused_upgrade_is_recorded() -> None:
    def refuse(connection: ServerConnection, request: Any) -> Any:
        return connection.respond(HTTPStatus.FORBIDDEN, "bad signature\n")

    async def never(ws: ServerConnection) -> None:
        raise AssertionError("the upgrade should have been refused")

    async with serve(never, "127.0.0.1", 0, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        caller = SimulatedCaller(f"ws://127.0.0.1:{port}/ws", custom_parameters=PARAMETERS)
        await caller.connect()
        await caller.wait_until_closed(timeout=1)
        with pytest.raises(ConnectionError):
            await caller.wait_for_bot_utterance(timeout=1)
        await caller.hang_up()

    assert caller.rejected_status == 403
    assert caller.closed and caller.close_code is None


@pytest.mark.asyncio
async def test_the_line_carries_idle_frames_and_send_frames_tells_when_they_went_out() -> None:
    """For the turn-taking benchmark: a line that is never silent, the moment each watched
    frame was sent, every bot media message heard, and when each ``clear`` came."""
    hiss = base64.b64encode(b"\x7e" * 160).decode()
    voice = [base64.b64encode(bytes([n]) * 160).decode() for n in range(1, 6)]
    heard: list[tuple[float, bytes]] = []

    async def bot(ws: ServerConnection, start: dict[str, Any]) -> None:
        inbox = _Inbox(ws)
        await ws.send(_media(start["streamSid"], BOT_FRAME))
        await asyncio.sleep(0.2)
        await ws.send(json.dumps({"event": "clear", "streamSid": start["streamSid"]}))
        await asyncio.sleep(0.6)
        inbox.stop()
        payloads = [m["media"]["payload"] for _, m in inbox.media]
        seen["idle"] = payloads[:3]
        seen["voice_at"] = next(at for at, m in inbox.media if m["media"]["payload"] == voice[0])
        seen["payloads"] = payloads
        await ws.close(1000)

    seen: dict[str, Any] = {}
    caller, finished, server = await _run_bot(bot)
    caller.idle_frames = (hiss,)
    caller.media_listener = lambda at, audio: heard.append((at, audio))
    async with server:
        await asyncio.sleep(0.1)
        sent = await caller.send_frames(voice, watch=[0])
        await caller.wait_until_closed(timeout=5)
        await finished

    assert sorted(sent) == [0, 4] and sent[4] - sent[0] == pytest.approx(0.08, abs=0.03)
    assert seen["voice_at"] == pytest.approx(sent[0], abs=0.05)
    payloads = seen["payloads"]
    first = payloads.index(voice[0])
    assert payloads[first : first + 5] == voice  # in order, back to back
    assert hiss in payloads[first + 5 :] and hiss in payloads[:first]
    assert [audio for _, audio in heard] == [BOT_FRAME]
    assert len(caller.clear_times) == 1 and caller.clear_times[0] > heard[0][0]

"""The dashboard's demo call: a simulated senior (a scripted caller with a local voice) talks to
the bot through the real Twilio Media Streams protocol on loopback, so anyone can watch a live
transcript with no phone, no microphone and no keys.

How a demo stream proves itself (`/ws/demo`, `api.demo`): Twilio's media websocket `/ws` needs
an X-Twilio-Signature, which only Twilio (holding TWILIO_AUTH_TOKEN) can make, and we never
weaken that. The demo caller instead connects to a separate route, `/ws/demo`, which accepts a
stream only when all of these hold:

- the connection comes from loopback (the demo caller runs inside this server);
- its `start` message carries a *demo* token for the call: an HMAC of the call id under a key
  derived from SESSION_SECRET with its own label (`DemoTokens`), so a phone call's token never
  opens a demo stream and a demo token never opens a phone call's stream (`/ws` checks the
  phone tokens' key, and the Twilio signature first);
- the stored call's channel is `demo` (a leaked demo token for a phone call's id is refused).

The conversation then runs exactly as a phone call's (`calls.conversation.run_conversation`),
except that its end never asks Twilio to hang up: a demo call never dials Twilio.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import websockets
from loguru import logger
from pipecat.audio.utils import create_file_resampler, pcm_to_ulaw

from carecall.calls.service import publish_status
from carecall.core.events import EventBus
from carecall.persistence.models import Call, CallChannel
from carecall.persistence.repositories import CallRepository

DEMO_NUMBER = "demo"
"""The `to_number` a demo call is stored with."""
MAX_CONCURRENT_DEMO_CALLS = 2
SENIOR_LINES: tuple[str, ...] = (
    "I'm fine, thank you.",
    "I slept about seven hours.",
    "Yes, I had breakfast.",
    "Yes, I took my tablets.",
    "No pain today.",
    "No, nothing, thank you.",
    "Goodbye.",
)
FRAME_SECONDS = 0.02
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law
MULAW_SILENCE = b"\xff" * FRAME_BYTES
SAMPLE_RATE = 8000


class DemoCallsBusy(RuntimeError):
    """Too many demo calls are running already."""


class DemoTokens:
    """Per-call tokens for demo streams only: an HMAC of the call id under a key derived from
    the server's secret with a label of its own (phone calls' `CallTokens` use another)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("carecall-demo-stream:" + secret).encode()).digest()

    def issue(self, call_id: int) -> str:
        return hmac.new(self._key, str(call_id).encode(), hashlib.sha256).hexdigest()

    def verify(self, call_id: int, token: str) -> bool:
        return hmac.compare_digest(self.issue(call_id), token)


# --- the senior's voice --------------------------------------------------------------------------


Speak = Callable[[str], Awaitable[bytes]]
"""Text → the senior's speech as 8 kHz μ-law."""


async def to_mulaw_8k(pcm: bytes, sample_rate: int) -> bytes:
    """16-bit mono PCM at ``sample_rate`` → 8 kHz μ-law (Twilio's media format)."""
    return bytes(await pcm_to_ulaw(pcm, sample_rate, SAMPLE_RATE, create_file_resampler()))


def local_voice() -> Speak:
    """The senior's voice: Piper's installed voice, slower than the bot's (the bot uses the same
    model at its normal pace), or espeak-ng when Piper is not installed."""
    from carecall.bot.local_speech import LocalSpeech, LocalSpeechMissing

    try:
        speech = LocalSpeech()
    except LocalSpeechMissing:
        return _espeak_voice()

    async def speak(text: str) -> bytes:
        from piper import SynthesisConfig

        engine = speech.piper
        pcm = await engine.synthesize(text, SynthesisConfig(length_scale=1.25, noise_scale=0.5))
        return await to_mulaw_8k(pcm, engine.sample_rate)

    return speak


def _espeak_voice() -> Speak:
    program = shutil.which("espeak-ng") or shutil.which("espeak")
    if program is None:
        raise RuntimeError("The demo call needs a local voice: install piper (or espeak-ng).")

    async def speak(text: str) -> bytes:
        def run() -> bytes:
            wav = subprocess.run(
                [program, "-v", "en-us", "-s", "140", "--stdout", text],
                check=True,
                capture_output=True,
                timeout=30,
            ).stdout
            return wav[44:]  # 22,050 Hz 16-bit mono PCM after the WAV header

        return await to_mulaw_8k(await asyncio.to_thread(run), 22_050)

    return speak


# --- the caller: Twilio's side of a media stream -------------------------------------------------


@dataclass
class _Playout:
    """The bot's audio as a phone would play it: where playback will be done, and the marks
    waiting for the audio before them to finish."""

    ends_at: float = 0.0
    heard_any: bool = False
    marks: list[tuple[float, str]] = field(default_factory=list)


class DemoCaller:
    """A Media Streams client: it sends what Twilio sends (`connected`, `start` with the stream
    parameters, 20 ms μ-law `media` frames in real time, `mark` echoes once the audio before
    them has played, `stop`) and says its lines when the bot has finished speaking."""

    def __init__(
        self,
        url: str,
        *,
        call_id: int,
        token: str,
        speak: Speak,
        lines: Sequence[str] = SENIOR_LINES,
        quiet_after_bot: float = 1.0,
        max_seconds: float = 240.0,
    ) -> None:
        self.url = url
        self.call_id = call_id
        self.token = token
        self.call_sid = f"CAdemo{uuid.uuid4().hex[:26]}"
        self.stream_sid = f"MZdemo{uuid.uuid4().hex[:26]}"
        self._speak = speak
        self._lines = list(lines)
        self._quiet = quiet_after_bot
        self._max_seconds = max_seconds
        self._playout = _Playout()
        self._outgoing = bytearray()
        self._bot_spoke = asyncio.Event()
        self._said = asyncio.Event()  # the line being said has all been sent
        self.on_connected: Callable[[], Awaitable[None]] | None = None

    async def run(self) -> None:
        """Call, talk through the script, hang up (or stop when the bot hangs up)."""
        speech = [asyncio.ensure_future(self._speak(line)) for line in self._lines]
        try:
            async with websockets.connect(self.url, max_size=2**20) as ws:
                await self._send(ws, {"event": "connected", "protocol": "Call", "version": "1.0.0"})
                await self._send(
                    ws,
                    {
                        "event": "start",
                        "sequenceNumber": "1",
                        "streamSid": self.stream_sid,
                        "start": {
                            "streamSid": self.stream_sid,
                            "callSid": self.call_sid,
                            "tracks": ["inbound"],
                            "customParameters": {
                                "call_id": str(self.call_id),
                                "token": self.token,
                            },
                            "mediaFormat": {
                                "encoding": "audio/x-mulaw",
                                "sampleRate": SAMPLE_RATE,
                                "channels": 1,
                            },
                        },
                    },
                )
                if self.on_connected is not None:
                    await self.on_connected()
                tasks = [
                    asyncio.create_task(self._receive(ws)),
                    asyncio.create_task(self._send_audio(ws)),
                    asyncio.create_task(self._echo_marks(ws)),
                ]
                script = asyncio.create_task(self._talk(speech))
                try:
                    done, _ = await asyncio.wait(
                        [tasks[0], script],
                        timeout=self._max_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if script in done and not tasks[0].done():
                        # Said everything: let the bot's goodbye play, then hang up.
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(asyncio.shield(tasks[0]), 15)
                        with contextlib.suppress(websockets.ConnectionClosed):
                            await self._send(ws, {"event": "stop", "streamSid": self.stream_sid})
                finally:
                    for task in [*tasks, script]:
                        task.cancel()
                    await asyncio.gather(*tasks, script, return_exceptions=True)
        finally:
            for pending in speech:
                pending.cancel()

    async def _send(self, ws: websockets.ClientConnection, message: dict[str, object]) -> None:
        await ws.send(json.dumps(message))

    async def _talk(self, speech: Sequence[asyncio.Future[bytes]]) -> None:
        for audio in speech:
            await self._bot_done()
            self._said.clear()
            self._outgoing.extend(await audio)
            await self._said.wait()
        await self._bot_done()

    async def _bot_done(self) -> None:
        """Until the bot has spoken since our last line and then been quiet a while."""
        await self._bot_spoke.wait()
        loop = asyncio.get_running_loop()
        while True:  # the bot's audio may grow while we wait
            remaining = self._playout.ends_at + self._quiet - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(remaining)
        self._bot_spoke.clear()

    async def _receive(self, ws: websockets.ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                if not isinstance(raw, str):
                    continue
                message = json.loads(raw)
                event = message.get("event")
                now = loop.time()
                if event == "media":
                    audio = base64.b64decode(message["media"]["payload"])
                    start = max(now, self._playout.ends_at)
                    self._playout.ends_at = start + len(audio) / SAMPLE_RATE
                    self._bot_spoke.set()
                elif event == "mark":
                    name = str(message.get("mark", {}).get("name", ""))
                    self._playout.marks.append((max(now, self._playout.ends_at), name))
                elif event == "clear":
                    self._playout.ends_at = now
                    self._playout.marks = [(now, name) for _, name in self._playout.marks]

    async def _echo_marks(self, ws: websockets.ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            due = [m for m in self._playout.marks if m[0] <= now]
            self._playout.marks = [m for m in self._playout.marks if m[0] > now]
            for _, name in due:
                await self._send(
                    ws, {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}
                )
            await asyncio.sleep(FRAME_SECONDS)

    async def _send_audio(self, ws: websockets.ClientConnection) -> None:
        """One 20 ms frame every 20 ms, as a phone line does: the script's speech or silence."""
        started = time.monotonic()
        sent = 0
        while True:
            frame = bytes(self._outgoing[:FRAME_BYTES])
            del self._outgoing[:FRAME_BYTES]
            if frame and not self._outgoing:
                self._said.set()
            frame = frame.ljust(FRAME_BYTES, b"\xff")
            sent += 1
            await self._send(
                ws,
                {
                    "event": "media",
                    "streamSid": self.stream_sid,
                    "sequenceNumber": str(sent + 1),
                    "media": {
                        "track": "inbound",
                        "chunk": str(sent),
                        "timestamp": str(sent * 20),
                        "payload": base64.b64encode(frame).decode(),
                    },
                },
            )
            await asyncio.sleep(max(0.0, started + sent * FRAME_SECONDS - time.monotonic()))


# --- the service ----------------------------------------------------------------------------------


class DemoCalls:
    """Starts demo calls (at most `MAX_CONCURRENT_DEMO_CALLS` at once) and moves their status
    the way a phone call's moves: queued, in progress once the stream starts, completed."""

    def __init__(
        self,
        calls: CallRepository,
        bus: EventBus,
        tokens: DemoTokens,
        *,
        speak: Callable[[], Speak] = local_voice,
        limit: int = MAX_CONCURRENT_DEMO_CALLS,
    ) -> None:
        self._calls = calls
        self._bus = bus
        self.tokens = tokens
        self._make_voice = speak
        self._voice: Speak | None = None
        self._limit = limit
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, ws_url: str) -> Call:
        """Store a demo call and start its simulated senior against ``ws_url`` (`/ws/demo` of
        this server on loopback). Raises `DemoCallsBusy`."""
        if len(self._tasks) >= self._limit:
            raise DemoCallsBusy(
                f"{self._limit} demo calls are running already; wait for one to finish."
            )
        if self._voice is None:
            self._voice = self._make_voice()
        call = await self._calls.create(DEMO_NUMBER, None, channel=CallChannel.DEMO)
        await self._publish_status(call)
        caller = DemoCaller(
            ws_url, call_id=call.id, token=self.tokens.issue(call.id), speak=self._voice
        )

        async def connected() -> None:
            await self._publish_status(await self._calls.mark_connected(call.id))

        caller.on_connected = connected
        log = logger.bind(call_id=call.id, channel="demo")

        async def run() -> None:
            try:
                await caller.run()
            except Exception as exc:  # the demo fails alone, with a note in the log and the call
                log.exception(f"The demo call failed: {exc}")
                await self._calls.note_error(call.id, f"demo call failed: {exc}")
            finally:
                await self._publish_status(await self._calls.mark_finished(call.id))

        task = asyncio.create_task(run(), name=f"demo-call-{call.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info("Demo call started")
        return call

    async def _publish_status(self, call: Call | None) -> None:
        await publish_status(self._bus, call)

    async def aclose(self) -> None:
        """End every demo call (the server is stopping)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

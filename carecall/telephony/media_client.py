"""Twilio's side of a Media Stream: a client that speaks the real protocol over a websocket.

It behaves like Twilio on a ``<Connect><Stream>``: it sends ``connected`` and ``start`` (with the
stream's custom parameters, and an X-Twilio-Signature on the upgrade when given the auth token),
then inbound ``media`` every 20 ms in real time (silence unless it is saying something), plays the
bot's audio out of a real-time buffer (8000 μ-law bytes per second), echoes ``mark`` messages
once the audio queued before them has played, and honours ``clear``; ``stop`` when it hangs up.

One client serves everyone who needs Twilio's side without Twilio: the dashboard's demo call
(`calls.demo`: a scripted senior on loopback), the benchmarks (`bench/`) and the tests
(`tests/fakes/twilio_caller.py` adds an espeak-ng voice). It can also be an awkward caller, for
the tests: line noise while silent (`idle_frames`), key presses, raw and malformed messages
(`send_raw`), extra or forged upgrade headers, and a refused upgrade kept as `rejected_status`.

Playout is modelled with a clock rather than a ticking task: the buffer "drains" until
``_play_end``, so a client costs one timer per 20 ms frame and nothing more while idle. Many
clients can share one event loop (the benchmark runs dozens).

Bot utterances: one starts with the first bot media message after silence and ends when the
buffer has been empty for ``utterance_gap`` seconds without new media, when a mark received
after its last audio is echoed (``end_on_mark``), on ``clear``, or when the socket closes.
A gap over 100 ms inside an utterance (the buffer ran dry and audio came later) is an underrun.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

SAMPLE_RATE = 8000
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law
FRAME_SECONDS = FRAME_BYTES / SAMPLE_RATE
UNDERRUN_GAP_SECONDS = 0.1
ULAW_SILENCE = b"\xff"

_SILENCE_B64 = base64.b64encode(ULAW_SILENCE * FRAME_BYTES).decode("ascii")
_MEDIA_TEMPLATE = (
    '{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d",'
    '"timestamp":"%d","payload":"%s"},"streamSid":"%s"}'
)

MediaListener = Callable[[float, bytes], None]


@dataclass
class BotUtterance:
    """One stretch of bot speech as the caller heard it."""

    started_at: float
    """Monotonic time the first bot media message of this utterance arrived."""
    ended_at: float
    """Monotonic time the last media message of this utterance arrived."""
    audio_seconds: float
    """μ-law bytes received / 8000."""
    underruns: int = 0
    """Playout gaps over 100 ms in the middle of this utterance."""
    interrupted: bool = False
    """True when the bot cut it short with ``clear``."""


def ulaw_frames_b64(ulaw: bytes) -> tuple[str, ...]:
    """Split μ-law audio into base64 20 ms frames, padding the last one with silence."""
    if remainder := len(ulaw) % FRAME_BYTES:
        ulaw += ULAW_SILENCE * (FRAME_BYTES - remainder)
    return tuple(
        base64.b64encode(ulaw[i : i + FRAME_BYTES]).decode("ascii")
        for i in range(0, len(ulaw), FRAME_BYTES)
    )


class MediaStreamClient:
    """Twilio's end of one bidirectional Media Stream, with a person who can talk."""

    def __init__(
        self,
        ws_url: str,
        *,
        custom_parameters: dict[str, str],
        call_sid: str | None = None,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str | None = None,
        signed_url: str | None = None,
        extra_headers: dict[str, str] | None = None,
        utterance_gap: float = 0.8,
        end_on_mark: bool = True,
    ) -> None:
        self.ws_url = ws_url
        self.custom_parameters = dict(custom_parameters)
        self.call_sid = call_sid or "CA" + uuid.uuid4().hex
        self.account_sid = account_sid
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.utterance_gap = utterance_gap
        self.end_on_mark = end_on_mark
        self._headers = dict(extra_headers or {})
        if auth_token is not None:
            self._headers["X-Twilio-Signature"] = RequestValidator(auth_token).compute_signature(
                signed_url or ws_url, {}
            )

        self.utterances: list[BotUtterance] = []
        self.marks_echoed: list[str] = []
        self.clears_received = 0
        self.media_received = 0
        self.protocol_errors: list[str] = []
        self.first_media_at: float | None = None
        self.connected_at = 0.0
        self.clear_times: list[float] = []
        """Monotonic time of each ``clear`` received."""
        self.media_listener: MediaListener | None = None
        """Called with (monotonic arrival time, μ-law bytes) for every bot media message."""
        self.idle_frames: Sequence[str] = ()
        """What the line carries while the person is silent, base64 20 ms μ-law frames played
        in a loop (e.g. line noise); empty: digital silence."""
        self._idle_index = 0
        self.close_code: int | None = None
        self.rejected_status: int | None = None
        """HTTP status when the server refused the websocket upgrade itself."""

        self._ws: ClientConnection | None = None
        self._seq = 0
        self._outbox: deque[tuple[str, asyncio.Future[float] | None]] = deque()
        self._bot_audio = bytearray()
        self._play_end = 0.0
        self._current: BotUtterance | None = None
        self._current_bytes = 0
        self._pending_marks: deque[tuple[float, str, float]] = deque()
        self._next_utterance = 0
        self._wake_playout = asyncio.Event()
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sending = False

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Open the websocket, send ``connected`` and ``start``, and start streaming.

        A refused upgrade (HTTP 4xx/5xx) does not raise: it is recorded in ``rejected_status``
        and the caller counts as closed. Nor does a server that closes the socket before the
        ``start`` is sent (a stream turned away at once, 1013): its code is in ``close_code``.
        """
        try:
            self._ws = await connect(
                self.ws_url,
                additional_headers=self._headers,
                compression=None,
                proxy=None,
                user_agent_header="TwilioProxy/1.1",
            )
        except InvalidStatus as exc:
            self.rejected_status = exc.response.status_code
            self._closed.set()
            self._notify()
            return
        try:
            await self._send_opening()
        except ConnectionClosed:
            self.close_code = self._ws.close_code
            self._closed.set()
            self._notify()
            return
        self.connected_at = time.monotonic()
        self._sending = True
        self._tasks = [
            asyncio.create_task(self._receive_loop(), name=f"caller-rx-{self.call_sid}"),
            asyncio.create_task(self._send_loop(), name=f"caller-tx-{self.call_sid}"),
            asyncio.create_task(self._playout_loop(), name=f"caller-play-{self.call_sid}"),
        ]

    async def _send_opening(self) -> None:
        await self._send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send_json(
            {
                "event": "start",
                "sequenceNumber": self._next_seq(),
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {
                        "encoding": "audio/x-mulaw",
                        "sampleRate": SAMPLE_RATE,
                        "channels": 1,
                    },
                    "customParameters": self.custom_parameters,
                },
                "streamSid": self.stream_sid,
            }
        )

    async def hang_up(self) -> None:
        """Send ``stop`` and close the socket, as Twilio does when the callee hangs up."""
        if self._ws is not None and not self._closed.is_set():
            with contextlib.suppress(ConnectionClosed):
                await self._send_json(
                    {
                        "event": "stop",
                        "sequenceNumber": self._next_seq(),
                        "streamSid": self.stream_sid,
                        "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                    }
                )
        await self.aclose()

    async def aclose(self) -> None:
        """Close the socket (if still open) and wait for every background task to finish."""
        if self._ws is not None:
            await self._ws.close()
        await self._finish_tasks()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def wait_until_closed(self, timeout: float = 15.0) -> None:
        """Wait until the server closed the websocket (the bot hung up)."""
        try:
            async with asyncio.timeout(timeout):
                await self._closed.wait()
        except TimeoutError:
            raise TimeoutError(f"the bot did not close the call within {timeout} s") from None
        await self._finish_tasks()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # ------------------------------------------------------------------ speaking

    async def say_ulaw(self, ulaw: bytes) -> None:
        """Speak 8 kHz μ-law audio into the call; return once its last frame was sent."""
        await self.say_frames(ulaw_frames_b64(ulaw))

    async def send_dtmf(self, digit: str) -> None:
        """Press a key, as Twilio reports it."""
        await self._send_json(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": self._next_seq(),
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def say_frames(self, frames: Sequence[str]) -> None:
        """Speak base64 20 ms μ-law ``frames`` (`ulaw_frames_b64`); return once the last was
        sent. What the bot said before the caller finished can't answer it: the next
        `wait_for_bot_utterance` skips it."""
        await self.send_frames(frames)
        self._next_utterance = max(self._next_utterance, len(self.utterances))

    async def send_frames(
        self, frames: Sequence[str], *, watch: Sequence[int] = ()
    ) -> dict[int, float]:
        """Queue base64 20 ms μ-law ``frames`` on the real-time grid, after anything already
        queued; return once the last has been sent, with the monotonic time each frame whose
        index is in ``watch`` (and the last one) went out. Empty if the call ended first."""
        if not frames or not self._sending:
            return {}
        loop = asyncio.get_running_loop()
        last = len(frames) - 1
        futures = {index: loop.create_future() for index in {*watch, last} if 0 <= index <= last}
        self._outbox.extend((frame, futures.get(index)) for index, frame in enumerate(frames))
        sent = {index: await future for index, future in futures.items()}
        return {index: at for index, at in sent.items() if at == at}  # NaN: never sent

    # ------------------------------------------------------------------ listening

    async def wait_for_bot_utterance(self, timeout: float = 15.0) -> BotUtterance:
        """Wait for the next bot utterance to start and end, and return it.

        Each utterance is returned once, in order; those that ended before the caller's last
        :meth:`say` finished are skipped. Raises ``TimeoutError``, or ``ConnectionError`` when
        the call ends first.
        """
        try:
            async with asyncio.timeout(timeout):
                while len(self.utterances) <= self._next_utterance:
                    if self._closed.is_set():
                        raise ConnectionError(
                            f"the call closed (code {self.close_code}, HTTP "
                            f"{self.rejected_status}) before the next bot utterance"
                        )
                    await self._changed.wait()
        except TimeoutError:
            state = "started but did not end" if self._current else "did not start"
            raise TimeoutError(
                f"the next bot utterance {state} within {timeout} s "
                f"({self.media_received} bot media messages so far)"
            ) from None
        utterance = self.utterances[self._next_utterance]
        self._next_utterance += 1
        return utterance

    def bot_audio_ulaw(self) -> bytes:
        """Everything the bot sent, concatenated (including audio a ``clear`` dropped)."""
        return bytes(self._bot_audio)

    async def send_raw(self, message: str | bytes) -> None:
        """Send anything at all on the stream (for hostile-input tests)."""
        assert self._ws is not None
        await self._ws.send(message)

    # ------------------------------------------------------------------ internals

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def _send_json(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send(json.dumps(message))

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _finish_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        for task in tasks:
            if task.get_name().startswith("caller-rx-"):
                continue  # ends by itself once the socket is closed
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _send_loop(self) -> None:
        """Inbound audio: one 20 ms frame on a fixed real-time grid (t0 + n·20 ms)."""
        ws = self._ws
        assert ws is not None
        outbox = self._outbox
        stream_sid = self.stream_sid
        t0 = time.monotonic()
        chunk = 0
        try:
            while True:
                delay = t0 + chunk * FRAME_SECONDS - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                frame, done = outbox.popleft() if outbox else (self._idle_frame(), None)
                self._seq += 1
                chunk += 1
                await ws.send(
                    _MEDIA_TEMPLATE % (self._seq, chunk, (chunk - 1) * 20, frame, stream_sid)
                )
                if done is not None and not done.done():
                    done.set_result(time.monotonic())
        except ConnectionClosed:
            pass
        finally:
            self._sending = False
            self._release_speakers()

    def _idle_frame(self) -> str:
        if not self.idle_frames:
            return _SILENCE_B64
        self._idle_index = (self._idle_index + 1) % len(self.idle_frames)
        return self.idle_frames[self._idle_index]

    def _release_speakers(self) -> None:
        for _, done in self._outbox:
            if done is not None and not done.done():
                done.set_result(float("nan"))
        self._outbox.clear()

    async def _receive_loop(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            async for raw in ws:
                await self._handle(raw)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            self._sending = False
            self._release_speakers()
            self._end_utterance(interrupted=False)
            self._pending_marks.clear()
            self._closed.set()
            self._notify()
            for task in self._tasks[1:]:
                task.cancel()

    async def _handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            self._error(f"binary frame of {len(raw)} bytes (Twilio expects JSON text)")
            return
        try:
            message = json.loads(raw)
        except ValueError:
            self._error(f"not JSON: {raw[:80]!r}")
            return
        if not isinstance(message, dict):
            self._error(f"not a JSON object: {raw[:80]!r}")
            return
        event = message.get("event")
        if event not in ("media", "mark", "clear"):
            self._error(f"unknown event {event!r}: {raw[:80]!r}")
            return
        if message.get("streamSid") != self.stream_sid:
            self._error(f"{event} with streamSid {message.get('streamSid')!r}")
            return
        if event == "media":
            self._on_media(message)
        elif event == "mark":
            self._on_mark(message)
        else:
            await self._on_clear()

    def _error(self, text: str) -> None:
        self.protocol_errors.append(text)

    def _on_media(self, message: dict[str, Any]) -> None:
        media = message.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str):
            self._error("media without media.payload")
            return
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            self._error(f"media payload is not base64: {payload[:40]!r}")
            return
        now = time.monotonic()
        if self.media_listener is not None:
            self.media_listener(now, audio)
        self.media_received += 1
        if self.first_media_at is None:
            self.first_media_at = now
        self._bot_audio += audio
        current = self._current
        if current is None:
            current = self._current = BotUtterance(now, now, 0.0)
            self._current_bytes = 0
            self._wake_playout.set()
        elif now - self._play_end > UNDERRUN_GAP_SECONDS:
            current.underruns += 1
        current.ended_at = now
        self._current_bytes += len(audio)
        self._play_end = max(self._play_end, now) + len(audio) / SAMPLE_RATE

    def _on_mark(self, message: dict[str, Any]) -> None:
        mark = message.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str):
            self._error("mark without mark.name")
            return
        now = time.monotonic()
        self._pending_marks.append((max(now, self._play_end), name, now))
        self._wake_playout.set()

    async def _on_clear(self) -> None:
        self.clears_received += 1
        self.clear_times.append(time.monotonic())
        self._play_end = min(self._play_end, time.monotonic())
        self._end_utterance(interrupted=True)
        while self._pending_marks:
            await self._echo_mark(self._pending_marks.popleft()[1])

    async def _echo_mark(self, name: str) -> None:
        self.marks_echoed.append(name)
        await self._send_json(
            {
                "event": "mark",
                "sequenceNumber": self._next_seq(),
                "streamSid": self.stream_sid,
                "mark": {"name": name},
            }
        )

    def _end_utterance(self, *, interrupted: bool) -> None:
        current = self._current
        if current is None:
            return
        current.audio_seconds = self._current_bytes / SAMPLE_RATE
        current.interrupted = interrupted
        self.utterances.append(current)
        self._current = None
        self._notify()

    async def _playout_loop(self) -> None:
        """Echo marks when their audio has played; end utterances after a silent gap."""
        while True:
            self._wake_playout.clear()
            while self._pending_marks and self._pending_marks[0][0] <= time.monotonic():
                _, name, received_at = self._pending_marks.popleft()
                current = self._current
                if self.end_on_mark and current and received_at >= current.ended_at:
                    self._end_utterance(interrupted=False)
                await self._echo_mark(name)
            deadline = None
            if self._current is not None:
                deadline = max(self._current.ended_at, self._play_end) + self.utterance_gap
                if time.monotonic() >= deadline:
                    self._end_utterance(interrupted=False)
                    deadline = None
            if self._pending_marks:
                due = self._pending_marks[0][0]
                deadline = due if deadline is None else min(deadline, due)
            if deadline is None:
                await self._wake_playout.wait()
                continue
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    await self._wake_playout.wait()
            except TimeoutError:
                pass

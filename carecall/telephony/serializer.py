"""Media Streams serializer that never lets a bad message hurt the call.

pipecat's `TwilioFrameSerializer` raises on a bad base64 payload, and any exception ends the
transport's receive loop (the call goes deaf). This subclass validates every inbound message,
logs and drops what is malformed or unknown, and leaves hanging up to carecall (it ends calls
through `TwilioGateway`, which the tests can fake) instead of an untestable aiohttp call. It
parses each message once, and hands the caller's audio on 40 ms at a time.

It is also where the line's audio crosses the wire both ways, so a call's recording
(`telephony.recording`) listens here (`listener`): the caller's audio as it arrives, the bot's
as it is sent, and each `clear`.

And it keeps track of what the caller has heard (`telephony.playout`): every media message and
mark it sends goes through a `Playout`, which can hold the bot's audio while the caller speaks
over it (`BotAudioHold`) and give it back, from the start of the sentence, if that was only
"mm-hm". Giving it back sends the held messages at once, through ``send``: the websocket's
own send, which the serializer is given by the line that owns both. The recording hears the
bot's audio when it is really sent: held audio when it is given back, never if dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import create_stream_resampler, ulaw_to_pcm
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.twilio import TwilioFrameSerializer

from carecall.telephony.playout import BotAudioHold, Playout
from carecall.telephony.recording import LineAudio

# Twilio sends 20 ms (160 bytes) per message; anything far larger is not Twilio.
_MAX_PAYLOAD_BYTES = 16_000
INBOUND_CHUNK_BYTES = 320
"""The caller's audio enters the pipeline 40 ms at a time: two Twilio messages per frame. Each
frame costs the same to move through the pipeline whatever its length, so this halves that
cost, for at most 20 ms more before the VAD hears a sound (it scores 32 ms windows anyway)."""
_KNOWN_EVENTS = {"media", "dtmf", "mark", "stop", "connected", "start"}
_LOG_FIRST_N_BAD = 5


class SafeTwilioSerializer(TwilioFrameSerializer):
    def __init__(
        self,
        stream_sid: str,
        call_sid: str | None,
        *,
        send: Callable[[str], Awaitable[None]] | None = None,
        playout: Playout | None = None,
        listener: LineAudio | None = None,
    ) -> None:
        params = TwilioFrameSerializer.InputParams(auto_hang_up=False)
        super().__init__(stream_sid, call_sid, params=params)
        self.bad_messages = 0
        self.stopped = False
        self.playout = playout or Playout()
        self._send = send
        self._clear = json.dumps({"event": "clear", "streamSid": stream_sid})
        self.listener = listener
        """Told what crosses the line (the call's recording); None: nobody listens."""
        self._inbound = bytearray()
        # The inbound conversion is ours (pipecat's resampler and rates are private to it).
        self._twilio_rate = params.twilio_sample_rate
        self._pipeline_rate = params.sample_rate or 0
        self._resampler = create_stream_resampler(
            clear_after_secs=params.resampler_clear_after_secs
        )

    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        # (pipecat's `FrameSerializer.setup` narrows `BaseObject.setup` the same way.)
        await super().setup(setup)
        self._pipeline_rate = self._pipeline_rate or setup.audio_in_sample_rate

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, BotAudioHold):
            return await self._hold(frame.hold)
        message = await super().serialize(frame)
        if not isinstance(message, str):
            return message
        listener = self.listener
        if isinstance(frame, InterruptionFrame):
            self.playout.reset()
            if listener is not None:
                listener.cleared()
        elif isinstance(frame, OutputAudioRawFrame):
            seconds = len(frame.audio) / (2 * frame.num_channels * frame.sample_rate)
            audio = (frame.audio, frame.sample_rate)
            if not self.playout.outgoing(message, seconds=seconds, audio=audio):
                return None
            if listener is not None:
                listener.sent(*audio)
        elif isinstance(frame, OutputTransportMessageFrame) and _is_mark(frame.message):
            name = str(frame.message["mark"]["name"])
            return message if self.playout.outgoing(message, mark=name) else None
        return message

    async def _hold(self, hold: bool) -> str | None:
        if hold:
            if self._send is None:
                return None  # nothing could give the audio back: don't take it
            if not self.playout.hold():
                return None
            if self.listener is not None:
                self.listener.cleared()
            return self._clear
        send = self._send
        for item in self.playout.release():
            if send is None:
                break
            try:
                await send(item.message)
            except Exception as e:  # the caller hung up meanwhile: nothing to play to
                logger.debug(f"Could not give back held audio: {e}")
                send = None
                continue
            if item.audio is not None and self.listener is not None:
                self.listener.sent(*item.audio)
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        message = self._parse(data)
        if message is None:
            return None
        event = message["event"]
        if event == "stop":
            self.stopped = True
            return None
        if event == "mark":
            # The caller has heard everything sent before this mark (see PlaybackMarks), unless
            # it is the echo of a hold's clear.
            if not self.playout.echoed(message["name"]):
                return None
            return InputTransportMessageFrame(message={"event": "mark", "name": message["name"]})
        if event == "media":
            # Parsed and decoded once (pipecat's deserialize would parse the JSON again).
            self._inbound += message["audio"]
            if len(self._inbound) < INBOUND_CHUNK_BYTES:
                return None
            ulaw, self._inbound = bytes(self._inbound), bytearray()
            pcm = await ulaw_to_pcm(ulaw, self._twilio_rate, self._pipeline_rate, self._resampler)
            if not pcm:
                return None
            if self.listener is not None:
                self.listener.heard(pcm, self._pipeline_rate)
            return InputAudioRawFrame(audio=pcm, num_channels=1, sample_rate=self._pipeline_rate)
        if event == "dtmf":
            try:
                return InputDTMFFrame(KeypadEntry(message["dtmf"]["digit"]))
            except ValueError:
                self._reject("dtmf with an unknown key")
        return None  # a repeated handshake carries nothing for the pipeline

    def _parse(self, data: str | bytes) -> dict[str, Any] | None:
        try:
            message = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return self._reject("not JSON")
        if not isinstance(message, dict) or not isinstance(message.get("event"), str):
            return self._reject("no event name")
        event = message["event"]
        if event not in _KNOWN_EVENTS:
            return self._reject(f"unknown event {event[:32]!r}")
        if event == "media":
            media = message.get("media")
            payload = media.get("payload") if isinstance(media, dict) else None
            if not isinstance(payload, str) or len(payload) > _MAX_PAYLOAD_BYTES * 4 // 3 + 4:
                return self._reject("media without a usable payload")
            try:
                message["audio"] = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                return self._reject("media payload is not base64")
            if not message["audio"]:
                return None
        elif event == "mark":
            mark = message.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            if not isinstance(name, str) or len(name) > 256:
                return self._reject("mark without a name")
            message["name"] = name
        elif event == "dtmf":
            dtmf = message.get("dtmf")
            if not isinstance(dtmf, dict) or not isinstance(dtmf.get("digit"), str):
                return self._reject("dtmf without a digit")
        return message

    def _reject(self, why: str) -> dict[str, Any] | None:
        self.bad_messages += 1
        if self.bad_messages <= _LOG_FIRST_N_BAD:
            logger.warning(f"Ignored a malformed media-stream message: {why}")
        return None


def _is_mark(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and message.get("event") == "mark"
        and isinstance(message.get("mark"), dict)
        and "name" in message["mark"]
    )

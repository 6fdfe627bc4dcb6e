"""`VoicemailDrop`: when an answering machine took the call, leave one message and end it.

Sits right after the transport's input. Until `leave_message(text)` is called it forwards every
frame unchanged. Twilio's answering-machine detection says so from outside the pipeline (the
`/twilio/amd` webhook, after the machine's beep); then:

* the caller's audio (`InputAudioRawFrame`, downstream) goes no further, so the machine's
  recording is neither transcribed nor answered;
* an `InterruptionFrame` is broadcast, so whatever the bot was saying or about to say is
  dropped (the TTS and the model stop, the transport's queued audio is cleared);
* the message is pushed as a `TTSSpeakFrame` nothing can interrupt, then an `EndWorkerFrame`:
  the pipeline ends once the message's audio has been sent, as the bot's other hang-ups do.

A verdict that arrives before the pipeline has started (its `StartFrame` not seen yet) is kept
and acted on as soon as it starts.

Runs in direct mode: it never waits, so it needs no queue or task of its own.
"""

from __future__ import annotations

from pipecat.frames.frames import (
    EndWorkerFrame,
    Frame,
    InputAudioRawFrame,
    StartFrame,
    TTSSpeakFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

VOICEMAIL_REASON = "voicemail"


class VoicemailDrop(FrameProcessor):
    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True, name="voicemail-drop")
        self._leaving = False
        self._started = False
        self._pending: str | None = None
        self._reason = VOICEMAIL_REASON

    @property
    def leaving(self) -> bool:
        return self._leaving

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if (
            self._leaving
            and direction is FrameDirection.DOWNSTREAM
            and isinstance(frame, InputAudioRawFrame)
        ):
            return
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame) and not self._started:
            self._started = True
            if self._pending is not None:
                await self._leave(self._pending)

    async def leave_message(self, message: str, *, reason: str = VOICEMAIL_REASON) -> bool:
        """Stop the conversation, speak ``message``, end the call (the `EndWorkerFrame`'s
        ``reason``: also a polite goodbye when the server shuts down). False if already
        leaving."""
        if self._leaving:
            return False
        self._leaving = True
        self._reason = reason
        if self._started:
            await self._leave(message)
        else:
            self._pending = message
        return True

    async def _leave(self, message: str) -> None:
        await self.broadcast_interruption()
        speak = TTSSpeakFrame(message)
        speak.interruptible = False
        await self.push_frame(speak)
        await self.push_frame(EndWorkerFrame(reason=self._reason))

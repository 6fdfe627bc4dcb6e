"""`VoicemailDrop`: when an answering machine took the call, leave one message and end it.

Sits right after the transport's input and works with the call's `ReplyGate` (right before the
model). Until a machine is suspected or known it forwards every frame unchanged.

`suspect()`: a machine is suspected (Twilio's ``machine_start``; its greeting's words,
`processors.line_screen`). The gate closes, so nothing the line hears starts a reply, and an
`InterruptionFrame` is broadcast, so whatever the bot was saying or about to say is dropped (the
model's reply under way too). A `NotThePersonFrame` tells the recorder that the caller's turn it
has open is the machine's. The message waits for the beep.

`leave_message(text)`: the machine has beeped (Twilio's ``machine_end_*`` verdict, after its
greeting). As when suspected, then:

* the caller's audio (`InputAudioRawFrame`, downstream) goes no further, so the machine's
  recording is neither transcribed nor answered;
* the message is pushed as a `LineSpeechFrame` (nothing interrupts it, the closed gate lets it
  through), then an `EndWorkerFrame`: the pipeline ends once the message's audio has been
  sent, as the bot's other hang-ups do. A second verdict leaves nothing more.

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
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from carecall.core.end_reasons import VOICEMAIL_REASON
from carecall.processors.reply_gate import LineSpeechFrame, NotThePersonFrame, ReplyGate


class VoicemailDrop(FrameProcessor):
    def __init__(self, gate: ReplyGate | None = None) -> None:
        super().__init__(enable_direct_mode=True, name="voicemail-drop")
        self.gate = gate or ReplyGate()
        """Closed once a machine is suspected; place it right before the model."""
        self._suspected = False
        self._leaving = False
        self._started = False
        self._pending: str | None = None
        self._reason = VOICEMAIL_REASON

    @property
    def leaving(self) -> bool:
        return self._leaving

    @property
    def suspected(self) -> bool:
        """A machine is suspected or known: nothing the line hears is the person's."""
        return self._suspected

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
            if self._suspected:
                await self._stop_replies()
            if self._pending is not None:
                await self._leave(self._pending)

    async def suspect(self) -> bool:
        """An answering machine seems to have answered: stop replying and say nothing until
        `leave_message`. False if already suspected or leaving."""
        if self._suspected or self._leaving:
            return False
        self._suspected = True
        self.gate.close()
        if self._started:
            await self._stop_replies()
        return True

    async def leave_message(self, message: str, *, reason: str = VOICEMAIL_REASON) -> bool:
        """Stop the conversation, speak ``message``, end the call (the `EndWorkerFrame`'s
        ``reason``: also a polite goodbye when the server shuts down). False if already
        leaving."""
        if self._leaving:
            return False
        self._leaving = True
        self._reason = reason
        self.gate.close()
        if self._started:
            await self._leave(message)
        else:
            self._pending = message
        return True

    async def _stop_replies(self) -> None:
        await self.broadcast_interruption()
        await self.push_frame(NotThePersonFrame())

    async def _leave(self, message: str) -> None:
        if self._reason == VOICEMAIL_REASON:
            self._suspected = True
            await self.push_frame(NotThePersonFrame())
        await self.broadcast_interruption()
        await self.push_frame(LineSpeechFrame(message))
        await self.push_frame(EndWorkerFrame(reason=self._reason))

"""`ReplyGate`: once the line is not the person (an answering machine, a call screener), nothing
the line hears may start a reply.

Sits right before the model (or the guided check-in), after every processor that may start a
reply: the user aggregator's turns (committed or speculative), a fallback line, a prompt after
a silence. While it is open it forwards every frame unchanged. While it is closed, downstream:

* whatever would start or feed a reply goes no further: `LLMContextFrame` (a committed or a
  speculative turn), `LLMRunFrame`, `LLMMessagesAppendFrame`, `LLMMessagesUpdateFrame`, any
  `TextFrame` (a transcript, or text meant for the voice), any `TTSSpeakFrame` but a
  `LineSpeechFrame`;
* a `UserStoppedSpeakingFrame` goes no further either: past the model it would arm the hold
  cue (`processors.hold_cue`), an "Mm-hmm." to a machine;
* a `LineSpeechFrame` (the voicemail message, the one sentence to a call screener) passes.

Closing it drops nothing already under way: whoever closes it also broadcasts an
`InterruptionFrame` (the model's reply in progress, the voice's queued audio and the transport's
buffered audio are dropped). `open(greet_with)` lets replies through again (the person picked
up after a call screener); the first turn the person then ends is answered with ``greet_with``
(the call's greeting, which they never heard) instead of the model.

Runs in direct mode: it never waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pipecat.frames.frames import (
    Frame,
    LLMContextFrame,
    LLMMessagesAppendFrame,
    LLMMessagesUpdateFrame,
    LLMRunFrame,
    SystemFrame,
    TextFrame,
    TTSSpeakFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

_STARTS_A_REPLY = (
    LLMContextFrame,
    LLMRunFrame,
    LLMMessagesAppendFrame,
    LLMMessagesUpdateFrame,
    TextFrame,
    UserStoppedSpeakingFrame,
)


@dataclass
class LineSpeechFrame(TTSSpeakFrame):
    """What the bot says to whatever answered when it isn't the person (a voicemail message,
    its answer to a call screener): the only speech a closed `ReplyGate` lets through, and
    nothing interrupts it."""

    interruptible: bool = field(default=False, init=False)


@dataclass
class NotThePersonFrame(SystemFrame):
    """Downstream: what the line said since the bot last spoke was not the person's words (an
    answering machine's greeting, a call screener): the call's recorder drops the caller's
    turn it has open rather than store it as theirs."""


class ReplyGate(FrameProcessor):
    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True, name="reply-gate")
        self._closed = False
        self._greet_with: list[str] = []

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """From now on nothing the line hears starts a reply (see the module's docstring)."""
        self._closed = True
        self._greet_with = []

    def open(self, *, greet_with: Sequence[str] = ()) -> None:
        """Replies may start again; the next committed turn is answered with ``greet_with``
        (one `TTSSpeakFrame` per sentence) rather than by the model, when given."""
        self._closed = False
        self._greet_with = list(greet_with)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            if self._closed and _starts_a_reply(frame):
                return
            if self._greet_with and isinstance(frame, LLMContextFrame):
                if frame.speculation:
                    return  # the greeting answers this turn once it is committed
                greeting, self._greet_with = self._greet_with, []
                for sentence in greeting:
                    await self.push_frame(TTSSpeakFrame(sentence))
                return
        await self.push_frame(frame, direction)


def _starts_a_reply(frame: Frame) -> bool:
    if isinstance(frame, TTSSpeakFrame):
        return not isinstance(frame, LineSpeechFrame)
    return isinstance(frame, _STARTS_A_REPLY)

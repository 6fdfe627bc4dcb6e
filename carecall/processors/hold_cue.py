"""`HoldCue`: a short "Mm-hmm." when the answer is slow, so the caller is never left in a long
silence after they stop talking.

Consumes nothing; forwards every frame. It sits right after text-to-speech. The caller's last
word is the VAD's "stopped" moment minus its silence window (`VADUserStoppedSpeakingFrame`'s
``stop_secs``). Once their turn is over (`UserStoppedSpeakingFrame`), if no audio of the answer
has come out of text-to-speech ``after`` seconds from that last word (and at least
``min_after_turn`` seconds after the turn ended: a turn the caller left mid-sentence ends
late, and its answer still gets the time an answer takes), the cue's audio (made
once per process and kept, like the fallback line) is pushed to the output, past
text-to-speech, which may be the slow part. The answer plays after the cue; if it never comes,
`ServiceErrorFallback`'s reply deadline still cancels it and the fallback line is said.

Upstream it tells `ServiceErrorFallback` that the bot audio about to start is the cue
(`HoldCueFrame`), so the reply deadline keeps running through it, and when the answer's own
audio arrives (`ReplyAudioFrame`), which stops that deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    SystemFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

CueAudio = Callable[[], tuple[Sequence[bytes], int] | None]
"""The cue's audio chunks and their sample rate, or None while it isn't made (no cue then)."""


@dataclass
class HoldCueFrame(SystemFrame):
    """Upstream: the bot audio about to start is the hold cue, not the answer."""


@dataclass
class ReplyAudioFrame(SystemFrame):
    """Upstream: the first audio of the answer to the caller's turn just went to the output."""


class HoldCue(FrameProcessor):
    def __init__(self, audio: CueAudio, *, after: float, min_after_turn: float = 0.0) -> None:
        super().__init__(enable_direct_mode=True)  # a pass-through: no queue of its own
        self._audio = audio
        self._after = after
        self._min_after_turn = min_after_turn
        self._last_word: float | None = None
        self._awaiting_answer = False
        self._timer: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, (EndFrame, CancelFrame)):
            self._awaiting_answer = False
            await self._stop_timer()
        if direction is not FrameDirection.DOWNSTREAM:
            return
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._last_word = time.monotonic() - (frame.stop_secs or 0.0)
        elif isinstance(frame, UserStoppedSpeakingFrame):
            await self._stop_timer()
            self._awaiting_answer = True
            last_word = self._last_word if self._last_word is not None else time.monotonic()
            self._last_word = None
            if self._after > 0:
                # Never sooner than an answer can come once the turn is over: a turn that
                # ended late (the caller had stopped mid-sentence) still gets its chance.
                delay = max(self._min_after_turn, last_word + self._after - time.monotonic())
                self._timer = self.create_task(self._cue_after(delay), "hold-cue")
        elif isinstance(
            frame, (UserStartedSpeakingFrame, VADUserStartedSpeakingFrame, InterruptionFrame)
        ):
            # The caller speaks again, or the bot's audio is being cleared (barge-in, or the
            # fallback line replacing the answer): no cue, and nothing is awaited any more.
            self._awaiting_answer = False
            await self._stop_timer()
        elif isinstance(frame, TTSAudioRawFrame) and self._awaiting_answer:
            self._awaiting_answer = False
            await self._stop_timer()
            await self.push_frame(ReplyAudioFrame(), FrameDirection.UPSTREAM)

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._stop_timer()

    async def _stop_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            await self.cancel_task(timer)

    async def _cue_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._timer = None
        cue = self._audio()
        if cue is None or not self._awaiting_answer:
            return
        chunks, sample_rate = cue
        logger.info(f"No answer {self._after:.1f} s after the caller's last word: a hold cue")
        await self.push_frame(HoldCueFrame(), FrameDirection.UPSTREAM)
        for chunk in chunks:
            await self.push_frame(TTSAudioRawFrame(chunk, sample_rate, 1))

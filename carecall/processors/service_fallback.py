"""`ServiceErrorFallback`: the caller hears a short line instead of silence when a service fails
or hangs.

Consumes: nothing. Watches frames travelling upstream and forwards every frame unchanged:

* an `ErrorFrame` (STT, LLM or TTS failed, timed out, or its circuit is open): pushes a
  `TTSSpeakFrame` with the fallback line downstream so the conversation goes on. At most one
  fallback per `min_interval` seconds, so a burst of errors from one failure is one apology;
  but while the reply clock runs (nothing heard since the caller's turn) the reply under way
  is interrupted first and the line always said, so it is not stuck behind a hung sentence.
* with ``reply_deadline``: a `UserStoppedSpeakingFrame` (the caller's turn is over) starts a
  clock, stopped when the bot starts speaking (`BotStartedSpeakingFrame`; not for the hold cue
  `processors.hold_cue` plays while the answer is slow, but for the answer's own audio,
  `ReplyAudioFrame`), the caller speaks again, or an error's line is said. If it runs out,
  the reply under way is cancelled (an `InterruptionFrame` both ways: a hung model or voice
  request is abandoned, so its late answer is never spoken on top) and the fallback line is
  pushed. Its audio is cached (`bot.speech.SpeechCache`), so it plays at once even when
  text-to-speech is what hangs.
"""

from __future__ import annotations

import asyncio
import time

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from carecall.processors.hold_cue import HoldCueFrame, ReplyAudioFrame


class ServiceErrorFallback(FrameProcessor):
    def __init__(
        self, line: str, *, min_interval: float = 4.0, reply_deadline: float | None = None
    ) -> None:
        super().__init__(enable_direct_mode=True)  # a pass-through: no queue of its own
        self._line = line
        self._min_interval = min_interval
        self._reply_deadline = reply_deadline
        self._last_spoken = float("-inf")
        self._clock: asyncio.Task[None] | None = None
        self._cue_playing = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop_clock()
        if direction is not FrameDirection.UPSTREAM:
            return
        if isinstance(frame, ErrorFrame) and not frame.fatal:
            if self._clock is not None:
                # Nothing was heard since the caller's turn: the line now, with nothing
                # queued ahead of it (the rest of a reply whose sentence failed may hang too).
                await self._stop_clock()
                await self._clear_and_speak()
            else:
                await self._speak()
        elif isinstance(frame, UserStoppedSpeakingFrame) and self._reply_deadline is not None:
            await self._stop_clock()
            self._cue_playing = False
            self._clock = self.create_task(self._await_reply(self._reply_deadline), "reply-clock")
        elif isinstance(frame, HoldCueFrame):
            self._cue_playing = True  # the bot audio about to start is not the answer
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._cue_playing = False
        elif isinstance(frame, BotStartedSpeakingFrame):
            if not self._cue_playing:
                await self._stop_clock()
        elif isinstance(
            frame, (ReplyAudioFrame, UserStartedSpeakingFrame, VADUserStartedSpeakingFrame)
        ):
            await self._stop_clock()

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._stop_clock()

    async def _speak(self) -> None:
        now = time.monotonic()
        if now - self._last_spoken >= self._min_interval:
            self._last_spoken = now
            await self.push_frame(TTSSpeakFrame(self._line), FrameDirection.DOWNSTREAM)

    async def _stop_clock(self) -> None:
        clock, self._clock = self._clock, None
        if clock is not None and clock is not asyncio.current_task():
            await self.cancel_task(clock)

    async def _await_reply(self, deadline: float) -> None:
        await asyncio.sleep(deadline)
        self._clock = None
        logger.warning(
            f"Nothing said {deadline:.1f} s after the caller's turn: the reply is cancelled "
            "and the caller hears the fallback line"
        )
        await self._clear_and_speak()

    async def _clear_and_speak(self) -> None:
        await self.broadcast_interruption()
        self._last_spoken = time.monotonic()
        await self.push_frame(TTSSpeakFrame(self._line), FrameDirection.DOWNSTREAM)

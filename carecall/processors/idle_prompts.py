"""`IdlePrompts`: patience with a caller who says nothing, and never a hang-up without warning.

Older people often take several seconds to start answering. Consumes nothing; forwards every
frame. Once both are quiet (the bot has finished speaking: `BotStoppedSpeakingFrame`, travelling
upstream from the output; the caller has stopped: the VAD's or the turn's stop), a clock of
``after`` seconds runs; the caller or the bot speaking again stops it. When it runs out it
pushes a gentle line downstream as a `TTSSpeakFrame` (the model or the guided check-in passes
it on to text-to-speech): first ``lines[0]`` ("Take your time."), then ``lines[1]`` ("Are you
still there?"); after that, ``goodbye`` and the end of the call
(`processors.call_end.say_goodbye_and_end`, the reason "no response" told to ``on_end``).
Anything the caller says starts the count again. Each line is preceded by an
`IdlePromptFrame`, so the recorder keeps it as a turn of its own. Sits right after the user
context aggregator.

`stay_with(lines, after)`: from then on the call never ends for silence (a caregiver is being
fetched, `calls.handover`): each silence of ``after`` seconds is filled with the next of these
lines, round and round ("I'm still getting hold of Tom…", the emergency advice), and the
usual prompts and goodbye are set aside for the rest of the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    SystemFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from carecall.processors.call_end import say_goodbye_and_end

NO_RESPONSE = "no response"


@dataclass
class IdlePromptFrame(SystemFrame):
    """Downstream, just before a prompt: what the bot says next is a turn of its own."""


class IdlePrompts(FrameProcessor):
    def __init__(
        self,
        *,
        after: float,
        lines: Sequence[str],
        goodbye: str,
        on_end: Callable[[str], None],
    ) -> None:
        super().__init__(enable_direct_mode=True)  # a pass-through: no queue of its own
        self._after = after
        self._lines = list(lines)
        self._goodbye = goodbye
        self._on_end = on_end
        self._prompted = 0
        self._caller_speaking = False
        self._bot_speaking = False
        self._ended = False
        self._clock: asyncio.Task[None] | None = None
        self._staying: list[str] = []
        self._stay_after = after
        self._stayed = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, (EndFrame, CancelFrame)):
            self._ended = True
            await self._stop_clock()
        elif isinstance(frame, (UserStartedSpeakingFrame, VADUserStartedSpeakingFrame)):
            if isinstance(frame, UserStartedSpeakingFrame):
                self._prompted = 0
            self._caller_speaking = True
            await self._stop_clock()
        elif isinstance(frame, (UserStoppedSpeakingFrame, VADUserStoppedSpeakingFrame)):
            # Quiet again: an answer is on its way, or there was nothing to answer (a cough).
            self._caller_speaking = False
            if not self._bot_speaking:
                await self._start_clock()
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
            await self._stop_clock()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            if not self._caller_speaking:
                await self._start_clock()

    def stay_with(self, lines: Sequence[str], after: float) -> None:
        """Fill every silence of ``after`` seconds with the next of ``lines`` (in turn, round
        and round) and never end the call for silence; called again, the new lines take over."""
        if not lines or after <= 0:
            raise ValueError("staying on the line needs lines and a positive interval")
        self._staying = list(lines)
        self._stay_after = after
        self._stayed = 0

    @property
    def staying(self) -> bool:
        return bool(self._staying)

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._stop_clock()

    async def _start_clock(self) -> None:
        await self._stop_clock()
        if (self._after > 0 or self._staying) and not self._ended:
            self._clock = self.create_task(self._prompt_after(), "idle-prompt")

    async def _stop_clock(self) -> None:
        clock, self._clock = self._clock, None
        if clock is not None and clock is not asyncio.current_task():
            await self.cancel_task(clock)

    async def _prompt_after(self) -> None:
        await asyncio.sleep(self._stay_after if self._staying else self._after)
        self._clock = None
        if self._staying:
            line = self._staying[self._stayed % len(self._staying)]
            self._stayed += 1
            logger.info("Silence while staying on the line: the bot speaks again")
            await self.push_frame(IdlePromptFrame())
            await self.push_frame(TTSSpeakFrame(line))
            return
        if self._prompted < len(self._lines):
            line = self._lines[self._prompted]
            self._prompted += 1
            logger.info(f"The caller said nothing for {self._after:.0f} s: prompt {self._prompted}")
            await self.push_frame(IdlePromptFrame())
            await self.push_frame(TTSSpeakFrame(line))
            return
        logger.info("The caller has said nothing after every prompt: ending the call")
        self._ended = True
        await self.push_frame(IdlePromptFrame())
        await say_goodbye_and_end(
            self.push_frame, self._on_end, goodbye=self._goodbye, reason=NO_RESPONSE
        )

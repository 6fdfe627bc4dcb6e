"""`CallTimeLimit`: a call never runs past its maximum length, and ends politely.

Consumes: nothing; every frame is forwarded unchanged. `wrap_up_after` seconds after the call
starts it pushes an `LLMMessagesAppendFrame` (a system note asking the model to say goodbye and
call end_call); at `end_after` seconds it pushes a `TTSSpeakFrame` goodbye and an
`EndWorkerFrame`, so the pipeline ends once the goodbye has been sent. Sits before the user
context aggregator, which consumes the appended note.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    Frame,
    LLMMessagesAppendFrame,
    StartFrame,
    TTSSpeakFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContextMessage
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class CallTimeLimit(FrameProcessor):
    def __init__(
        self,
        *,
        wrap_up_after: float,
        end_after: float,
        wrap_up_note: str,
        goodbye: str,
        on_time_up: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(enable_direct_mode=True)  # a pass-through: no queue or task of its own
        if not 0 < wrap_up_after < end_after:
            raise ValueError("wrap_up_after must be positive and before end_after")
        self._wrap_up_after = wrap_up_after
        self._end_after = end_after
        self._wrap_up_note = wrap_up_note
        self._goodbye = goodbye
        self._on_time_up = on_time_up
        self._timer: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame) and self._timer is None:
            self._timer = self.create_task(self._run_clock(), name="call-time-limit")
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop_clock()

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._stop_clock()

    async def _stop_clock(self) -> None:
        if self._timer is not None:
            await self.cancel_task(self._timer)
            self._timer = None

    async def _run_clock(self) -> None:
        await asyncio.sleep(self._wrap_up_after)
        note: LLMContextMessage = {"role": "system", "content": self._wrap_up_note}
        await self.push_frame(LLMMessagesAppendFrame(messages=[note], run_llm=False))
        await asyncio.sleep(self._end_after - self._wrap_up_after)
        if self._on_time_up is not None:
            self._on_time_up()
        goodbye = TTSSpeakFrame(self._goodbye)
        goodbye.interruptible = False
        await self.push_frame(goodbye)
        await self.push_frame(EndWorkerFrame(reason="maximum call length"))
        self._timer = None

"""`ServiceErrorFallback`: the caller hears a short line instead of silence when a service fails.

Consumes: nothing. Watches `ErrorFrame`s travelling upstream (STT, LLM or TTS failures and
timeouts), forwards them unchanged, and pushes a `TTSSpeakFrame` with the fallback line
downstream so the conversation goes on. At most one fallback per `min_interval` seconds, so a
burst of errors from one failure is one apology, not several.
"""

from __future__ import annotations

import time

from pipecat.frames.frames import ErrorFrame, Frame, TTSSpeakFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class ServiceErrorFallback(FrameProcessor):
    def __init__(self, line: str, *, min_interval: float = 4.0) -> None:
        super().__init__(enable_direct_mode=True)  # a pass-through: no queue or task of its own
        self._line = line
        self._min_interval = min_interval
        self._last_spoken = float("-inf")

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if (
            isinstance(frame, ErrorFrame)
            and direction is FrameDirection.UPSTREAM
            and not frame.fatal
        ):
            now = time.monotonic()
            if now - self._last_spoken >= self._min_interval:
                self._last_spoken = now
                await self.push_frame(TTSSpeakFrame(self._line), FrameDirection.DOWNSTREAM)

"""An example carecall extension: counts the words the person says in a call.

`WordCount` is the processor factory carecall calls once per call (entry point `word-count` in
the group `carecall.processors`); its `place` puts it after speech-to-text, where the person's
transcripts pass. After each one it reports the running total to the call's events
(`call.figure`, name `caller_words`).

It imports nothing of carecall: `CallContext` below says what it uses of carecall's own.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

FIGURE = "caller_words"


class CallContext(Protocol):
    """What this extension uses of the call's context (carecall's `CallContext`)."""

    call_id: int

    def report(self, name: str, value: int | float | str) -> None: ...


class WordCount(FrameProcessor):
    """Consumes nothing: counts the words of each `TranscriptionFrame` and reports the total;
    every frame goes on unchanged, in its direction."""

    place: ClassVar[str] = "after_stt"

    def __init__(self, context: CallContext) -> None:
        # Direct mode: it only watches, so it needs no queue and task of its own.
        super().__init__(enable_direct_mode=True)
        self._context = context
        self.words = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            said = len(frame.text.split())
            if said:
                self.words += said
                self._context.report(FIGURE, self.words)
        await self.push_frame(frame, direction)

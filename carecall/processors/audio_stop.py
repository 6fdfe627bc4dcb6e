"""`AudioStop`: raw audio goes no further than the last processor that uses it.

Consumes: downstream frames of the given audio types; everything else passes unchanged.
pipecat passes every frame on to the end of the pipeline: each 20 ms of the caller's audio, once
the STT and the user aggregator (VAD) have it, would still be queued through the LLM, the TTS,
the output transport, the assistant aggregator and the pipeline's sinks, and each 40 ms of the
bot's audio, once sent, through the assistant aggregator and the sinks, none of which reads it.
At 50 frames a second per call that queueing is a large part of a call's CPU (bench/README.md).
Runs in direct mode: no queue or task of its own.
"""

from __future__ import annotations

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class AudioStop(FrameProcessor):
    def __init__(self, *audio_types: type[Frame], name: str | None = None) -> None:
        super().__init__(enable_direct_mode=True, name=name)
        self._types = audio_types

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM and isinstance(frame, self._types):
            return
        await self.push_frame(frame, direction)

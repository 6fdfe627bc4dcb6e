"""`PlaybackMarks`: asks Twilio to tell us when each spoken sentence has really been heard.

Consumes nothing. After every `TTSTextFrame` going downstream (the TTS queues it behind its
sentence's audio) it pushes an `OutputTransportMessageFrame` with a Twilio `mark`. The output
transport sends the mark after that audio; Twilio echoes it once the caller has heard it. The
call recorder matches echoes to sentences (`mark_name`), so an interrupted answer is stored as
what the caller actually heard, not what had merely been sent. Sits right before the output
transport.
"""

from __future__ import annotations

from pipecat.frames.frames import Frame, OutputTransportMessageFrame, TTSTextFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


def mark_name(frame: TTSTextFrame) -> str:
    return f"spoken-{frame.id}"


class PlaybackMarks(FrameProcessor):
    def __init__(self, stream_sid: str) -> None:
        super().__init__(enable_direct_mode=True)  # a pass-through: no queue or task of its own
        self._stream_sid = stream_sid

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TTSTextFrame) and direction is FrameDirection.DOWNSTREAM:
            mark = {
                "event": "mark",
                "streamSid": self._stream_sid,
                "mark": {"name": mark_name(frame)},
            }
            await self.push_frame(OutputTransportMessageFrame(message=mark))

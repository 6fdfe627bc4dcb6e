from __future__ import annotations

from pipecat.frames.frames import OutputTransportMessageFrame, TextFrame, TTSTextFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import run_test

from carecall.processors.playback_marks import PlaybackMarks, mark_name


async def test_a_mark_follows_every_spoken_sentence() -> None:
    first, second = (
        TTSTextFrame("Hello!", text_type="sentence"),
        TTSTextFrame("Bye.", text_type="sentence"),
    )
    down, _ = await run_test(
        PlaybackMarks("MZ123"),
        frames_to_send=[first, TextFrame("not spoken"), second],
        expected_down_frames=[
            TTSTextFrame,
            OutputTransportMessageFrame,
            TextFrame,
            TTSTextFrame,
            OutputTransportMessageFrame,
        ],
    )
    marks = [f.message for f in down if isinstance(f, OutputTransportMessageFrame)]
    assert marks == [
        {"event": "mark", "streamSid": "MZ123", "mark": {"name": mark_name(first)}},
        {"event": "mark", "streamSid": "MZ123", "mark": {"name": mark_name(second)}},
    ]
    assert mark_name(first) != mark_name(second)


async def test_upstream_frames_pass_untouched() -> None:
    frame = TTSTextFrame("Hi", text_type="sentence")
    _, up = await run_test(
        PlaybackMarks("MZ123"),
        frames_to_send=[frame],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_up_frames=[TTSTextFrame],
    )
    assert up[0] is frame

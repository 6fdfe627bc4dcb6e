from __future__ import annotations

from pipecat.frames.frames import (
    InputAudioRawFrame,
    OutputAudioRawFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import run_test

from carecall.processors.audio_stop import AudioStop


def _caller_audio() -> InputAudioRawFrame:
    return InputAudioRawFrame(audio=bytes(320), sample_rate=8000, num_channels=1)


async def test_the_callers_audio_goes_no_further_and_everything_else_does() -> None:
    down, _ = await run_test(
        AudioStop(InputAudioRawFrame),
        frames_to_send=[
            _caller_audio(),
            UserStartedSpeakingFrame(),
            _caller_audio(),
            TranscriptionFrame("hello", "caller", "now"),
            TTSAudioRawFrame(audio=bytes(480), sample_rate=24000, num_channels=1),
        ],
        expected_down_frames=[UserStartedSpeakingFrame, TranscriptionFrame, TTSAudioRawFrame],
    )
    assert not any(isinstance(f, InputAudioRawFrame) for f in down)


async def test_sent_bot_audio_stops_and_upstream_frames_pass() -> None:
    await run_test(
        AudioStop(OutputAudioRawFrame),
        frames_to_send=[
            TTSAudioRawFrame(audio=bytes(480), sample_rate=24000, num_channels=1),
            OutputAudioRawFrame(audio=bytes(320), sample_rate=8000, num_channels=1),
        ],
        expected_down_frames=[],
    )
    await run_test(
        AudioStop(InputAudioRawFrame),
        frames_to_send=[_caller_audio()],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_up_frames=[InputAudioRawFrame],
    )

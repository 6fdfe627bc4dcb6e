"""`ReplyGate`: open, it passes everything; closed, nothing that would start a reply gets past
it (a committed or speculative turn, a transcript, a fallback line, a prompt appended by another
processor), but the line's own speech (the voicemail message) does; reopened after a call
screener, the person's first turn is answered with the greeting instead of the model."""

from __future__ import annotations

from pipecat.frames.frames import (
    EndFrame,
    EndWorkerFrame,
    Frame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMMessagesAppendFrame,
    LLMRunFrame,
    TextFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import run_test

from carecall.processors.reply_gate import LineSpeechFrame, ReplyGate


def _would_reply() -> list[Frame]:
    """Everything processors before the model push that starts or feeds a reply."""
    return [
        TranscriptionFrame("Hello, you have reached the Miller residence.", "line", "now"),
        UserStoppedSpeakingFrame(),
        LLMContextFrame(context=LLMContext()),
        LLMContextFrame(context=LLMContext(), speculation=True),
        LLMRunFrame(),
        LLMMessagesAppendFrame(messages=[{"role": "system", "content": "Say something"}]),
        TTSSpeakFrame("I'm sorry, I didn't catch that."),
        TextFrame("Mm-hmm."),
    ]


async def test_an_open_gate_passes_everything() -> None:
    gate = ReplyGate()
    frames = _would_reply()
    down, _up = await run_test(gate, frames_to_send=frames)
    assert [type(f) for f in down] == [type(f) for f in frames]


async def test_a_closed_gate_lets_no_reply_start_but_the_line_speech_passes() -> None:
    gate = ReplyGate()
    gate.close()
    audio = InputAudioRawFrame(audio=b"\x00\x01" * 160, sample_rate=8000, num_channels=1)
    message = LineSpeechFrame("Sorry we missed you. Take care!")
    down, _up = await run_test(
        gate,
        frames_to_send=[
            UserStartedSpeakingFrame(),
            *_would_reply(),
            audio,
            message,
            EndWorkerFrame(reason="voicemail"),
        ],
        frames_to_send_direction=FrameDirection.DOWNSTREAM,
        send_end_frame=False,
    )
    assert [type(f) for f in down] == [
        UserStartedSpeakingFrame,
        InputAudioRawFrame,
        LineSpeechFrame,
        EndWorkerFrame,
        EndFrame,
    ]
    assert down[2] is message and message.interruptible is False


async def test_upstream_frames_pass_a_closed_gate() -> None:
    gate = ReplyGate()
    gate.close()
    _down, up = await run_test(
        gate,
        frames_to_send=[UserStoppedSpeakingFrame(), TextFrame("upstream")],
        frames_to_send_direction=FrameDirection.UPSTREAM,
    )
    assert [type(f) for f in up] == [UserStoppedSpeakingFrame, TextFrame]


async def test_reopened_the_first_committed_turn_is_answered_with_the_greeting() -> None:
    gate = ReplyGate()
    gate.close()
    gate.open(greet_with=["Hello Molly!", "How are you today?"])
    down, _up = await run_test(
        gate,
        frames_to_send=[
            LLMContextFrame(context=LLMContext(), speculation=True),
            LLMContextFrame(context=LLMContext()),
            LLMContextFrame(context=LLMContext()),
        ],
    )
    kinds = [type(f) for f in down]
    # The speculative reply and the committed turn are answered with the greeting; the turn
    # after that goes to the model as usual.
    assert kinds == [TTSSpeakFrame, TTSSpeakFrame, LLMContextFrame]
    assert [f.text for f in down[:2] if isinstance(f, TTSSpeakFrame)] == [
        "Hello Molly!",
        "How are you today?",
    ]
    assert not gate.closed

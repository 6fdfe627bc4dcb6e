"""`VoicemailDrop`: passes everything until told an answering machine took the call; then the
machine's audio stops there, the bot is interrupted, its reply gate closes, one message is
spoken, and the call ends. A suspected machine only silences the bot until the beep."""

from __future__ import annotations

from pipecat.frames.frames import (
    EndFrame,
    EndWorkerFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    TextFrame,
    TTSSpeakFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from carecall.core.end_reasons import VOICEMAIL_REASON
from carecall.processors.reply_gate import LineSpeechFrame, NotThePersonFrame
from carecall.processors.voicemail import VoicemailDrop

MESSAGE = "Hello Mary, this is Sunny. Sorry we missed you. Take care!"
LEAVE = "(the AMD verdict arrives)"


def _audio() -> InputAudioRawFrame:
    return InputAudioRawFrame(audio=b"\x00\x01" * 160, sample_rate=8000, num_channels=1)


class VerdictArrives(FrameProcessor):
    """Stands in for the `/twilio/amd` webhook: on a marker frame it asks the drop to leave
    the message (twice: a repeated verdict is harmless)."""

    def __init__(self, drop: VoicemailDrop) -> None:
        super().__init__()
        self.drop = drop
        self.answers: list[bool] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TextFrame) and frame.text == LEAVE:
            self.answers.append(await self.drop.leave_message(MESSAGE))
            self.answers.append(await self.drop.leave_message("a second message"))
            return
        await self.push_frame(frame, direction)


async def test_frames_pass_until_a_machine_is_detected() -> None:
    drop = VoicemailDrop()
    down, _up = await run_test(drop, frames_to_send=[_audio(), TextFrame("hello")])
    assert [type(f) for f in down] == [InputAudioRawFrame, TextFrame]
    assert not drop.leaving


async def test_the_message_is_left_and_the_call_ends() -> None:
    drop = VoicemailDrop()
    verdict = VerdictArrives(drop)
    down, up = await run_test(
        Pipeline([verdict, drop]),
        frames_to_send=[_audio(), TextFrame(LEAVE), SleepFrame(0.05), _audio(), _audio()],
        send_end_frame=False,  # the drop ends the call itself
    )
    assert verdict.answers == [True, False]
    assert drop.leaving
    kinds = [type(f) for f in down]
    # The machine's audio after the verdict went no further.
    assert kinds == [
        InputAudioRawFrame,
        NotThePersonFrame,
        InterruptionFrame,
        LineSpeechFrame,
        EndWorkerFrame,
        EndFrame,
    ]
    speak = down[3]
    assert isinstance(speak, LineSpeechFrame)
    assert speak.text == MESSAGE and speak.interruptible is False
    assert drop.gate.closed  # nothing the line heard before may start a reply now
    end = down[4]
    assert isinstance(end, EndWorkerFrame) and end.reason == VOICEMAIL_REASON
    # The interruption also went upstream (the transport's input is told), as a barge-in's.
    assert InterruptionFrame in [type(f) for f in up]


async def test_a_verdict_before_the_pipeline_starts_is_acted_on_when_it_starts() -> None:
    drop = VoicemailDrop()
    assert await drop.leave_message(MESSAGE) is True
    assert await drop.leave_message("again") is False

    down, _up = await run_test(drop, frames_to_send=[_audio()], send_end_frame=False)

    assert [type(f) for f in down] == [
        NotThePersonFrame,
        InterruptionFrame,
        LineSpeechFrame,
        EndWorkerFrame,
        EndFrame,
    ]
    speak = down[2]
    assert isinstance(speak, TTSSpeakFrame) and speak.text == MESSAGE


class SuspicionArrives(FrameProcessor):
    """On a marker frame, a machine is suspected (its greeting's words, or ``machine_start``)."""

    def __init__(self, drop: VoicemailDrop) -> None:
        super().__init__()
        self.drop = drop
        self.answers: list[bool] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TextFrame) and frame.text == SUSPECT:
            self.answers.append(await self.drop.suspect())
            self.answers.append(await self.drop.suspect())
            return
        await self.push_frame(frame, direction)


SUSPECT = "(a machine is suspected)"


async def test_a_suspected_machine_silences_the_bot_but_leaves_no_message_yet() -> None:
    drop = VoicemailDrop()
    suspicion = SuspicionArrives(drop)
    down, up = await run_test(
        Pipeline([suspicion, drop]),
        frames_to_send=[_audio(), TextFrame(SUSPECT), SleepFrame(0.05), _audio()],
    )
    assert suspicion.answers == [True, False]
    assert drop.suspected and not drop.leaving and drop.gate.closed
    # The machine is still heard (its beep, and whether it is one, are still to come); what
    # the bot was saying is dropped, and the turn the line had begun is not the person's.
    assert [type(f) for f in down] == [
        InputAudioRawFrame,
        InterruptionFrame,
        NotThePersonFrame,
        InputAudioRawFrame,
    ]
    assert InterruptionFrame in [type(f) for f in up]
    assert not any(isinstance(f, TTSSpeakFrame) for f in down)


async def test_the_message_after_a_suspicion_is_left_once() -> None:
    drop = VoicemailDrop()
    assert await drop.suspect() is True
    assert await drop.leave_message(MESSAGE) is True
    assert await drop.leave_message(MESSAGE) is False
    assert await drop.suspect() is False

    down, _up = await run_test(drop, frames_to_send=[_audio()], send_end_frame=False)

    spoken = [f for f in down if isinstance(f, TTSSpeakFrame)]
    assert [f.text for f in spoken] == [MESSAGE]
    assert InputAudioRawFrame not in [type(f) for f in down]

"""`CallRecorder`: frames in, turn records and call notes out."""

from __future__ import annotations

import asyncio
import time

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    InputTransportMessageFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.utils.asyncio.task_manager import TaskManager
from pipecat.utils.text.base_text_aggregator import TextType

from carecall.persistence.models import TurnRole
from carecall.pipeline.events import CallNote, CallRecord, TurnRecord
from carecall.pipeline.observers import (
    AudioBlindWorkerObserver,
    CallRecorder,
    observe_without_audio,
)
from carecall.pipeline.turns import AdaptiveTurnStop, TurnPauses
from carecall.processors.playback_marks import mark_name
from carecall.processors.reply_gate import NotThePersonFrame

CALL_ID = 7


class ListSink:
    def __init__(self) -> None:
        self.items: list[CallRecord] = []

    def submit(self, item: CallRecord) -> None:
        self.items.append(item)

    @property
    def turns(self) -> list[TurnRecord]:
        return [i for i in self.items if isinstance(i, TurnRecord)]


class Harness:
    """A recorder wired to two stand-in processors: `output` is the output transport."""

    def __init__(self) -> None:
        self.sink = ListSink()
        self.output = FrameProcessor(name="output")
        self.other = FrameProcessor(name="other")
        self.recorder = CallRecorder(CALL_ID, self.sink, spoken_by=self.output)

    async def push(
        self, frame: Frame, *, source: FrameProcessor | None = None, first_push: bool = True
    ) -> None:
        source = source or self.other
        destination = self.other if source is self.output else self.output
        await self.recorder.on_push_frame(
            FramePushed(
                source=source,
                destination=destination,
                frame=frame,
                direction=FrameDirection.DOWNSTREAM,
                timestamp=0,
                first_push=first_push,
            )
        )

    async def spoken(self, text: str) -> TTSTextFrame:
        """Text the output transport sent along with its audio."""
        frame = TTSTextFrame(text, text_type=TextType.SENTENCE)
        await self.push(frame, source=self.output)
        return frame

    async def mark_echoed(self, frame: TTSTextFrame) -> None:
        """Twilio echoed the playback mark sent after this sentence: the caller heard it."""
        message = {"event": "mark", "name": mark_name(frame)}
        await self.push(InputTransportMessageFrame(message=message))

    async def generated(self, text: str) -> None:
        """Text the TTS produced (not yet, or never, sent by the output)."""
        await self.push(TTSTextFrame(text, text_type=TextType.SENTENCE), source=self.other)

    async def heard(self, text: str) -> None:
        await self.push(TranscriptionFrame(text, "caller", "2026-01-01T00:00:00Z"))


async def test_greeting_answer_and_reply_in_order_with_latency() -> None:
    h = Harness()
    await h.push(BotStartedSpeakingFrame())
    await h.spoken("Hello!")
    await h.push(BotStoppedSpeakingFrame())
    await h.push(UserStartedSpeakingFrame())
    await h.heard("I'm fine")
    await h.push(VADUserStoppedSpeakingFrame(stop_secs=0.5))
    await h.push(UserStoppedSpeakingFrame())
    await asyncio.sleep(0.1)
    await h.push(BotStartedSpeakingFrame())
    await h.spoken("Glad to hear it.")
    await h.spoken("Did you sleep well?")
    await h.push(BotStoppedSpeakingFrame())
    h.recorder.finish()

    turns = h.sink.turns
    assert h.sink.items == turns  # no notes
    assert [t.sequence for t in turns] == [1, 2, 3]
    assert [t.role for t in turns] == [TurnRole.ASSISTANT, TurnRole.USER, TurnRole.ASSISTANT]
    assert [t.text for t in turns] == [
        "Hello!",
        "I'm fine",
        "Glad to hear it. Did you sleep well?",
    ]
    assert all(t.call_id == CALL_ID for t in turns)
    assert not any(t.interrupted for t in turns)
    assert turns[0].latency_ms is None
    assert turns[1].latency_ms is None
    latency = turns[2].latency_ms
    assert latency is not None
    assert 550 <= latency <= 900
    for turn in turns:
        assert turn.ended_at is not None
        assert turn.started_at <= turn.ended_at
    assert turns[0].ended_at <= turns[1].started_at  # type: ignore[operator]


async def test_text_not_sent_by_the_output_is_ignored() -> None:
    h = Harness()
    await h.push(BotStartedSpeakingFrame())
    await h.generated("Hello!")
    await h.spoken("Hello!")
    await h.generated("This sentence was never sent.")
    await h.push(BotStoppedSpeakingFrame())
    h.recorder.finish()

    assert [(t.role, t.text) for t in h.sink.turns] == [(TurnRole.ASSISTANT, "Hello!")]


async def test_an_answer_nothing_of_which_was_sent_is_not_recorded() -> None:
    h = Harness()
    await h.generated("Generated but never spoken.")  # no bot turn open yet
    await h.push(BotStartedSpeakingFrame())
    await h.generated("Also never spoken.")
    await h.push(BotStoppedSpeakingFrame())
    h.recorder.finish()

    assert h.sink.items == []


async def test_barge_in_marks_the_answer_interrupted_with_only_the_text_sent() -> None:
    h = Harness()
    await h.push(BotStartedSpeakingFrame())
    await h.spoken("I wanted to ask,")
    await h.generated("how did you sleep last night?")
    await h.push(UserStartedSpeakingFrame())

    # Emitted as soon as the caller barges in, before the call ends.
    assert len(h.sink.turns) == 1
    answer = h.sink.turns[0]
    assert answer.role is TurnRole.ASSISTANT
    assert answer.interrupted is True
    assert answer.text == "I wanted to ask,"

    await h.heard("Sorry, go on")
    await h.push(UserStoppedSpeakingFrame())
    h.recorder.finish()
    assert [(t.sequence, t.role, t.text, t.interrupted) for t in h.sink.turns] == [
        (1, TurnRole.ASSISTANT, "I wanted to ask,", True),
        (2, TurnRole.USER, "Sorry, go on", False),
    ]


async def test_caller_starting_after_the_bot_stopped_is_not_an_interruption() -> None:
    h = Harness()
    await h.push(BotStartedSpeakingFrame())
    await h.spoken("How are you?")
    await h.push(BotStoppedSpeakingFrame())
    await h.push(UserStartedSpeakingFrame())

    assert [(t.text, t.interrupted) for t in h.sink.turns] == [("How are you?", False)]


async def test_a_pause_inside_the_callers_turn_is_one_user_turn() -> None:
    h = Harness()
    await h.push(UserStartedSpeakingFrame())
    await h.heard("well")
    await h.push(UserStoppedSpeakingFrame())
    await h.push(UserStartedSpeakingFrame())
    await h.heard("I slept badly")
    await h.push(UserStoppedSpeakingFrame())
    await h.push(BotStartedSpeakingFrame())

    assert [(t.sequence, t.role, t.text) for t in h.sink.turns] == [
        (1, TurnRole.USER, "well I slept badly")
    ]


async def test_a_noise_only_stretch_does_not_make_a_turn() -> None:
    h = Harness()
    await h.push(UserStartedSpeakingFrame())
    await h.heard("   ")
    await h.push(UserStoppedSpeakingFrame())
    await h.push(BotStartedSpeakingFrame())
    await h.spoken("Are you still there?")
    await h.push(BotStoppedSpeakingFrame())
    h.recorder.finish()

    assert [(t.sequence, t.role) for t in h.sink.turns] == [(1, TurnRole.ASSISTANT)]


async def test_an_error_becomes_a_call_note() -> None:
    h = Harness()
    await h.push(ErrorFrame("LLM request timed out"))

    assert h.sink.items == [CallNote(CALL_ID, error="LLM request timed out")]


async def test_frames_passed_along_again_are_not_counted_twice() -> None:
    h = Harness()
    # Every processor that forwards a frame pushes it again, with first_push=False.
    error = ErrorFrame("TTS failed")
    await h.push(error)
    await h.push(error, first_push=False)

    started = UserStartedSpeakingFrame()
    await h.push(started)
    await h.push(started, first_push=False)
    transcript = TranscriptionFrame("I'm fine", "caller", "2026-01-01T00:00:00Z")
    await h.push(transcript)
    await h.push(transcript, first_push=False)
    await h.push(UserStoppedSpeakingFrame())

    bot_started = BotStartedSpeakingFrame()
    await h.push(bot_started)
    await h.push(bot_started, first_push=False)
    # The output transport forwards what the TTS pushed first: that push counts.
    await h.spoken("Good.")
    await h.push(BotStoppedSpeakingFrame())
    # A stale BotStarted passed along after the answer ended opens no new turn.
    await h.push(bot_started, first_push=False)
    await h.push(UserStartedSpeakingFrame(), first_push=False)
    h.recorder.finish()

    assert h.sink.items[0] == CallNote(CALL_ID, error="TTS failed")
    assert [i for i in h.sink.items if isinstance(i, CallNote)] == [h.sink.items[0]]
    assert [(t.sequence, t.role, t.text, t.interrupted) for t in h.sink.turns] == [
        (1, TurnRole.USER, "I'm fine", False),
        (2, TurnRole.ASSISTANT, "Good.", False),
    ]


async def test_finish_flushes_an_open_user_turn() -> None:
    h = Harness()
    await h.push(UserStartedSpeakingFrame())
    await h.heard("Hello? Who is this?")
    h.recorder.finish()

    assert [(t.sequence, t.role, t.text) for t in h.sink.turns] == [
        (1, TurnRole.USER, "Hello? Who is this?")
    ]
    h.recorder.finish()  # idempotent
    assert len(h.sink.turns) == 1


async def test_with_playback_marks_an_interrupted_answer_keeps_only_what_was_heard() -> None:
    h = Harness()
    await h.push(BotStartedSpeakingFrame())
    first = await h.spoken("Hello!")
    await h.mark_echoed(first)
    second = await h.spoken("This is Sunny, calling for your check-in.")  # sent, still playing
    await h.push(UserStartedSpeakingFrame())
    await h.mark_echoed(second)  # Twilio echoes pending marks after `clear`: not heard
    h.recorder.finish()
    assert [(t.text, t.interrupted) for t in h.sink.turns] == [("Hello!", True)]


async def test_with_playback_marks_an_answer_heard_to_the_end_is_whole() -> None:
    h = Harness()
    await h.push(BotStartedSpeakingFrame())
    for text in ("Good.", "Sleep well?"):
        await h.mark_echoed(await h.spoken(text))
    await h.push(BotStoppedSpeakingFrame())
    h.recorder.finish()
    assert [(t.text, t.interrupted) for t in h.sink.turns] == [("Good. Sleep well?", False)]


async def test_caller_talking_over_audio_still_playing_interrupts_it() -> None:
    """The output sends faster than real time: 'bot stopped speaking' only means 'all sent'."""
    h = Harness()
    await h.push(BotStartedSpeakingFrame())
    first, _second = await h.spoken("Good."), await h.spoken("Did you sleep well last night?")
    await h.mark_echoed(first)
    await h.push(BotStoppedSpeakingFrame())
    await h.push(UserStartedSpeakingFrame())
    assert [(t.text, t.interrupted) for t in h.sink.turns] == [("Good.", True)]


class _Seen(BaseObserver):
    def __init__(self) -> None:
        super().__init__()
        self.pushed: list[type] = []
        self.processed = 0

    async def on_push_frame(self, data: FramePushed) -> None:
        self.pushed.append(type(data.frame))

    async def on_process_frame(self, data: FrameProcessed) -> None:
        self.processed += 1


async def test_observers_of_a_call_worker_get_every_frame_but_raw_audio() -> None:
    seen = _Seen()
    worker = PipelineWorker(Pipeline([FrameProcessor()]), observers=[seen])
    observe_without_audio(worker)
    observer = worker._observer
    assert isinstance(observer, AudioBlindWorkerObserver)
    await observer.setup(TaskManager())
    source, destination = FrameProcessor(), FrameProcessor()
    for frame in (
        InputAudioRawFrame(audio=bytes(320), sample_rate=8000, num_channels=1),
        TranscriptionFrame("hello", "user", "now"),
        TTSAudioRawFrame(audio=bytes(320), sample_rate=24000, num_channels=1),
        BotStartedSpeakingFrame(),
    ):
        push = FramePushed(
            source=source,
            destination=destination,
            frame=frame,
            direction=FrameDirection.DOWNSTREAM,
            timestamp=0,
        )
        await observer.on_push_frame(push)
        await observer.on_process_frame(
            FrameProcessed(
                processor=destination, frame=frame, direction=FrameDirection.DOWNSTREAM, timestamp=0
            )
        )
    for _ in range(20):
        await asyncio.sleep(0)
    await observer.cleanup()
    assert seen.pushed == [TranscriptionFrame, BotStartedSpeakingFrame]
    assert seen.processed == 0


async def test_each_answer_logs_its_timing_from_the_end_of_turn_decision() -> None:
    sink = ListSink()
    turn_stop = AdaptiveTurnStop(pauses=TurnPauses())
    output, other = FrameProcessor(name="output"), FrameProcessor(name="other")
    recorder = CallRecorder(CALL_ID, sink, spoken_by=output, turn_stop=turn_stop)
    lines: list[str] = []
    handler = logger.add(lambda m: lines.append(m.record["message"] + str(m.record["extra"])))

    async def push(frame: Frame) -> None:
        await recorder.on_push_frame(
            FramePushed(
                source=other,
                destination=output,
                frame=frame,
                direction=FrameDirection.DOWNSTREAM,
                timestamp=0,
            )
        )

    try:
        await push(UserStartedSpeakingFrame())
        await push(TranscriptionFrame("I slept well", "caller", "now"))
        await push(VADUserStoppedSpeakingFrame(stop_secs=0.5))
        turn_stop.decided_at = time.monotonic()
        await asyncio.sleep(0.05)
        await push(BotStartedSpeakingFrame())
    finally:
        logger.remove(handler)
    [line] = [line for line in lines if line.startswith("Answered")]
    assert "ms after the caller stopped talking" in line
    assert f"'decided_at': '{turn_stop.decided_at:.4f}'" in line
    assert f"'call_id': {CALL_ID}" in line


async def test_with_a_line_screen_only_the_transcripts_it_passed_on_are_the_persons() -> None:
    h = Harness()
    screen = FrameProcessor(name="line-screen")
    h.recorder = CallRecorder(CALL_ID, h.sink, spoken_by=h.output, heard_by=screen)
    stt = h.other
    screener = TranscriptionFrame("Please say your name and why you're calling.", "line", "t")
    await h.push(UserStartedSpeakingFrame())
    await h.push(screener, source=stt)  # made by the STT; the screen kept it
    await h.push(BotStartedSpeakingFrame())
    await h.spoken("This is Sunny calling for Molly's daily check-in from Sunny Care.")
    await h.push(BotStoppedSpeakingFrame())
    person = TranscriptionFrame("Hello? Who is this?", "line", "t")
    await h.push(UserStartedSpeakingFrame())
    await h.push(person, source=stt)
    await h.push(person, source=screen, first_push=False)  # the screen passed it on
    h.recorder.finish()

    assert [(t.role, t.text) for t in h.sink.turns] == [
        (TurnRole.ASSISTANT, "This is Sunny calling for Molly's daily check-in from Sunny Care."),
        (TurnRole.USER, "Hello? Who is this?"),
    ]


async def test_a_turn_found_not_to_be_the_persons_is_dropped() -> None:
    h = Harness()
    await h.push(BotStartedSpeakingFrame())
    await h.spoken("Hello Walt!")
    await h.push(BotStoppedSpeakingFrame())
    await h.push(UserStartedSpeakingFrame())
    await h.heard("Hi, you've got Walt and Edna. Talk to us.")
    await h.push(UserStoppedSpeakingFrame())
    # Twilio's verdict: a machine. Its greeting is not Walt's words; the message follows.
    await h.push(NotThePersonFrame())
    await h.push(BotStartedSpeakingFrame())
    await h.spoken("Sorry we missed you.")
    await h.push(BotStoppedSpeakingFrame())
    h.recorder.finish()

    assert [(t.role, t.text) for t in h.sink.turns] == [
        (TurnRole.ASSISTANT, "Hello Walt!"),
        (TurnRole.ASSISTANT, "Sorry we missed you."),
    ]

"""`ServiceErrorFallback`: one spoken apology per service failure, and one when nothing was said
by the reply deadline (the late reply cancelled); every frame forwarded."""

from __future__ import annotations

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    ErrorFrame,
    InterruptionFrame,
    TextFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import SleepFrame, run_test

from carecall.processors.hold_cue import HoldCueFrame, ReplyAudioFrame
from carecall.processors.service_fallback import ServiceErrorFallback

LINE = "Sorry, could you say that again?"


async def test_an_upstream_error_speaks_the_line_and_is_forwarded() -> None:
    error = ErrorFrame("stt timed out")
    down, up = await run_test(
        ServiceErrorFallback(LINE),
        frames_to_send=[error],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[TTSSpeakFrame],
        expected_up_frames=[ErrorFrame],
    )
    assert isinstance(down[0], TTSSpeakFrame)
    assert down[0].text == LINE
    assert up[0] is error


async def test_a_burst_of_errors_gives_one_line() -> None:
    _down, up = await run_test(
        ServiceErrorFallback(LINE, min_interval=10.0),
        frames_to_send=[ErrorFrame("llm failed"), ErrorFrame("tts failed")],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[TTSSpeakFrame],
        expected_up_frames=[ErrorFrame, ErrorFrame],
    )
    assert [f.error for f in up if isinstance(f, ErrorFrame)] == ["llm failed", "tts failed"]


async def test_an_error_after_min_interval_gives_another_line() -> None:
    down, _ = await run_test(
        ServiceErrorFallback(LINE, min_interval=0.05),
        frames_to_send=[ErrorFrame("first"), SleepFrame(sleep=0.15), ErrorFrame("second")],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[TTSSpeakFrame, TTSSpeakFrame],
        expected_up_frames=[ErrorFrame, ErrorFrame],
    )
    assert [f.text for f in down if isinstance(f, TTSSpeakFrame)] == [LINE, LINE]


async def test_a_fatal_error_gets_no_line() -> None:
    fatal = ErrorFrame("credentials rejected")
    fatal.fatal = True  # set after construction: the constructor flag is deprecated and warns
    # A fatal error cancels the pipeline, so there is nothing left to end.
    down, up = await run_test(
        ServiceErrorFallback(LINE),
        frames_to_send=[fatal],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        send_end_frame=False,
    )
    assert not any(isinstance(f, TTSSpeakFrame) for f in down)
    assert up == [fatal]


async def test_a_downstream_error_gets_no_line() -> None:
    error = ErrorFrame("not ours")
    down, _up = await run_test(
        ServiceErrorFallback(LINE),
        frames_to_send=[error],
        expected_down_frames=[ErrorFrame],
        expected_up_frames=[],
    )
    assert down[0] is error


async def test_other_frames_pass_unchanged_downstream() -> None:
    frames = [UserStartedSpeakingFrame(), TextFrame("hello"), TTSSpeakFrame("hi there")]
    down, _up = await run_test(
        ServiceErrorFallback(LINE),
        frames_to_send=frames,
        expected_down_frames=[UserStartedSpeakingFrame, TextFrame, TTSSpeakFrame],
        expected_up_frames=[],
    )
    assert all(got is sent for got, sent in zip(down, frames, strict=True))


async def test_other_frames_pass_unchanged_upstream() -> None:
    frames = [BotStartedSpeakingFrame(), TextFrame("going up")]
    _down, up = await run_test(
        ServiceErrorFallback(LINE),
        frames_to_send=frames,
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[],
        expected_up_frames=[BotStartedSpeakingFrame, TextFrame],
    )
    assert all(got is sent for got, sent in zip(up, frames, strict=True))


async def test_no_reply_by_the_deadline_cancels_it_and_speaks_the_line() -> None:
    down, _up = await run_test(
        ServiceErrorFallback(LINE, reply_deadline=0.2),
        frames_to_send=[UserStoppedSpeakingFrame(), SleepFrame(sleep=0.4)],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[InterruptionFrame, TTSSpeakFrame],
        expected_up_frames=[UserStoppedSpeakingFrame, InterruptionFrame],
    )
    assert isinstance(down[1], TTSSpeakFrame) and down[1].text == LINE


async def test_a_reply_in_time_stops_the_clock() -> None:
    await run_test(
        ServiceErrorFallback(LINE, reply_deadline=0.2),
        frames_to_send=[
            UserStoppedSpeakingFrame(),
            SleepFrame(sleep=0.1),
            BotStartedSpeakingFrame(),
            SleepFrame(sleep=0.3),
        ],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[],
        expected_up_frames=[UserStoppedSpeakingFrame, BotStartedSpeakingFrame],
    )


async def test_the_caller_speaking_again_stops_the_clock() -> None:
    await run_test(
        ServiceErrorFallback(LINE, reply_deadline=0.2),
        frames_to_send=[UserStoppedSpeakingFrame(), UserStartedSpeakingFrame(), SleepFrame(0.3)],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[],
        expected_up_frames=[UserStoppedSpeakingFrame, UserStartedSpeakingFrame],
    )


async def test_an_error_after_the_turn_clears_the_reply_and_speaks_at_once() -> None:
    # A sentence failed and the rest of the reply may hang too: the line goes first, once.
    down, _up = await run_test(
        ServiceErrorFallback(LINE, reply_deadline=0.2),
        frames_to_send=[UserStoppedSpeakingFrame(), ErrorFrame("tts failed"), SleepFrame(0.3)],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[InterruptionFrame, TTSSpeakFrame],
        expected_up_frames=[UserStoppedSpeakingFrame, ErrorFrame, InterruptionFrame],
    )
    assert isinstance(down[1], TTSSpeakFrame) and down[1].text == LINE


async def test_after_the_turn_an_error_gets_its_line_even_inside_min_interval() -> None:
    # A line was just said, but the caller has spoken since and heard nothing: a new line.
    await run_test(
        ServiceErrorFallback(LINE, min_interval=10.0, reply_deadline=0.2),
        frames_to_send=[
            ErrorFrame("first"),
            UserStoppedSpeakingFrame(),
            ErrorFrame("second"),
            SleepFrame(0.3),
        ],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[TTSSpeakFrame, InterruptionFrame, TTSSpeakFrame],
        expected_up_frames=[ErrorFrame, UserStoppedSpeakingFrame, ErrorFrame, InterruptionFrame],
    )


async def test_the_hold_cue_does_not_stop_the_clock_but_the_answer_does() -> None:
    # The cue plays, and no answer follows: the deadline still cancels it and says the line.
    down, _up = await run_test(
        ServiceErrorFallback(LINE, reply_deadline=0.3),
        frames_to_send=[
            UserStoppedSpeakingFrame(),
            HoldCueFrame(),
            BotStartedSpeakingFrame(),
            SleepFrame(sleep=0.5),
        ],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[InterruptionFrame, TTSSpeakFrame],
        expected_up_frames=[
            UserStoppedSpeakingFrame,
            HoldCueFrame,
            BotStartedSpeakingFrame,
            InterruptionFrame,
        ],
    )
    assert isinstance(down[1], TTSSpeakFrame) and down[1].text == LINE
    # The cue plays, then the answer's audio arrives (no new BotStartedSpeaking: one stretch
    # of bot audio): the clock stops.
    await run_test(
        ServiceErrorFallback(LINE, reply_deadline=0.3),
        frames_to_send=[
            UserStoppedSpeakingFrame(),
            HoldCueFrame(),
            BotStartedSpeakingFrame(),
            SleepFrame(sleep=0.1),
            ReplyAudioFrame(),
            SleepFrame(sleep=0.4),
        ],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[],
        expected_up_frames=[
            UserStoppedSpeakingFrame,
            HoldCueFrame,
            BotStartedSpeakingFrame,
            ReplyAudioFrame,
        ],
    )

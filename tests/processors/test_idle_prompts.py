"""`IdlePrompts`: gentle prompts for a silent caller, then a polite goodbye."""

from __future__ import annotations

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    Frame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from carecall.processors.idle_prompts import NO_RESPONSE, IdlePromptFrame, IdlePrompts

LINES = ("Take your time.", "Are you still there?")


def prompts(ended: list[str], after: float = 0.2) -> IdlePrompts:
    return IdlePrompts(after=after, lines=LINES, goodbye="Goodbye!", on_end=ended.append)


def spoken(frames: object) -> list[str]:
    return [f.text for f in frames if isinstance(f, TTSSpeakFrame)]  # type: ignore[attr-defined]


async def test_a_silent_caller_hears_two_prompts_then_a_goodbye() -> None:
    ended: list[str] = []
    down, _up = await run_test(
        prompts(ended),
        frames_to_send=[
            BotStoppedSpeakingFrame(),  # the greeting is over
            SleepFrame(sleep=0.3),
            BotStartedSpeakingFrame(),
            BotStoppedSpeakingFrame(),  # "Take your time." was said
            SleepFrame(sleep=0.3),
            BotStartedSpeakingFrame(),
            BotStoppedSpeakingFrame(),
            SleepFrame(sleep=0.3),
        ],
    )
    assert spoken(down) == [*LINES, "Goodbye!"]
    assert sum(isinstance(f, IdlePromptFrame) for f in down) == 3
    assert any(isinstance(f, EndWorkerFrame) for f in down)
    assert ended == [NO_RESPONSE]


async def test_the_caller_speaking_stops_the_clock_and_starts_the_count_again() -> None:
    ended: list[str] = []
    down, _up = await run_test(
        prompts(ended),
        frames_to_send=[
            BotStoppedSpeakingFrame(),
            SleepFrame(sleep=0.3),  # prompt 1
            BotStartedSpeakingFrame(),
            BotStoppedSpeakingFrame(),
            SleepFrame(sleep=0.1),
            UserStartedSpeakingFrame(),  # they answer before prompt 2
            SleepFrame(sleep=0.3),  # their turn is long: no prompt while they speak
            BotStoppedSpeakingFrame(),  # (an answer interrupted under them ends meanwhile)
            SleepFrame(sleep=0.3),
            UserStoppedSpeakingFrame(),
            BotStartedSpeakingFrame(),
            BotStoppedSpeakingFrame(),  # the answer
            SleepFrame(sleep=0.3),  # prompt 1 again, not 2
        ],
    )
    assert spoken(down) == [LINES[0], LINES[0]]
    assert ended == []


async def test_zero_means_never() -> None:
    ended: list[str] = []
    down, _up = await run_test(
        prompts(ended, after=0.0),
        frames_to_send=[BotStoppedSpeakingFrame(), SleepFrame(sleep=0.3)],
    )
    assert spoken(down) == [] and ended == []


async def test_a_cough_in_the_silence_does_not_stop_the_prompts_for_good() -> None:
    """Speech that came to nothing (no turn was answered): once quiet again, the clock runs."""
    ended: list[str] = []
    down, _up = await run_test(
        prompts(ended),
        frames_to_send=[
            BotStoppedSpeakingFrame(),
            SleepFrame(sleep=0.1),
            VADUserStartedSpeakingFrame(),  # a cough
            SleepFrame(sleep=0.1),
            VADUserStoppedSpeakingFrame(),
            SleepFrame(sleep=0.3),
        ],
    )
    assert spoken(down) == [LINES[0]]


async def test_staying_on_the_line_fills_every_silence_and_never_ends_the_call() -> None:
    """A hand-over under way (`calls.handover`): the usual prompts and goodbye give way to the
    hand-over's lines, in turn, round and round, however long the silence lasts."""
    ended: list[str] = []
    idle = prompts(ended)
    idle.stay_with(["Still getting hold of Tom.", "Call 9 1 1."], after=0.15)
    frames: list[Frame] = [BotStoppedSpeakingFrame()]
    for _ in range(5):
        frames += [SleepFrame(sleep=0.25), BotStartedSpeakingFrame(), BotStoppedSpeakingFrame()]
    down, _up = await run_test(idle, frames_to_send=frames)
    assert spoken(down) == [
        "Still getting hold of Tom.",
        "Call 9 1 1.",
        "Still getting hold of Tom.",
        "Call 9 1 1.",
        "Still getting hold of Tom.",
    ]
    assert ended == [] and not any(isinstance(f, EndWorkerFrame) for f in down)
    assert idle.staying


async def test_staying_on_the_line_works_with_prompts_turned_off() -> None:
    ended: list[str] = []
    idle = prompts(ended, after=0.0)
    idle.stay_with(["Still here."], after=0.1)
    down, _up = await run_test(
        idle, frames_to_send=[BotStoppedSpeakingFrame(), SleepFrame(sleep=0.2)]
    )
    assert spoken(down) == ["Still here."] and ended == []

from __future__ import annotations

import json
import time

from pipecat.frames.frames import (
    Frame,
    InterimTranscriptionFrame,
    LLMContextFrame,
    LLMMessagesAppendFrame,
    TextFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import SleepFrame, run_test

from carecall.processors.red_flags import RedFlagWatcher
from carecall.wellbeing.red_flags import LLMCheck, RedFlag, RedFlagCategory
from tests.wellbeing.chat_fake import chat_fake

SUBTLE = "I have put my affairs in order, you will not need to ring again, dear."
"""Thoughts of self-harm neither the phrase rules nor the classifier catch."""


def said(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text, "caller", "2026-11-26T10:00:00")


def note_text(frame: Frame) -> str:
    assert isinstance(frame, LLMMessagesAppendFrame)
    assert frame.run_llm is False
    [message] = frame.messages
    assert isinstance(message, dict) and message["role"] == "system"
    content = message["content"]
    assert isinstance(content, str)
    return content


def self_harm_verdict(text: str) -> str:
    verdict = {"red_flag": "affairs" in text, "category": "self_harm", "evidence": "affairs"}
    return json.dumps(verdict)


class PushTimes(BaseObserver):
    """When each transcription reached the watcher and when the watcher passed it on."""

    def __init__(self, watcher: RedFlagWatcher) -> None:
        super().__init__()
        self.watcher = watcher
        self.arrived: dict[int, float] = {}
        self.left: dict[int, float] = {}

    async def on_push_frame(self, data: FramePushed) -> None:
        if isinstance(data.frame, TranscriptionFrame):
            if data.destination is self.watcher:
                self.arrived[data.frame.id] = time.monotonic()
            elif data.source is self.watcher:
                self.left[data.frame.id] = time.monotonic()


async def test_ordinary_lines_pass_unchanged_in_order_with_no_note() -> None:
    flags: list[RedFlag] = []
    sent: list[Frame] = [
        UserStartedSpeakingFrame(),
        InterimTranscriptionFrame("I fell", "caller", "now"),
        said("I fell asleep early last night."),
        TextFrame("my heart is full"),
        said("My son calls me every Sunday."),
        UserStoppedSpeakingFrame(),
    ]
    down, _ = await run_test(
        RedFlagWatcher(on_red_flag=flags.append),
        frames_to_send=sent,
        expected_down_frames=[type(f) for f in sent],
    )
    assert all(a is b for a, b in zip(down, sent, strict=True))
    assert flags == []


async def test_an_urgent_line_gets_a_care_note_before_it_and_raises_the_alert() -> None:
    flags: list[RedFlag] = []
    line = said("I took a tumble yesterday and can't get up.")
    down, _ = await run_test(
        RedFlagWatcher(on_red_flag=flags.append),
        frames_to_send=[UserStartedSpeakingFrame(), line, UserStoppedSpeakingFrame()],
        expected_down_frames=[
            UserStartedSpeakingFrame,
            LLMMessagesAppendFrame,
            TranscriptionFrame,
            UserStoppedSpeakingFrame,
        ],
    )
    assert down[2] is line and line.text == "I took a tumble yesterday and can't get up."
    note = note_text(down[1])
    assert "a fall" in note and "911" in note and "caregiver" in note
    assert "tumble" not in note  # the caller's words never go into a system message
    [flag] = flags
    assert (flag.category, flag.detector) == (RedFlagCategory.FALL, "rules")
    assert "911" in flag.advice.replace("9 1 1", "911")


async def test_thoughts_of_self_harm_get_the_988_lifeline_and_no_hang_up() -> None:
    flags: list[RedFlag] = []
    down, _ = await run_test(
        RedFlagWatcher(on_red_flag=flags.append),
        frames_to_send=[said("Sometimes I just want to end it all.")],
        expected_down_frames=[LLMMessagesAppendFrame, TranscriptionFrame],
    )
    note = note_text(down[0])
    assert "988" in note and "do not end the call" in note
    assert [f.category for f in flags] == [RedFlagCategory.SELF_HARM]
    assert "9 8 8" in flags[0].advice


async def test_each_category_is_raised_once_per_call() -> None:
    flags: list[RedFlag] = []
    await run_test(
        RedFlagWatcher(on_red_flag=flags.append),
        frames_to_send=[
            said("I fell in the bathroom this morning."),
            said("My chest feels tight."),
            said("I still can't get up off the floor."),
            said("There's a pressure on my chest and I can't catch my breath."),
        ],
        expected_down_frames=[
            LLMMessagesAppendFrame,
            TranscriptionFrame,
            LLMMessagesAppendFrame,
            TranscriptionFrame,
            TranscriptionFrame,
            LLMMessagesAppendFrame,  # breathing is new; chest pain was raised already
            TranscriptionFrame,
        ],
    )
    assert [f.category for f in flags] == [
        RedFlagCategory.FALL,
        RedFlagCategory.CHEST_PAIN,
        RedFlagCategory.BREATHING,
    ]


async def test_every_red_flag_heard_is_told_to_on_heard_though_raised_once() -> None:
    """The guided check-in listens with ``on_heard``: a fall said again gets the care advice
    again (the alert is raised once)."""
    raised: list[RedFlag] = []
    heard: list[RedFlag] = []
    await run_test(
        RedFlagWatcher(on_red_flag=raised.append, on_heard=heard.append),
        frames_to_send=[
            said("I fell in the kitchen and I can't get up."),
            said("Nice weather today."),
            said("I said I fell and I can't get up!"),
        ],
        expected_down_frames=[
            LLMMessagesAppendFrame,
            TranscriptionFrame,
            TranscriptionFrame,
            TranscriptionFrame,  # the fall again: no second note, no second alert
        ],
    )
    assert [f.category for f in raised] == [RedFlagCategory.FALL]
    assert [f.category for f in heard] == [RedFlagCategory.FALL, RedFlagCategory.FALL]


async def test_the_note_reaches_the_context_of_the_reply_to_that_turn_without_an_extra_run() -> (
    None
):
    context = LLMContext()
    user_aggregator, _ = LLMContextAggregatorPair(context)
    flags: list[RedFlag] = []
    down, _ = await run_test(
        Pipeline([RedFlagWatcher(on_red_flag=flags.append), user_aggregator]),
        frames_to_send=[
            UserStartedSpeakingFrame(),
            said("My face is drooping on one side."),
            SleepFrame(0.1),
            UserStoppedSpeakingFrame(),
            SleepFrame(1.2),  # the turn ends after the aggregator's pause
        ],
    )
    runs = [f for f in down if isinstance(f, LLMContextFrame)]
    assert len(runs) == 1
    roles = [m.get("role") for m in context.get_messages() if isinstance(m, dict)]
    assert roles == ["system", "user"]
    assert "stroke" in str(context.get_messages()[0].get("content"))  # type: ignore[union-attr]
    assert [f.category for f in flags] == [RedFlagCategory.STROKE]


async def test_the_model_check_flags_what_the_rules_miss() -> None:
    async with chat_fake(self_harm_verdict) as (fake, client):
        flags: list[RedFlag] = []
        watcher = RedFlagWatcher(
            on_red_flag=flags.append,
            llm_check=LLMCheck(client, model="gpt-4o", timeout=5),
            check_delay=0,
        )
        down, _ = await run_test(
            watcher,
            frames_to_send=[said("Lovely weather today."), said(SUBTLE), SleepFrame(0.5)],
        )
        await watcher.wait_for_checks()
    assert [type(f) for f in down] == [
        TranscriptionFrame,
        TranscriptionFrame,
        LLMMessagesAppendFrame,
    ]
    assert "988" in note_text(down[2])
    [flag] = flags
    assert (flag.category, flag.detector, flag.rule) == (RedFlagCategory.SELF_HARM, "llm", "llm")
    # Both lines were checked, at once: the requests may arrive in either order.
    assert sorted(fake.lines) == sorted(
        ["<line>Lovely weather today.</line>", f"<line>{SUBTLE}</line>"]
    )


async def test_lines_the_rules_flag_are_not_sent_to_the_model() -> None:
    async with chat_fake(self_harm_verdict) as (fake, client):
        flags: list[RedFlag] = []
        watcher = RedFlagWatcher(
            on_red_flag=flags.append, llm_check=LLMCheck(client, "m"), check_delay=0
        )
        await run_test(watcher, frames_to_send=[said("My son hits me."), said("  "), said("Yes.")])
        await watcher.wait_for_checks()
    assert fake.lines == []
    assert [f.detector for f in flags] == ["rules"]


async def test_a_slow_model_never_delays_a_frame() -> None:
    async with chat_fake(self_harm_verdict, delay=3.0) as (fake, client):
        flags: list[RedFlag] = []
        watcher = RedFlagWatcher(
            on_red_flag=flags.append,
            llm_check=LLMCheck(client, "m", timeout=2.0),
            max_checks=2,
            check_delay=0,
        )
        times = PushTimes(watcher)
        started = time.monotonic()
        await run_test(
            watcher,
            frames_to_send=[said(SUBTLE), said("And another thing."), said("A third line.")],
            expected_down_frames=[TranscriptionFrame] * 3,
            observers=[times],
        )
        ran_for = time.monotonic() - started
        await watcher.wait_for_checks()
    assert len(times.left) == 3
    assert max(times.left[i] - times.arrived[i] for i in times.left) < 0.1
    assert ran_for < 1.5  # the pipeline ended without waiting for the model (2 s to give up)
    assert len(fake.lines) == 2  # the third line found both checks busy
    assert flags == []  # both timed out


async def test_a_failing_or_babbling_model_changes_nothing() -> None:
    for answer, status in ((self_harm_verdict, 500), (lambda _: "Sure! It sounds sad.", 200)):
        async with chat_fake(answer, status=status) as (fake, client):
            flags: list[RedFlag] = []
            watcher = RedFlagWatcher(
                on_red_flag=flags.append, llm_check=LLMCheck(client, "m"), check_delay=0
            )
            await run_test(
                watcher, frames_to_send=[said(SUBTLE)], expected_down_frames=[TranscriptionFrame]
            )
            await watcher.wait_for_checks()
        assert fake.lines == [f"<line>{SUBTLE}</line>"]
        assert flags == []


async def test_a_failing_callback_does_not_stop_the_frames() -> None:
    def broken(flag: RedFlag) -> None:
        raise RuntimeError("alert queue closed")

    await run_test(
        RedFlagWatcher(on_red_flag=broken),
        frames_to_send=[said("I can't catch my breath."), said("Hello?")],
        expected_down_frames=[LLMMessagesAppendFrame, TranscriptionFrame, TranscriptionFrame],
    )


async def test_a_flag_the_model_finds_after_the_call_ended_still_raises_the_alert() -> None:
    async with chat_fake(self_harm_verdict, delay=0.3) as (_, client):
        flags: list[RedFlag] = []
        watcher = RedFlagWatcher(
            on_red_flag=flags.append, llm_check=LLMCheck(client, "m"), check_delay=0
        )
        await run_test(
            watcher, frames_to_send=[said(SUBTLE)], expected_down_frames=[TranscriptionFrame]
        )
        assert flags == []  # the call ended first
        await watcher.wait_for_checks()
    assert [(f.category, f.detector) for f in flags] == [(RedFlagCategory.SELF_HARM, "llm")]


async def test_upstream_frames_pass_unchanged_and_are_not_read() -> None:
    flags: list[RedFlag] = []
    line = said("I fell over and I can't get up.")
    _, up = await run_test(
        RedFlagWatcher(on_red_flag=flags.append),
        frames_to_send=[line],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_up_frames=[TranscriptionFrame],
    )
    assert up[0] is line and flags == []


async def test_the_model_is_asked_only_after_the_reply_has_had_its_moment() -> None:
    async with chat_fake(self_harm_verdict) as (fake, client):
        watcher = RedFlagWatcher(
            on_red_flag=lambda _flag: None,
            llm_check=LLMCheck(client, model="gpt-4o", timeout=5),
            check_delay=0.6,
        )
        await run_test(watcher, frames_to_send=[said(SUBTLE), SleepFrame(0.2)])
        assert fake.lines == [], "asked while the reply to the line was being made"
        await watcher.wait_for_checks()
    assert fake.lines == [f"<line>{SUBTLE}</line>"]

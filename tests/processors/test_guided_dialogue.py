"""`GuidedDialogue` with the default check-in plan, through a real pipecat pipeline: the caller's
turns arrive as the LLM would get them (`LLMContextFrame`s), answers leave as an LLM's response
frames, and the call ends the way the model's end_call tool ends it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from pipecat.frames.frames import (
    EndFrame,
    EndWorkerFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    LLMTextFrame,
    TextFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext, LLMContextMessage
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from carecall.bot.checkin import DEFAULT_SCRIPT, CheckinDialogue
from carecall.core.end_reasons import OPT_OUT_REASON
from carecall.pipeline.turns import AdaptiveTurnStop, TurnPauses
from carecall.processors.guided_dialogue import GuidedDialogue

QUESTIONS = [q.text for q in DEFAULT_SCRIPT.questions]
HOW_ARE_YOU, SLEEP, MEALS, MEDICINES, PAIN, NEEDS = QUESTIONS
SORRY = "I'm sorry to hear that."


def _turns(*lines: str) -> list[Frame]:
    """One context frame per caller turn, as the user aggregator pushes them."""
    messages: list[LLMContextMessage] = []
    frames: list[Frame] = []
    for line in lines:
        messages.append({"role": "user", "content": line})
        frames.append(LLMContextFrame(context=LLMContext(messages=list(messages))))
        messages.append({"role": "assistant", "content": "(the bot's answer)"})
    return frames


@dataclass
class Call:
    """A guided check-in run to its end or to the end of the caller's lines."""

    dialogue: CheckinDialogue
    said: list[str]
    """What the bot said, answer by answer; a goodbye is "(goodbye) ..."."""
    down: Sequence[Frame]
    ended_for: list[str] = field(default_factory=list)


async def _run(*frames: Frame, ends: bool) -> Call:
    dialogue = CheckinDialogue(DEFAULT_SCRIPT)
    ended_for: list[str] = []
    down, up = await run_test(
        GuidedDialogue(dialogue, on_end=ended_for.append),
        frames_to_send=frames,
        send_end_frame=not ends,  # else the dialogue itself must end the pipeline
    )
    if ends:
        # Its EndWorkerFrame reaches the sink; the worker sends it back upstream and answers
        # it with an EndFrame, as when the model's end_call tool ends a call.
        assert [type(f) for f in down[-2:]] == [EndWorkerFrame, EndFrame]
        assert [type(f) for f in up] == [EndWorkerFrame]
        assert not any(isinstance(f, (EndWorkerFrame, EndFrame)) for f in down[:-2])
    else:
        assert not any(isinstance(f, EndWorkerFrame) for f in [*down, *up])
        assert ended_for == []
    return Call(dialogue, _said(down), down, ended_for)


def _said(frames: Sequence[Frame]) -> list[str]:
    said: list[str] = []
    answer: list[str] | None = None
    for frame in frames:
        if isinstance(frame, LLMFullResponseStartFrame):
            answer = []
        elif isinstance(frame, LLMTextFrame):
            assert answer is not None, "text outside a response"
            answer.append(frame.text)
        elif isinstance(frame, LLMFullResponseEndFrame):
            assert answer is not None
            said.append("".join(answer))
            answer = None
        elif isinstance(frame, TTSSpeakFrame):
            assert frame.interruptible is False
            said.append(f"(goodbye) {frame.text}")
    assert answer is None, "a response was not ended"
    return said


def _end_reason(call: Call) -> str:
    end = call.down[-2]
    assert isinstance(end, EndWorkerFrame)
    assert call.ended_for == [end.reason]
    return str(end.reason)


@pytest.mark.parametrize("line", ["I'm fine, thank you", "Pretty good!", "Very well, dear."])
async def test_a_good_day_is_welcomed_and_the_next_question_asked(line: str) -> None:
    call = await _run(*_turns(line), ends=False)
    assert call.said == [f"I'm glad to hear that. {SLEEP}"]
    assert call.dialogue.answers["feeling"].label == "good"
    assert call.dialogue.answers["feeling"].words == line


@pytest.mark.parametrize("line", ["Not great, to be honest.", "Terrible.", "I don't feel well"])
async def test_a_bad_day_gets_sympathy(line: str) -> None:
    call = await _run(*_turns(line), ends=False)
    assert call.said == [f"{SORRY} {SLEEP}"]
    assert call.dialogue.answers["feeling"].label == "bad"


@pytest.mark.parametrize("line", ["Okay.", "So-so", "Oh, not too bad"])
async def test_an_okay_day_is_acknowledged(line: str) -> None:
    call = await _run(*_turns(line), ends=False)
    assert call.said == [f"Thank you for telling me. {SLEEP}"]
    assert call.dialogue.answers["feeling"].label == "okay"


@pytest.mark.parametrize(
    ("line", "hours"),
    [("seven", 7), ("7", 7), ("About six hours.", 6), ("Maybe seven and a half", 7.5)],
)
async def test_hours_of_sleep_are_understood_as_numbers(line: str, hours: float) -> None:
    call = await _run(*_turns("Fine", line), ends=False)
    assert call.said[1] == f"That sounds like a good night's rest. {MEALS}"
    assert call.dialogue.answers["sleep"].value == hours
    assert call.dialogue.answers["sleep"].label == "number"


async def test_little_sleep_gets_a_kind_word() -> None:
    call = await _run(*_turns("Fine", "Only three hours, I'm afraid"), ends=False)
    assert call.said[1] == f"That's not very much. I hope you can rest a little today. {MEALS}"
    assert call.dialogue.answers["sleep"].label == "low"
    assert call.dialogue.answers["sleep"].value == 3


@pytest.mark.parametrize(
    ("line", "answer", "reaction"),
    [
        ("Yeah, I had some toast.", "yes", "Good, I'm glad you've eaten."),
        ("Yes.", "yes", "Good, I'm glad you've eaten."),
        ("Nope.", "no", "Please try to have something to eat soon."),
        ("Not really.", "no", "Please try to have something to eat soon."),
        ("I haven't, no.", "no", "Please try to have something to eat soon."),
    ],
)
async def test_yes_and_no_are_understood(line: str, answer: str, reaction: str) -> None:
    call = await _run(*_turns("Fine", "8", line), ends=False)
    assert call.said[2] == f"{reaction} {MEDICINES}"
    assert call.dialogue.answers["meals"].label == answer


async def test_pain_gets_sympathy() -> None:
    call = await _run(*_turns("Fine", "8", "yes", "yes", "My knee is sore."), ends=False)
    assert call.said[4] == f"{SORRY} If it gets worse, please call your doctor. {NEEDS}"
    assert call.dialogue.answers["pain"].label == "yes"


@pytest.mark.parametrize("line", ["Say that again?", "Pardon?", "What?", "Sorry, what was that?"])
async def test_say_that_again_repeats_the_question(line: str) -> None:
    call = await _run(*_turns("Fine", line, "six"), ends=False)
    assert call.said == [
        f"I'm glad to hear that. {SLEEP}",
        SLEEP,
        f"That sounds like a good night's rest. {MEALS}",
    ]
    assert call.dialogue.answers["sleep"].value == 6


async def test_an_unclear_answer_is_asked_again_once_then_the_check_in_moves_on() -> None:
    call = await _run(*_turns("Fine", "Purple elephants", "The cat is on the mat"), ends=False)
    assert call.said == [
        f"I'm glad to hear that. {SLEEP}",
        f"I'm sorry, I didn't quite catch that. {SLEEP}",
        f"That's all right. {MEALS}",
    ]
    assert "sleep" not in call.dialogue.answers
    assert call.dialogue.question is DEFAULT_SCRIPT.questions[2]


async def test_an_answer_on_the_second_try_is_kept() -> None:
    call = await _run(*_turns("Hello? Who is this?", "Oh, I'm good."), ends=False)
    assert call.said == [
        f"I'm sorry, I didn't quite catch that. {HOW_ARE_YOU}",
        f"I'm glad to hear that. {SLEEP}",
    ]
    assert call.dialogue.answers["feeling"].label == "good"


@pytest.mark.parametrize("line", ["Goodbye!", "Okay, bye now.", "Sorry, I have to go."])
async def test_goodbye_ends_the_call_like_end_call(line: str) -> None:
    # A turn after the goodbye (the caller still talking) gets no answer.
    call = await _run(*_turns("Fine", line, "hello?"), ends=True)
    assert call.said == [f"I'm glad to hear that. {SLEEP}", f"(goodbye) {DEFAULT_SCRIPT.goodbye}"]
    assert _end_reason(call) == "caller said goodbye"
    assert call.dialogue.question is None
    assert not call.dialogue.opted_out


@pytest.mark.parametrize(
    "line", ["Stop calling me.", "Please don't call me again.", "Do not call me"]
)
async def test_stop_calling_me_is_acknowledged_and_recorded(line: str) -> None:
    call = await _run(*_turns(line), ends=True)
    assert call.said == [f"(goodbye) {DEFAULT_SCRIPT.opt_out_goodbye}"]
    assert _end_reason(call) == OPT_OUT_REASON
    assert call.dialogue.opted_out


async def test_an_opt_out_is_told_to_on_opt_out_not_on_end() -> None:
    """The conversation marks the person do-not-call only when told through `on_opt_out`."""
    ended_for: list[str] = []
    opted_out_for: list[str] = []
    down, _up = await run_test(
        GuidedDialogue(
            CheckinDialogue(DEFAULT_SCRIPT),
            on_end=ended_for.append,
            on_opt_out=opted_out_for.append,
        ),
        frames_to_send=_turns("Fine", "Please stop calling me."),
        send_end_frame=False,
    )
    assert opted_out_for == [OPT_OUT_REASON] and ended_for == []
    goodbye = [f for f in down if isinstance(f, TTSSpeakFrame)]
    assert [f.text for f in goodbye] == [DEFAULT_SCRIPT.opt_out_goodbye]
    assert "don't call you again" in goodbye[0].text


async def test_a_goodbye_is_not_an_opt_out() -> None:
    ended_for: list[str] = []
    opted_out_for: list[str] = []
    await run_test(
        GuidedDialogue(
            CheckinDialogue(DEFAULT_SCRIPT),
            on_end=ended_for.append,
            on_opt_out=opted_out_for.append,
        ),
        frames_to_send=_turns("Goodbye!"),
        send_end_frame=False,
    )
    assert ended_for == ["caller said goodbye"] and opted_out_for == []


async def test_the_whole_check_in_then_goodbye() -> None:
    lines = ["Not bad", "about six hours", "yes", "I did", "no", "No, thank you, I'm fine."]
    call = await _run(*_turns(*lines), ends=True)
    assert call.said == [
        f"Thank you for telling me. {SLEEP}",
        f"That sounds like a good night's rest. {MEALS}",
        f"Good, I'm glad you've eaten. {MEDICINES}",
        f"Good, thank you. {PAIN}",
        f"I'm glad to hear that. {NEEDS}",
        "All right.",
        f"(goodbye) {DEFAULT_SCRIPT.goodbye}",
    ]
    assert _end_reason(call) == "check-in complete"
    answers = {key: a.value for key, a in call.dialogue.answers.items()}
    assert answers == {
        "feeling": "okay",
        "sleep": 6,
        "meals": "yes",
        "medication": "yes",
        "pain": "no",
        "needs": "nothing",
    }


async def test_a_need_is_kept_in_the_callers_words() -> None:
    lines = ["good", "8", "yes", "yes", "no", "Could someone bring me some milk?"]
    call = await _run(*_turns(*lines), ends=True)
    assert call.said[-2:] == [
        "Thank you. I'll make a note of that.",
        f"(goodbye) {DEFAULT_SCRIPT.goodbye}",
    ]
    assert call.dialogue.answers["needs"].value == "Could someone bring me some milk?"


async def test_answers_are_pushed_as_an_llm_pushes_them() -> None:
    call = await _run(*_turns("Terrible."), ends=False)
    assert [type(f) for f in call.down] == [
        LLMFullResponseStartFrame,
        LLMTextFrame,
        LLMTextFrame,
        LLMFullResponseEndFrame,
    ]
    first, second = call.down[1], call.down[2]
    assert isinstance(first, LLMTextFrame) and isinstance(second, LLMTextFrame)
    assert (first.text, second.text) == (f"{SORRY} ", SLEEP)
    assert first.includes_inter_frame_spaces


async def test_other_frames_pass_and_speculation_is_not_answered() -> None:
    speculative = LLMContextFrame(
        context=LLMContext(messages=[{"role": "user", "content": "Fine"}]), speculation=True
    )
    passing = [UserStartedSpeakingFrame(), InterruptionFrame(), TextFrame("hi")]
    call = await _run(*passing, speculative, ends=False)
    assert list(call.down) == passing
    assert call.dialogue.answers == {}
    going_up = TextFrame("up")
    _, up = await run_test(
        GuidedDialogue(CheckinDialogue(DEFAULT_SCRIPT), on_end=lambda reason: None),
        frames_to_send=[going_up],
        frames_to_send_direction=FrameDirection.UPSTREAM,
        expected_down_frames=[],
        expected_up_frames=[TextFrame],
    )
    assert up[0] is going_up


async def test_the_conversation_is_recorded_in_the_context_as_with_a_model() -> None:
    """Between pipecat's real context aggregators, as in a call."""
    context = LLMContext()
    user, assistant = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            user_turn_strategies=UserTurnStrategies(
                stop=[AdaptiveTurnStop(pauses=TurnPauses(0.1, 0.1, 0.1))]
            )
        ),
    )
    ended_for: list[str] = []
    dialogue = GuidedDialogue(CheckinDialogue(DEFAULT_SCRIPT), on_end=ended_for.append)
    caller_says = [
        LLMMessagesAppendFrame(messages=[{"role": "user", "content": "Not great."}], run_llm=True),
        SleepFrame(sleep=0.1),  # the caller's next turn comes later
        LLMMessagesAppendFrame(messages=[{"role": "user", "content": "Bye!"}], run_llm=True),
    ]
    await run_test(
        Pipeline([user, dialogue, assistant]), frames_to_send=caller_says, send_end_frame=False
    )
    assert context.get_messages() == [
        {"role": "user", "content": "Not great."},
        {"role": "assistant", "content": f"{SORRY} {SLEEP}"},
        {"role": "user", "content": "Bye!"},
    ]
    assert ended_for == ["caller said goodbye"]

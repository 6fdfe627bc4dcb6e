"""The turn strategies (`pipeline.turns`) inside pipecat's real user context aggregator."""

from __future__ import annotations

import time
from collections.abc import Sequence
from unittest.mock import patch

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EagerEndOfTurnCancelFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from carecall.pipeline import turns
from carecall.pipeline.turns import (
    MAX_PATIENCE,
    AdaptiveTurnStop,
    BackchannelTurnStart,
    CallerBackchannelFrame,
    TurnPauses,
    next_patience,
)
from carecall.telephony.playout import BotAudioHold

PAUSES = TurnPauses(complete=0.1, unsure=0.3, incomplete=0.8)


def said(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text, "caller", "now")


def stretch(text: str, *, seconds: float = 0.2) -> list[Frame]:
    """One stretch of the caller's speech as the pipeline sees it: the VAD hears it start and
    stop, and the transcript arrives a moment after the stop (segmented speech-to-text)."""
    return [
        VADUserStartedSpeakingFrame(),
        SleepFrame(sleep=seconds),
        VADUserStoppedSpeakingFrame(stop_secs=0.0),
        SleepFrame(sleep=0.05),
        said(text),
    ]


class Clock(FrameProcessor):
    """Notes when each frame reaches it (after the aggregator)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float, Frame]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            self.seen.append((time.monotonic(), frame))
        await self.push_frame(frame, direction)


async def run_turns(
    frames: Sequence[Frame],
    *,
    preemptive: bool = True,
    interrupt_after: float = 0.3,
    hold_audio: bool = False,
    stop_window: float = 0.0,
) -> tuple[list[Frame], AdaptiveTurnStop, float]:
    stop = AdaptiveTurnStop(pauses=PAUSES, preemptive=preemptive)
    user, _assistant = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(
            user_turn_strategies=UserTurnStrategies(
                start=[
                    BackchannelTurnStart(
                        interrupt_after=interrupt_after,
                        hold_audio=hold_audio,
                        stop_window=stop_window,
                    )
                ],
                stop=[stop],
            )
        ),
    )
    started = time.monotonic()
    down, _up = await run_test(user, frames_to_send=list(frames))
    return list(down), stop, started


def of(frames: Sequence[Frame], kind: type[Frame]) -> list[Frame]:
    return [f for f in frames if isinstance(f, kind)]


def speculative_texts(frames: Sequence[Frame]) -> list[str]:
    return [
        str(f.context.messages[-1]["content"])  # type: ignore[index]
        for f in of(frames, LLMContextFrame)
        if isinstance(f, LLMContextFrame) and f.speculation
    ]


async def test_a_finished_answer_is_prepared_at_once_and_the_turn_ends_quickly() -> None:
    down, stop, _ = await run_turns([*stretch("Not too bad, thank you."), SleepFrame(sleep=0.4)])
    assert speculative_texts(down) == ["Not too bad, thank you."]
    assert len(of(down, UserStoppedSpeakingFrame)) == 1
    # The held reply answers the turn: the model isn't asked a second time.
    assert len(of(down, LLMContextFrame)) == 1
    assert (stop.speculations.started, stop.speculations.used) == (1, 1)
    assert stop.speculations.cancelled == 0


async def test_the_turn_ends_after_the_pause_its_words_ask_for() -> None:
    # Timed with a processor after the aggregator: from the VAD's stop to the end of the turn.
    for text, pause in [("Not too bad.", PAUSES.complete), ("I slept well", PAUSES.unsure)]:
        clock = Clock()
        stop = AdaptiveTurnStop(pauses=PAUSES)
        user, _ = LLMContextAggregatorPair(
            LLMContext(),
            user_params=LLMUserAggregatorParams(
                user_turn_strategies=UserTurnStrategies(stop=[stop])
            ),
        )
        await run_test(Pipeline([user, clock]), frames_to_send=[*stretch(text), SleepFrame(0.6)])
        [vad_stop] = [t for t, f in clock.seen if isinstance(f, VADUserStoppedSpeakingFrame)]
        [turn_end] = [t for t, f in clock.seen if isinstance(f, UserStoppedSpeakingFrame)]
        assert pause - 0.02 <= turn_end - vad_stop <= pause + 0.15, (text, turn_end - vad_stop)


async def test_words_that_stop_mid_clause_get_patience_and_no_early_reply() -> None:
    down, stop, _ = await run_turns(
        [
            *stretch("I went to the shop and"),
            SleepFrame(sleep=0.5),  # shorter than the 0.8 s a dangling "and" gets
            *stretch("bought some milk."),
            SleepFrame(sleep=0.4),
        ]
    )
    # No reply was prepared for the fragment; one turn, answered on the whole sentence.
    assert speculative_texts(down) == ["I went to the shop and bought some milk."]
    assert len(of(down, UserStoppedSpeakingFrame)) == 1
    assert of(down, EagerEndOfTurnCancelFrame) == []
    assert stop.speculations.cancelled == 0


async def test_a_caller_who_goes_on_withdraws_the_prepared_reply() -> None:
    pauses = TurnPauses(complete=0.4, unsure=0.5, incomplete=0.8)
    stop = AdaptiveTurnStop(pauses=pauses, preemptive=True)
    user, _ = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(user_turn_strategies=UserTurnStrategies(stop=[stop])),
    )
    down, _up = await run_test(
        user,
        frames_to_send=[
            *stretch("I slept well."),
            SleepFrame(sleep=0.2),  # they go on before the 0.4 s pause is over
            *stretch("But my back hurts."),
            SleepFrame(sleep=0.6),
        ],
    )
    assert speculative_texts(down) == ["I slept well.", "I slept well. But my back hurts."]
    assert len(of(down, EagerEndOfTurnCancelFrame)) == 1
    assert len(of(down, UserStoppedSpeakingFrame)) == 1
    assert len(of(down, LLMContextFrame)) == 2  # both speculative: the second one is used
    assert (stop.speculations.started, stop.speculations.used, stop.speculations.cancelled) == (
        2,
        1,
        1,
    )


async def test_without_preemption_the_model_is_asked_at_the_end_of_the_turn() -> None:
    down, stop, _ = await run_turns(
        [*stretch("Not too bad."), SleepFrame(sleep=0.4)], preemptive=False
    )
    [context] = of(down, LLMContextFrame)
    assert isinstance(context, LLMContextFrame) and not context.speculation
    assert stop.speculations.started == 0


async def test_a_backchannel_while_the_bot_talks_does_not_interrupt_it() -> None:
    down, _stop, _ = await run_turns(
        [
            BotStartedSpeakingFrame(),
            *stretch("Mm-hm.", seconds=0.15),
            SleepFrame(sleep=0.5),
        ]
    )
    assert of(down, UserStartedSpeakingFrame) == []
    assert of(down, InterruptionFrame) == []
    assert of(down, LLMContextFrame) == []
    assert [f.text for f in of(down, CallerBackchannelFrame)] == ["Mm-hm."]  # type: ignore[attr-defined]


async def test_a_short_word_that_is_not_a_backchannel_interrupts_once_transcribed() -> None:
    down, _stop, _ = await run_turns(
        [BotStartedSpeakingFrame(), *stretch("Wait.", seconds=0.15), SleepFrame(sleep=0.4)]
    )
    assert len(of(down, UserStartedSpeakingFrame)) == 1
    assert len(of(down, InterruptionFrame)) >= 1
    assert of(down, CallerBackchannelFrame) == []
    assert speculative_texts(down) == ["Wait."]


async def test_longer_speech_over_the_bot_interrupts_before_its_words_are_known() -> None:
    clock = Clock()
    user, _ = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(
            user_turn_strategies=UserTurnStrategies(
                start=[BackchannelTurnStart(interrupt_after=0.3)],
                stop=[AdaptiveTurnStop(pauses=PAUSES)],
            )
        ),
    )
    await run_test(
        Pipeline([user, clock]),
        frames_to_send=[
            BotStartedSpeakingFrame(),
            VADUserStartedSpeakingFrame(),
            SleepFrame(sleep=0.8),  # still talking
            VADUserStoppedSpeakingFrame(stop_secs=0.0),
            said("Hold on, I need to tell you something."),
            SleepFrame(sleep=0.3),
        ],
    )
    [vad_start] = [t for t, f in clock.seen if isinstance(f, VADUserStartedSpeakingFrame)]
    [turn_start] = [t for t, f in clock.seen if isinstance(f, UserStartedSpeakingFrame)]
    assert 0.25 <= turn_start - vad_start <= 0.45, turn_start - vad_start


async def interruption_times(frames: Sequence[Frame]) -> list[float]:
    """Seconds from the first VAD start to each turn start, with `interrupt_after` 0.4 s."""
    clock = Clock()
    user, _ = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(
            user_turn_strategies=UserTurnStrategies(
                start=[BackchannelTurnStart(interrupt_after=0.4)],
                stop=[AdaptiveTurnStop(pauses=PAUSES)],
            )
        ),
    )
    await run_test(Pipeline([user, clock]), frames_to_send=list(frames))
    first = min(t for t, f in clock.seen if isinstance(f, VADUserStartedSpeakingFrame))
    return [t - first for t, f in clock.seen if isinstance(f, UserStartedSpeakingFrame)]


async def test_speech_in_stretches_over_the_bot_counts_as_one_towards_interrupting() -> None:
    # "Sorry, … what was that?": a breath at the comma, and the first stretch gave no words
    # (too short to transcribe). The VAD says "started" 0.1 s into each stretch and "stopped"
    # 0.1 s after it: 0.25 s of voice, then 0.1 s + 0.05 s of the second, make the 0.4 s.
    starts = await interruption_times(
        [
            BotStartedSpeakingFrame(),
            VADUserStartedSpeakingFrame(start_secs=0.1),
            SleepFrame(sleep=0.25),
            VADUserStoppedSpeakingFrame(stop_secs=0.1),
            SleepFrame(sleep=0.3),
            VADUserStartedSpeakingFrame(start_secs=0.1),
            SleepFrame(sleep=0.6),
        ]
    )
    assert len(starts) == 1
    assert 0.57 <= starts[0] <= 0.75, starts


async def test_a_stretch_long_after_the_last_one_starts_counting_afresh() -> None:
    # A cough that gave no words, then, well after, a short "mm-hm": no interruption.
    starts = await interruption_times(
        [
            BotStartedSpeakingFrame(),
            VADUserStartedSpeakingFrame(),
            SleepFrame(sleep=0.3),
            VADUserStoppedSpeakingFrame(stop_secs=0.0),
            SleepFrame(sleep=1.8),
            VADUserStartedSpeakingFrame(),
            SleepFrame(sleep=0.3),
            VADUserStoppedSpeakingFrame(stop_secs=0.0),
            SleepFrame(sleep=0.3),
        ]
    )
    assert starts == []


async def test_when_the_bot_is_silent_speech_starts_the_turn_at_once() -> None:
    down, _stop, _ = await run_turns([*stretch("Hello?"), SleepFrame(sleep=0.5)])
    assert len(of(down, UserStartedSpeakingFrame)) == 1
    assert len(of(down, UserStoppedSpeakingFrame)) == 1


def test_the_pause_profile_grows_for_long_pauses_and_cut_ins_and_drifts_back() -> None:
    # A call with ordinary pauses: nothing to learn, back towards 1.0.
    assert next_patience(1.0, resumed_pauses=[0.8, 1.2], cut_ins=0, longest_wait=2.75) == 1.0
    assert next_patience(1.5, resumed_pauses=[], cut_ins=0, longest_wait=2.75) == 1.35
    # They went on after a 3.2 s silence: 30 % of the way to (3.2 + 0.3) / 2.75.
    grown = next_patience(1.0, resumed_pauses=[1.0, 3.2], cut_ins=0, longest_wait=2.75)
    assert grown == round(1.0 + 0.3 * (3.5 / 2.75 - 1.0), 3)
    # Spoke over two answers that came right after their turn.
    assert next_patience(1.2, resumed_pauses=[], cut_ins=2, longest_wait=2.75) == round(
        1.2 + 0.3 * (1.2 * 1.3 - 1.2), 3
    )
    # Never past the ceiling.
    assert next_patience(2.0, resumed_pauses=[9.0], cut_ins=5, longest_wait=2.75) == MAX_PATIENCE


async def test_a_call_notes_the_pauses_the_caller_went_on_after() -> None:
    _down, stop, _ = await run_turns(
        [
            *stretch("I went to the shop and"),
            SleepFrame(sleep=0.5),
            *stretch("bought some milk."),
            SleepFrame(sleep=0.4),
        ]
    )
    [pause] = stop.resumed_pauses
    assert 0.5 <= pause <= 0.7, pause  # 0.05 s to the transcript, 0.5 s more, in this test
    assert stop.cut_ins == 0


async def test_patience_stretches_every_pause() -> None:
    clock = Clock()
    stop = AdaptiveTurnStop(pauses=PAUSES, patience=2.0)
    user, _ = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(user_turn_strategies=UserTurnStrategies(stop=[stop])),
    )
    await run_test(
        Pipeline([user, clock]), frames_to_send=[*stretch("I slept well"), SleepFrame(0.9)]
    )
    [vad_stop] = [t for t, f in clock.seen if isinstance(f, VADUserStoppedSpeakingFrame)]
    [turn_end] = [t for t, f in clock.seen if isinstance(f, UserStoppedSpeakingFrame)]
    assert 0.58 <= turn_end - vad_stop <= 0.75, turn_end - vad_stop  # 2 × 0.3 s


async def test_speech_that_gives_no_words_ends_its_turn_with_nothing_to_answer() -> None:
    stop = AdaptiveTurnStop(pauses=PAUSES, preemptive=True, transcript_timeout=0.3)
    user, _ = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(user_turn_strategies=UserTurnStrategies(stop=[stop])),
    )
    down, _up = await run_test(
        user,
        frames_to_send=[
            VADUserStartedSpeakingFrame(),
            SleepFrame(sleep=0.2),
            VADUserStoppedSpeakingFrame(stop_secs=0.0),  # a cough: no transcript follows
            SleepFrame(sleep=0.5),
            *stretch("Sorry, I was saying hello."),  # the next words are a turn of their own
            SleepFrame(sleep=0.4),
        ],
    )
    # Two turns; the wordless one ends quietly (nothing waits for a reply to it).
    assert len(of(down, UserStartedSpeakingFrame)) == 2
    assert len(of(down, UserStoppedSpeakingFrame)) == 1
    assert speculative_texts(down) == ["Sorry, I was saying hello."]


async def test_a_yes_transcribed_after_the_bot_finished_answers_its_question() -> None:
    down, _stop, _ = await run_turns(
        [
            BotStartedSpeakingFrame(),
            VADUserStartedSpeakingFrame(),  # "Yes." over the end of "…did you sleep well?"
            SleepFrame(sleep=0.15),
            BotStoppedSpeakingFrame(),
            VADUserStoppedSpeakingFrame(stop_secs=0.0),
            SleepFrame(sleep=0.05),
            said("Yes."),
            SleepFrame(sleep=0.4),
        ]
    )
    assert of(down, CallerBackchannelFrame) == []
    assert len(of(down, UserStartedSpeakingFrame)) == 1
    assert speculative_texts(down) == ["Yes."]


def holds(frames: Sequence[Frame]) -> list[bool]:
    return [f.hold for f in of(frames, BotAudioHold)]  # type: ignore[attr-defined]


async def test_on_the_phone_speech_over_the_bot_holds_it_and_a_backchannel_gives_it_back() -> None:
    down, _stop, _ = await run_turns(
        [BotStartedSpeakingFrame(), *stretch("Mm-hm.", seconds=0.15), SleepFrame(sleep=0.3)],
        hold_audio=True,
    )
    assert holds(down) == [True, False]
    assert of(down, InterruptionFrame) == []
    assert [f.text for f in of(down, CallerBackchannelFrame)] == ["Mm-hm."]  # type: ignore[attr-defined]
    # The hold goes out before anything else the caller's sound causes: at its first sound.
    first_hold = next(i for i, f in enumerate(down) if isinstance(f, BotAudioHold))
    assert not any(isinstance(f, CallerBackchannelFrame) for f in down[:first_hold])


async def test_a_held_bot_is_interrupted_by_words_that_are_not_a_backchannel() -> None:
    down, _stop, _ = await run_turns(
        [BotStartedSpeakingFrame(), *stretch("Wait.", seconds=0.15), SleepFrame(sleep=0.3)],
        hold_audio=True,
    )
    assert holds(down) == [True]  # never given back: the interruption clears the line
    assert len(of(down, InterruptionFrame)) >= 1


async def test_a_backchannel_after_the_held_audio_was_all_sent_is_still_one() -> None:
    # Held audio isn't heard: a bot that finished sending while held is still talking to the
    # caller, so their "mm-hm" keeps it going rather than answering its last question.
    down, _stop, _ = await run_turns(
        [
            BotStartedSpeakingFrame(),
            VADUserStartedSpeakingFrame(),
            SleepFrame(sleep=0.1),
            BotStoppedSpeakingFrame(),
            SleepFrame(sleep=0.1),
            VADUserStoppedSpeakingFrame(stop_secs=0.0),
            said("Okay."),
            SleepFrame(sleep=0.3),
        ],
        hold_audio=True,
    )
    assert holds(down) == [True, False]
    assert of(down, UserStartedSpeakingFrame) == []


async def test_a_hold_that_nothing_decides_is_given_back() -> None:
    with patch.object(turns, "HOLD_UNDECIDED_SECONDS", 0.2):
        down, _stop, _ = await run_turns(
            [
                BotStartedSpeakingFrame(),
                VADUserStartedSpeakingFrame(),
                SleepFrame(sleep=0.1),
                VADUserStoppedSpeakingFrame(stop_secs=0.0),  # a cough: no transcript comes
                SleepFrame(sleep=0.5),
            ],
            hold_audio=True,
        )
    assert holds(down) == [True, False]
    assert of(down, InterruptionFrame) == []


async def test_without_a_line_that_can_hold_nothing_is_held() -> None:
    down, _stop, _ = await run_turns(
        [BotStartedSpeakingFrame(), *stretch("Mm-hm.", seconds=0.15), SleepFrame(sleep=0.3)]
    )
    assert holds(down) == []


async def test_a_held_bot_waits_for_the_vad_to_hear_the_voice_stop_before_counting_it_long() -> (
    None
):
    # 0.3 s of voice, whose end the VAD tells 0.25 s later: past `interrupt_after` (0.4 s).
    overlap = [
        BotStartedSpeakingFrame(),
        VADUserStartedSpeakingFrame(),
        SleepFrame(sleep=0.55),
        VADUserStoppedSpeakingFrame(stop_secs=0.25),
        SleepFrame(sleep=0.05),
        said("Mm-hm."),
        SleepFrame(sleep=0.3),
    ]
    down, _stop, _ = await run_turns(
        overlap, interrupt_after=0.4, hold_audio=True, stop_window=0.25
    )
    assert of(down, InterruptionFrame) == []
    assert holds(down) == [True, False]
    # Without the wait, the same voice counts as long speech and interrupts.
    down, _stop, _ = await run_turns(overlap, interrupt_after=0.4, hold_audio=True)
    assert len(of(down, InterruptionFrame)) >= 1

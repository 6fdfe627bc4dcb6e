"""`HoldCue`: a short cue from memory when the answer is slow, timed from the caller's last
word; none when the answer (or the caller) comes first; the fallback's reply deadline is told
which bot audio is the cue and when the answer's own audio arrives."""

from __future__ import annotations

import time

from pipecat.frames.frames import (
    InterruptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from carecall.processors.hold_cue import CueAudio, HoldCue, HoldCueFrame, ReplyAudioFrame

CHUNKS = (b"\x01\x00" * 480, b"\x02\x00" * 480)
RATE = 24000


def cue_audio(asked_at: list[float], chunks: tuple[bytes, ...] | None = CHUNKS) -> CueAudio:
    def audio() -> tuple[tuple[bytes, ...], int] | None:
        asked_at.append(time.monotonic())
        return None if chunks is None else (chunks, RATE)

    return audio


def answer() -> TTSAudioRawFrame:
    return TTSAudioRawFrame(b"\x03\x00" * 480, RATE, 1)


async def test_a_slow_answer_gets_the_cue_timed_from_the_last_word() -> None:
    asked_at: list[float] = []
    started = time.monotonic()
    # The VAD decided 0.3 s after the last word; the turn ended 0.2 s after that.
    down, _up = await run_test(
        HoldCue(cue_audio(asked_at), after=0.8),
        frames_to_send=[
            VADUserStoppedSpeakingFrame(stop_secs=0.3),
            SleepFrame(sleep=0.2),
            UserStoppedSpeakingFrame(),
            SleepFrame(sleep=0.6),
            answer(),
        ],
        expected_down_frames=[
            VADUserStoppedSpeakingFrame,
            UserStoppedSpeakingFrame,
            TTSAudioRawFrame,
            TTSAudioRawFrame,
            TTSAudioRawFrame,
        ],
        expected_up_frames=[HoldCueFrame, ReplyAudioFrame],
    )
    (cue_at,) = asked_at
    last_word = started - 0.3
    assert 0.75 <= cue_at - last_word <= 0.95, cue_at - last_word
    cue = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert [f.audio for f in cue[:2]] == list(CHUNKS) and cue[0].sample_rate == RATE
    assert cue[2].audio == answer().audio  # the answer plays after the cue


async def test_an_answer_in_time_gets_no_cue_and_stops_the_deadline() -> None:
    asked_at: list[float] = []
    await run_test(
        HoldCue(cue_audio(asked_at), after=0.3),
        frames_to_send=[
            VADUserStoppedSpeakingFrame(stop_secs=0.0),
            UserStoppedSpeakingFrame(),
            SleepFrame(sleep=0.1),
            answer(),
            answer(),
            SleepFrame(sleep=0.4),
        ],
        expected_down_frames=[
            VADUserStoppedSpeakingFrame,
            UserStoppedSpeakingFrame,
            TTSAudioRawFrame,
            TTSAudioRawFrame,
        ],
        expected_up_frames=[ReplyAudioFrame],  # once, for the answer's first audio
    )
    assert asked_at == []


async def test_the_caller_speaking_again_or_a_cleared_reply_gets_no_cue() -> None:
    for cancel in (UserStartedSpeakingFrame(), InterruptionFrame()):
        asked_at: list[float] = []
        await run_test(
            HoldCue(cue_audio(asked_at), after=0.2),
            frames_to_send=[UserStoppedSpeakingFrame(), cancel, SleepFrame(sleep=0.4)],
            expected_down_frames=[UserStoppedSpeakingFrame, type(cancel)],
            expected_up_frames=[],
        )
        assert asked_at == []


async def test_no_cue_while_its_audio_is_not_made_and_none_when_turned_off() -> None:
    asked_at: list[float] = []
    await run_test(
        HoldCue(cue_audio(asked_at, chunks=None), after=0.1),
        frames_to_send=[UserStoppedSpeakingFrame(), SleepFrame(sleep=0.3)],
        expected_down_frames=[UserStoppedSpeakingFrame],
        expected_up_frames=[],
    )
    assert len(asked_at) == 1
    off: list[float] = []
    await run_test(
        HoldCue(cue_audio(off), after=0),
        frames_to_send=[UserStoppedSpeakingFrame(), SleepFrame(sleep=0.3)],
        expected_down_frames=[UserStoppedSpeakingFrame],
        expected_up_frames=[],
    )
    assert off == []


async def test_a_turn_that_ended_late_gives_its_answer_time_before_the_cue() -> None:
    """The caller stopped mid-sentence, so the turn ended long after their last word: the cue
    waits ``min_after_turn`` from the end of the turn, not ``after`` from the last word."""
    asked_at: list[float] = []
    turn_ended = time.monotonic() + 0.5
    await run_test(
        HoldCue(cue_audio(asked_at), after=0.3, min_after_turn=0.4),
        frames_to_send=[
            VADUserStoppedSpeakingFrame(stop_secs=0.0),
            SleepFrame(sleep=0.5),
            UserStoppedSpeakingFrame(),
            SleepFrame(sleep=0.6),
        ],
        expected_down_frames=[
            VADUserStoppedSpeakingFrame,
            UserStoppedSpeakingFrame,
            TTSAudioRawFrame,
            TTSAudioRawFrame,
        ],
        expected_up_frames=[HoldCueFrame],
    )
    (cue_at,) = asked_at
    assert 0.35 <= cue_at - turn_ended <= 0.55, cue_at - turn_ended

"""The shared, batched Silero VAD decides exactly as pipecat's own per-call analyzer."""

from __future__ import annotations

import asyncio
import itertools

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from carecall.bot.vad import BatchedSileroVAD, SileroBatcher, SileroStream
from tests.fakes.speech import espeak_pcm

RATE = 8000
FRAME_BYTES = 320  # 20 ms of 16-bit audio, as a Twilio call delivers it


def _call_audio(*sentences: str) -> bytes:
    """Silence, then each sentence followed by a second of silence: a caller's side of a call."""
    silence = bytes(RATE * 2)
    audio = silence
    for sentence in sentences:
        audio += espeak_pcm(sentence, RATE) + silence
    return audio


def _frames(audio: bytes) -> list[bytes]:
    return [audio[i : i + FRAME_BYTES] for i in range(0, len(audio) - FRAME_BYTES + 1, FRAME_BYTES)]


async def _states(analyzer: SileroVADAnalyzer | BatchedSileroVAD, audio: bytes) -> list[VADState]:
    analyzer.set_sample_rate(RATE)
    return [await analyzer.analyze_audio(frame) for frame in _frames(audio)]


PARAMS = VADParams(stop_secs=0.5)


def _turns(states: list[VADState]) -> tuple[list[int], list[int]]:
    """The frames where the caller started talking (left QUIET) and where they were judged
    done (back to QUIET after the stop window): what turn-taking acts on."""
    pairs = list(itertools.pairwise(states))
    started = [i for i, (a, b) in enumerate(pairs) if a == VADState.QUIET != b]
    stopped = [i for i, (a, b) in enumerate(pairs) if b == VADState.QUIET != a]
    return started, stopped


async def test_turns_start_and_end_on_the_same_frames_as_with_pipecats_analyzer() -> None:
    audio = _call_audio(
        "I slept well last night",
        "My knee is a little sore today",
        "Okay, goodbye",
        "My daughter visited on Sunday",
    )
    expected = await _states(SileroVADAnalyzer(sample_rate=RATE, params=PARAMS), audio)
    batcher = SileroBatcher()
    try:
        got = await _states(
            BatchedSileroVAD(sample_rate=RATE, params=PARAMS, batcher=batcher), audio
        )
    finally:
        batcher.close()
    assert _turns(got) == _turns(expected)
    assert len(_turns(got)[1]) == 4  # each sentence is one stretch of speech
    # Settled silence is not scored: fewer inferences than windows.
    assert batcher.windows < len(audio) // 512


async def test_calls_scored_together_get_the_same_decisions_as_alone() -> None:
    first = _call_audio("I had porridge for breakfast")
    second = _call_audio("My daughter visited on Sunday", "I went for a short walk")
    batcher = SileroBatcher(max_wait=0.01)
    try:
        alone = [
            await _states(BatchedSileroVAD(sample_rate=RATE, params=PARAMS, batcher=batcher), a)
            for a in (first, second)
        ]
        windows_alone, batches_alone = batcher.windows, batcher.batches
        assert windows_alone == batches_alone  # one after another: a batch per window
        assert all(_turns(states)[1] for states in alone)

        async def paced(audio: bytes) -> list[VADState]:
            analyzer = BatchedSileroVAD(sample_rate=RATE, params=PARAMS, batcher=batcher)
            analyzer.set_sample_rate(RATE)
            states = []
            for frame in _frames(audio):
                states.append(await analyzer.analyze_audio(frame))
            return states

        together = await asyncio.gather(paced(first), paced(second))
        assert list(together) == alone
        windows = batcher.windows - windows_alone
        batches = batcher.batches - batches_alone
        assert batches < windows  # windows of both calls shared inferences
    finally:
        batcher.close()


async def test_scores_are_silero_speech_probabilities() -> None:
    batcher = SileroBatcher()
    try:
        stream = SileroStream(RATE)
        speech = espeak_pcm("Hello there, how are you", RATE)
        window = 512  # 256 samples
        scores = [
            await batcher.confidence(stream, speech[i : i + window])
            for i in range(0, len(speech) - window, window)
        ]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert max(scores) > 0.9
        assert await batcher.confidence(SileroStream(RATE), bytes(window)) < 0.1
    finally:
        batcher.close()

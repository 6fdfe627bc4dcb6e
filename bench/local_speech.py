"""Speech on this machine (`SERVICES=local`): how fast the shipped Whisper and Piper are here.

    .venv/bin/python -m bench.local_speech [--concurrent 4]

Prints the models' load times; for caller lines spoken by espeak-ng through the phone line's
8 kHz μ-law, Whisper's transcription time and real-time factor (seconds of work per second of
speech) and what it heard; for bot sentences, Piper's time to first audio and its real-time
factor; how long the event loop stalled meanwhile (it should not: inference runs on each
model's own thread); and, with ``--concurrent N``, N callers' turns transcribed at once (they
queue on the one Whisper thread). Needs the extras: `uv sync --extra local --extra piper`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from carecall.bot.local_speech import LocalSpeech, PiperEngine, WhisperEngine
from tests.fakes.speech import espeak_pcm, pcm16_to_ulaw, ulaw_to_pcm16

PHONE_RATE = 8000
CALLER_LINES = (
    "I'm fine, thank you. I slept well last night.",
    "My knee hurts a little, but I took my pills after breakfast.",
    "My daughter visited me yesterday and we had lunch in the garden.",
    "No, I don't need anything else today. Goodbye.",
)
BOT_SENTENCES = (
    "That's lovely to hear.",
    "I'm sorry your knee is sore today.",
    "Did you manage to drink enough water and eat a proper lunch?",
    "Thank you for talking with me today, and I'll call again tomorrow at the same time.",
)
T = TypeVar("T")


def phone_audio(text: str) -> bytes:
    return ulaw_to_pcm16(pcm16_to_ulaw(espeak_pcm(text, PHONE_RATE)))


async def ticking(work: Awaitable[T]) -> tuple[T, float]:
    """``work``'s result and the event loop's longest stall (beyond a 10 ms tick) meanwhile."""
    longest = 0.0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            longest = max(longest, now - last - 0.01)
            last = now

    ticker = asyncio.create_task(tick())
    result = await work
    done.set()
    await ticker
    return result, longest


async def bench_stt(whisper: WhisperEngine) -> None:
    print("\nSpeech-to-text: Whisper tiny.en (int8, 1 thread), phone audio 8 kHz -> 16 kHz")
    print(f"{'speech s':>9} {'work s':>7} {'RTF':>5} {'stall ms':>9}  heard")
    total_speech = total_work = 0.0
    for line in CALLER_LINES:
        pcm = phone_audio(line)
        seconds = len(pcm) / 2 / PHONE_RATE
        started = time.perf_counter()
        text, stall = await ticking(whisper.transcribe(pcm, PHONE_RATE))
        work = time.perf_counter() - started
        total_speech, total_work = total_speech + seconds, total_work + work
        print(f"{seconds:9.2f} {work:7.2f} {work / seconds:5.2f} {stall * 1000:9.1f}  {text}")
    print(f"real-time factor overall: {total_work / total_speech:.2f}")


async def bench_tts(piper: PiperEngine) -> None:
    print("\nText-to-speech: Piper en_US-joe-medium (1 thread), one sentence at a time")
    print(f"{'first audio s':>13} {'audio s':>8} {'RTF':>5} {'stall ms':>9}  sentence")
    firsts = []
    for sentence in BOT_SENTENCES:

        async def speak(text: str) -> tuple[float, int]:
            started = time.perf_counter()
            first = 0.0
            size = 0
            async for audio in piper.stream(text):
                first = first or time.perf_counter() - started
                size += len(audio)
            return first, size

        started = time.perf_counter()
        (first, size), stall = await ticking(speak(sentence))
        work = time.perf_counter() - started
        seconds = size / 2 / piper.sample_rate
        firsts.append(first)
        print(f"{first:13.2f} {seconds:8.2f} {work / seconds:5.2f} {stall * 1000:9.1f}  {sentence}")
    print(f"time to first audio: median {sorted(firsts)[len(firsts) // 2]:.2f} s")


async def bench_concurrent(whisper: WhisperEngine, n: int) -> None:
    lines = [phone_audio(CALLER_LINES[i % len(CALLER_LINES)]) for i in range(n)]
    started = time.perf_counter()

    async def one(pcm: bytes) -> float:
        await whisper.transcribe(pcm, PHONE_RATE)
        return time.perf_counter() - started

    done = sorted(await asyncio.gather(*(one(pcm) for pcm in lines)))
    print(
        f"\n{n} callers end a turn at once: transcripts after "
        + ", ".join(f"{t:.2f}" for t in done)
        + " s (one Whisper thread: they queue)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=4, help="turns transcribed at once")
    args = parser.parse_args()

    local = LocalSpeech()
    started = time.perf_counter()
    whisper = local.whisper
    whisper_load = time.perf_counter() - started
    started = time.perf_counter()
    piper = local.piper
    piper_load = time.perf_counter() - started
    print(f"Load: Whisper {whisper_load:.2f} s, Piper {piper_load:.2f} s (once per process)")
    # The first inference of each model sets up its buffers: not what a call hears.
    whisper.transcribe_now(phone_audio("Hello."), PHONE_RATE)
    piper.synthesize_now("Hello.")

    await bench_stt(whisper)
    await bench_tts(piper)
    if args.concurrent > 1:
        await bench_concurrent(whisper, args.concurrent)


if __name__ == "__main__":
    asyncio.run(main())

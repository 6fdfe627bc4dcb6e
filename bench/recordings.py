"""What recording a call costs: CPU-seconds and disk bytes per call-minute.

    python -m bench.recordings [--minutes 10] [--calls 4]

Seconds to run. Each simulated call is a check-in conversation on a Twilio line, made of
espeak-ng speech (tests/fakes/speech.py): the bot says a sentence, the caller answers, short
pauses between, every fifth answer of the bot cut off by the caller (a `clear`). Its audio is
fed to `telephony.recording.LineRecording`, the class a recorded call uses, exactly as the
serializer feeds it during a call (the caller's audio 40 ms at a time as it arrives, the bot's
40 ms chunks as pipecat paces them, about as fast as they play, each clear), but on a simulated
clock, so that minutes of calls take seconds; ``--calls`` recordings at once, written by the
one writer thread every recording of a process shares.

Printed for each format (Opus in Ogg, FLAC):

* CPU-s per call-minute: the process's CPU time (user + system, all threads) from the first
  chunk to the last file closed, over the call-minutes recorded: the real-time side's queueing
  and the writer threads' mixing, encoding and writing together. What was spent making the
  simulated audio is not counted.
* real-time side: the time one `heard`/`sent` call takes on the event loop (median and p99 of
  every call, wall clock): all that recording adds to the real-time path.
* disk bytes per call-minute, and the bitrate that makes.

Then, in real time: an asyncio loop plays the part of the serializers of ``--live-calls``
calls at once, handing each call's chunks on as they come (every 20 ms), to a `LineRecording`
each, or to nobody, in
``--live-rounds`` rounds of ``--live-seconds`` taking turns (so that whatever else the machine
does falls on all alike). How late its 20 ms ticks wake (p50, p99, max) is what the
recordings' writer thread, which shares the interpreter and the cores with the loop, takes
from the real-time path; how long after the calls ended their files were finished says
whether the writer kept up (a batch, half a second, is the least it can be).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import soundfile

from carecall.telephony.recording import LineAudio, LineRecording, RecordingFormat
from tests.fakes.speech import espeak_pcm

RATE = 8000
CHUNK = 320
"""40 ms: how the caller's audio is handed on, and how pipecat chunks the bot's."""
BOT_LINES = (
    "Good morning! This is Sunny, an automated assistant calling for your daily check-in.",
    "How did you sleep last night?",
    "I'm glad to hear that. Have you had something to eat this morning?",
    "That sounds lovely. Did you remember to take your tablets today?",
    "Well done. Is anything hurting or bothering you today?",
    "Thank you for telling me. Is there anything you would like me to pass on?",
)
CALLER_LINES = (
    "Oh hello dear, yes I can hear you.",
    "Not too bad, I woke up once in the night.",
    "Yes, I had some porridge and a cup of tea.",
    "I did, with my breakfast.",
    "My knee is a bit sore but nothing new.",
    "No, that's everything, thank you.",
)
PAUSE = 0.8


@dataclass
class Event:
    at: float
    kind: str
    pcm: bytes


def _call_events(minutes: float) -> list[Event]:
    """One call's line, in time order: the caller's stream never stops (silence between their
    words, as Twilio sends), the bot's chunks go out as pipecat paces them, 40 ms every 40 ms."""
    bot = [espeak_pcm(line, RATE) for line in BOT_LINES]
    caller = [espeak_pcm(line, RATE) for line in CALLER_LINES]
    events: list[Event] = []
    heard = bytearray()
    at = 0.0
    turn = 0
    while at < minutes * 60:
        answer = bot[turn % len(bot)]
        played = len(answer) / 2 / RATE
        cut = turn % 5 == 4  # the caller talks over this one halfway through: nothing more
        # of it is sent after the clear
        for i, start in enumerate(range(0, len(answer), 2 * CHUNK)):
            chunk = answer[start : start + 2 * CHUNK]
            events.append(Event(at + i * CHUNK / RATE, "sent", chunk))
        if cut:
            played /= 2
            events = [e for e in events if e.kind != "sent" or e.at <= at + played]
            events.append(Event(at + played, "cleared", b""))
        heard += bytes(round((played + PAUSE) * RATE) * 2)
        heard += caller[turn % len(caller)]
        heard += bytes(round(PAUSE * RATE) * 2)
        at = len(heard) / 2 / RATE
        turn += 1
    heard = heard[: round(minutes * 60 * RATE) * 2]
    for i, start in enumerate(range(0, len(heard), 2 * CHUNK)):
        chunk = bytes(heard[start : start + 2 * CHUNK]).ljust(2 * CHUNK, b"\0")
        events.append(Event((i + 1) * CHUNK / RATE, "heard", chunk))
    events.sort(key=lambda event: event.at)
    return [event for event in events if event.at <= minutes * 60]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Run:
    format: str
    call_minutes: float
    cpu_seconds: float
    bytes: int
    put_us: list[float]
    decoded_seconds: float


class _Nobody:
    def heard(self, pcm: bytes, sample_rate: int) -> None:
        pass

    def sent(self, pcm: bytes, sample_rate: int) -> None:
        pass

    def cleared(self) -> None:
        pass


async def _live(
    events: list[Event], calls: int, seconds: float, folder: Path | None
) -> tuple[list[float], float]:
    """The loop hands each call's chunks on when they are due (every 20 ms), to a recording
    each (``folder``) or to nobody; how late each tick woke, in ms, and how long after the
    calls ended their recordings were finished (how far behind the writer was), in s."""
    loop = asyncio.get_running_loop()
    listeners: list[LineAudio] = (
        [LineRecording(folder / f"live-{i}.ogg") for i in range(calls)]
        if folder is not None
        else [_Nobody() for _ in range(calls)]
    )
    start = loop.time()
    lags = []
    index = 0
    tick = 0
    while (due := start + tick * 0.02) < start + seconds:
        await asyncio.sleep(max(0.0, due - loop.time()))
        lags.append((loop.time() - due) * 1000)
        while index < len(events) and events[index].at <= tick * 0.02:
            event = events[index]
            for listener in listeners:
                if event.kind == "heard":
                    listener.heard(event.pcm, RATE)
                elif event.kind == "sent":
                    listener.sent(event.pcm, RATE)
                else:
                    listener.cleared()
            index += 1
        tick += 1
    ended = loop.time()
    for listener in listeners:
        if isinstance(listener, LineRecording):
            listener.close()
    for listener in listeners:
        if isinstance(listener, LineRecording):
            result = await asyncio.to_thread(listener.wait)
            assert result is not None and result.dropped_seconds == 0, result
    return lags, loop.time() - ended


def _record(events: list[Event], path: Path, format: RecordingFormat, times: list[float]) -> None:
    clock = _Clock()
    recording = LineRecording(path, format=format, clock=clock, max_queued=10_000_000)
    for event in events:
        clock.now = event.at
        started = time.perf_counter()
        if event.kind == "heard":
            recording.heard(event.pcm, RATE)
        elif event.kind == "sent":
            recording.sent(event.pcm, RATE)
        else:
            recording.cleared()
        times.append((time.perf_counter() - started) * 1e6)
    clock.now = events[-1].at
    recording.close()
    result = recording.wait()
    assert result is not None and result.error is None, result


def run(format: RecordingFormat, events: list[Event], calls: int, folder: Path) -> Run:
    minutes = events[-1].at / 60
    times: list[list[float]] = [[] for _ in range(calls)]
    paths = [folder / f"call-{i}.{'ogg' if format == 'opus' else 'flac'}" for i in range(calls)]
    threads = [
        threading.Thread(target=_record, args=(events, paths[i], format, times[i]))
        for i in range(calls)
    ]
    cpu = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = time.process_time() - cpu
    info = soundfile.info(str(paths[0]))
    return Run(
        format,
        minutes * calls,
        cpu,
        sum(path.stat().st_size for path in paths),
        [t for call in times for t in call],
        info.frames / info.samplerate,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each call")
    parser.add_argument("--calls", type=int, default=4, help="recordings at once")
    parser.add_argument("--live-calls", type=int, default=16, help="recorded calls in real time")
    parser.add_argument("--live-seconds", type=float, default=5.0, help="one round, each way")
    parser.add_argument("--live-rounds", type=int, default=8, help="rounds, taking turns")
    args = parser.parse_args()

    events = _call_events(args.minutes)
    print(
        f"{args.calls} calls of {events[-1].at / 60:.1f} min at once "
        f"({len(events)} chunks each); {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, libsndfile {soundfile.__libsndfile_version__}"
    )
    print(
        f"{'format':<8}{'CPU-s / call-min':>18}{'real-time side µs (p50, p99)':>31}"
        f"{'bytes / call-min':>18}{'kbit/s':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="carecall-bench-") as folder:
        formats: tuple[RecordingFormat, ...] = ("opus", "flac")
        for format in formats:
            result = run(format, events, args.calls, Path(folder))
            assert abs(result.decoded_seconds - events[-1].at) < 0.1, result.decoded_seconds
            per_minute = result.bytes / result.call_minutes
            p99 = statistics.quantiles(result.put_us, n=100)[98]
            print(
                f"{format:<8}{result.cpu_seconds / result.call_minutes:>18.3f}"
                f"{statistics.median(result.put_us):>17.1f}{p99:>14.1f}"
                f"{per_minute:>18,.0f}{per_minute * 8 / 60 / 1000:>8.1f}"
            )
        print(
            f"\n{args.live_calls} calls in real time, {args.live_rounds} rounds of "
            f"{args.live_seconds:.0f} s each, taking turns: the loop's 20 ms ticks late by (ms), "
            "and how long after the calls ended the last recording was finished (s, worst round):"
        )
        print(f"{'':<32}{'p50':>8}{'p99':>8}{'max':>8}{'finished after':>16}")
        variants: tuple[tuple[str, Path | None], ...] = (
            ("recorded (opus)", Path(folder)),
            ("not recorded", None),
        )
        lags: dict[str, list[float]] = {label: [] for label, _ in variants}
        behind: dict[str, float] = {label: 0.0 for label, _ in variants}
        for _ in range(args.live_rounds):
            for label, target in variants:
                ticks, finished = asyncio.run(
                    _live(events, args.live_calls, args.live_seconds, target)
                )
                lags[label] += ticks
                behind[label] = max(behind[label], finished)
        for label, ticks in lags.items():
            p99 = statistics.quantiles(ticks, n=100)[98]
            print(
                f"{label:<32}{statistics.median(ticks):>8.2f}{p99:>8.2f}{max(ticks):>8.2f}"
                f"{behind[label]:>16.2f}"
            )


if __name__ == "__main__":
    main()

"""A phone call's recording: both sides of the line, mixed, as they were heard.

It is made only of audio carecall already has, taken where it crosses the wire (the media
serializer, `telephony.serializer`): the caller's as it arrived from Twilio, the bot's as it was
sent to Twilio. What was sent is not yet what was heard: Twilio plays the bot's audio out of a
buffer, in order, as it comes (pipecat paces it about as fast as it plays, a chunk or so ahead,
and some audio comes in a burst: the silence sent at the end of a call), and a `clear` (the
caller interrupted) drops whatever was still waiting there. `PlayedMix` keeps that buffer's clock as
Twilio does (and as `telephony.media_client` plays it in the tests): a chunk plays from the
moment it arrives, or from the end of the audio queued before it, whichever is later; a clear
cuts everything not played by the moment it was sent. An interrupted answer stops in the
recording where the caller stopped hearing it, and what the bot had sent ahead is not in it.
When the line closes, what had not played by then is cut the same way.

Only three calls run on the real-time path (`LineRecording.heard`, `sent`, `cleared`): each
stamps the time and puts the audio on a bounded queue, never waiting. One thread writes every
recording of the process (`_Writer`): twice a second it mixes what each has queued, encodes it
(libsndfile through `soundfile`: Opus in Ogg, or FLAC; the encoder runs without holding the
interpreter) and writes it, a second or so behind the call. Should the disk fall so far behind
that a queue fills, audio is dropped (silence in the file, counted and logged), never waited
for.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import soundfile
from loguru import logger

RecordingFormat = Literal["opus", "flac"]
MIX_RATE = 8000
"""Phone audio is 8 kHz on both sides (nothing above 4 kHz crosses the line)."""
_ENCODINGS: dict[str, tuple[str, str]] = {"opus": ("OGG", "OPUS"), "flac": ("FLAC", "PCM_16")}
SETTLE_SECONDS = 1.0
"""How far behind the newest audio the mix is final: a clear never reaches back before its own
moment, and the caller's audio arrives within tens of milliseconds of being spoken."""
BATCH_SECONDS = 0.5
"""How often the writer thread takes what has queued up."""
MAX_QUEUED = 4000
"""Chunks of one call waiting for the writer thread (≈ 40 s) before audio is dropped."""
_CALLER, _BOT, _CLEAR = 0, 1, 2


class LineAudio(Protocol):
    """What crosses a phone line, told as it crosses (on the real-time path: never blocks)."""

    def heard(self, pcm: bytes, sample_rate: int) -> None:
        """The caller's audio, 16-bit mono PCM, as it arrived."""

    def sent(self, pcm: bytes, sample_rate: int) -> None:
        """The bot's audio, 16-bit mono PCM, as it was sent to be played."""

    def cleared(self) -> None:
        """Twilio was told to drop the audio it had not played yet (`clear`)."""


class _Track:
    """One side's samples from the mix's first unwritten sample on (a growing buffer)."""

    def __init__(self, capacity: int) -> None:
        self.samples = np.zeros(capacity, np.int32)

    def _reserve(self, size: int) -> None:
        if size > len(self.samples):
            grown = np.zeros(max(size, 2 * len(self.samples)), np.int32)
            grown[: len(self.samples)] = self.samples
            self.samples = grown

    def put(self, offset: int, samples: np.ndarray) -> None:
        self._reserve(offset + len(samples))
        self.samples[offset : offset + len(samples)] = samples

    def silence(self, start: int, end: int) -> None:
        self.samples[max(start, 0) : max(end, 0)] = 0

    def take(self, count: int) -> np.ndarray:
        """The first ``count`` samples; the rest move to the front."""
        self._reserve(count)
        taken = self.samples[:count].copy()
        self.samples[: len(self.samples) - count] = self.samples[count:]
        self.samples[len(self.samples) - count :] = 0
        return taken


class PlayedMix:
    """Both sides of a call on one timeline (samples at ``rate`` since the call started), the
    bot's as Twilio played it (see the module's docstring). Times are seconds since the start.

    The caller's audio is laid end to end as it arrived; a pause in their stream longer than
    ``gap`` seconds (none on Twilio, which always sends) resumes where the audio arrived."""

    def __init__(
        self, rate: int = MIX_RATE, *, settle: float = SETTLE_SECONDS, gap: float = 0.2
    ) -> None:
        self.rate = rate
        self._settle = round(settle * rate)
        self._gap = round(gap * rate)
        self._base = 0
        """The first sample not yet taken: nothing before it can change."""
        self._caller = _Track(4 * rate)
        self._bot = _Track(4 * rate)
        self._caller_end = 0
        self._play_end = 0
        """Where Twilio's buffer of the bot's audio runs out."""
        self._latest = 0

    def _sample(self, at: float) -> int:
        moment = round(at * self.rate)
        self._latest = max(self._latest, moment)
        return moment

    def caller(self, samples: np.ndarray, at: float) -> None:
        """The caller's ``samples`` arrived at ``at``."""
        arrived = self._sample(at) - len(samples)
        start = self._caller_end
        if arrived - start > self._gap:
            start = arrived
        start = max(start, self._base)
        self._caller.put(start - self._base, samples)
        self._caller_end = start + len(samples)

    def bot(self, samples: np.ndarray, at: float) -> None:
        """The bot's ``samples`` were sent at ``at``: they play once what is queued has."""
        start = max(self._play_end, self._sample(at), self._base)
        self._bot.put(start - self._base, samples)
        self._play_end = start + len(samples)

    def clear(self, at: float) -> None:
        """Everything of the bot's not played by ``at`` is dropped."""
        cut = max(self._sample(at), self._base)
        if self._play_end > cut:
            self._bot.silence(cut - self._base, self._play_end - self._base)
            self._play_end = cut

    def settled(self, at_least: float = 0.0) -> np.ndarray:
        """The mixed samples that can no longer change, once there are ``at_least`` seconds of
        them (else none yet); 16-bit."""
        upto = self._latest - self._settle
        if upto - self._base < at_least * self.rate or upto <= self._base:
            return np.zeros(0, np.int16)
        return self._take(upto)

    def finish(self, at: float) -> np.ndarray:
        """The line closed at ``at``: the rest of the mix, with what had not played by then
        cut; the recording ends there (or with the caller's last audio, if later)."""
        self.clear(at)
        return self._take(max(self._caller_end, self._sample(at)))

    @property
    def seconds(self) -> float:
        """How much has been taken so far."""
        return self._base / self.rate

    def _take(self, upto: int) -> np.ndarray:
        count = upto - self._base
        if count <= 0:
            return np.zeros(0, np.int16)
        mixed = self._caller.take(count) + self._bot.take(count)
        self._base = upto
        return np.clip(mixed, -32768, 32767).astype(np.int16)


@dataclass(frozen=True)
class RecordingResult:
    """How a recording ended: its length, its file's size, what was dropped, any error."""

    seconds: float
    size_bytes: int
    dropped_seconds: float
    error: str | None = None


def _samples(pcm: bytes, sample_rate: int, rate: int) -> np.ndarray:
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], np.int16)
    if sample_rate == rate or not len(samples):
        return samples
    # Not on a Twilio line (8 kHz both ways); kept simple for whatever else may come.
    count = max(1, round(len(samples) * rate / sample_rate))
    positions = np.linspace(0, len(samples) - 1, count)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.int16)


class _Writer:
    """The one thread that writes every recording of the process. Every ``BATCH_SECONDS`` it
    takes what each recording has queued, mixes it and writes what has settled, one recording
    after another, yielding the interpreter between them: at most one core is busy recording
    however many calls are, and it wakes twice a second rather than for every chunk. It is not
    niced: niced, it made the event loop later, not sooner (bench/README.md: descheduled while
    it holds the interpreter, it holds up the loop's thread too). It stops when no recording
    is left (and starts again with the next)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recordings: list[LineRecording] = []
        self._thread: threading.Thread | None = None

    def add(self, recording: LineRecording) -> None:
        with self._lock:
            self._recordings.append(recording)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="carecall recordings", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(BATCH_SECONDS)
            with self._lock:
                recordings = list(self._recordings)
            for recording in recordings:
                if recording._step():
                    with self._lock:
                        self._recordings.remove(recording)
                time.sleep(0)  # the interpreter to the event loop's thread, if it waits
            with self._lock:
                if not self._recordings:
                    self._thread = None
                    return


_WRITER = _Writer()


class LineRecording:
    """Records one phone line into ``path`` (see the module's docstring): the serializer tells
    it what crosses the line (`LineAudio`), `close` ends it when the line has closed, and
    ``on_done(result)`` is told from the writer thread once the file is complete."""

    def __init__(
        self,
        path: Path,
        *,
        format: RecordingFormat = "opus",
        rate: int = MIX_RATE,
        on_done: Callable[[RecordingResult], None] | None = None,
        max_queued: int = MAX_QUEUED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.format = format
        self._rate = rate
        self._on_done = on_done
        self._clock = clock
        self._started = clock()
        # A deque's append and popleft are atomic: no lock, nothing to wait on, either side.
        self._queue: deque[tuple[int, float, bytes, int]] = deque()
        self._max_queued = max_queued
        self._closing = False
        self._closed_at: float | None = None
        self._mix = PlayedMix(rate)
        self._out: soundfile.SoundFile | None = None
        self._done = threading.Event()
        self.dropped_chunks = 0
        self.dropped_seconds = 0.0
        self.result: RecordingResult | None = None
        _WRITER.add(self)

    # --- the real-time side: stamp, queue, never wait -------------------------------------------

    def heard(self, pcm: bytes, sample_rate: int) -> None:
        self._put(_CALLER, pcm, sample_rate)

    def sent(self, pcm: bytes, sample_rate: int) -> None:
        self._put(_BOT, pcm, sample_rate)

    def cleared(self) -> None:
        self._put(_CLEAR, b"", 0)

    def _put(self, kind: int, pcm: bytes, sample_rate: int) -> None:
        if self._closing:
            return
        if len(self._queue) < self._max_queued or kind == _CLEAR:  # a clear is never lost
            self._queue.append((kind, self._clock() - self._started, pcm, sample_rate))
        else:
            self.dropped_chunks += 1
            if sample_rate:
                self.dropped_seconds += len(pcm) / 2 / sample_rate

    def close(self) -> None:
        """The line has closed: the writer finishes the file in its own time (never waited
        for here; `wait` does, for tests and shutdown)."""
        if not self._closing:
            self._closing = True
            self._closed_at = self._clock() - self._started

    def wait(self, timeout: float | None = None) -> RecordingResult | None:
        """Block until the file is complete (not on the event loop); its result."""
        self._done.wait(timeout)
        return self.result

    # --- in the writer thread -------------------------------------------------------------------

    def _step(self) -> bool:
        """Mix and write what has queued up; at the end, finish the file. Whether it is done."""
        closed_at = self._closed_at
        try:
            if self._out is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                container, subtype = _ENCODINGS[self.format]
                self._out = soundfile.SoundFile(
                    self.path,
                    "w",
                    samplerate=self._rate,
                    channels=1,
                    format=container,
                    subtype=subtype,
                )
            self._take_queued()
            if closed_at is None:
                settled = self._mix.settled()
                if len(settled):
                    self._out.write(settled)
                return False
            self._out.write(self._mix.finish(closed_at))
            self._out.close()
        except Exception as exc:  # the disk is full, the folder gone: the call goes on
            self._closing = True
            if self._out is not None:
                with contextlib.suppress(Exception):
                    self._out.close()
            self._end(f"{type(exc).__name__}: {exc}")
            return True
        self._end(None)
        return True

    def _take_queued(self) -> None:
        mix = self._mix
        while True:
            try:
                kind, at, pcm, sample_rate = self._queue.popleft()
            except IndexError:
                return
            if kind == _CALLER:
                mix.caller(_samples(pcm, sample_rate, self._rate), at)
            elif kind == _BOT:
                mix.bot(_samples(pcm, sample_rate, self._rate), at)
            else:
                mix.clear(at)

    def _end(self, error: str | None) -> None:
        if error is not None:
            logger.error(f"Recording {self.path.name} failed: {error}")
        size = 0
        with contextlib.suppress(OSError):
            size = self.path.stat().st_size
        if self.dropped_chunks:
            logger.warning(
                f"Recording {self.path.name}: {self.dropped_chunks} chunks of audio "
                f"({self.dropped_seconds:.1f} s) dropped, the disk could not keep up"
            )
        self.result = RecordingResult(
            round(self._mix.seconds, 3), size, self.dropped_seconds, error
        )
        self._done.set()
        if self._on_done is not None:
            try:
                self._on_done(self.result)
            except Exception:
                logger.exception(f"Recording {self.path.name}: telling its end failed")

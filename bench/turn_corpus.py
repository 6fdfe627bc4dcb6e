"""The turn-taking corpus of `bench.turns` and its audio as the caller sends it.

* `load_corpus` reads ``bench/data/turns.jsonl`` (one check-in answer, backchannel or
  interruption a line) and checks it, with a message naming the line that is wrong.
* `Renderer` speaks each segment with the item's voice (Piper at two paces, espeak-ng with two
  voices and rates), trims it to its voiced frames and caches the 8 kHz PCM under
  ``bench/results/turns-audio/``, so a second run synthesizes nothing.
* `Line` turns that PCM into 20 ms μ-law frames as Twilio sends them, over a digitally silent
  line or one with line noise (`line_noise`), and makes the pauses of the same line.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tests.fakes.speech import espeak_wav_to_pcm16, pcm16_to_ulaw, resample_pcm16

SAMPLE_RATE = 8000
FRAME = 160
FRAME_S = FRAME / SAMPLE_RATE
VOICE_RMS = 300.0
"""A 20 ms frame of the caller louder than this (16-bit RMS) is voice (as in `bench.calls`)."""
CORPUS_PATH = Path(__file__).resolve().parent / "data" / "turns.jsonl"
AUDIO_CACHE = Path(__file__).resolve().parent / "results" / "turns-audio"

Kind = Literal["complete-short", "complete-long", "paused", "backchannel", "interruption"]
KINDS: tuple[Kind, ...] = (
    "complete-short",
    "complete-long",
    "paused",
    "backchannel",
    "interruption",
)
ANSWER_KINDS: tuple[Kind, ...] = ("complete-short", "complete-long", "paused")
SPLITS = ("tuning", "held-out")
MIN_PAUSE_S, MAX_PAUSE_S = 0.7, 2.5
COUGH, LAUGH = "[cough]", "[laugh]"
"""Sounds, not words: a cough is synthesized noise, a laugh espeak-ng's "ha ha ha"; the fake
speech-to-text hears nothing in either (as Whisper mostly does)."""


class CorpusError(ValueError):
    """The corpus file is malformed; the message names the line and what to fix."""


@dataclass(frozen=True)
class Segment:
    text: str
    pause_after: float
    """Seconds of silence (or line noise) after this segment's voice, before the next."""

    @property
    def transcript(self) -> str:
        """What the fake speech-to-text returns for this segment's audio."""
        return "" if self.text in (COUGH, LAUGH) else self.text


@dataclass(frozen=True)
class Item:
    id: str
    kind: Kind
    split: str
    question: str
    segments: tuple[Segment, ...]
    lead: str | None = None
    """Backchannels and interruptions: the answer the caller gives first, so that the bot talks."""
    at_s: float | None = None
    """Backchannels and interruptions: seconds into the bot's answer to speak."""

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)


def load_corpus(path: Path = CORPUS_PATH) -> list[Item]:
    """Every item of the corpus, checked; raises `CorpusError` on the first bad line."""
    items: list[Item] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = parse_item(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorpusError(f"{path.name} line {number}: {exc}") from None
        if item.id in seen:
            raise CorpusError(f"{path.name} line {number}: the id {item.id!r} is used twice")
        seen.add(item.id)
        items.append(item)
    return items


def parse_item(raw: dict[str, Any]) -> Item:
    """One corpus line as an `Item`; raises ValueError saying what is wrong."""
    kind = raw["kind"]
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if raw["split"] not in SPLITS:
        raise ValueError(f"split must be 'tuning' or 'held-out', not {raw['split']!r}")
    segments = tuple(Segment(str(s["text"]), float(s["pause_after"])) for s in raw["segments"])
    if not segments or any(not s.text.strip() for s in segments):
        raise ValueError("every item needs segments with text")
    if segments[-1].pause_after != 0:
        raise ValueError("the last segment has no pause after it (pause_after 0)")
    pauses = [s.pause_after for s in segments[:-1]]
    if kind == "paused":
        if not pauses or any(not MIN_PAUSE_S <= p <= MAX_PAUSE_S for p in pauses):
            raise ValueError(
                f"a paused item needs ≥ 2 segments with pauses of {MIN_PAUSE_S}-{MAX_PAUSE_S} s"
            )
    elif pauses:
        raise ValueError(f"a {kind} item is one segment")
    lead, at_s = raw.get("lead"), raw.get("at_s")
    if kind in ("backchannel", "interruption"):
        if not isinstance(lead, str) or not lead.strip() or not isinstance(at_s, int | float):
            raise ValueError(f"a {kind} needs a lead answer and at_s (seconds into the reply)")
    elif lead is not None or at_s is not None:
        raise ValueError(f"a {kind} item has no lead or at_s")
    return Item(
        id=str(raw["id"]),
        kind=kind,
        split=raw["split"],
        question=str(raw["question"]),
        segments=segments,
        lead=lead,
        at_s=None if at_s is None else float(at_s),
    )


# ------------------------------------------------------------------------------------ voices


@dataclass(frozen=True)
class VoiceSpec:
    """One way the corpus is spoken: an engine and its voice and pace."""

    name: str
    engine: Literal["piper", "espeak"]
    option: str
    """Piper: the length_scale (1.0 the voice's own pace, larger slower); espeak-ng: the voice."""
    words_per_minute: int = 0
    """espeak-ng only."""


VOICES: tuple[VoiceSpec, ...] = (
    VoiceSpec("piper-joe-1.0", "piper", "1.0"),
    VoiceSpec("espeak-en-us-150", "espeak", "en-us", 150),
    VoiceSpec("piper-joe-1.35", "piper", "1.35"),
    VoiceSpec("espeak-en-gb-rp-120", "espeak", "en-gb-x-rp", 120),
)


def voice_for(index: int) -> VoiceSpec:
    """Items take the voices in turn (by their position in the corpus)."""
    return VOICES[index % len(VOICES)]


class Renderer:
    """Speaks corpus text in a voice: 16-bit 8 kHz PCM trimmed to its voiced frames, cached on
    disk by voice and text."""

    def __init__(self, cache: Path = AUDIO_CACHE) -> None:
        self._cache = cache
        self._piper: Any = None

    def pcm(self, voice: VoiceSpec, text: str) -> np.ndarray:
        key = hashlib.sha1(f"{voice.name}\n{text}".encode()).hexdigest()[:16]
        path = self._cache / voice.name / f"{key}.npy"
        if path.exists():
            return np.asarray(np.load(path), dtype=np.int16)
        samples = trim_to_voice(self._synthesize(voice, text))
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, samples)
        return samples

    def _synthesize(self, voice: VoiceSpec, text: str) -> np.ndarray:
        if text == COUGH:
            return cough_pcm(seed=len(voice.name))
        spoken = "Ha ha ha ha." if text == LAUGH else text
        if voice.engine == "espeak":
            command = ["espeak-ng", "-v", voice.option, "-s", str(voice.words_per_minute)]
            wav = subprocess.run(
                [*command, "--stdout", "--", spoken], capture_output=True, check=True
            )
            pcm = espeak_wav_to_pcm16(wav.stdout, SAMPLE_RATE)
        else:
            pcm = self._piper_pcm(spoken, float(voice.option))
        return np.frombuffer(pcm, dtype="<i2").astype(np.int16)

    def _piper_pcm(self, text: str, length_scale: float) -> bytes:
        from piper import SynthesisConfig

        from carecall.bot.local_speech import PiperEngine, find_piper_voice

        if self._piper is None:
            self._piper = PiperEngine(find_piper_voice())
        config = SynthesisConfig(length_scale=length_scale)
        pcm: bytes = self._piper.synthesize_now(text, config)
        return resample_pcm16(pcm, self._piper.sample_rate, SAMPLE_RATE)


def trim_to_voice(samples: np.ndarray) -> np.ndarray:
    """``samples`` from the first to the last 20 ms frame louder than `VOICE_RMS`, so that
    the segment's last frame is its last voiced one (the pause after it is the corpus's)."""
    frames = samples[: samples.size // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    voiced = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > VOICE_RMS)
    if not voiced.size:
        raise ValueError("the synthesized audio has no voiced frame")
    return samples[voiced[0] * FRAME : (voiced[-1] + 1) * FRAME].astype(np.int16)


def cough_pcm(seed: int) -> np.ndarray:
    """A cough-like sound: two short bursts of band-limited noise with a sharp attack and a
    quick decay (about 0.2 s and 0.15 s, 0.12 s apart), at about −12 dBFS."""
    rng = np.random.default_rng(seed)
    parts = []
    for seconds in (0.2, 0.15):
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        noise = rng.standard_normal(t.size)
        noise = np.convolve(noise, np.ones(4) / 4, mode="same")  # softens the hiss
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / (seconds / 3))
        parts += [noise * envelope, np.zeros(int(0.12 * SAMPLE_RATE))]
    sound = np.concatenate(parts[:-1])
    return np.asarray(sound / np.abs(sound).max() * 0.25 * 32767, dtype=np.int16)


# ------------------------------------------------------------------------------------ the line

LINE_NOISE_DBFS = -50.0
HUM_DBFS = -56.0


def line_noise(seconds: float = 10.0, seed: int = 16) -> np.ndarray:
    """What a phone line carries when nobody speaks: hiss (white noise, slightly low-passed) at
    −50 dBFS RMS plus mains hum (50 Hz with its third harmonic) at −56 dBFS, 8 kHz 16-bit."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    hiss = np.convolve(rng.standard_normal(n), [0.5, 0.3, 0.2], mode="same")
    hiss *= 32767 * 10 ** (LINE_NOISE_DBFS / 20) / np.sqrt((hiss**2).mean())
    t = np.arange(n) / SAMPLE_RATE
    hum = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t)
    hum *= 32767 * 10 ** (HUM_DBFS / 20) / np.sqrt((hum**2).mean())
    return np.asarray(np.round(hiss + hum), dtype=np.int16)


def _frames(ulaw: bytes) -> tuple[str, ...]:
    return tuple(
        base64.b64encode(ulaw[i : i + FRAME]).decode("ascii") for i in range(0, len(ulaw), FRAME)
    )


class Line:
    """The caller's side of the line: digitally silent (``noisy`` False) or with line noise
    under everything, the speech included."""

    def __init__(self, noisy: bool) -> None:
        self.noisy = noisy
        self._noise = line_noise() if noisy else np.zeros(FRAME * 50, dtype=np.int16)
        self._offset = 0
        self.idle_frames: tuple[str, ...] = _frames(pcm16_to_ulaw(self._noise.tobytes()))
        """A loop of what the line carries while the caller is silent."""

    def _background(self, n: int) -> np.ndarray:
        reps = -(-(self._offset + n) // self._noise.size) + 1
        loop = np.tile(self._noise, reps)
        out = loop[self._offset : self._offset + n]
        self._offset = (self._offset + n) % self._noise.size
        return out

    def speech(self, pcm: np.ndarray) -> tuple[str, ...]:
        """Voice as 20 ms μ-law frames (padded to whole frames), with the line's noise."""
        padded = np.zeros(-(-pcm.size // FRAME) * FRAME, dtype=np.int32)
        padded[: pcm.size] = pcm
        mixed = np.clip(padded + self._background(padded.size), -32768, 32767)
        return _frames(pcm16_to_ulaw(mixed.astype("<i2").tobytes()))

    def pause(self, seconds: float) -> tuple[str, ...]:
        """``seconds`` of the line with nobody speaking (rounded to 20 ms frames)."""
        n = round(seconds / FRAME_S) * FRAME
        return _frames(pcm16_to_ulaw(self._background(n).astype("<i2").tobytes()))

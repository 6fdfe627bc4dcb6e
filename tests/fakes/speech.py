"""Speech helpers shared by the test fakes: espeak-ng synthesis, WAV decoding and G.711 μ-law.

Everything here works on 16-bit little-endian mono PCM (``bytes``). The μ-law codec is
implemented with numpy (the stdlib ``audioop`` module is deprecated and gone in 3.13).
"""

from __future__ import annotations

import io
import subprocess
import wave
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import soxr

ESPEAK_WORDS_PER_MINUTE = 160

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


@dataclass(frozen=True)
class WavAudio:
    """Decoded contents of a PCM WAV file."""

    pcm: bytes
    sample_rate: int
    channels: int
    sample_width: int

    @property
    def seconds(self) -> float:
        """Duration of the audio in seconds."""
        return len(self.pcm) / (self.sample_rate * self.channels * self.sample_width)


def read_wav(data: bytes) -> WavAudio:
    """Decode an uncompressed PCM WAV file.

    Tolerates the bogus data-chunk size that streaming writers such as
    ``espeak-ng --stdout`` put in the header: the samples actually present are used.

    Raises:
        ValueError: If ``data`` is not a PCM WAV file.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            sample_rate = wav.getframerate()
            channels = wav.getnchannels()
            sample_width = wav.getsampwidth()
            pcm = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a PCM WAV file: {exc}") from exc
    frame_size = channels * sample_width
    if sample_rate <= 0 or frame_size <= 0:
        raise ValueError("WAV header has a zero sample rate or frame size")
    return WavAudio(pcm[: len(pcm) - len(pcm) % frame_size], sample_rate, channels, sample_width)


def pcm16_wav(pcm: bytes, sample_rate: int) -> bytes:
    """Wrap 16-bit mono PCM in a WAV container."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def resample_pcm16(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample 16-bit mono PCM from ``from_rate`` to ``to_rate`` Hz."""
    if from_rate == to_rate:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2")
    resampled = soxr.resample(samples, from_rate, to_rate)
    return np.asarray(resampled, dtype="<i2").tobytes()


def espeak_command(text: str) -> list[str]:
    """The espeak-ng command line that writes ``text`` as a 22050 Hz WAV to stdout."""
    return ["espeak-ng", "-s", str(ESPEAK_WORDS_PER_MINUTE), "--stdout", "--", text]


def espeak_wav_to_pcm16(wav_bytes: bytes, sample_rate: int) -> bytes:
    """Convert espeak-ng's WAV output to 16-bit mono PCM at ``sample_rate`` Hz."""
    wav = read_wav(wav_bytes)
    if wav.channels != 1 or wav.sample_width != 2:
        raise ValueError("espeak-ng did not produce 16-bit mono audio")
    return resample_pcm16(wav.pcm, wav.sample_rate, sample_rate)


@lru_cache(maxsize=256)
def espeak_pcm(text: str, sample_rate: int) -> bytes:
    """Synthesize ``text`` with espeak-ng as 16-bit mono PCM at ``sample_rate`` Hz (cached).

    Raises:
        subprocess.CalledProcessError: If espeak-ng fails.
    """
    result = subprocess.run(espeak_command(text), capture_output=True, check=True)
    return espeak_wav_to_pcm16(result.stdout, sample_rate)


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """Encode 16-bit little-endian PCM as G.711 μ-law (one byte per sample)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    sign = np.where(samples < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(samples), _ULAW_CLIP) + _ULAW_BIAS
    # Segment number: position of the highest set bit above bit 7 (0..7).
    exponent = np.frexp((magnitude >> 7).astype(np.float64))[1] - 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    encoded = ~(sign | (exponent << 4) | mantissa) & 0xFF
    return np.asarray(encoded, dtype=np.uint8).tobytes()


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    """Decode G.711 μ-law bytes to 16-bit little-endian PCM."""
    codes = ~np.frombuffer(ulaw, dtype=np.uint8).astype(np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    samples = np.where(codes & 0x80, -magnitude, magnitude)
    return samples.astype("<i2").tobytes()

"""A simulated Twilio caller for the tests and the benchmarks: carecall's own Media Streams
client (`telephony.media_client`, which the dashboard's demo call uses too) with a person's
voice, espeak-ng, so a fake speech-to-text can be told what is being said.

Everything a test needs of an awkward caller is the client's: line noise while silent
(``idle_frames``), key presses, raw and malformed messages, forged upgrade headers, a refused
upgrade (``rejected_status``); see its module's docstring for how playout and bot utterances
are modelled.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from functools import lru_cache

from carecall.telephony.media_client import (
    FRAME_BYTES,
    FRAME_SECONDS,
    SAMPLE_RATE,
    ULAW_SILENCE,
    UNDERRUN_GAP_SECONDS,
    BotUtterance,
    MediaListener,
    MediaStreamClient,
    ulaw_frames_b64,
)

from .speech import espeak_pcm, pcm16_to_ulaw

__all__ = [
    "FRAME_BYTES",
    "FRAME_SECONDS",
    "SAMPLE_RATE",
    "ULAW_SILENCE",
    "UNDERRUN_GAP_SECONDS",
    "Announce",
    "BotUtterance",
    "MediaListener",
    "SimulatedCaller",
    "ulaw_frames_b64",
]

Announce = Callable[[str], Awaitable[None] | None]


@lru_cache(maxsize=512)
def _speech_frames(text: str) -> tuple[str, ...]:
    # Shared by every caller in the process: a benchmark script says the same lines many times.
    return ulaw_frames_b64(pcm16_to_ulaw(espeak_pcm(text, SAMPLE_RATE)))


class SimulatedCaller(MediaStreamClient):
    """Twilio's end of one bidirectional Media Stream, with a person who speaks espeak-ng."""

    async def say(self, text: str, *, announce: Announce | None = None) -> None:
        """Speak ``text`` (espeak-ng) into the call; return once its last frame was sent.

        ``announce(text)`` is called first so a fake speech-to-text knows what is being said.
        """
        if announce is not None:
            result = announce(text)
            if inspect.isawaitable(result):
                await result
        frames = await asyncio.to_thread(_speech_frames, text)
        await self.say_frames(frames)

    async def say_pcm(self, pcm8k: bytes) -> None:
        """Speak 16-bit 8 kHz mono PCM into the call; return once its last frame was sent."""
        await self.say_ulaw(pcm16_to_ulaw(pcm8k))

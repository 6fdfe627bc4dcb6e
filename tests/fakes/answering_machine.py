"""An answering machine at the far end of a simulated Twilio call.

As awkward as the real thing: it greets for seconds (its owner's recorded message, spoken over
the bot's own greeting), then beeps and records in silence; Twilio's verdict comes whenever the
test posts it (before, while or after the greeting is transcribed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .twilio_caller import SAMPLE_RATE, Announce, SimulatedCaller, _speech_frames

BEEP_SECONDS = 0.5
BEEP_HZ = 1000


def beep_pcm(seconds: float = BEEP_SECONDS, hz: float = BEEP_HZ) -> bytes:
    """A voicemail beep: a pure tone, 16-bit 8 kHz mono PCM."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * hz * t) * 12_000).astype("<i2").tobytes()


def spoken_seconds(text: str) -> float:
    """How long the simulated line takes to say ``text``."""
    return len(_speech_frames(text)) * 0.02


@dataclass
class Greeted:
    """When the machine's greeting and its beep ended (monotonic)."""

    greeting_ended_at: float
    beep_ended_at: float


class AnsweringMachine:
    """Plays ``greeting`` into ``caller``'s line (announced to the fake speech-to-text), then
    beeps."""

    def __init__(self, caller: SimulatedCaller, greeting: str, *, announce: Announce) -> None:
        self.caller = caller
        self.greeting = greeting
        self.announce = announce

    async def greet_and_beep(self) -> Greeted:
        await self.caller.say(self.greeting, announce=self.announce)
        greeting_ended_at = time.monotonic()
        await self.caller.say_pcm(beep_pcm())
        return Greeted(greeting_ended_at, time.monotonic())

"""What the caller has heard of the bot's audio on a Twilio line, and holding it while they speak.

Twilio plays the media it is sent in order, in real time, and keeps what is ahead of playback
in a buffer of its own (pipecat sends at twice real time, so a long answer is seconds ahead).
`Playout` models that buffer from what was sent and when: each media message starts playing
when the one before it has finished, or when it arrives if the buffer had run dry.

It exists for one thing: to let the bot fall silent the moment a caller starts speaking over
it, before anyone knows whether that was "mm-hm" or "wait". `hold` answers with Twilio's
``clear`` (the caller hears silence at once) and keeps what the caller has not heard yet, from
the start of the sentence they were hearing; everything the pipeline sends meanwhile is kept
too. If it was a backchannel, `release` gives all of it back to be sent at once: the bot
takes up its sentence again, like a person who paused to let the other one say "mm-hm". If it
was an interruption, `reset` (Twilio's ``clear`` for the interruption) forgets it.

Twilio echoes every pending ``mark`` when it clears its buffer. A hold's echoes are not the
caller hearing those sentences (they will be sent again, and echoed when really heard), so
`echoed` swallows them; the call's recorder only ever sees echoes of audio that was played.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pipecat.frames.frames import OutputTransportMessageUrgentFrame

MAX_REPEAT_SECONDS = 3.0
"""A held sentence is taken up again from its start when the caller had heard at most this much
of it; from `REWIND_SECONDS` before where they stopped hearing it otherwise."""
REWIND_SECONDS = 0.5
_KEEP_PLAYED_SECONDS = 10.0


@dataclass
class BotAudioHold(OutputTransportMessageUrgentFrame):
    """Hold the bot's audio on the line (``hold``), or give it back (not ``hold``).

    An urgent transport message, so it overtakes the audio queued in the output transport and
    reaches the line's serializer at once. Only lines whose serializer knows it may be sent it:
    the Twilio line's (`serializer.SafeTwilioSerializer`).
    """

    hold: bool = True
    message: dict[str, object] = field(default_factory=dict)


@dataclass
class Sent:
    """One message for the line, as `Playout` keeps it."""

    message: str
    seconds: float
    """Audio length; 0 for a mark."""
    mark: str | None
    audio: tuple[bytes, int] | None = None
    """The audio it carries (16-bit PCM and its rate), for whoever listens to the line."""
    starts: float = 0.0
    """When it starts playing at the caller (the model's estimate)."""

    @property
    def ends(self) -> float:
        return self.starts + self.seconds


class Playout:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent: list[Sent] = []
        """What was sent and may still be needed to take a sentence up again, oldest first."""
        self._play_end = 0.0
        self._held: list[Sent] | None = None
        self._echoed: set[str] = set()
        self._swallow: set[str] = set()

    @property
    def holding(self) -> bool:
        return self._held is not None

    def outgoing(
        self,
        message: str,
        *,
        seconds: float = 0.0,
        mark: str | None = None,
        audio: tuple[bytes, int] | None = None,
    ) -> bool:
        """A message for the line: True to send it now, False when it is held."""
        item = Sent(message, seconds, mark, audio)
        if self._held is not None:
            self._held.append(item)
            return False
        self._played_now([item])
        return True

    def hold(self) -> bool:
        """Start holding the bot's audio. True when some of it is still unheard at the line (or
        in Twilio's buffer), so a ``clear`` must go now."""
        if self._held is not None:
            return False
        now = self._clock()
        start = self._resume_index(now)
        unheard = self._sent[start:]
        del self._sent[start:]
        self._held = unheard
        self._play_end = now
        self._swallow.update(i.mark for i in unheard if i.mark and i.mark not in self._echoed)
        return any(i.ends > now for i in unheard)

    def release(self) -> list[Sent]:
        """Stop holding: the messages to send now, in order (the held sentence first)."""
        held, self._held = self._held, None
        if not held:
            return []
        self._played_now(held)
        return held

    def reset(self) -> None:
        """The caller interrupted: Twilio's buffer is cleared and what was held is dropped."""
        self._held = None
        self._sent.clear()
        self._play_end = self._clock()

    def echoed(self, mark: str) -> bool:
        """Twilio echoed ``mark``: True when it means the caller heard the audio before it,
        False for the echo of a mark that a hold cleared (it will be sent again)."""
        if mark in self._swallow:
            self._swallow.discard(mark)
            return False
        self._echoed.add(mark)
        return True

    def _played_now(self, items: list[Sent]) -> None:
        now = self._clock()
        for item in items:
            item.starts = max(now, self._play_end)
            self._play_end = item.ends
            self._sent.append(item)
        # What finished playing long ago can't be needed again.
        while self._sent and self._sent[0].ends < now - _KEEP_PLAYED_SECONDS:
            self._sent.pop(0)

    def _resume_index(self, now: float) -> int:
        """Where to take up again what was sent: the start of the sentence the caller was
        hearing (after the last mark already played), or a little before where they stopped
        hearing it when they had heard much of it."""
        playing = next(
            (i for i, item in enumerate(self._sent) if item.ends > now),
            len(self._sent),
        )
        if playing == len(self._sent):
            return playing  # all of it heard: nothing to say again
        sentence = playing
        while sentence > 0 and self._sent[sentence - 1].mark is None:
            sentence -= 1
        if sentence == playing or now - self._sent[sentence].starts <= MAX_REPEAT_SECONDS:
            return sentence
        rewind = playing
        while rewind > sentence and self._sent[rewind - 1].ends > now - REWIND_SECONDS:
            rewind -= 1
        return rewind

"""What `bench.turns` measures, computed from timelines (pure: no clocks, no sockets).

All times are monotonic seconds on the benchmark's clock: when the simulated caller sent its
voiced frames, when the bot's audible audio played at the caller (`BotAudio`), when a Twilio
``clear`` arrived. Each function answers one question about one corpus item; `bench.turns`
collects the answers per kind and split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tests.fakes.speech import ulaw_to_pcm16

AUDIBLE_RMS = 100.0
"""A bot media message louder than this (16-bit RMS, about −50 dBFS) is audible; digital
silence and comfort noise are not."""
SPAN_GAP_S = 0.5
"""Audible audio that starts within this long after the last audible audio played out belongs
to the same stretch (a sentence's audio arriving a little late is not a new answer)."""
FALSE_STOP_WINDOW_S = 1.0
"""A bot that stops within this long after a backchannel ended was stopped by it."""
RESUME_WINDOW_S = 2.5
"""A bot that went quiet on a backchannel and goes on within this long after it ended paused
for it (`backchannel_pause`)."""
UNFINISHED_MARGIN_S = 0.5
REACTION_S = 0.3
"""Bot audio that starts sooner than this after the caller's voice began was on its way before
the bot could have heard it (a late answer to the turn before): not a cut-in of this one."""
"""A stretch that ends this much before its answer's full length was cut short."""

_ULAW_MAGNITUDE = np.abs(
    np.frombuffer(ulaw_to_pcm16(bytes(range(256))), dtype="<i2").astype(np.float64)
)


def ulaw_rms(ulaw: bytes) -> float:
    """The RMS of μ-law audio as 16-bit PCM."""
    if not ulaw:
        return 0.0
    magnitudes = _ULAW_MAGNITUDE[np.frombuffer(ulaw, dtype=np.uint8)]
    return float(np.sqrt((magnitudes**2).mean()))


@dataclass
class Span:
    """One stretch of audible bot audio as the caller heard it: [start, end)."""

    start: float
    end: float


@dataclass
class BotAudio:
    """The bot's audible audio at one caller, as stretches of playout, cut short by ``clear``.

    Feed it every media message (`on_media`) and every ``clear`` (`on_clear`); the caller
    plays 8000 μ-law bytes a second, so a stretch lasts as long as its audio from its start,
    or from when the last audio arrived if the buffer had run dry.
    """

    spans: list[Span] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    last_media_at: float = 0.0
    _cleared: bool = False

    def on_media(self, at: float, ulaw: bytes) -> None:
        self.last_media_at = at
        if ulaw_rms(ulaw) <= AUDIBLE_RMS:
            return
        seconds = len(ulaw) / 8000
        last = self.spans[-1] if self.spans else None
        # After a ``clear`` the caller heard silence: what comes next is a stretch of its own
        # (a bot that paused for a backchannel and went on), however soon it comes.
        if last is None or self._cleared or at > last.end + SPAN_GAP_S:
            self._cleared = False
            self.spans.append(Span(at, at + seconds))
        else:
            last.end = max(last.end, at) + seconds

    def on_clear(self, at: float) -> None:
        self.clears.append(at)
        self._cleared = True
        if self.spans and self.spans[-1].end > at:
            self.spans[-1].end = max(at, self.spans[-1].start)

    def quiet_since(self) -> float:
        """When the caller last heard (or was sent) anything from the bot."""
        heard = self.spans[-1].end if self.spans else 0.0
        return max(heard, self.last_media_at)


@dataclass(frozen=True)
class Spoken:
    """When the caller's voice was on the line for one item: each segment's first and last
    voiced frame (sent), in order."""

    segments: tuple[tuple[float, float], ...]

    @property
    def first_voice(self) -> float:
        return self.segments[0][0]

    @property
    def last_voice(self) -> float:
        return self.segments[-1][1]

    @property
    def pauses(self) -> tuple[tuple[float, float], ...]:
        """The silences between segments: (end of one's voice, start of the next's)."""
        return tuple((a[1], b[0]) for a, b in zip(self.segments, self.segments[1:], strict=False))


def cut_in(spoken: Spoken, spans: list[Span]) -> bool:
    """Whether the bot's audio started while the caller had only paused: a stretch that starts
    after the item's first voiced frame (by more than `REACTION_S`) and before its last one
    was sent (in a pause, or while the caller was saying a later part)."""
    return any(spoken.first_voice + REACTION_S < s.start < spoken.last_voice for s in spans)


def answer_latency(spoken: Spoken, spans: list[Span], *, within: float = 30.0) -> float | None:
    """Seconds from the caller's last voiced frame to the start of the bot's answer (the first
    stretch starting after it); None if the bot was already talking then (it had cut in) or
    did not answer within ``within`` seconds."""
    end = spoken.last_voice
    if any(s.start <= end < s.end for s in spans):
        return None
    starts = [s.start - end for s in spans if s.start >= end]
    first = min(starts, default=None)
    return first if first is not None and first <= within else None


def talking_at(at: float, spans: list[Span]) -> Span | None:
    """The stretch of bot audio playing at ``at``, if any."""
    return next((s for s in spans if s.start <= at < s.end), None)


def _cut(spoken: Spoken, playing: Span, clears: list[float], answer_ends_at: float) -> float | None:
    """When the answer playing as a backchannel began went quiet in the backchannel's window (a
    ``clear``, or its audio ending well before the answer was complete), if it did."""
    window = (spoken.first_voice, spoken.last_voice + FALSE_STOP_WINDOW_S)
    in_window = [c for c in clears if window[0] <= c <= window[1]]
    if in_window:
        return in_window[0]
    if window[0] <= playing.end <= window[1] and playing.end < answer_ends_at - UNFINISHED_MARGIN_S:
        return playing.end
    return None


def _taken_up(spoken: Spoken, spans: list[Span], cut: float) -> Span | None:
    """The stretch in which a bot that went quiet at ``cut`` went on, if it did so within
    `RESUME_WINDOW_S` of the backchannel's end."""
    return next((s for s in spans if cut <= s.start <= spoken.last_voice + RESUME_WINDOW_S), None)


def _backchannel(
    spoken: Spoken, spans: list[Span], clears: list[float], answer_ends_at: float
) -> tuple[bool, float | None] | None:
    """What the bot did at a backchannel: (stopped, the pause it made if it went on), or None if
    it was not talking when the backchannel began."""
    playing = talking_at(spoken.first_voice, spans)
    if playing is None:
        return None
    cut = _cut(spoken, playing, clears, answer_ends_at)
    if cut is None:
        return False, None
    resumed = _taken_up(spoken, spans, cut)
    if resumed is None:
        return True, None
    pause = resumed.start - cut
    if resumed.end < answer_ends_at + pause - UNFINISHED_MARGIN_S:
        return True, None
    return False, pause


def false_stop(
    spoken: Spoken, spans: list[Span], clears: list[float], answer_ends_at: float
) -> bool | None:
    """Whether a backchannel stopped the bot: it went quiet in the backchannel's window (a
    ``clear`` from the start of the backchannel until `FALSE_STOP_WINDOW_S` after its end, or
    its audio ending there well before its answer was complete, ``answer_ends_at``) and did
    not take the answer up again. A bot that holds its audio at the first sound of the
    caller's voice and goes on with its answer once the words are "mm-hm" paused (see
    `backchannel_pause`), it was not stopped: it counts as stopped only if what it played
    next ended before the answer would have, pushed back by the pause. None if the bot was not
    talking when the backchannel began (nothing to measure)."""
    outcome = _backchannel(spoken, spans, clears, answer_ends_at)
    return None if outcome is None else outcome[0]


def backchannel_pause(
    spoken: Spoken, spans: list[Span], clears: list[float], answer_ends_at: float
) -> float | None:
    """Seconds of silence the caller heard when the bot paused for their backchannel and went
    on with its answer (None: it didn't pause, or it stopped)."""
    outcome = _backchannel(spoken, spans, clears, answer_ends_at)
    return None if outcome is None else outcome[1]


def time_to_silence(spoken: Spoken, spans: list[Span], clears: list[float]) -> float | None:
    """Seconds from the start of an interruption's voice until the bot was silent at the caller
    (its ``clear``, or its audio's end, whichever came first); None if the bot was not
    talking when the interruption began."""
    start = spoken.first_voice
    playing = talking_at(start, spans)
    if playing is None:
        return None
    silent = min([playing.end, *(c for c in clears if c >= start)])
    return max(0.0, silent - start)

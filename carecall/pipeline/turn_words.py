"""What the caller's words say about their turn: finished, or stopped mid-clause, or a backchannel.

Pure functions on transcript text, a few microseconds a line, used by the turn strategies in
`pipeline.turns`:

- `turn_ending(text)`: does the turn so far read as finished? Speech-to-text punctuates what it
  hears (Whisper ends a trailing-off fragment with "..." or a comma, and a finished sentence
  with a full stop), and a clause can't end on "and", "because", "the", "um" or "I was going
  to". ``INCOMPLETE`` asks for patience, ``COMPLETE`` lets the turn end quickly, ``UNSURE``
  (no punctuation, a lone filler) sits between.
- `is_backchannel(text)`: "mm-hm", "yes", "okay", "oh", a laugh: words that tell the speaker to
  go on, not to stop. "Wait", "sorry?", "pardon", "stop" or anything longer are not.
"""

from __future__ import annotations

import re
from enum import Enum


class TurnEnding(Enum):
    COMPLETE = "complete"
    UNSURE = "unsure"
    INCOMPLETE = "incomplete"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_DANGLING = _words(
    # conjunctions and clause openers
    "and but or nor so because cause cos if when whenever while although though since until "
    "unless whereas than "
    # articles and possessives
    "the a an my your his her its our their every each another "
    # prepositions that need what follows
    "to of with from for into onto at between through without during "
    # hesitations, and openers that promise more
    "um umm uh uhh er erm hmm ah i'm im i've ive i'd i'll gonna wanna going"
)
"""Words a finished clause doesn't end on ("I went to the shop and", "it was the", "um")."""

_LEANING = _words(
    "that which who where then as this these those some any no i am is are was were be been "
    "being have has had do does did can could will would should might must want wanted need "
    "needed think thought mean guess suppose just like near over under after before in on "
    "about by off"
)
"""Words a clause rarely ends on, but can ("I like that.", "Come on."): with a full stop the
turn is unsure, without one it reads as unfinished."""

_FINISHED_PAIRS = frozenset(
    {
        ("think", "so"),
        ("hope", "so"),
        ("guess", "so"),
        ("suppose", "so"),
        ("say", "so"),
        ("not", "so"),
        ("so", "on"),
        ("i", "guess"),
        ("i", "suppose"),
        ("i", "do"),
        ("i", "did"),
        ("i", "have"),
        ("i", "am"),
        ("i", "was"),
        ("i", "can"),
        ("i", "will"),
        ("i", "would"),
        ("it", "is"),
        ("it", "was"),
        ("that", "is"),
        ("like", "that"),
        ("thank", "you"),
    }
)
"""Endings that look unfinished word by word but finish a sentence ("I think so.", "I did.")."""

_FILLERS = _words("um umm uh uhh er erm hmm ah well so")
_TRAILING_OFF = ("...", "…", ",", ";", ":", "-", "–", "—")
_WORD = re.compile(r"[a-z']+")
_HYPHENATED_WORD = re.compile(r"[a-z']+(?:-[a-z']+)*")


def turn_ending(text: str) -> TurnEnding:
    stripped = text.strip()
    words = _WORD.findall(stripped.lower().replace("’", "'"))
    if not words:
        return TurnEnding.UNSURE
    if stripped.endswith(_TRAILING_OFF) or (len(words) == 1 and words[0] in _FILLERS):
        return TurnEnding.INCOMPLETE
    sentence_end = stripped[-1] in ".!?"
    last = words[-1]
    if len(words) == 1 or (words[-2], last) not in _FINISHED_PAIRS:
        if last in _DANGLING:
            return TurnEnding.INCOMPLETE
        if last in _LEANING and len(words) > 1:
            return TurnEnding.UNSURE if sentence_end else TurnEnding.INCOMPLETE
    return TurnEnding.COMPLETE if sentence_end else TurnEnding.UNSURE


_BACKCHANNELS = frozenset(
    {
        "mm",
        "mhm",
        "mm-hm",
        "mm-hmm",
        "mmhm",
        "mmhmm",
        "mm hm",
        "mm hmm",
        "hm",
        "hmm",
        "uh-huh",
        "uh huh",
        "uhuh",
        "yes",
        "yeah",
        "yep",
        "yup",
        "aye",
        "ok",
        "okay",
        "okey",
        "oh",
        "ooh",
        "ah",
        "aha",
        "right",
        "alright",
        "all right",
        "i see",
        "sure",
        "good",
        "lovely",
        "nice",
        "ha",
        "ha ha",
        "haha",
        "hehe",
        "heh",
        "ha ha ha",
        "oh dear",
        "oh yes",
        "oh okay",
        "oh right",
        "oh good",
        "yes yes",
        "yeah yeah",
        "okay okay",
        "mm yes",
        "mm-hm yes",
    }
)
"""Whole utterances that only keep the speaker going."""

_NON_SPEECH = re.compile(r"^[\[(].*[\])]$")
"""What speech-to-text writes for a cough or a laugh: "[coughs]", "(laughs)"."""


def is_backchannel(text: str) -> bool:
    """Whether ``text`` (what the caller said while the bot talked) only keeps the bot going.

    An empty transcript counts: speech-to-text heard no words (a cough, a breath, line noise)."""
    stripped = text.strip().lower().replace("’", "'")
    if not stripped or _NON_SPEECH.match(stripped):
        return True
    phrase = " ".join(_HYPHENATED_WORD.findall(stripped))
    if not phrase:
        return True
    return phrase in _BACKCHANNELS or phrase.replace("-", " ") in _BACKCHANNELS

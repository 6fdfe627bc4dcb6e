"""The memory the bot takes into a call: a short digest of the person's last few calls.

`build_digest` makes it from the stored records of their recent calls, with no further call to
the language model: the last calls' summaries, then the things to follow up on (what the
model suggested, else a measure of concern in the person's words), newest first. The same
records always give the same digest, whatever order the records were made in, so the digest
is simply rebuilt after each call. It is bounded: at most `MAX_DIGEST_CHARS` characters,
`MAX_FOLLOW_UPS` follow-ups and `MAX_CALLS_SUMMARISED` summaries; older lines go first.

Example::

    Recent calls, newest first:
    - Mon 24 Nov: Mary was cheerful and had a visit from her granddaughter. Her knee was sore.
    To follow up:
    - her granddaughter visited on Sunday (Mon 24 Nov)
    - her knee was sore (Mon 24 Nov)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from carecall.wellbeing.records import MEASURE_NAMES, MEASURES, level_words

MAX_DIGEST_CHARS = 600
MAX_FOLLOW_UPS = 5
MAX_CALLS_SUMMARISED = 2
MAX_SUMMARY_CHARS = 200
MAX_FOLLOW_UP_CHARS = 100
CALLS_REMEMBERED = 5
"""How many of the latest records a digest is built from."""
CONCERN_LEVEL = 2
"""A measure at this level or above is worth asking about again when the model suggested
nothing to follow up from that call."""

_SUMMARIES_HEADING = "Recent calls, newest first:"
_FOLLOW_UPS_HEADING = "To follow up:"


@dataclass(frozen=True)
class RememberedCall:
    """What the digest needs of one call's record."""

    day: date
    """The call's date in the person's own time zone."""
    summary: str
    follow_ups: Sequence[str] = ()
    levels: Mapping[str, int | None] = field(default_factory=dict)
    evidence: Mapping[str, str] = field(default_factory=dict)
    order: int = 0
    """Breaks ties between calls on the same day: higher is newer (e.g. the call's id)."""

    def things_to_follow_up(self) -> list[str]:
        if self.follow_ups:
            return [item for item in self.follow_ups if item.strip()]
        concerns = []
        for name in MEASURES:
            level = self.levels.get(name)
            if level is not None and level >= CONCERN_LEVEL:
                words = self.evidence.get(name, "")
                said = f': "{words}"' if words else ""
                concerns.append(f"{MEASURE_NAMES[name].lower()}, {level_words(name, level)}{said}")
        return concerns


def build_digest(calls: Sequence[RememberedCall]) -> str:
    """The digest of these calls (any order; the newest `CALLS_REMEMBERED` are used), or ""
    when there are none."""
    newest = sorted(calls, key=lambda c: (c.day, c.order), reverse=True)[:CALLS_REMEMBERED]
    summaries = [
        f"- {_day(c.day)}: {_clip(' '.join(c.summary.split()), MAX_SUMMARY_CHARS)}"
        for c in newest[:MAX_CALLS_SUMMARISED]
        if c.summary.strip()
    ]
    follow_ups: list[str] = []
    seen: set[str] = set()
    for call in newest:
        for item in call.things_to_follow_up():
            text = _clip(" ".join(item.split()), MAX_FOLLOW_UP_CHARS)
            if text.lower() in seen:
                continue
            seen.add(text.lower())
            follow_ups.append(f"- {text} ({_day(call.day)})")
    follow_ups = follow_ups[:MAX_FOLLOW_UPS]

    digest = _join(summaries, follow_ups)
    # Too long: the older summary goes, then the oldest follow-ups, one at a time.
    while len(digest) > MAX_DIGEST_CHARS and len(summaries) > 1:
        summaries.pop()
        digest = _join(summaries, follow_ups)
    while len(digest) > MAX_DIGEST_CHARS and len(follow_ups) > 1:
        follow_ups.pop()
        digest = _join(summaries, follow_ups)
    return _clip(digest, MAX_DIGEST_CHARS)


def _join(summaries: list[str], follow_ups: list[str]) -> str:
    parts = []
    if summaries:
        parts += [_SUMMARIES_HEADING, *summaries]
    if follow_ups:
        parts += [_FOLLOW_UPS_HEADING, *follow_ups]
    return "\n".join(parts)


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut + "…"

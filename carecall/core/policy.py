"""Whether a senior may be called now: consent, do-not-call, calling hours in their time, and
(told which languages the server's calls can be in) their language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from carecall.core.schedule import CALLING_HOURS, within_calling_hours, zone

CALLS_NOT_SET_UP = "not dialled: phone calls aren't set up"
"""Why a check-in was not dialled while the Twilio settings are missing: a note for the person's
history and the words the Today board uses."""
NOT_IN_THEIR_LANGUAGE = "Not called in a language they may not understand"
"""How every refusal for the person's language starts (`SpokenLanguages`): a check-in's note
keeps it however long the rest is."""


class Callee(Protocol):
    """What these rules read of a person on the roster (`persistence.models.Senior`)."""

    @property
    def name(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def do_not_call(self) -> bool: ...
    @property
    def do_not_call_reason(self) -> str | None: ...
    @property
    def has_consent(self) -> bool: ...
    @property
    def language(self) -> str: ...


class SpokenLanguages(Protocol):
    """Which languages this server's calls can be in (`bot.services.CallLanguages`)."""

    def refusal(self, name: str, language: str) -> str | None:
        """Why ``name``, who speaks ``language``, can't be called: a sentence starting with
        `NOT_IN_THEIR_LANGUAGE`; None if they can."""
        ...


class CallNotAllowed(RuntimeError):
    """The person may not be called (now); `reasons` says every why, each in a sentence that
    says what would change it, so fixing one doesn't just reveal the next."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__(" ".join(self.reasons))


def call_refusals(
    senior: Callee, now: datetime, languages: SpokenLanguages | None = None
) -> list[str]:
    """Every reason `senior` can't be called at `now` (and, with ``languages``, in their
    language), in words for the operator; empty if they can."""
    name = senior.name
    reasons: list[str] = []
    if senior.do_not_call:
        reasons.append(
            f"{name} is marked do-not-call"
            + (f" ({senior.do_not_call_reason})." if senior.do_not_call_reason else ".")
        )
    if not senior.has_consent:
        reasons.append(
            f"{name} has not given consent to be called. Record their consent (who gave it, "
            "when and how) on their page first."
        )
    tz = zone(senior.timezone)
    if not within_calling_hours(now, tz):
        first, last = CALLING_HOURS
        local = now.astimezone(tz)
        reasons.append(
            f"It is {local:%H:%M} for {name} ({senior.timezone}); calls are only placed between "
            f"{first:%H:%M} and {last:%H:%M} in their local time."
        )
    if languages is not None:
        spoken = languages.refusal(name, senior.language)
        if spoken is not None:
            reasons.append(spoken)
    return reasons


def call_refusal(
    senior: Callee, now: datetime, languages: SpokenLanguages | None = None
) -> str | None:
    """`call_refusals` as one text (e.g. a check-in's note); None if they may be called."""
    return " ".join(call_refusals(senior, now, languages)) or None


def ensure_callable(
    senior: Callee, now: datetime, languages: SpokenLanguages | None = None
) -> None:
    reasons = call_refusals(senior, now, languages)
    if reasons:
        raise CallNotAllowed(reasons)

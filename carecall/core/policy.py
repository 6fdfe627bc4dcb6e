"""Whether a senior may be called now: consent, do-not-call, calling hours in their time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from carecall.core.schedule import CALLING_HOURS, within_calling_hours, zone

CALLS_NOT_SET_UP = "not dialled: phone calls aren't set up"
"""Why a check-in was not dialled while the Twilio settings are missing: a note for the person's
history and the words the Today board uses."""


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


class CallNotAllowed(RuntimeError):
    """The person may not be called (now); `reasons` says every why, each in a sentence that
    says what would change it, so fixing one doesn't just reveal the next."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__(" ".join(self.reasons))


def call_refusals(senior: Callee, now: datetime) -> list[str]:
    """Every reason `senior` can't be called at `now`, in words for the operator; empty if
    they can."""
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
    return reasons


def call_refusal(senior: Callee, now: datetime) -> str | None:
    """`call_refusals` as one text (e.g. a check-in's note); None if they may be called."""
    return " ".join(call_refusals(senior, now)) or None


def ensure_callable(senior: Callee, now: datetime) -> None:
    reasons = call_refusals(senior, now)
    if reasons:
        raise CallNotAllowed(reasons)

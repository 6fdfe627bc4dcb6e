"""Whether a senior may be called now: consent, do-not-call, calling hours in their time."""

from __future__ import annotations

from datetime import datetime

from checkins.schedule import CALLING_HOURS, within_calling_hours, zone
from persistence.models import Senior


class CallNotAllowed(RuntimeError):
    """The person may not be called (now); the message says why and what would change it."""


def call_refusal(senior: Senior, now: datetime) -> str | None:
    """Why `senior` can't be called at `now`, in words for the operator; None if they can."""
    name = senior.name
    if senior.do_not_call:
        return f"{name} is marked do-not-call" + (
            f" ({senior.do_not_call_reason})." if senior.do_not_call_reason else "."
        )
    if not senior.has_consent:
        return (
            f"{name} has not given consent to be called. Record their consent (who gave it, "
            "when and how) on their page first."
        )
    tz = zone(senior.timezone)
    if not within_calling_hours(now, tz):
        first, last = CALLING_HOURS
        local = now.astimezone(tz)
        return (
            f"It is {local:%H:%M} for {name} ({senior.timezone}); calls are only placed between "
            f"{first:%H:%M} and {last:%H:%M} in their local time."
        )
    return None


def ensure_callable(senior: Senior, now: datetime) -> None:
    refusal = call_refusal(senior, now)
    if refusal is not None:
        raise CallNotAllowed(refusal)

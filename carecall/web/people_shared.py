"""What the check-in program's pages share: the roster service and form helpers their routes
use, and how a check-in, an escalation and a time are shown (in the person's own zone, because
that is the time the plan was written in and the time a caregiver will talk about).

The pages themselves: `web.roster_page` (`/people`), `web.person_form` (new and edit),
`web.person_page` (`/people/{id}` and its forms), `web.today_page` (`/today`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from carecall.app_state import AppState, get_state
from carecall.checkins.roster import RosterService, plan_window
from carecall.core.phones import mask_phone_number
from carecall.core.policy import CALLS_NOT_SET_UP
from carecall.persistence.models import (
    Call,
    CheckinOutcome,
    CheckinState,
    ContactMethod,
    Escalation,
    EscalationState,
    Senior,
)
from carecall.persistence.today import CheckinRecord
from carecall.web.presenters import STATUS_LABELS
from carecall.web.templating import render

State = Annotated[AppState, Depends(get_state)]

OUTCOME_LABELS = {
    CheckinOutcome.COMPLETED: "Reached",
    CheckinOutcome.VOICEMAIL: "Voicemail",
    CheckinOutcome.NO_ANSWER: "No answer",
    CheckinOutcome.BUSY: "Busy",
    CheckinOutcome.FAILED: "Call failed",
    CheckinOutcome.OPTED_OUT: "Opted out",
    CheckinOutcome.SKIPPED: "Skipped",
}
ESCALATION_LABELS = {
    EscalationState.OPEN: "Waiting for a caregiver",
    EscalationState.ACKNOWLEDGED: "Acknowledged",
    EscalationState.EXHAUSTED: "Everyone told, nobody answered",
}


def _roster(state: State) -> RosterService:
    return RosterService(state.seniors, state.clock, state.checkins)


Roster = Annotated[RosterService, Depends(_roster)]


def form_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def not_found_page(request: Request, operator: object, exc: LookupError) -> Response:
    return render(request, "not_found.html", 404, operator=operator, message=str(exc))


def plan_summary(plan: Any) -> str:
    return plan_window(plan).describe() + ("" if plan.active else " (paused)")


def local_time(moment: datetime | None, tz: ZoneInfo, *, with_date: bool = True) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M %Z}" if with_date else f"{local:%H:%M %Z}"


def method_label(method: ContactMethod) -> str:
    return "SMS" if method is ContactMethod.SMS else "Phone call"


@dataclass(frozen=True)
class Dialling:
    """Whether this server can place calls (`ready`) at `now`: a pending check-in's words depend
    on it, since without the Twilio settings nothing dials it."""

    ready: bool
    now: datetime

    @classmethod
    def of(cls, state: AppState) -> Dialling:
        return cls(not state.settings.missing_for_calls(), state.clock.now())


WONT_BE_DIALLED = "Won't be dialled: phone calls aren't set up"


def checkin_view(
    record: CheckinRecord, tz: ZoneInfo, dialling: Dialling, *, with_date: bool = False
) -> dict[str, Any]:
    checkin = record.checkin
    start, end = checkin.window_start_at, checkin.window_end_at
    tries = f"{checkin.attempts} of {record.plan.max_attempts}" if record.plan else None
    result = checkin.outcome or checkin.last_result
    if checkin.state is CheckinState.CALLING:
        kind, label, tone = "calling", "Calling now", "primary"
        detail = f"Try {checkin.attempts}" + (
            f" of {record.plan.max_attempts}" if record.plan else ""
        )
    elif checkin.state is CheckinState.PENDING and not dialling.ready:
        # Nothing can dial: no "next try" is coming, whatever the row says.
        if start <= dialling.now:
            kind, label, tone = "not-dialled", "Not dialled", "warning"
            detail = CALLS_NOT_SET_UP.capitalize()
        else:
            kind, label, tone, detail = "due", "Due later", "secondary", WONT_BE_DIALLED
    elif checkin.state is CheckinState.PENDING:
        kind, label, tone = "due", "Due later", "secondary"
        at = local_time(checkin.next_attempt_at, tz, with_date=False)
        detail = f"Next try at {at}" if at else "Waiting for its window"
        if checkin.attempts and checkin.last_result:
            detail += f" (last try: {OUTCOME_LABELS[checkin.last_result].lower()})"
    elif checkin.outcome is CheckinOutcome.COMPLETED:
        kind, label, tone, detail = "reached", "Reached", "success", ""
    elif checkin.note == CALLS_NOT_SET_UP and not checkin.attempts:
        kind, label, tone, detail = "not-dialled", "Not dialled", "warning", ""
    elif checkin.outcome is CheckinOutcome.OPTED_OUT:
        kind, label, tone = "opted-out", "Opted out", "warning"
        detail = "Asked not to be called again"
    else:
        kind, label, tone = "not-reached", "Not reached", "danger"
        detail = OUTCOME_LABELS[result] if result else "No result recorded"
    if checkin.note and kind not in ("reached",):
        detail = f"{detail} · {checkin.note}" if detail else checkin.note
    return {
        "id": checkin.id,
        "date": checkin.local_date.isoformat(),
        "window": f"{start.astimezone(tz):%H:%M}–{end.astimezone(tz):%H:%M %Z}",
        "kind": kind,
        "label": label,
        "tone": tone,
        "detail": detail,
        "tries": tries,
        "attempts": checkin.attempts,
        "outcome": OUTCOME_LABELS[checkin.outcome] if checkin.outcome else "",
        "current_call": checkin.current_call_id if kind == "calling" else None,
        "calls": [_call_link(call, tz) for call in record.calls],
        "with_date": with_date,
    }


def _call_link(call: Call, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": call.id,
        "url": f"/calls/{call.id}",
        "when": local_time(call.created_at, tz, with_date=False),
        "status": STATUS_LABELS[call.status],
    }


def escalation_view(escalation: Escalation, senior: Senior, tz: ZoneInfo) -> dict[str, Any]:
    notices = [
        {
            "when": local_time(notice.sent_at, tz),
            "contact": notice.contact_name,
            "number": mask_phone_number(notice.to_number),
            "method": method_label(notice.method),
            "body": notice.body,
            "error": notice.error,
        }
        for notice in escalation.notices
    ]
    return {
        "id": escalation.id,
        "senior_id": senior.id,
        "senior_name": senior.name,
        "reason": escalation.reason,
        "state": escalation.state.value,
        "state_label": ESCALATION_LABELS[escalation.state],
        "waiting": escalation.state is not EscalationState.ACKNOWLEDGED,
        "since": local_time(escalation.created_at, tz),
        "notices": notices,
        "told": _told(notices),
        "acknowledged_by": escalation.acknowledged_by,
        "acknowledged_at": local_time(escalation.acknowledged_at, tz),
    }


def _told(notices: Sequence[dict[str, Any]]) -> str:
    names: list[str] = []
    for notice in notices:
        if notice["contact"] not in names:
            names.append(notice["contact"])
    return ", ".join(names)

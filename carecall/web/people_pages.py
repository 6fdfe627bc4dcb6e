"""The check-in program's pages: the roster (`/people`), one person (details, consent,
do-not-call, plans, "Call now", check-ins and escalations), the person form, and `/today`.

Forms post back here with the CSRF field. Every rule lives in `checkins.roster.RosterService`:
a refused form is shown again with the person's input kept and every one of the service's
problems listed and next to its input (HTTP 422), never a 500. Times are shown in the
person's own zone, because that is the time the plan was written in and the time a caregiver
will talk about.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from carecall.app_state import AppState, get_state
from carecall.auth.dependencies import PageOperator, check_csrf
from carecall.checkins.roster import (
    CONSENT_METHODS,
    CaregiverInput,
    ConsentInput,
    PlanInput,
    Problem,
    RosterError,
    RosterService,
    SeniorInput,
    SeniorNotFound,
    plan_problems,
    plan_window,
)
from carecall.core.phones import InvalidPhoneNumber, mask_phone_number
from carecall.core.policy import CALLS_NOT_SET_UP, CallNotAllowed
from carecall.core.schedule import WEEKDAYS, to_utc
from carecall.persistence.database import create_session_factory
from carecall.persistence.ids import RowId
from carecall.persistence.models import (
    Call,
    CheckinOutcome,
    CheckinState,
    ContactMethod,
    Escalation,
    EscalationState,
    Senior,
)
from carecall.persistence.privacy import export_filename
from carecall.persistence.today import CheckinRecord, EscalationRecord, ProgramViews, senior_zone
from carecall.settings import MissingConfiguration
from carecall.telephony.twilio_client import TwilioError
from carecall.web.alert_pages import open_alert_views, person_alert_views, trend_data
from carecall.web.presenters import STATUS_LABELS
from carecall.web.templating import render
from carecall.web.wellbeing_views import memory_view

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(get_state)]

SEARCH_LIMIT = 50
HISTORY_LIMIT = 30
EMPTY_CAREGIVER_ROWS = 2
MIN_CAREGIVER_ROWS = 3
COMMON_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Athens",
    "Africa/Johannesburg",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Perth",
    "Pacific/Auckland",
)
DAY_LABELS = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
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


def _views(state: State) -> ProgramViews:
    return ProgramViews(create_session_factory(state.engine))


def _roster(state: State) -> RosterService:
    return RosterService(state.seniors, state.clock, state.checkins)


Views = Annotated[ProgramViews, Depends(_views)]
Roster = Annotated[RosterService, Depends(_roster)]


# --- the roster ----------------------------------------------------------------------------------


@router.get("/people")
async def people_page(
    request: Request, state: State, operator: PageOperator, q: str = ""
) -> Response:
    query = q.strip()[:100]
    seniors, total = await state.seniors.search(query, limit=SEARCH_LIMIT)
    return render(
        request,
        "people.html",
        operator=operator,
        active="people",
        q=query,
        total=total,
        people=[_roster_row(senior) for senior in seniors],
    )


def _roster_row(senior: Senior) -> dict[str, Any]:
    return {
        "id": senior.id,
        "name": senior.name,
        "preferred_name": senior.preferred_name,
        # Masked in the list, as on the call pages; their page has it in full, to ring them.
        "phone_number": mask_phone_number(senior.phone_number),
        "timezone": senior.timezone,
        "plans": [_plan_summary(plan) for plan in senior.plans],
        "has_consent": senior.has_consent,
        "do_not_call": senior.do_not_call,
        "caregivers": len(senior.caregivers),
    }


def _plan_summary(plan: Any) -> str:
    return plan_window(plan).describe() + ("" if plan.active else " (paused)")


# --- the person form -----------------------------------------------------------------------------


@dataclass
class PersonForm:
    """The person form's fields as typed, so a refused form comes back exactly as it was sent."""

    values: dict[str, str] = field(default_factory=dict)
    caregivers: list[dict[str, str]] = field(default_factory=list)

    FIELDS: ClassVar[tuple[str, ...]] = (
        "name",
        "preferred_name",
        "phone_number",
        "timezone",
        "language",
        "notes",
        "on_behalf_of",
    )
    CAREGIVER_FIELDS: ClassVar[tuple[str, ...]] = ("name", "relation", "phone", "contact")

    @classmethod
    def blank(cls) -> PersonForm:
        return cls({"language": "en"}).padded()

    @classmethod
    def of(cls, senior: Senior) -> PersonForm:
        values = {name: str(getattr(senior, name) or "") for name in cls.FIELDS}
        caregivers = [
            {
                "name": contact.name,
                "relation": contact.relation,
                "phone": contact.phone_number,
                "contact": contact.contact_by.value,
            }
            for contact in senior.caregivers
        ]
        return cls(values, caregivers).padded()

    @classmethod
    def parse(cls, form: FormData) -> PersonForm:
        values = {name: _field(form, name) for name in cls.FIELDS}
        columns = {
            name: [str(value) for value in form.getlist(f"caregiver_{name}")]
            for name in cls.CAREGIVER_FIELDS
        }
        rows = max((len(column) for column in columns.values()), default=0)
        caregivers = [
            {name: (column[i] if i < len(column) else "") for name, column in columns.items()}
            for i in range(rows)
        ]
        # Rows left empty are the form's spare rows, not contacts.
        filled = [row for row in caregivers if any(row[k].strip() for k in ("name", "phone"))]
        return cls(values, filled)

    def padded(self) -> PersonForm:
        spare = max(EMPTY_CAREGIVER_ROWS, MIN_CAREGIVER_ROWS - len(self.caregivers))
        blank = {"name": "", "relation": "", "phone": "", "contact": ContactMethod.SMS.value}
        return PersonForm(self.values, self.caregivers + [dict(blank) for _ in range(spare)])

    def to_input(self) -> SeniorInput:
        value = self.values.get
        return SeniorInput(
            name=value("name", ""),
            phone_number=value("phone_number", ""),
            timezone=value("timezone", ""),
            preferred_name=value("preferred_name") or None,
            language=value("language") or "en",
            notes=value("notes", ""),
            on_behalf_of=value("on_behalf_of") or None,
            caregivers=[
                CaregiverInput(
                    name=row["name"],
                    phone_number=row["phone"],
                    relation=row["relation"],
                    contact_by=row["contact"] or ContactMethod.SMS.value,
                )
                for row in self.caregivers
            ],
        )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


_CAREGIVER_INPUTS = {
    "name": "caregiver-name",
    "relation": "caregiver-relation",
    "phone_number": "caregiver-phone",
    "contact_by": "caregiver-contact",
}


def _form_input(problem: Problem) -> str | None:
    """The id of the person form's input a problem is about (`caregivers.1.phone_number` →
    `caregiver-phone-2`: the form counts rows from 1); None when it is about no one input."""
    if problem.field in PersonForm.FIELDS:
        return problem.field
    parts = problem.field.split(".")
    if len(parts) == 3 and parts[0] == "caregivers" and parts[1].isdigit():
        prefix = _CAREGIVER_INPUTS.get(parts[2])
        return f"{prefix}-{int(parts[1]) + 1}" if prefix else None
    return None


@dataclass(frozen=True)
class FormProblems:
    """Every problem of a refused form: listed at the top (each linked to its input) and shown
    again under the input it is about (`by_input`, keyed by the input's id)."""

    listed: list[tuple[str | None, str]] = field(default_factory=list)
    by_input: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> FormProblems:
        found = cls()
        for problem in problems:
            input_id = _form_input(problem)
            found.listed.append((input_id, problem.message))
            if input_id is not None:
                found.by_input.setdefault(input_id, []).append(problem.message)
        return found


def _person_form(
    request: Request,
    operator: object,
    form: PersonForm,
    *,
    senior: Senior | None = None,
    refused: RosterError | None = None,
) -> Response:
    problems = FormProblems.of(refused.problems if refused else ())
    return render(
        request,
        "person_form.html",
        status.HTTP_422_UNPROCESSABLE_CONTENT if refused else 200,
        operator=operator,
        active="people",
        senior=senior,
        form=form,
        problems=problems.listed,
        errors=problems.by_input,
        zones=COMMON_ZONES,
        contact_methods=[(method.value, _method_label(method)) for method in ContactMethod],
    )


@router.get("/people/new")
async def new_person_page(request: Request, operator: PageOperator) -> Response:
    return _person_form(request, operator, PersonForm.blank())


@router.post("/people/new")
async def create_person(request: Request, roster: Roster, operator: PageOperator) -> Response:
    submitted = await request.form()
    check_csrf(request, _field(submitted, "csrf_token"))
    form = PersonForm.parse(submitted)
    try:
        senior = await roster.create(form.to_input())
    except RosterError as exc:
        return _person_form(request, operator, form.padded(), refused=exc)
    return RedirectResponse(f"/people/{senior.id}", status.HTTP_303_SEE_OTHER)


@router.get("/people/{senior_id}/edit")
async def edit_person_page(
    request: Request, senior_id: RowId, roster: Roster, operator: PageOperator
) -> Response:
    try:
        senior = await roster.get(senior_id)
    except SeniorNotFound as exc:
        return _not_found(request, operator, exc)
    return _person_form(request, operator, PersonForm.of(senior), senior=senior)


@router.post("/people/{senior_id}/edit")
async def update_person(
    request: Request, senior_id: RowId, roster: Roster, operator: PageOperator
) -> Response:
    submitted = await request.form()
    check_csrf(request, _field(submitted, "csrf_token"))
    form = PersonForm.parse(submitted)
    try:
        senior = await roster.get(senior_id)
        await roster.update(senior_id, form.to_input())
    except SeniorNotFound as exc:
        return _not_found(request, operator, exc)
    except RosterError as exc:
        return _person_form(request, operator, form.padded(), senior=senior, refused=exc)
    return RedirectResponse(f"/people/{senior_id}", status.HTTP_303_SEE_OTHER)


# --- one person ----------------------------------------------------------------------------------


async def _person_page(
    request: Request,
    state: AppState,
    operator: object,
    senior_id: int,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    senior = await state.seniors.get(senior_id)
    if senior is None:
        return _not_found(request, operator, SeniorNotFound(senior_id))
    views = ProgramViews(create_session_factory(state.engine))
    tz = senior_zone(senior)
    checkins = await views.checkins_for(senior_id, HISTORY_LIMIT)
    escalations = await views.escalations_for(senior_id)
    memory = await memory_view(state.wellbeing, senior_id)
    now_local = state.clock.now().astimezone(tz)
    context.setdefault(
        "plan_form", {"weekdays": list(WEEKDAYS[:5]), "start": "10:00", "end": "10:30"}
    )
    context["plan_form"] = {**_PLAN_DEFAULTS, **context["plan_form"]}
    context.setdefault("consent_form", {"method": "verbal"})
    context.setdefault("errors", {})
    dialling = Dialling.of(state)
    return render(
        request,
        "person.html",
        status_code,
        operator=operator,
        active="people",
        senior=senior,
        zone_label=f"{senior.timezone}, now {now_local:%H:%M %Z}",
        consent_at=_local(senior.consent_at, tz),
        do_not_call_at=_local(senior.do_not_call_at, tz),
        plans=[(plan, _plan_summary(plan)) for plan in senior.plans],
        checkins=[_checkin_view(record, tz, dialling, with_date=True) for record in checkins],
        escalations=[_escalation_view(e, senior, tz) for e in escalations],
        memory=memory,
        alerts=await person_alert_views(state, senior),
        trends=await trend_data(state, senior),
        memory_updated_at=_local(memory["updated_at"], tz) if memory else "",
        consent_methods=CONSENT_METHODS,
        weekdays=DAY_LABELS,
        **context,
    )


_PLAN_DEFAULTS = {
    "weekdays": [],
    "start": "",
    "end": "",
    "max_attempts": "3",
    "retry_delay_minutes": "15",
    "escalation_ack_minutes": "30",
}


def _not_found(request: Request, operator: object, exc: LookupError) -> Response:
    return render(request, "not_found.html", 404, operator=operator, message=str(exc))


@router.get("/people/{senior_id}")
async def person_page(
    request: Request, senior_id: RowId, state: State, operator: PageOperator
) -> Response:
    return await _person_page(request, state, operator, senior_id)


@router.post("/people/{senior_id}/consent")
async def record_consent(
    request: Request, senior_id: RowId, state: State, roster: Roster, operator: PageOperator
) -> Response:
    submitted = await request.form()
    check_csrf(request, _field(submitted, "csrf_token"))
    kept = {name: _field(submitted, name) for name in ("given_by", "method", "at")}

    async def record() -> None:
        senior = await roster.get(senior_id)
        given = ConsentInput(given_by=kept["given_by"], method=kept["method"])
        try:
            given.at = _local_input(kept["at"], senior_zone(senior))
        except RosterError as exc:
            # An unreadable date doesn't hide what else is wrong.
            raise RosterError(roster.consent_problems(given) + list(exc.problems)) from None
        await roster.record_consent(senior_id, given, recorded_by=operator.email)

    return await _change_on_page(
        request,
        state,
        operator,
        senior_id,
        record(),
        anchor="consent",
        error="consent_error",
        inputs={"given_by": "consent-given-by", "method": "consent-method", "at": "consent-at"},
        consent_form=kept,
    )


async def _change_on_page(
    request: Request,
    state: AppState,
    operator: object,
    senior_id: int,
    change: Awaitable[object],
    *,
    anchor: str,
    error: str,
    inputs: Mapping[str, str] | None = None,
    **entered: object,
) -> Response:
    """Make ``change`` to the person, then back to their page at ``#anchor``. A change the
    roster refuses shows the page again (422) with every reason (a list, as ``error``), each
    also next to its input (``inputs``: the roster's field → the input's id), and what was
    entered (``entered``: the section's form fields) in that section."""
    try:
        await change
    except SeniorNotFound as exc:
        return _not_found(request, operator, exc)
    except RosterError as exc:
        errors: dict[str, list[str]] = {}
        for problem in exc.problems:
            input_id = (inputs or {}).get(problem.field)
            if input_id is not None:
                errors.setdefault(input_id, []).append(problem.message)
        reasons = [problem.message for problem in exc.problems]
        return await _person_page(
            request,
            state,
            operator,
            senior_id,
            status_code=422,
            errors=errors,
            **{error: reasons},
            **entered,
        )
    return RedirectResponse(f"/people/{senior_id}#{anchor}", status.HTTP_303_SEE_OTHER)


def _local_input(text: str, tz: ZoneInfo) -> datetime | None:
    """A `datetime-local` field (`2026-01-05T10:30`), read as the person's local time; blank
    means now."""
    if not text.strip():
        return None
    try:
        return to_utc(datetime.fromisoformat(text.strip()).replace(tzinfo=None), tz)
    except (ValueError, OverflowError):  # year 1 or 9999 may not exist in UTC
        raise RosterError(
            [Problem("at", "Enter when consent was given as a date and time.")]
        ) from None


@router.post("/people/{senior_id}/do-not-call")
async def set_do_not_call(
    request: Request, senior_id: RowId, state: State, roster: Roster, operator: PageOperator
) -> Response:
    submitted = await request.form()
    check_csrf(request, _field(submitted, "csrf_token"))
    flag = _field(submitted, "do_not_call") == "1"
    reason = _field(submitted, "reason")
    change = roster.set_do_not_call(senior_id, flag, reason=reason)
    return await _change_on_page(
        request,
        state,
        operator,
        senior_id,
        change,
        anchor="do-not-call",
        error="do_not_call_error",
        do_not_call_reason=reason,
    )


@router.post("/people/{senior_id}/plans")
async def add_plan(
    request: Request, senior_id: RowId, state: State, roster: Roster, operator: PageOperator
) -> Response:
    submitted = await request.form()
    check_csrf(request, _field(submitted, "csrf_token"))
    kept: dict[str, Any] = {
        name: _field(submitted, name) for name in _PLAN_DEFAULTS if name != "weekdays"
    }
    kept["weekdays"] = [str(day) for day in submitted.getlist("weekdays")]

    async def add() -> None:
        unreadable: list[Problem] = []

        def whole(name: str, label: str) -> int:
            try:
                return int(kept[name].strip())
            except ValueError:
                unreadable.append(Problem(name, f"{label} must be a whole number."))
                # A stand-in, so that the plan's other fields are still checked.
                return int(str(_PLAN_DEFAULTS[name]))

        data = PlanInput(
            weekdays=kept["weekdays"],
            window_start=kept["start"],
            window_end=kept["end"],
            max_attempts=whole("max_attempts", "Tries"),
            retry_delay_minutes=whole("retry_delay_minutes", "Minutes between tries"),
            escalation_ack_minutes=whole(
                "escalation_ack_minutes", "Minutes for a caregiver to answer"
            ),
        )
        if unreadable:
            raise RosterError(unreadable + plan_problems(data))
        await roster.add_plan(senior_id, data)

    return await _change_on_page(
        request,
        state,
        operator,
        senior_id,
        add(),
        anchor="plans",
        error="plan_error",
        inputs=_PLAN_INPUTS,
        plan_form=kept,
    )


_PLAN_INPUTS = {
    "weekdays": "plan-days",
    "window_start": "plan-start",
    "window_end": "plan-end",
    "window": "plan-end",
    "max_attempts": "plan-tries",
    "retry_delay_minutes": "plan-delay",
    "escalation_ack_minutes": "plan-ack",
}
"""The plan form's inputs by the roster's field names; the window's own rules (it ends after it
starts, lies within calling hours, overlaps no other plan) are shown at its end."""


@router.post("/people/{senior_id}/plans/{plan_id}/delete")
async def delete_plan(
    request: Request, senior_id: RowId, plan_id: RowId, roster: Roster, operator: PageOperator
) -> Response:
    submitted = await request.form()
    check_csrf(request, _field(submitted, "csrf_token"))
    try:
        await roster.delete_plan(senior_id, plan_id)
    except LookupError as exc:
        return _not_found(request, operator, exc)
    return RedirectResponse(f"/people/{senior_id}#plans", status.HTTP_303_SEE_OTHER)


@router.post("/people/{senior_id}/call")
async def call_now(
    request: Request, senior_id: RowId, state: State, operator: PageOperator
) -> Response:
    """Place a check-in call now; the same rules as a scheduled one (consent, do-not-call,
    calling hours in their time) are checked by the call service, and every one that stands in
    the way is shown, before (and with) settings still missing for phone calls."""
    submitted = await request.form()
    check_csrf(request, _field(submitted, "csrf_token"))
    senior = await state.seniors.get(senior_id)
    if senior is None:
        return _not_found(request, operator, SeniorNotFound(senior_id))
    try:
        call = await state.call_service.place_call(senior.phone_number, senior=senior)
    except CallNotAllowed as exc:
        errors, code = list(exc.reasons), status.HTTP_422_UNPROCESSABLE_CONTENT
    except InvalidPhoneNumber as exc:
        errors, code = [str(exc)], status.HTTP_422_UNPROCESSABLE_CONTENT
    except MissingConfiguration as exc:
        errors, code = [str(exc)], status.HTTP_503_SERVICE_UNAVAILABLE
    except TwilioError as exc:
        errors, code = [f"Twilio refused the call: {exc.message}"], status.HTTP_502_BAD_GATEWAY
    else:
        return RedirectResponse(f"/calls/{call.id}", status.HTTP_303_SEE_OTHER)
    return await _person_page(
        request, state, operator, senior_id, status_code=code, call_errors=errors
    )


@router.get("/people/{senior_id}/export")
async def export_person(
    request: Request, senior_id: RowId, state: State, operator: PageOperator
) -> Response:
    """Everything stored about the person, as a JSON file to download."""
    data = await state.privacy.export(senior_id, exported_at=state.clock.now())
    if data is None:
        return _not_found(request, operator, SeniorNotFound(senior_id))
    return JSONResponse(
        data,
        headers={
            "Content-Disposition": (
                f'attachment; filename="{export_filename(senior_id, state.clock.now())}"'
            ),
            "Cache-Control": "no-store",
        },
    )


@router.get("/people/{senior_id}/delete")
async def confirm_delete_page(
    request: Request, senior_id: RowId, state: State, operator: PageOperator
) -> Response:
    return await _person_page(request, state, operator, senior_id, confirm_delete=True)


@router.post("/people/{senior_id}/delete")
async def delete_person(
    request: Request, senior_id: RowId, roster: Roster, operator: PageOperator
) -> Response:
    submitted = await request.form()
    check_csrf(request, _field(submitted, "csrf_token"))
    try:
        await roster.delete(senior_id)
    except SeniorNotFound as exc:
        return _not_found(request, operator, exc)
    return RedirectResponse("/people", status.HTTP_303_SEE_OTHER)


# --- today ---------------------------------------------------------------------------------------


async def _today_context(state: AppState, views: ProgramViews) -> dict[str, Any]:
    now = state.clock.now()
    overview = await views.today(now)
    dialling = Dialling.of(state)
    return {
        "people": [
            {
                "id": day.senior.id,
                "name": day.senior.name,
                "local_now": f"{now.astimezone(day.zone):%H:%M %Z}",
                "checkins": [_checkin_view(record, day.zone, dialling) for record in day.checkins],
            }
            for day in overview.days
        ],
        "escalations": [_open_escalation_view(record) for record in overview.open_escalations],
        "alerts": await open_alert_views(state),
        "quiet": overview.quiet,
        "missing": state.settings.missing_for_calls(),
    }


@router.get("/today")
async def today_page(
    request: Request, state: State, views: Views, operator: PageOperator
) -> Response:
    context = await _today_context(state, views)
    return render(request, "today.html", operator=operator, active="today", **context)


@router.get("/today/fragment")
async def today_fragment(
    request: Request, state: State, views: Views, operator: PageOperator
) -> Response:
    """The Today board alone, for the page's script to swap in when something changed."""
    context = await _today_context(state, views)
    return render(request, "_today_board.html", operator=operator, **context)


@router.post("/today/escalations/{escalation_id}/acknowledge")
async def acknowledge_escalation(
    request: Request, escalation_id: RowId, state: State, operator: PageOperator
) -> Response:
    """A caregiver (or the operator for them) has it in hand: stop telling the next contact.
    Acknowledging one that is already closed changes nothing; the page then shows who did."""
    submitted = await request.form()
    check_csrf(request, _field(submitted, "csrf_token"))
    await state.escalations.acknowledge(escalation_id, by=operator.email)
    back = _field(submitted, "next")
    if not back.startswith("/") or back.startswith("//"):
        back = "/today"
    return RedirectResponse(back, status.HTTP_303_SEE_OTHER)


# --- what the pages show -------------------------------------------------------------------------


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands times back without an offset; they are UTC.
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _local(moment: datetime | None, tz: ZoneInfo, *, with_date: bool = True) -> str:
    aware = _aware(moment)
    if aware is None:
        return ""
    local = aware.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M %Z}" if with_date else f"{local:%H:%M %Z}"


def _method_label(method: ContactMethod) -> str:
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


def _checkin_view(
    record: CheckinRecord, tz: ZoneInfo, dialling: Dialling, *, with_date: bool = False
) -> dict[str, Any]:
    checkin = record.checkin
    start, end = _aware(checkin.window_start_at), _aware(checkin.window_end_at)
    assert start is not None and end is not None
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
        at = _local(checkin.next_attempt_at, tz, with_date=False)
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
        "when": _local(call.created_at, tz, with_date=False),
        "status": STATUS_LABELS[call.status],
    }


def _escalation_view(escalation: Escalation, senior: Senior, tz: ZoneInfo) -> dict[str, Any]:
    notices = [
        {
            "when": _local(notice.sent_at, tz),
            "contact": notice.contact_name,
            "number": mask_phone_number(notice.to_number),
            "method": _method_label(notice.method),
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
        "since": _local(escalation.created_at, tz),
        "notices": notices,
        "told": _told(notices),
        "acknowledged_by": escalation.acknowledged_by,
        "acknowledged_at": _local(escalation.acknowledged_at, tz),
    }


def _told(notices: Sequence[dict[str, Any]]) -> str:
    names: list[str] = []
    for notice in notices:
        if notice["contact"] not in names:
            names.append(notice["contact"])
    return ", ".join(names)


def _open_escalation_view(record: EscalationRecord) -> dict[str, Any]:
    return _escalation_view(record.escalation, record.senior, senior_zone(record.senior))

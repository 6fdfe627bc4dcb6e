"""One person's page (`/people/{id}`): details, consent, do-not-call, plans, "Call now",
check-ins, escalations, alerts and trends; and its forms, each posting back here with the CSRF
field.

Every rule lives in `checkins.roster.RosterService`: a change it refuses shows the page again
with what was entered and every problem, each next to its input (HTTP 422), never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response

from carecall.api.recordings import export_archive
from carecall.app_state import AppState
from carecall.auth.dependencies import PageOperator, check_csrf
from carecall.bot.services import CallLanguages
from carecall.checkins.roster import (
    CONSENT_METHODS,
    ConsentInput,
    PlanInput,
    Problem,
    RosterError,
    SeniorNotFound,
    plan_problems,
)
from carecall.core.languages import LANGUAGES, language_code
from carecall.core.phones import InvalidPhoneNumber
from carecall.core.policy import CallNotAllowed
from carecall.core.schedule import WEEKDAYS, to_utc
from carecall.persistence.database import create_session_factory
from carecall.persistence.ids import RowId
from carecall.persistence.privacy import export_filename
from carecall.persistence.today import ProgramViews, senior_zone
from carecall.settings import MissingConfiguration
from carecall.telephony.twilio_client import TwilioError
from carecall.web.alert_pages import person_alert_views, trend_data
from carecall.web.people_shared import (
    Dialling,
    Roster,
    State,
    checkin_view,
    escalation_view,
    form_field,
    local_time,
    not_found_page,
    plan_summary,
)
from carecall.web.templating import render
from carecall.web.wellbeing_views import memory_view

router = APIRouter(include_in_schema=False)

HISTORY_LIMIT = 30
DAY_LABELS = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))


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
        return not_found_page(request, operator, SeniorNotFound(senior_id))
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
        language_label=_language_label(senior.language),
        language_refusal=CallLanguages.of(state.settings).refusal(senior.name, senior.language),
        consent_at=local_time(senior.consent_at, tz),
        do_not_call_at=local_time(senior.do_not_call_at, tz),
        plans=[(plan, plan_summary(plan)) for plan in senior.plans],
        checkins=[checkin_view(record, tz, dialling, with_date=True) for record in checkins],
        escalations=[escalation_view(e, senior, tz) for e in escalations],
        memory=memory,
        alerts=await person_alert_views(state, senior),
        trends=await trend_data(state, senior),
        memory_updated_at=local_time(memory["updated_at"], tz) if memory else "",
        consent_methods=CONSENT_METHODS,
        weekdays=DAY_LABELS,
        **context,
    )


def _language_label(code: str) -> str:
    """ "Español (es)", or the stored code as it is when carecall has no catalogue for it."""
    found = language_code(code)
    return f"{LANGUAGES[found].native_name} ({found})" if found else code


_PLAN_DEFAULTS = {
    "weekdays": [],
    "start": "",
    "end": "",
    "max_attempts": "3",
    "retry_delay_minutes": "15",
    "escalation_ack_minutes": "30",
}


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
    check_csrf(request, form_field(submitted, "csrf_token"))
    kept: dict[str, object] = {
        name: form_field(submitted, name) for name in ("given_by", "method", "at")
    }
    kept["recording"] = form_field(submitted, "recording") == "1"

    async def record() -> None:
        senior = await roster.get(senior_id)
        given = ConsentInput(
            given_by=str(kept["given_by"]),
            method=str(kept["method"]),
            recording=bool(kept["recording"]),
        )
        try:
            given.at = _local_input(str(kept["at"]), senior_zone(senior))
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
        return not_found_page(request, operator, exc)
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
    check_csrf(request, form_field(submitted, "csrf_token"))
    flag = form_field(submitted, "do_not_call") == "1"
    reason = form_field(submitted, "reason")
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
    check_csrf(request, form_field(submitted, "csrf_token"))
    kept: dict[str, Any] = {
        name: form_field(submitted, name) for name in _PLAN_DEFAULTS if name != "weekdays"
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
    check_csrf(request, form_field(submitted, "csrf_token"))
    try:
        await roster.delete_plan(senior_id, plan_id)
    except LookupError as exc:
        return not_found_page(request, operator, exc)
    return RedirectResponse(f"/people/{senior_id}#plans", status.HTTP_303_SEE_OTHER)


@router.post("/people/{senior_id}/call")
async def call_now(
    request: Request, senior_id: RowId, state: State, operator: PageOperator
) -> Response:
    """Place a check-in call now; the same rules as a scheduled one (consent, do-not-call,
    calling hours in their time) are checked by the call service, and every one that stands in
    the way is shown, before (and with) settings still missing for phone calls."""
    submitted = await request.form()
    check_csrf(request, form_field(submitted, "csrf_token"))
    senior = await state.seniors.get(senior_id)
    if senior is None:
        return not_found_page(request, operator, SeniorNotFound(senior_id))
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
        return not_found_page(request, operator, SeniorNotFound(senior_id))
    return JSONResponse(
        data,
        headers={
            "Content-Disposition": (
                f'attachment; filename="{export_filename(senior_id, state.clock.now())}"'
            ),
            "Cache-Control": "no-store",
        },
    )


@router.get("/people/{senior_id}/export.zip")
async def export_person_archive(
    request: Request, senior_id: RowId, state: State, operator: PageOperator
) -> Response:
    """The same, with the recordings of their calls: a ZIP file to download."""
    try:
        return await export_archive(state, senior_id)
    except HTTPException:
        return not_found_page(request, operator, SeniorNotFound(senior_id))


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
    check_csrf(request, form_field(submitted, "csrf_token"))
    try:
        await roster.delete(senior_id)
    except SeniorNotFound as exc:
        return not_found_page(request, operator, exc)
    return RedirectResponse("/people", status.HTTP_303_SEE_OTHER)

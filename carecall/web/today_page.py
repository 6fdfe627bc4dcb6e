"""Today (`/today`): everyone's check-ins of their own day, the escalations waiting for a
caregiver and the open alerts; its board refreshes itself (`/today/fragment`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import RedirectResponse, Response

from carecall.app_state import AppState
from carecall.auth.dependencies import PageOperator, check_csrf
from carecall.persistence.database import create_session_factory
from carecall.persistence.ids import RowId
from carecall.persistence.today import EscalationRecord, ProgramViews, senior_zone
from carecall.web.alert_pages import open_alert_views
from carecall.web.people_shared import Dialling, State, checkin_view, escalation_view, form_field
from carecall.web.templating import render

router = APIRouter(include_in_schema=False)


def _views(state: State) -> ProgramViews:
    return ProgramViews(create_session_factory(state.engine))


Views = Annotated[ProgramViews, Depends(_views)]


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
                "checkins": [checkin_view(record, day.zone, dialling) for record in day.checkins],
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
    check_csrf(request, form_field(submitted, "csrf_token"))
    await state.escalations.acknowledge(escalation_id, by=operator.email)
    back = form_field(submitted, "next")
    if not back.startswith("/") or back.startswith("//"):
        back = "/today"
    return RedirectResponse(back, status.HTTP_303_SEE_OTHER)


def _open_escalation_view(record: EscalationRecord) -> dict[str, Any]:
    return escalation_view(record.escalation, record.senior, senior_zone(record.senior))

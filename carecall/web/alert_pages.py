"""Alerts and trends on the pages: the open alerts at the top of Today, a person's alerts and the
chart of each wellbeing measure over their calls (`/people/{id}/trends.json`, also inline on
their page), and the Acknowledge button's form post.

Times are shown in the person's own zone, as everywhere on the check-in program's pages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response

from carecall.app_state import AppState, get_state
from carecall.auth.dependencies import PageOperator, check_csrf
from carecall.core.phones import mask_phone_number
from carecall.persistence.alerts import AlertAbout
from carecall.persistence.ids import RowId
from carecall.persistence.models import Alert, CallChannel, Senior
from carecall.persistence.today import senior_zone
from carecall.web.templating import render
from carecall.wellbeing.alerts import RED_FLAG_KIND, RED_FLAG_WORDS
from carecall.wellbeing.records import LEVEL_WORDS, MEASURE_NAMES, MEASURES

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(get_state)]

CHART_CALLS = 60
"""The person's latest calls on their chart."""
PERSON_ALERTS = 20
SCALE = ("good", "fair", "poor", "concerning")
"""The chart's words for levels 0-3 (`wellbeing.records`: higher is always worse)."""


# --- routes --------------------------------------------------------------------------------------


@router.get("/people/{senior_id}/trends.json")
async def trends_json(senior_id: RowId, state: State, _operator: PageOperator) -> Response:
    senior = await state.alerts.repository.senior(senior_id)
    if senior is None:
        return JSONResponse({"detail": f"There is no person {senior_id}."}, status_code=404)
    return JSONResponse(await trend_data(state, senior))


@router.get("/calls/{call_id}/alerts")
async def call_alerts_fragment(
    request: Request, call_id: RowId, state: State, operator: PageOperator
) -> Response:
    """A call's alerts alone, for its page's script to swap in when one is raised or
    acknowledged while the page is open."""
    return render(
        request,
        "_call_alerts.html",
        operator=operator,
        alerts=await call_alert_views(state, call_id),
        back=f"/calls/{call_id}",
    )


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge_alert(
    request: Request, alert_id: RowId, state: State, operator: PageOperator
) -> Response:
    """Someone has looked at it. Acknowledging one already acknowledged changes nothing; the
    page then shows who did."""
    submitted = await request.form()
    check_csrf(request, _field(submitted.get("csrf_token")))
    await state.alerts.acknowledge(alert_id, by=operator.email)
    back = _field(submitted.get("next"))
    if not back.startswith("/") or back.startswith("//"):
        back = "/today"
    return RedirectResponse(back, status.HTTP_303_SEE_OTHER)


def _field(value: object) -> str:
    return value if isinstance(value, str) else ""


# --- what the pages show -------------------------------------------------------------------------


async def open_alert_views(state: AppState) -> list[dict[str, Any]]:
    """Every alert nobody has acknowledged, red flags first, for the Today board."""
    return [_about_view(found) for found in await state.alerts.repository.open_alerts()]


async def call_alert_views(state: AppState, call_id: int) -> list[dict[str, Any]]:
    """The alerts raised on one call, for its page (a red flag quotes what the person said)."""
    return [_about_view(found) for found in await state.alerts.repository.for_call(call_id)]


async def person_alert_views(state: AppState, senior: Senior) -> list[dict[str, Any]]:
    """The person's latest alerts, open ones first."""
    alerts, _ = await state.alerts.repository.search(senior_id=senior.id, limit=PERSON_ALERTS)
    return [_view(alert, senior) for alert in alerts]


async def trend_data(state: AppState, senior: Senior) -> dict[str, Any]:
    """Each measure's level call by call (None: not discussed), for the chart: `times` are the
    calls' starts (epoch seconds), `dates` the same in the person's zone."""
    tz = senior_zone(senior)
    history = await state.alerts.repository.levels_over_time(senior.id, CHART_CALLS)
    return {
        "zone": tz.key,
        "scale": list(SCALE),
        "times": [int(point.started_at.timestamp()) for point in history],
        "dates": [f"{point.started_at.astimezone(tz):%Y-%m-%d %H:%M}" for point in history],
        "calls": [point.call_id for point in history],
        "measures": [
            {
                "key": measure,
                "name": MEASURE_NAMES[measure],
                "levels": [point.levels.get(measure) for point in history],
                "words": list(LEVEL_WORDS[measure]),
                "evidence": [point.evidence.get(measure, "") for point in history],
            }
            for measure in MEASURES
        ],
    }


NOBODY = {
    CallChannel.BROWSER: "A talk in the browser",
    CallChannel.DEMO: "The demo call",
    CallChannel.PHONE: "A caller not on the roster",
}
"""Who an alert is about when it is about no one on the roster, by its call's channel."""
NO_CAREGIVER = {
    CallChannel.BROWSER: "No caregiver to text: a talk in the browser is for no one on the roster.",
    CallChannel.DEMO: "No caregiver to text: the demo call is for no one on the roster.",
    CallChannel.PHONE: "No caregiver to text: the number called is not on the roster.",
}


def _about_view(found: AlertAbout) -> dict[str, Any]:
    return _view(found.alert, found.senior, found.channel)


def _view(
    alert: Alert, senior: Senior | None, channel: CallChannel | None = None
) -> dict[str, Any]:
    tz = senior_zone(senior) if senior is not None else ZoneInfo("UTC")
    red_flag = alert.kind == RED_FLAG_KIND
    if red_flag:
        what = RED_FLAG_WORDS.get(alert.category, alert.category.replace("_", " "))
        label = f"Red flag: {what}"
    else:
        label = f"Trend: {MEASURE_NAMES.get(alert.category, alert.category)}"
    notices = [
        {
            "when": _local(notice.sent_at, tz),
            "contact": notice.contact_name,
            "number": mask_phone_number(notice.to_number),
            "body": notice.body,
            "error": notice.error,
        }
        for notice in alert.notices
    ]
    return {
        "id": alert.id,
        "kind": alert.kind,
        "red_flag": red_flag,
        "label": label,
        "senior_id": senior.id if senior is not None else None,
        "senior_name": senior.name if senior is not None else NOBODY[channel or CallChannel.PHONE],
        "no_texts": "No caregiver has been texted about this."
        if senior is not None
        else NO_CAREGIVER[channel or CallChannel.PHONE],
        "reason": alert.reason,
        "evidence": alert.evidence,
        "call_id": alert.call_id,
        "since": _local(alert.created_at, tz),
        "open": alert.acknowledged_at is None,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": _local(alert.acknowledged_at, tz),
        "notices": notices,
        "told": ", ".join(dict.fromkeys(n.contact_name for n in alert.notices if not n.error)),
    }


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return ""
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M %Z}"

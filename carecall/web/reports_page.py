"""Reports (`/reports`): the outcomes report of a period, as `GET /api/reports/outcomes` gives
it, in charts (uPlot, `static/reports.js`) and tables; the CSV is the API's, linked.

The form's dates are read here rather than by FastAPI, so that a date that is not one, or a
period backwards or too long, comes back as the form with the reason next to it, not as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from carecall.api.reports import LEVEL_NAMES, report_figures, report_json
from carecall.auth.dependencies import PageOperator
from carecall.core.periods import (
    GROUPINGS,
    MAX_PERIOD_DAYS,
    Grouping,
    Period,
    PeriodError,
    check_day,
    default_first_day,
    make_period,
)
from carecall.web.people_shared import State
from carecall.web.templating import render, templates
from carecall.wellbeing.records import MEASURE_NAMES, MEASURES

router = APIRouter(include_in_schema=False)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
NOT_REACHED_WORDS = {
    "no-answer": "No answer",
    "voicemail": "Voicemail",
    "busy": "Busy",
    "failed": "Failed",
    "skipped": "Not tried",
}
ALERT_WORDS = {"red_flag": "Red flags", "trend": "Trends"}


def ack_time(seconds: object) -> str:
    """A time to acknowledge as people say it: "45 s", "12 min", "2 h 05 min", "3 d 4 h";
    "–" for none."""
    if not isinstance(seconds, int):
        return "–"
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def share(value: object) -> str:
    """0.712 → "71 %"; "–" for none."""
    return f"{value * 100:.0f} %" if isinstance(value, float | int) else "–"


templates.env.filters["ack_time"] = ack_time
templates.env.filters["share"] = share


@dataclass
class ReportQuery:
    """The form as sent, and what is wrong with it (by field)."""

    date_from: str = ""
    date_to: str = ""
    group: str = "week"
    errors: dict[str, str] = field(default_factory=dict)


@router.get("/reports")
async def reports_page(
    request: Request,
    state: State,
    operator: PageOperator,
    date_from: Annotated[str, Query(alias="from", max_length=40)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=40)] = "",
    group: Annotated[str, Query(max_length=20)] = "week",
) -> Response:
    query = ReportQuery(date_from.strip(), date_to.strip(), group.strip() or "week")
    period = _period(query, state)
    context: dict[str, Any] = {
        "operator": operator,
        "active": "reports",
        "query": query,
        "zone": state.settings.agency_timezone,
        "max_days": MAX_PERIOD_DAYS,
        "groupings": GROUPINGS,
    }
    if period is None:
        return render(request, "reports.html", status_code=422, **context)
    figures = await report_figures(state, period)
    report = report_json(period, figures)
    waiting = [
        {
            "id": item.id,
            "senior_id": item.senior_id,
            "name": item.senior_name,
            "opened": f"{item.opened_at.astimezone(period.zone):%Y-%m-%d %H:%M %Z}",
            "state": item.state,
            "reason": item.reason,
        }
        for item in figures.waiting
    ]
    data = {**report, "times": [int(bucket.start_at.timestamp()) for bucket in period.buckets]}
    parameters = {"from": str(period.first_day), "to": str(period.last_day), "group": group}
    return render(
        request,
        "reports.html",
        report=report,
        data=data,
        waiting=waiting,
        csv_url="/api/reports/outcomes?" + urlencode({**parameters, "format": "csv"}),
        measures=[(measure, MEASURE_NAMES[measure]) for measure in MEASURES],
        level_names=LEVEL_NAMES,
        not_reached_words=NOT_REACHED_WORDS,
        alert_words=ALERT_WORDS,
        **context,
    )


def _period(query: ReportQuery, state: State) -> Period | None:
    """The period the form asks for (defaults as the API's), or None with `query.errors`."""
    if query.group not in GROUPINGS:
        query.errors["group"] = "Choose weeks or months."
    first = _date(query, "from", query.date_from)
    last = _date(query, "to", query.date_to)
    if query.errors:
        return None
    grouping: Grouping = "month" if query.group == "month" else "week"
    tz = state.settings.agency_zone
    try:
        for name, day in (("from", first), ("to", last)):
            if day is not None:
                check_day(name, day)
        last = last or state.clock.now().astimezone(tz).date()
        first = first or default_first_day(last, grouping)
        period = make_period(first, last, grouping, tz)
    except PeriodError as refused:
        query.errors["to" if str(refused).startswith("'to'") else "from"] = str(refused)
        return None
    query.date_from, query.date_to = str(first), str(last)
    return period


def _date(query: ReportQuery, name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        query.errors[name] = "Enter a date as YYYY-MM-DD, e.g. 2026-01-05."
        return None

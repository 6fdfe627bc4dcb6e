"""`/api/reports/outcomes`: what the check-in program did over a period, week by week (from
Monday) or month by month in the agency's time zone (`AGENCY_TIMEZONE`), as JSON or as CSV.

The figures are counted by the database (`persistence.reports`); this module checks the
period, asks for them, and writes them out. The CSV is one table in long form, one figure a
row (`CSV_COLUMNS`), whose `metric` names follow the JSON's paths (`checkins.due`,
`alerts.red_flag.ack_p50_seconds`, `wellbeing.mood.level_2`), so a spreadsheet can pivot it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from carecall.app_state import AppState, get_state
from carecall.core.periods import (
    Grouping,
    Period,
    PeriodError,
    check_day,
    default_first_day,
    make_period,
)
from carecall.persistence.database import create_session_factory
from carecall.persistence.reports import (
    LEVELS,
    NOT_REACHED,
    AckFigures,
    BucketFigures,
    BucketRange,
    OutcomeFigures,
    ReportQueries,
    Wellbeing,
    kinds,
)
from carecall.settings import WELLBEING_MEASURES

router = APIRouter(prefix="/api/reports", tags=["reports"])
State = Annotated[AppState, Depends(get_state)]

CSV_TYPE = "text/csv"
CSV_COLUMNS = ("bucket", "first_day", "last_day", "senior_id", "senior_name", "metric", "value")
"""The CSV's columns. `bucket` is a week (`2026-W02`), a month (`2026-01`) or `total`, with
its first and last day; `senior_id` and `senior_name` are filled only on a person's wellbeing
rows; `value` is empty where there is nothing to measure (a percentile of no values)."""
LEVEL_NAMES = ("good", "fair", "poor", "concerning")


# --- what the JSON holds ---------------------------------------------------------------------


class CheckinsOut(BaseModel):
    due: int = Field(description="Check-ins whose window started in the bucket.")
    reached: int = Field(description="Reached: a conversation happened (opt-outs included).")
    opted_out: int = Field(description="Reached, and the person asked not to be called again.")
    not_reached: dict[str, int] = Field(
        description="Finished without reaching the person, by the last try's result "
        "(`no-answer`, `voicemail`, `busy`, `failed`; `skipped`: never tried)."
    )
    not_reached_total: int
    in_progress: int = Field(description="Not finished yet.")
    tries_per_reached: float | None = Field(
        description="Tries per reached check-in (null: none reached)."
    )
    reached_first_try: int
    first_try_share: float | None = Field(
        description="The share of reached check-ins reached on the first try (0-1)."
    )


class AcknowledgedOut(BaseModel):
    opened: int
    acknowledged: int
    unacknowledged: int = Field(description="Not acknowledged to this day.")
    ack_p50_seconds: int | None = Field(
        description="Median time to acknowledge, of those acknowledged (nearest rank)."
    )
    ack_p90_seconds: int | None


class CallsOut(BaseModel):
    placed: int = Field(description="Phone calls placed in the bucket.")
    answered: int
    minutes: float = Field(description="Their minutes on the line (Twilio's durations).")
    latency_turns: int = Field(description="Stored answers with a latency, of every channel.")
    latency_p50_ms: int | None = Field(
        description="Median time from the caller's last word to the bot's answer."
    )
    latency_p95_ms: int | None


class BucketOut(BaseModel):
    label: str = Field(description="`2026-W02` (ISO week, from Monday), `2026-01`, or `total`.")
    first_day: date
    last_day: date
    checkins: CheckinsOut
    escalations: AcknowledgedOut
    alerts: dict[str, AcknowledgedOut] = Field(description="By kind: `red_flag`, `trend`.")
    calls: CallsOut


class WaitingOut(BaseModel):
    id: int
    senior_id: int
    senior_name: str
    opened_at: datetime
    state: str
    reason: str


class UnacknowledgedOut(BaseModel):
    count: int = Field(description="Escalations opened in the period, none acknowledged yet.")
    oldest: list[WaitingOut] = Field(description="The oldest 50 of them.")


class MeasureOut(BaseModel):
    levels: list[int] = Field(description="Records at level 0, 1, 2, 3 (good … concerning).")
    not_discussed: int


class PersonWellbeingOut(BaseModel):
    senior_id: int | None = Field(description="null: everyone.")
    name: str
    records: int
    measures: dict[str, MeasureOut]


class WellbeingOut(BaseModel):
    levels: list[str]
    overall: PersonWellbeingOut
    people: list[PersonWellbeingOut] = Field(
        description="Everyone with a wellbeing record of a call placed in the period, by name."
    )


class OutcomesReport(BaseModel):
    model_config = {"populate_by_name": True}

    from_: date = Field(alias="from")
    to: date
    group: Grouping
    timezone: str = Field(description="The agency's zone (`AGENCY_TIMEZONE`).")
    buckets: list[BucketOut]
    total: BucketOut
    unacknowledged_escalations: UnacknowledgedOut
    wellbeing: WellbeingOut


# --- the route -------------------------------------------------------------------------------


CSV_EXAMPLE = (
    ",".join(CSV_COLUMNS)
    + "\r\n2026-W02,2026-01-05,2026-01-11,,,checkins.due,42\r\n"
    + "total,2026-01-05,2026-03-29,7,Mary Smith,wellbeing.sleep.level_2,3\r\n"
)


@router.get(
    "/outcomes",
    response_model=OutcomesReport,
    response_model_by_alias=True,
    responses={
        200: {
            "description": "The report: JSON, or CSV (one figure a row) when asked for.",
            "content": {CSV_TYPE: {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
        },
    },
)
async def outcomes(
    request: Request,
    state: State,
    from_: Annotated[
        date | None,
        Query(
            alias="from",
            description="First day (YYYY-MM-DD, the agency's zone). Default: the start of "
            "the 12th week (or 6th month) back.",
        ),
    ] = None,
    to: Annotated[date | None, Query(description="Last day, included. Default: today.")] = None,
    group: Annotated[Grouping, Query(description="Buckets: weeks (from Monday) or months.")] = (
        "week"
    ),
    format_: Annotated[
        Literal["json", "csv"] | None,
        Query(alias="format", description="`csv`, or send `Accept: text/csv`. Default JSON."),
    ] = None,
) -> Response:
    """Check-ins due, reached and not reached (by reason), opt-outs, tries; escalations and
    alerts with their times to acknowledge; call minutes and answer latency; the wellbeing
    measures' distribution, per person and overall. At most 366 days; `422` for a period that
    is backwards, too long, or dates that are not dates."""
    period = outcomes_period(from_, to, group, state.settings.agency_zone, state.clock.now())
    report = report_json(period, await report_figures(state, period))
    if format_ == "csv" or (format_ is None and _wants_csv(request)):
        name = f"outcomes_{period.first_day}_{period.last_day}_{period.grouping}.csv"
        return Response(
            report_csv(report),
            media_type=f"{CSV_TYPE}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(report)


def outcomes_period(
    first_day: date | None, last_day: date | None, group: Grouping, tz: ZoneInfo, now: datetime
) -> Period:
    """The period asked for, defaults filled in (in the agency's zone `tz`); `422` when it
    can't be reported on."""
    try:
        for name, day in (("from", first_day), ("to", last_day)):
            if day is not None:
                check_day(name, day)
        last = last_day or now.astimezone(tz).date()
        first = first_day or default_first_day(last, group)
        return make_period(first, last, group, tz)
    except PeriodError as refused:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(refused)) from None


async def report_figures(state: AppState, period: Period) -> OutcomeFigures:
    queries = ReportQueries(create_session_factory(state.engine))
    return await queries.outcomes([BucketRange(b.start_at, b.end_at) for b in period.buckets])


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    wanted = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return CSV_TYPE in wanted and "application/json" not in wanted


# --- JSON ------------------------------------------------------------------------------------
# Built as plain data (a year of a large program is thousands of numbers); `OutcomesReport`
# describes it in the OpenAPI spec, and the tests hold it to that.


def report_json(period: Period, figures: OutcomeFigures) -> dict[str, Any]:
    """The report as the API's JSON (`OutcomesReport`)."""
    alert_kinds = kinds([*figures.buckets, figures.total])
    return {
        "from": str(period.first_day),
        "to": str(period.last_day),
        "group": period.grouping,
        "timezone": period.zone.key,
        "buckets": [
            _bucket(bucket.label, bucket.first_day, bucket.last_day, found, alert_kinds)
            for bucket, found in zip(period.buckets, figures.buckets, strict=True)
        ],
        "total": _bucket("total", period.first_day, period.last_day, figures.total, alert_kinds),
        "unacknowledged_escalations": {
            "count": figures.total.escalations.unacknowledged,
            "oldest": [
                {
                    "id": w.id,
                    "senior_id": w.senior_id,
                    "senior_name": w.senior_name,
                    "opened_at": w.opened_at.isoformat(),
                    "state": w.state,
                    "reason": w.reason,
                }
                for w in figures.waiting
            ],
        },
        "wellbeing": {
            "levels": list(LEVEL_NAMES),
            "overall": _person(figures.wellbeing),
            "people": [_person(person) for person in figures.people],
        },
    }


def _bucket(
    label: str, first: date, last: date, found: BucketFigures, alert_kinds: list[str]
) -> dict[str, Any]:
    checkins = found.checkins
    calls = found.calls
    return {
        "label": label,
        "first_day": str(first),
        "last_day": str(last),
        "checkins": {
            "due": checkins.due,
            "reached": checkins.reached,
            "opted_out": checkins.opted_out,
            "not_reached": {o.value: checkins.not_reached.get(o.value, 0) for o in NOT_REACHED},
            "not_reached_total": checkins.not_reached_total,
            "in_progress": checkins.in_progress,
            "tries_per_reached": _rounded(checkins.tries_per_reached, 2),
            "reached_first_try": checkins.reached_first_try,
            "first_try_share": _rounded(checkins.first_try_share, 3),
        },
        "escalations": _acknowledged(found.escalations),
        "alerts": {
            kind: _acknowledged(found.alerts.get(kind, AckFigures())) for kind in alert_kinds
        },
        "calls": {
            "placed": calls.placed,
            "answered": calls.answered,
            "minutes": calls.minutes,
            "latency_turns": calls.latency_turns,
            "latency_p50_ms": calls.latency_p50_ms,
            "latency_p95_ms": calls.latency_p95_ms,
        },
    }


def _acknowledged(found: AckFigures) -> dict[str, int | None]:
    return {
        "opened": found.opened,
        "acknowledged": found.acknowledged,
        "unacknowledged": found.unacknowledged,
        "ack_p50_seconds": found.ack_p50_seconds,
        "ack_p90_seconds": found.ack_p90_seconds,
    }


def _person(found: Wellbeing) -> dict[str, Any]:
    return {
        "senior_id": found.senior_id,
        "name": found.name,
        "records": found.records,
        "measures": {
            measure: {"levels": list(counts.levels), "not_discussed": counts.not_discussed}
            for measure, counts in found.measures.items()
        },
    }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# --- CSV -------------------------------------------------------------------------------------


def report_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(report))
    return out.getvalue()


Row = tuple[str, str, str, str, str, str, str]
Metric = tuple[str, object]


def csv_rows(report: dict[str, Any]) -> Iterator[Row]:
    """The CSV's rows (`CSV_COLUMNS`) of the report's JSON: every bucket's figures and the
    total's, then the wellbeing counts of everyone and of each person over the period."""
    for bucket in [*report["buckets"], report["total"]]:
        for metric, value in _metrics(bucket, ("checkins", "escalations", "alerts", "calls")):
            yield (
                bucket["label"],
                bucket["first_day"],
                bucket["last_day"],
                "",
                "",
                metric,
                _cell(value),
            )
    wellbeing = report["wellbeing"]
    for person in [wellbeing["overall"], *wellbeing["people"]]:
        senior_id = "" if person["senior_id"] is None else str(person["senior_id"])
        name = "" if person["senior_id"] is None else _safe_text(person["name"])
        for metric, value in _wellbeing_metrics(person):
            yield ("total", report["from"], report["to"], senior_id, name, metric, _cell(value))


def _metrics(data: dict[str, Any], keys: Iterable[str], prefix: str = "") -> Iterator[Metric]:
    """`("checkins.due", 42)`, … for the nested figures under `keys`, in the JSON's order."""
    for key in keys:
        value = data[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _metrics(value, value.keys(), f"{name}.")
        else:
            yield name, value


def _wellbeing_metrics(person: dict[str, Any]) -> Iterator[Metric]:
    yield "wellbeing.records", person["records"]
    for measure in WELLBEING_MEASURES:
        counts = person["measures"][measure]
        for level in LEVELS:
            yield f"wellbeing.{measure}.level_{level}", counts["levels"][level]
        yield f"wellbeing.{measure}.not_discussed", counts["not_discussed"]


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _safe_text(text: str) -> str:
    """A name as a cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

"""The dashboard's pages: calls (start one, watch recent ones), one call, and the history.

Pages are rendered on the server with what is stored; each page's script (`web/static/`) then
follows `/ws/dashboard` to keep it live. Every page needs a signed-in operator.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from carecall.api.recordings import recording_view
from carecall.app_state import AppState, get_state
from carecall.auth.dependencies import PageOperator
from carecall.persistence.ids import MAX_ROW_ID, RowId
from carecall.persistence.models import CallStatus
from carecall.persistence.repositories import CallFilter
from carecall.web.alert_pages import call_alert_views
from carecall.web.presenters import STATUS_LABELS, call_view, step_view, turn_view
from carecall.web.templating import render
from carecall.web.wellbeing_views import call_record_view

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(get_state)]

RECENT_CALLS = 20
HISTORY_PAGE_SIZE = 25
_NUMBER_SEARCH = re.compile(r"^[\d\s+().-]*$")


@router.get("/")
async def calls_page(request: Request, state: State, operator: PageOperator) -> Response:
    calls, _ = await state.calls.list_recent(limit=RECENT_CALLS)
    return render(
        request,
        "calls.html",
        operator=operator,
        active="calls",
        calls=[call_view(call) for call in calls],
        missing=state.settings.missing_for_calls(),
    )


@router.get("/calls/{call_id}")
async def call_page(
    request: Request, call_id: RowId, state: State, operator: PageOperator
) -> Response:
    call = await state.calls.get(call_id, with_turns=True)
    if call is None:
        return render(
            request,
            "not_found.html",
            404,
            operator=operator,
            message=f"There is no call {call_id}.",
        )
    return render(
        request,
        "call.html",
        operator=operator,
        active="calls",
        call=call_view(call),
        turns=[turn_view(turn) for turn in call.turns],
        steps=[step_view(step) for step in await state.calls.steps(call_id)],
        record=await call_record_view(state.wellbeing, call_id),
        alerts=await call_alert_views(state, call_id),
        recording=await recording_view(state, call_id),
        back=f"/calls/{call_id}",
    )


@dataclass
class HistoryQuery:
    """The history page's filters, read from the query string as typed (never a 422)."""

    number: str = ""
    status: str = ""
    date_from: str = ""
    date_to: str = ""
    tz: str = ""
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, request: Request) -> HistoryQuery:
        params = request.query_params
        query = cls(
            number=params.get("number", "").strip()[:32],
            status=params.get("status", "").strip(),
            date_from=params.get("from", "").strip(),
            date_to=params.get("to", "").strip(),
            tz=params.get("tz", "").strip()[:64],
        )
        # Past the last page any table can have (`persistence.ids`) it is that page: empty.
        page = params.get("page", "1")
        if page.isascii() and page.isdigit():
            last = MAX_ROW_ID // HISTORY_PAGE_SIZE + 1
            query.page = max(1, last if len(page) > 10 else min(int(page), last))
        return query

    def zone(self) -> tzinfo:
        """The browser's time zone (the page's script sends it), so "from" means its midnight."""
        if self.tz:
            try:
                return ZoneInfo(self.tz)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        return UTC

    def to_filter(self) -> CallFilter:
        digits = re.sub(r"\D", "", self.number)
        if self.number and (not digits or not _NUMBER_SEARCH.match(self.number)):
            self.errors["number"] = "Search by digits of the number, e.g. 0100 or +1415555."
        statuses: list[CallStatus] = []
        if self.status:
            try:
                statuses = [CallStatus(self.status)]
            except ValueError:
                self.errors["status"] = "Choose a status from the list."
        start = self._day("from", self.date_from)
        end = self._day("to", self.date_to)
        if start and end and end < start:
            self.errors["to"] = "The end date is before the start date."
        zone = self.zone()
        return CallFilter(
            number_digits=digits or None,
            statuses=statuses,
            created_from=datetime.combine(start, time(), zone) if start else None,
            created_before=(
                datetime.combine(end + timedelta(days=1), time(), zone) if end else None
            ),
        )

    def _day(self, name: str, value: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.errors[name] = "Enter a date as YYYY-MM-DD."
            return None

    def link(self, page: int) -> str:
        """This search's URL for another page of results."""
        params = {
            "number": self.number,
            "status": self.status,
            "from": self.date_from,
            "to": self.date_to,
            "tz": self.tz,
        }
        kept = {key: value for key, value in params.items() if value}
        if page > 1:
            kept["page"] = str(page)
        return "/history" + (f"?{urlencode(kept)}" if kept else "")

    @property
    def filtered(self) -> bool:
        return bool(self.number or self.status or self.date_from or self.date_to)


@router.get("/history")
async def history_page(request: Request, state: State, operator: PageOperator) -> Response:
    query = HistoryQuery.parse(request)
    filters = query.to_filter()
    calls: list[dict[str, object]] = []
    total = 0
    if not query.errors:
        offset = (query.page - 1) * HISTORY_PAGE_SIZE
        found, total = await state.calls.search(filters, limit=HISTORY_PAGE_SIZE, offset=offset)
        calls = [call_view(call) for call in found]
    pages = max(1, math.ceil(total / HISTORY_PAGE_SIZE))
    first = (query.page - 1) * HISTORY_PAGE_SIZE + 1
    return render(
        request,
        "history.html",
        400 if query.errors else 200,
        operator=operator,
        active="history",
        query=query,
        calls=calls,
        total=total,
        page=query.page,
        pages=pages,
        first=first,
        last=first + len(calls) - 1,
        statuses=[(status.value, label) for status, label in STATUS_LABELS.items()],
    )


@router.get("/talk")
async def talk_page(request: Request, operator: PageOperator) -> Response:
    """Talk to the bot with this browser's microphone and speaker (WebRTC, `api/webrtc.py`)."""
    return render(request, "talk.html", operator=operator, active="talk")

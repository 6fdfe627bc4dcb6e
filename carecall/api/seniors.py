"""`/api/seniors`: the roster over HTTP — people, their caregivers (the escalation ladder, in
order), their check-in plans, consent and do-not-call.

Thin: every rule lives in `checkins.roster.RosterService`; this module turns JSON into its inputs
and its errors into 4xx answers that carry the service's own message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from carecall.api.recordings import export_archive
from carecall.app_state import AppState, get_state
from carecall.auth.dependencies import ApiPrincipal
from carecall.checkins.roster import (
    MAX_CAREGIVERS,
    MAX_NOTES,
    CaregiverInput,
    ConsentInput,
    PlanInput,
    PlanNotFound,
    PlanOverlap,
    RosterError,
    RosterService,
    SeniorInput,
    SeniorNotFound,
    plan_window,
)
from carecall.persistence.ids import RowId, RowOffset
from carecall.persistence.models import CheckinPlan, Senior
from carecall.persistence.privacy import export_filename

router = APIRouter(prefix="/api/seniors", tags=["seniors"])
MAX_PLANS = 20


def get_roster(state: Annotated[AppState, Depends(get_state)]) -> RosterService:
    return RosterService(state.seniors, state.clock, state.checkins)


Roster = Annotated[RosterService, Depends(get_roster)]
State = Annotated[AppState, Depends(get_state)]
SeniorId = Annotated[RowId, Path(description="The person's id.")]
PlanId = Annotated[RowId, Path(description="The check-in plan's id.")]


# --- requests ---------------------------------------------------------------------------------


class _Request(BaseModel):
    # A misspelt field ("phone" for "phone_number") is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class CaregiverIn(_Request):
    name: str = Field(max_length=100)
    phone_number: str = Field(max_length=64, description="International format, +14155550100")
    relation: str = Field("", max_length=60, description="e.g. daughter, neighbour")
    contact_by: str = Field("sms", max_length=16, description="'sms' or 'call'")


class SeniorIn(_Request):
    """The person's details and caregivers; PUT replaces all of them."""

    name: str = Field(max_length=100)
    phone_number: str = Field(max_length=64, description="International format, +14155550100")
    timezone: str = Field(max_length=64, description="IANA zone, e.g. America/Chicago")
    preferred_name: str | None = Field(None, max_length=60)
    language: str = Field(
        "en",
        max_length=16,
        description="What they speak: `en` (English) or `es` (Spanish). Everything they hear, and "
        "every text to their caregivers, is in it.",
    )
    notes: str = Field("", max_length=MAX_NOTES)
    on_behalf_of: str | None = Field(None, max_length=100)
    caregivers: list[CaregiverIn] = Field(
        default_factory=list,
        max_length=MAX_CAREGIVERS,
        description="The escalation ladder: the first is told first.",
    )
    record_calls: bool = Field(
        False,
        description="Record their calls; refused (422) unless their consent record says "
        "that recording was agreed (`consent.recording`).",
    )

    def to_input(self) -> SeniorInput:
        return SeniorInput(
            name=self.name,
            phone_number=self.phone_number,
            timezone=self.timezone,
            preferred_name=self.preferred_name,
            language=self.language,
            notes=self.notes,
            on_behalf_of=self.on_behalf_of,
            caregivers=[
                CaregiverInput(
                    name=c.name,
                    phone_number=c.phone_number,
                    relation=c.relation,
                    contact_by=c.contact_by,
                )
                for c in self.caregivers
            ],
            record_calls=self.record_calls,
        )


DaysText = Annotated[str, Field(max_length=80)]
DaysList = Annotated[list[Annotated[str, Field(max_length=12)]], Field(max_length=7)]


class PlanIn(_Request):
    weekdays: DaysText | DaysList = Field(
        description='["mon", "thu"], "mon,thu", "weekdays" or "daily"'
    )
    window_start: str = Field(max_length=8, description="Local time, HH:MM, e.g. 10:00")
    window_end: str = Field(max_length=8, description="Local time, HH:MM, e.g. 11:00")
    max_attempts: int = 3
    retry_delay_minutes: int = 15
    escalation_ack_minutes: int = 30
    active: bool = True

    def to_input(self) -> PlanInput:
        return PlanInput(
            weekdays=self.weekdays,
            window_start=self.window_start,
            window_end=self.window_end,
            max_attempts=self.max_attempts,
            retry_delay_minutes=self.retry_delay_minutes,
            escalation_ack_minutes=self.escalation_ack_minutes,
            active=self.active,
        )


class ConsentIn(_Request):
    given_by: str = Field(max_length=100, description="Who gave consent, e.g. the person")
    method: str = Field(max_length=40, description="verbal, written, web form, recorded call…")
    at: datetime | None = Field(None, description="When, with its UTC offset; default: now")
    recording: bool = Field(
        False,
        description="They also agreed that their calls may be recorded. Consent recorded "
        "without it turns `record_calls` off.",
    )

    def to_input(self) -> ConsentInput:
        return ConsentInput(
            given_by=self.given_by, method=self.method, at=self.at, recording=self.recording
        )


class NewSenior(SeniorIn):
    """A new person; plans and consent may come in the same request (stored together)."""

    plans: list[PlanIn] = Field(default_factory=list, max_length=MAX_PLANS)
    consent: ConsentIn | None = None


class DoNotCallIn(_Request):
    do_not_call: bool
    reason: str | None = Field(None, max_length=200)


# --- responses --------------------------------------------------------------------------------


class CaregiverOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    position: int
    name: str
    relation: str
    phone_number: str
    contact_by: str


class PlanOut(BaseModel):
    id: int
    weekdays: list[str]
    window_start: str
    window_end: str
    max_attempts: int
    retry_delay_minutes: int
    escalation_ack_minutes: int
    active: bool
    description: str = Field(description="For people: 'Mon–Fri 10:00–11:00'")

    @classmethod
    def of(cls, plan: CheckinPlan) -> PlanOut:
        return cls(
            id=plan.id,
            weekdays=plan.weekdays.split(","),
            window_start=f"{plan.window_start:%H:%M}",
            window_end=f"{plan.window_end:%H:%M}",
            max_attempts=plan.max_attempts,
            retry_delay_minutes=plan.retry_delay_minutes,
            escalation_ack_minutes=plan.escalation_ack_minutes,
            active=plan.active,
            description=plan_window(plan).describe(),
        )


class ConsentOut(BaseModel):
    given_by: str | None
    method: str | None
    at: datetime
    recorded_by: str | None
    recording: bool = Field(description="They also agreed that their calls may be recorded.")


class DoNotCallOut(BaseModel):
    flag: bool
    at: datetime | None
    reason: str | None


class SeniorOut(BaseModel):
    id: int
    name: str
    preferred_name: str | None
    phone_number: str
    timezone: str
    language: str
    notes: str
    on_behalf_of: str | None
    caregivers: list[CaregiverOut]
    plans: list[PlanOut]
    consent: ConsentOut | None = Field(description="None: no consent recorded, never called")
    record_calls: bool = Field(description="Their calls are recorded (needs consent.recording).")
    do_not_call: DoNotCallOut
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, senior: Senior) -> SeniorOut:
        consent = None
        if senior.consent_at is not None:
            consent = ConsentOut(
                given_by=senior.consent_given_by,
                method=senior.consent_method,
                at=senior.consent_at,
                recorded_by=senior.consent_recorded_by,
                recording=senior.consent_recording,
            )
        return cls(
            id=senior.id,
            name=senior.name,
            preferred_name=senior.preferred_name,
            phone_number=senior.phone_number,
            timezone=senior.timezone,
            language=senior.language,
            notes=senior.notes,
            on_behalf_of=senior.on_behalf_of,
            caregivers=[CaregiverOut.model_validate(c) for c in senior.caregivers],
            plans=[PlanOut.of(p) for p in senior.plans],
            consent=consent,
            record_calls=senior.record_calls,
            do_not_call=DoNotCallOut(
                flag=senior.do_not_call,
                at=senior.do_not_call_at,
                reason=senior.do_not_call_reason,
            ),
            created_at=senior.created_at,
            updated_at=senior.updated_at,
        )


class SeniorPage(BaseModel):
    items: list[SeniorOut]
    total: int
    limit: int
    offset: int


# --- routes -----------------------------------------------------------------------------------


class RosterRefused(HTTPException):
    """The roster refused the request: `detail` says everything wrong in sentences, and
    `errors` lists each problem as `field: message`, like an invalid request's 422
    (`server.create_app` answers with both)."""

    def __init__(self, status_code: int, exc: RosterError) -> None:
        super().__init__(status_code, str(exc))
        self.errors = [
            f"{problem.field}: {problem.message}" if problem.field else problem.message
            for problem in exc.problems
        ]


@contextmanager
def _roster_errors() -> Iterator[None]:
    """The service's errors as HTTP answers with its messages, every problem at once."""
    try:
        yield
    except PlanOverlap as exc:
        raise RosterRefused(status.HTTP_409_CONFLICT, exc) from None
    except RosterError as exc:
        raise RosterRefused(status.HTTP_422_UNPROCESSABLE_CONTENT, exc) from None
    except (SeniorNotFound, PlanNotFound) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.get("", response_model=SeniorPage)
async def list_seniors(
    state: Annotated[AppState, Depends(get_state)],
    q: Annotated[
        str,
        Query(max_length=100, description="Part of the name, preferred name or number's digits"),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[RowOffset, Query()] = 0,
) -> SeniorPage:
    """People on the roster by name; every filter is optional."""
    if any(ord(ch) < 32 for ch in q):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "q: search with letters or digits only."
        )
    seniors, total = await state.seniors.search(q, limit=limit, offset=offset)
    return SeniorPage(
        items=[SeniorOut.of(s) for s in seniors], total=total, limit=limit, offset=offset
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SeniorOut)
async def create_senior(body: NewSenior, roster: Roster, principal: ApiPrincipal) -> SeniorOut:
    with _roster_errors():
        senior = await roster.create(
            body.to_input(),
            plans=[plan.to_input() for plan in body.plans],
            consent=body.consent.to_input() if body.consent else None,
            recorded_by=principal.name,
        )
    return SeniorOut.of(senior)


@router.get("/{senior_id}", response_model=SeniorOut)
async def get_senior(senior_id: SeniorId, roster: Roster) -> SeniorOut:
    with _roster_errors():
        return SeniorOut.of(await roster.get(senior_id))


@router.get("/{senior_id}/export")
async def export_senior(senior_id: SeniorId, state: State) -> JSONResponse:
    """Everything stored about the person (details, consent, caregivers, plans, check-ins,
    escalations, calls with transcripts and recordings, wellbeing records, memory, alerts) as
    one JSON document, e.g. for a data access request. The recordings' files are in
    `/export.zip`."""
    now = state.clock.now()
    data = await state.privacy.export(senior_id, exported_at=now)
    if data is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"There is no person {senior_id} on the roster."
        )
    return JSONResponse(
        data,
        headers={
            "Content-Disposition": f'attachment; filename="{export_filename(senior_id, now)}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/{senior_id}/export.zip", response_class=FileResponse)
async def export_senior_archive(senior_id: SeniorId, state: State) -> FileResponse:
    """The export with the recordings of the person's calls: a ZIP file of the JSON document
    (as `/export` gives it) and every recording it names, at the `archive_path` it gives."""
    return await export_archive(state, senior_id)


@router.put("/{senior_id}", response_model=SeniorOut)
async def update_senior(senior_id: SeniorId, body: SeniorIn, roster: Roster) -> SeniorOut:
    """Replace the person's details and caregivers (plans and consent are left as they are)."""
    with _roster_errors():
        return SeniorOut.of(await roster.update(senior_id, body.to_input()))


@router.delete("/{senior_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_senior(senior_id: SeniorId, roster: Roster) -> Response:
    with _roster_errors():
        await roster.delete(senior_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{senior_id}/plans", status_code=status.HTTP_201_CREATED, response_model=PlanOut)
async def add_plan(senior_id: SeniorId, body: PlanIn, roster: Roster) -> PlanOut:
    with _roster_errors():
        return PlanOut.of(await roster.add_plan(senior_id, body.to_input()))


@router.put("/{senior_id}/plans/{plan_id}", response_model=PlanOut)
async def update_plan(
    senior_id: SeniorId, plan_id: PlanId, body: PlanIn, roster: Roster
) -> PlanOut:
    with _roster_errors():
        return PlanOut.of(await roster.update_plan(senior_id, plan_id, body.to_input()))


@router.delete("/{senior_id}/plans/{plan_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_plan(senior_id: SeniorId, plan_id: PlanId, roster: Roster) -> Response:
    with _roster_errors():
        await roster.delete_plan(senior_id, plan_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{senior_id}/consent", response_model=SeniorOut)
async def record_consent(
    senior_id: SeniorId, body: ConsentIn, roster: Roster, principal: ApiPrincipal
) -> SeniorOut:
    """Record who gave consent to be called, how and when; `recorded_by` is whoever sent this."""
    with _roster_errors():
        senior = await roster.record_consent(senior_id, body.to_input(), recorded_by=principal.name)
    return SeniorOut.of(senior)


@router.put("/{senior_id}/do-not-call", response_model=SeniorOut)
async def set_do_not_call(senior_id: SeniorId, body: DoNotCallIn, roster: Roster) -> SeniorOut:
    with _roster_errors():
        senior = await roster.set_do_not_call(senior_id, body.do_not_call, reason=body.reason)
    return SeniorOut.of(senior)

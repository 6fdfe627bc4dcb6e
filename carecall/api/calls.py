"""`/api/calls`: start a call, list and read calls with their transcripts, hang up."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from carecall.api.recordings import recording_file, recording_view
from carecall.app_state import AppState, get_state
from carecall.calls.channels import CallAlreadyEnded, CallNotFound
from carecall.core.phones import InvalidPhoneNumber
from carecall.core.policy import CallNotAllowed
from carecall.persistence.ids import RowId, RowOffset
from carecall.persistence.models import (
    CallChannel,
    CallRecord,
    CallStatus,
    RecordJob,
    RecordJobState,
)
from carecall.persistence.repositories import CallFilter
from carecall.settings import MissingConfiguration
from carecall.telephony.twilio_client import NumberNotCallable, TwilioError
from carecall.wellbeing.records import MEASURES, level_words

router = APIRouter(prefix="/api/calls", tags=["calls"])
State = Annotated[AppState, Depends(get_state)]
CallId = Annotated[RowId, Path(description="The call's id.")]


class StartCall(BaseModel):
    """Exactly one of `to` and `senior_id`."""

    to: str | None = Field(
        None, max_length=64, description="Number to call, international format, e.g. +14155550100"
    )
    senior_id: RowId | None = Field(
        None, description="Call this person on the roster at their number"
    )


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    twilio_sid: str | None
    to_number: str | None = Field(
        description="The number called; null for a call without one (see `channel`)."
    )
    from_number: str | None
    status: str
    channel: str = Field(
        description="`phone` (a Twilio call), `browser` (talk in the browser) or `demo` "
        "(the dashboard's demo call)."
    )
    answered_by: str | None
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    end_reason: str | None
    error: str | None
    senior_id: int | None = Field(description="The person on the roster called, if any.")
    checkin_id: int | None = Field(description="The scheduled check-in this call is a try of.")

    @model_validator(mode="after")
    def _number_only_for_phone_calls(self) -> CallOut:
        # A talk in the browser or a demo call is stored with a placeholder, not a number.
        if self.channel != CallChannel.PHONE:
            self.to_number = None
        return self


class TurnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sequence: int
    role: str
    text: str
    started_at: datetime
    ended_at: datetime | None
    interrupted: bool
    latency_ms: int | None
    backchannels: str | None = Field(
        None, description="What the caller said during this answer only to keep it going."
    )


class StepOut(BaseModel):
    """One step carecall took during the call beyond talking (a hand-over to a caregiver)."""

    model_config = ConfigDict(from_attributes=True)

    sequence: int
    kind: str = Field(
        description="`dialling`, `answered`, `accepted`, `declined`, `no_answer`, "
        "`unreachable`, `bridged`, `bridge_failed`, `gave_up` or `cancelled`."
    )
    text: str = Field(description='The step in words, e.g. "Tom Jones pressed 1 to take the call."')
    at: datetime


class MeasureOut(BaseModel):
    level: int | None = Field(
        ge=0, le=3, description="0 (good) to 3 (concerning); null when it didn't come up."
    )
    words: str = Field(description='The level in words, e.g. "a little low".')
    evidence: str = Field(description="The person's words that support the level.")


class RecordOut(BaseModel):
    """The wellbeing record made from the call's transcript after it ended, or where its
    making stands."""

    state: RecordJobState = Field(
        description="`done` (the record is below), `pending` or `running` (being made), "
        "`failed` (every try failed: `reason`), `skipped` (nothing to record: `reason`)."
    )
    made_at: datetime | None = Field(default=None, description="When the record was made.")
    model: str | None = Field(default=None, description="The language model that made it.")
    summary: str | None = None
    follow_ups: list[str] = Field(default_factory=list, description="Things to follow up on.")
    measures: dict[str, MeasureOut] = Field(
        default_factory=dict, description=f"By measure: {', '.join(MEASURES)}."
    )
    reason: str | None = Field(default=None, description="Why it failed or was skipped.")

    @classmethod
    def of(cls, record: CallRecord | None, job: RecordJob | None) -> RecordOut | None:
        if record is not None:
            evidence = record.evidence or {}
            return cls(
                state=RecordJobState.DONE,
                made_at=record.created_at,
                model=record.model,
                summary=record.summary,
                follow_ups=list(record.follow_ups or ()),
                measures={
                    name: MeasureOut(
                        level=getattr(record, name),
                        words=level_words(name, getattr(record, name)),
                        evidence=evidence.get(name, ""),
                    )
                    for name in MEASURES
                },
            )
        if job is None:
            return None
        return cls(state=job.state, reason=job.last_error or None)


class RecordingOut(BaseModel):
    state: str = Field(description="`recording` (still), `ready` or `failed`.")
    format: str = Field(description="`opus` (Opus in Ogg) or `flac`.")
    seconds: float | None
    size_bytes: int | None
    dropped_seconds: float = Field(
        description="Audio left out (silence instead) because the disk could not keep up."
    )
    error: str | None
    url: str = Field(description="Where the file is served (GET, with Range requests).")


class CallDetail(CallOut):
    turns: list[TurnOut]
    steps: list[StepOut] = Field(
        default_factory=list,
        description="What carecall did during the call beyond talking, in order: a warm "
        "hand-over to a caregiver, step by step.",
    )
    record: RecordOut | None = Field(
        description="The call's wellbeing record (or where its making stands); null when none "
        "is made for it (no conversation with a person)."
    )
    recording: RecordingOut | None = Field(
        None,
        description="The call's recording; null when it was not recorded (only calls of "
        "people whose consent includes recording, with `record_calls` on, are).",
    )


class CallPage(BaseModel):
    items: list[CallOut]
    total: int
    limit: int
    offset: int


def refuse_while_shutting_down(state: AppState) -> None:
    """No new call (phone, browser or demo) starts on an instance that is draining (SIGTERM,
    `calls.shutdown`): 503, and the client tries again (the load balancer picks another)."""
    if state.readiness.shutting_down:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "This server is shutting down and starts no new calls. Try again in a moment "
            "(another instance will take it).",
            headers={"Retry-After": "5"},
        )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CallOut)
async def start_call(body: StartCall, state: State) -> CallOut:
    """Dial a number now. A person on the roster (by `senior_id`, or whose number `to` is) is
    called only with their consent, not while do-not-call, and only 08:00–21:00 their time.
    A server that is shutting down answers 503."""
    refuse_while_shutting_down(state)
    if (body.to is None) == (body.senior_id is None):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Send either 'to' (the number to call, e.g. +14155550100) or 'senior_id' (a person "
            "on the roster), not both.",
        )
    senior = None
    if body.senior_id is not None:
        senior = await state.seniors.get(body.senior_id)
        if senior is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"There is no person {body.senior_id} on the roster."
            )
    try:
        if senior is not None:
            call = await state.call_service.place_call(senior.phone_number, senior=senior)
        else:
            call = await state.call_service.place_call(body.to or "")
    except CallNotAllowed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except InvalidPhoneNumber as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except MissingConfiguration as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    except NumberNotCallable as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.message) from None
    except TwilioError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, exc.message) from None
    return CallOut.model_validate(call)


_NUMBER_SEARCH = re.compile(r"^[\d\s+().-]*$")


@router.get("", response_model=CallPage)
async def list_calls(
    state: State,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[RowOffset, Query()] = 0,
    number: Annotated[
        str | None,
        Query(max_length=32, description="Digits anywhere in the number called, e.g. `0100`."),
    ] = None,
    status_: Annotated[
        list[CallStatus] | None,
        Query(alias="status", description="Only calls with this status (repeat for several)."),
    ] = None,
    created_after: Annotated[
        datetime | None,
        Query(description="Calls created at or after this time (ISO 8601; UTC without offset)."),
    ] = None,
    created_before: Annotated[
        datetime | None,
        Query(description="Calls created before this time (ISO 8601; UTC without offset)."),
    ] = None,
) -> CallPage:
    """Calls, newest first; every filter is optional."""
    digits = re.sub(r"\D", "", number or "")
    if number and (not digits or not _NUMBER_SEARCH.match(number)):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "number: search by digits of the number called, e.g. 0100 or +1415555.",
        )
    filters = CallFilter(
        number_digits=digits or None,
        statuses=status_ or (),
        created_from=created_after,
        created_before=created_before,
    )
    calls, total = await state.calls.search(filters, limit=limit, offset=offset)
    return CallPage(
        items=[CallOut.model_validate(c) for c in calls], total=total, limit=limit, offset=offset
    )


@router.get("/{call_id}", response_model=CallDetail)
async def get_call(call_id: CallId, state: State) -> CallDetail:
    """The call, its transcript, its steps (a hand-over to a caregiver) and its wellbeing
    record."""
    call = await state.calls.get(call_id, with_turns=True)
    if call is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no call {call_id}.")
    record = await state.wellbeing.record_for(call_id)
    job = None if record is not None else await state.wellbeing.job_for(call_id)
    recording = await recording_view(state, call_id)
    return CallDetail(
        **CallOut.model_validate(call).model_dump(),
        turns=[TurnOut.model_validate(t) for t in call.turns],
        steps=[StepOut.model_validate(s) for s in await state.calls.steps(call_id)],
        record=RecordOut.of(record, job),
        recording=(
            RecordingOut.model_validate(recording, from_attributes=True) if recording else None
        ),
    )


@router.get(
    "/{call_id}/recording",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/ogg": {}, "audio/flac": {}}},
        404: {"description": "The call has no recording."},
        409: {"description": "The call is still being recorded."},
    },
)
async def get_recording(call_id: CallId, state: State) -> FileResponse:
    """The call's recording: both sides, mixed, as they were heard (Opus in Ogg, or FLAC).
    Range requests are answered, so a player can seek."""
    return await recording_file(state, call_id)


@router.post("/{call_id}/hangup", status_code=status.HTTP_202_ACCEPTED, response_model=CallOut)
async def hang_up(call_id: CallId, state: State) -> CallOut:
    """End a live call, whatever its channel: a phone call through Twilio, a talk in the
    browser or a demo call where it runs. 409 when it has ended (or runs on another server)."""
    call = await state.calls.get(call_id)
    if call is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no call {call_id}.")
    try:
        call = await state.channel(call.channel).hang_up(call_id)
    except CallNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no call {call_id}.") from None
    except CallAlreadyEnded:
        raise HTTPException(status.HTTP_409_CONFLICT, "This call has already ended.") from None
    except MissingConfiguration as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    except TwilioError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, exc.message) from None
    return CallOut.model_validate(call)

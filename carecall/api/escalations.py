"""`/api/escalations`: the escalations opened for missed check-ins, with every notice sent, and
acknowledging one ("I have it in hand") from the dashboard or a program."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict

from carecall.app_state import AppState, get_state
from carecall.auth.dependencies import ApiPrincipal
from carecall.persistence.ids import RowId, RowOffset
from carecall.persistence.models import EscalationState

router = APIRouter(prefix="/api/escalations", tags=["escalations"])
State = Annotated[AppState, Depends(get_state)]
EscalationId = Annotated[RowId, Path(description="The escalation's id.")]


class NoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    caregiver_id: int | None
    contact_name: str
    to_number: str
    method: str
    body: str
    sent_at: datetime
    twilio_sid: str | None
    error: str | None


class EscalationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    senior_id: int
    checkin_id: int | None
    reason: str
    state: str
    step: int
    """How many contacts have been told so far."""
    next_step_at: datetime | None
    ack_minutes: int
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    notices: list[NoticeOut]


class EscalationPage(BaseModel):
    items: list[EscalationOut]
    total: int
    limit: int
    offset: int


@router.get("", response_model=EscalationPage)
async def list_escalations(
    state: State,
    state_: Annotated[
        EscalationState | None,
        Query(alias="state", description="Only escalations in this state."),
    ] = None,
    senior_id: Annotated[RowId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[RowOffset, Query()] = 0,
) -> EscalationPage:
    """Escalations, newest first, each with the notices sent so far."""
    rows, total = await state.escalations.repository.search(
        state=state_, senior_id=senior_id, limit=limit, offset=offset
    )
    return EscalationPage(
        items=[EscalationOut.model_validate(e) for e in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{escalation_id}", response_model=EscalationOut)
async def get_escalation(escalation_id: EscalationId, state: State) -> EscalationOut:
    escalation = await state.escalations.repository.get(escalation_id, with_notices=True)
    if escalation is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no escalation {escalation_id}.")
    return EscalationOut.model_validate(escalation)


@router.post("/{escalation_id}/acknowledge", response_model=EscalationOut)
async def acknowledge(
    escalation_id: EscalationId, state: State, principal: ApiPrincipal
) -> EscalationOut:
    """Someone has it in hand: no further caregiver is told. 409 if it already was."""
    acknowledged = await state.escalations.acknowledge(escalation_id, by=principal.name)
    if acknowledged is None:
        existing = await state.escalations.repository.get(escalation_id)
        if existing is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"There is no escalation {escalation_id}."
            )
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"This escalation was already acknowledged by {existing.acknowledged_by}.",
        )
    escalation = await state.escalations.repository.get(escalation_id, with_notices=True)
    assert escalation is not None
    return EscalationOut.model_validate(escalation)

"""`/api/alerts`: red flags heard on calls and trends over calls, with every text sent to a
caregiver about them, and acknowledging one ("someone has looked at it")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict

from carecall.app_state import AppState, get_state
from carecall.auth.dependencies import ApiPrincipal
from carecall.persistence.ids import RowId, RowOffset
from carecall.persistence.models import AlertState

router = APIRouter(prefix="/api/alerts", tags=["alerts"])
State = Annotated[AppState, Depends(get_state)]
AlertId = Annotated[RowId, Path(description="The alert's id.")]


class AlertNoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    caregiver_id: int | None
    contact_name: str
    to_number: str
    body: str
    sent_at: datetime
    twilio_sid: str | None
    error: str | None
    """Why the text was not sent (None: Twilio took it)."""


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    senior_id: int | None
    call_id: int | None
    kind: str
    """`red_flag` or `trend`."""
    category: str
    """A red flag's category (`fall`, …) or a trend's measure (`sleep`, …)."""
    severity: str
    reason: str
    evidence: str
    detector: str
    state: AlertState
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    notices: list[AlertNoticeOut]


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int
    limit: int
    offset: int


@router.get("", response_model=AlertPage)
async def list_alerts(
    state: State,
    state_: Annotated[
        AlertState | None,
        Query(alias="state", description="Only open (unacknowledged) or acknowledged alerts."),
    ] = None,
    senior_id: Annotated[RowId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[RowOffset, Query()] = 0,
) -> AlertPage:
    """Alerts, open ones first, red flags before trends, then newest first."""
    rows, total = await state.alerts.repository.search(
        state=state_, senior_id=senior_id, limit=limit, offset=offset
    )
    return AlertPage(
        items=[AlertOut.model_validate(a) for a in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{alert_id}", response_model=AlertOut)
async def get_alert(alert_id: AlertId, state: State) -> AlertOut:
    alert = await state.alerts.repository.get(alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no alert {alert_id}.")
    return AlertOut.model_validate(alert)


@router.post("/{alert_id}/acknowledge", response_model=AlertOut)
async def acknowledge(alert_id: AlertId, state: State, principal: ApiPrincipal) -> AlertOut:
    """Someone has looked at it. 409 if it already was acknowledged."""
    acknowledged = await state.alerts.acknowledge(alert_id, by=principal.name)
    if acknowledged is None:
        existing = await state.alerts.repository.get(alert_id)
        if existing is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no alert {alert_id}.")
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"This alert was already acknowledged by {existing.acknowledged_by}.",
        )
    return AlertOut.model_validate(acknowledged)

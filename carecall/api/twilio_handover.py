"""Twilio's webhooks for the calls of a warm hand-over to a caregiver (`calls.handover`): the
key the caregiver pressed on the offer (`/twilio/handover/key`, TwiML back) and the status
callbacks of their call (`/twilio/handover/status`).

Both must carry a valid `X-Twilio-Signature` (403 otherwise), like every Twilio webhook, and
the token the hand-over put in their URLs, bound to the person's call and the leg (which
caregiver): a signed request about one leg can't act on another (403 too). The hand-over
decides (here, or on the instance that runs it: `HandoverDesk.deliver`); these routes parse
and answer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from loguru import logger

from carecall.api.twilio_webhooks import SignedForm
from carecall.app_state import AppState, get_state
from carecall.calls.handover import LegSignal, LegVerdict
from carecall.persistence.ids import RowId
from carecall.persistence.models import CallStatus
from carecall.telephony.twiml import conference_twiml, say_and_hang_up

router = APIRouter(prefix="/twilio/handover", tags=["twilio"])
State = Annotated[AppState, Depends(get_state)]
CallId = Annotated[RowId, Query(description="The person's call.")]
Leg = Annotated[int, Query(ge=0, le=10_000, description="Which call to a caregiver.")]
Token = Annotated[str, Query(max_length=128)]
_TWIML = "application/xml"
_LEG_STATUSES = frozenset(s.value for s in CallStatus if s is not CallStatus.CREATED)

JOINING = "Thank you. Connecting you now. Please hold on."
DECLINED = "All right. Thank you. Goodbye."
TOO_LATE = "Thank you. Nobody is waiting on this call any more. Goodbye."
LEFT = "The call has ended. Goodbye."


def _check_token(state: AppState, call_id: int, leg: int, token: str) -> None:
    if not state.handovers.tokens.verify(call_id, leg, token):
        logger.bind(call_id=call_id).warning("Rejected a hand-over webhook with a wrong token")
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Invalid or missing hand-over token.")


def _call_sid(form: dict[str, str]) -> str:
    call_sid = form.get("CallSid", "")
    if not call_sid.startswith("CA") or len(call_sid) > 64:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "CallSid is missing or malformed.")
    return call_sid


@router.post("/key")
async def handover_key(
    form: SignedForm, state: State, call_id: CallId, leg: Leg, token: Token = ""
) -> Response:
    """The caregiver pressed a key on the offer: 1 takes the call (they are put in the
    conference room the person is moved into), anything else lets the next caregiver be
    tried."""
    _check_token(state, call_id, leg, token)
    call_sid = _call_sid(form)
    digits = form.get("Digits", "").strip()[:8]
    verdict = await state.handovers.deliver(LegSignal(call_id, leg, call_sid, digits=digits))
    if verdict is None:  # not running here: on another instance, or over
        verdict = await _elsewhere(state, call_id, digits)
    logger.bind(call_id=call_id).info(f"Hand-over leg {leg}: key pressed, {verdict.value}")
    if verdict is LegVerdict.JOIN:
        twiml = conference_twiml(state.handovers.tokens.room(call_id), before=JOINING, after=LEFT)
    else:
        twiml = say_and_hang_up(DECLINED if verdict is LegVerdict.DECLINED else TOO_LATE)
    return Response(twiml, media_type=_TWIML)


async def _elsewhere(state: AppState, call_id: int, digits: str) -> LegVerdict:
    """A key press for a hand-over this process doesn't run (the signal went over the bus):
    while the person's call is still going, the instance running it decides, and a caregiver
    who pressed 1 waits in the room meanwhile (that instance takes them out again if it was
    too late); once the call is over, it is too late."""
    try:
        call = await state.calls.get(call_id)
    except Exception as exc:
        logger.bind(call_id=call_id).warning(f"Could not read the call of a key press: {exc!r}")
        return LegVerdict.MOOT
    if call is None or call.status.is_final or call.end_reason is not None:
        return LegVerdict.MOOT
    return LegVerdict.JOIN if digits == "1" else LegVerdict.DECLINED


@router.post("/status", status_code=status.HTTP_204_NO_CONTENT)
async def handover_status(
    form: SignedForm, state: State, call_id: CallId, leg: Leg, token: Token = ""
) -> Response:
    """A status callback of a call to a caregiver: how it ended tells the hand-over to try the
    next one (no answer, busy, hung up without pressing 1)."""
    _check_token(state, call_id, leg, token)
    call_sid = _call_sid(form)
    call_status = form.get("CallStatus", "")
    if call_status not in _LEG_STATUSES:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Unknown or missing CallStatus.")
    await state.handovers.deliver(LegSignal(call_id, leg, call_sid, status=call_status))
    return Response(status_code=status.HTTP_204_NO_CONTENT)

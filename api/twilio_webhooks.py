"""Twilio's webhooks: TwiML for a call that was answered, and call status callbacks.

Every request must carry a valid `X-Twilio-Signature` for the public URL it was sent to.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from loguru import logger

from app_state import AppState, get_state
from persistence.models import CallStatus
from persistence.repositories import StatusUpdate
from telephony.twiml import hangup_twiml, media_stream_twiml

router = APIRouter(prefix="/twilio", tags=["twilio"])
State = Annotated[AppState, Depends(get_state)]
_TWIML = "application/xml"


async def signed_form(request: Request, state: State) -> dict[str, str]:
    """The webhook's form fields, once its Twilio signature has been checked."""
    if not state.signatures.configured:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Twilio webhooks are not configured: set TWILIO_AUTH_TOKEN and WEBHOOK_URL.",
        )
    form = await request.form()
    params = {key: value for key, value in form.items() if isinstance(value, str)}
    signature = request.headers.get("x-twilio-signature")
    if not state.signatures.is_valid(signature, request.url.path, request.url.query, params):
        logger.warning(
            f"Rejected a webhook with a missing or invalid Twilio signature: {request.url.path}"
        )
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Invalid or missing Twilio signature.")
    return params


SignedForm = Annotated[dict[str, str], Depends(signed_form)]


def _call_id(request: Request) -> int | None:
    raw = request.query_params.get("call_id", "")
    return int(raw) if raw.isdigit() else None


@router.post("/voice")
async def voice(request: Request, form: SignedForm, state: State) -> Response:
    """Twilio asks what to do with the answered call: connect it to our media websocket."""
    call_id = _call_id(request)
    if call_id is None:
        logger.warning("Voice webhook without a call id; hanging up")
        return Response(hangup_twiml(), media_type=_TWIML)
    twiml = media_stream_twiml(
        state.settings.media_stream_url, state.call_service.stream_parameters(call_id)
    )
    return Response(twiml, media_type=_TWIML)


@router.post("/status", status_code=status.HTTP_204_NO_CONTENT)
async def call_status(form: SignedForm, state: State) -> Response:
    """Apply a call status callback; late, repeated and out-of-order callbacks are harmless."""
    try:
        update = StatusUpdate(
            call_sid=form["CallSid"],
            status=CallStatus(form["CallStatus"]),
            sequence_number=_optional_int(form.get("SequenceNumber")),
            duration_seconds=_optional_int(form.get("CallDuration")),
            answered_by=form.get("AnsweredBy") or None,
        )
    except (KeyError, ValueError):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "A status callback needs CallSid and a known CallStatus."
        ) from None
    if update.status is CallStatus.CREATED:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Unknown CallStatus.")
    await state.call_service.apply_status(update)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _optional_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    return int(value)

"""Twilio's webhooks for caregivers' answers to escalation notices: a text message to our number
(`/twilio/sms`), and a key press on a notice call (`/twilio/escalation-ack`).

Both must carry a valid `X-Twilio-Signature` (403 otherwise), like every Twilio webhook. A key
press also needs the token the notice call's TwiML carried, bound to that escalation and the
number called, so a signed request for one escalation can't acknowledge another. The ladder
(`checkins.escalation`) decides; these routes only parse and answer in TwiML.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from loguru import logger
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from carecall.api.twilio_webhooks import SignedForm
from carecall.app_state import AppState, get_state
from carecall.core.phones import mask_phone_number
from carecall.persistence.ids import RowId

router = APIRouter(prefix="/twilio", tags=["twilio"])
State = Annotated[AppState, Depends(get_state)]
_TWIML = "application/xml"
_MAX_SMS_BODY = 1600


@router.post("/sms")
async def inbound_sms(form: SignedForm, state: State) -> Response:
    """A text to our number: "OK" from a caregiver who was told acknowledges their escalations;
    anything else changes nothing and gets a short, polite answer."""
    sender = form.get("From", "").strip()
    body = form.get("Body", "")[:_MAX_SMS_BODY]
    response = MessagingResponse()
    if not sender:
        logger.warning("Inbound text without a sender; not answered")
        return Response(str(response), media_type=_TWIML)
    logger.bind(message_sid=form.get("MessageSid", "")[:64]).info(
        f"Text from {mask_phone_number(sender)}"
    )
    reply = await state.escalations.reply_to_sms(sender, body)
    if reply is not None:
        response.message(reply)
    return Response(str(response), media_type=_TWIML)


@router.post("/escalation-ack")
async def escalation_key_press(
    form: SignedForm,
    state: State,
    escalation_id: Annotated[RowId, Query()],
    token: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    """The caregiver on a notice call pressed a key: 1 (with the call's token) acknowledges."""
    reply = await state.escalations.reply_to_keypad(
        escalation_id, token, form.get("Digits", ""), form.get("To", "").strip()
    )
    response = VoiceResponse()
    response.say(reply.text, **reply.say)
    response.hangup()
    return Response(str(response), media_type=_TWIML)

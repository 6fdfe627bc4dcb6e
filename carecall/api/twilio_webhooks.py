"""Twilio's webhooks: TwiML for a call that was answered, call status callbacks, and the
answering-machine detection's verdict.

Every request must carry a valid `X-Twilio-Signature` for the public URL it was sent to.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from loguru import logger

from carecall.app_state import AppState, get_state
from carecall.bot.services import CallLanguages
from carecall.calls.callback_backlog import WRITE_WITHIN_SECONDS
from carecall.calls.channels import publish_status
from carecall.calls.conversation import greeting
from carecall.persistence.ids import MAX_INTEGER, parse_row_id
from carecall.persistence.models import Call, CallStatus
from carecall.persistence.repositories import StatusUpdate
from carecall.telephony.twiml import hangup_twiml, media_stream_twiml

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
    return parse_row_id(request.query_params.get("call_id"))


@router.post("/voice")
async def voice(request: Request, form: SignedForm, state: State) -> Response:
    """Twilio asks what to do with the answered call: connect it to our media websocket.

    Before the stream opens, the call's person is read (a database read is fine here, not once
    the stream runs) and remembered for the stream (`calls.briefs`), and the audio of their
    personal greeting is made in the background, so the first words come as fast as the
    generic greeting's."""
    call_id = _call_id(request)
    if call_id is None:
        logger.warning("Voice webhook without a call id; hanging up")
        return Response(hangup_twiml(), media_type=_TWIML)
    # Bounded as a callback's write is: behind a network that drops packets the read would
    # hold Twilio's request for seconds. It goes on meanwhile (and is remembered if it ends).
    loading = asyncio.ensure_future(state.briefs.load(call_id))
    await asyncio.wait({loading}, timeout=WRITE_WITHIN_SECONDS)
    if not loading.done():
        _slow_reads.add(loading)
        loading.add_done_callback(_forget_slow_read)
        logger.bind(call_id=call_id).warning("Reading whom the call is for is slow; connecting")
    elif (exc := loading.exception()) is not None:  # the call still connects, the stream tries
        logger.bind(call_id=call_id).warning(f"Could not read whom the call is for: {exc!r}")
    elif (brief := loading.result()).personal and CallLanguages.of(state.settings).speaks(
        brief.language
    ):
        # (A call in a language this server can't speak is hung up once its stream opens.)
        state.service_clients.prepare_speech_soon(
            greeting(state.settings, brief), language=brief.language
        )
    twiml = media_stream_twiml(
        state.settings.media_stream_url, state.call_service.stream_parameters(call_id)
    )
    return Response(twiml, media_type=_TWIML)


_slow_reads: set[asyncio.Future[Any]] = set()


def _forget_slow_read(loading: asyncio.Future[Any]) -> None:
    _slow_reads.discard(loading)
    if not loading.cancelled():
        loading.exception()  # retrieved: it was logged as slow already


@router.post("/status", status_code=status.HTTP_204_NO_CONTENT)
async def call_status(form: SignedForm, state: State) -> Response:
    """Apply a call status callback; late, repeated and out-of-order callbacks are harmless.
    While the database is unreachable it is acknowledged and kept (`calls.callback_backlog`)."""
    try:
        update = StatusUpdate(
            call_sid=form["CallSid"],
            status=CallStatus(form["CallStatus"]),
            sequence_number=_optional_int(form.get("SequenceNumber")),
            duration_seconds=_optional_int(form.get("CallDuration")),
            # Stored only when it is one of Twilio's verdicts.
            answered_by=form.get("AnsweredBy") if form.get("AnsweredBy") in ANSWERED_BY else None,
        )
    except (KeyError, ValueError):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            "A status callback needs CallSid and a known CallStatus; SequenceNumber and "
            "CallDuration, when sent, must be whole numbers.",
        ) from None
    if update.status is CallStatus.CREATED:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Unknown CallStatus.")
    await state.callback_backlog.write_or_keep(
        update.call_sid,
        f"status {update.status.value}",
        functools.partial(state.call_service.apply_status, update),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


ANSWERED_BY = frozenset(
    {
        "human",
        "machine_start",
        "machine_end_beep",
        "machine_end_silence",
        "machine_end_other",
        "fax",
        "unknown",
    }
)
"""Twilio's answering-machine verdicts (`AnsweredBy`)."""


@router.post("/amd", status_code=status.HTTP_204_NO_CONTENT)
async def machine_detection(request: Request, form: SignedForm, state: State) -> Response:
    """Twilio's asynchronous answering-machine detection says who or what answered.

    The verdict is stored (`Call.answered_by`: a completed call answered by a machine counts
    as voicemail) and published. When a machine has finished its greeting (`machine_end_*`)
    and the call's conversation runs in this process, the bot stops talking, leaves a short
    message after the beep and hangs up. With ``machine_start`` (a machine, its greeting not
    over) it stops talking and answers nothing until the beep. Other verdicts change nothing in
    the call."""
    answered_by = form.get("AnsweredBy", "")
    call_sid = form.get("CallSid", "")
    if not call_sid or answered_by not in ANSWERED_BY:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            "An answering-machine callback needs CallSid and a known AnsweredBy "
            f"({', '.join(sorted(ANSWERED_BY))}).",
        )
    try:
        detection_ms = _optional_int(form.get("MachineDetectionDuration"))
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "MachineDetectionDuration must be a number."
        ) from None
    call_id = _call_id(request)
    log = logger.bind(call_sid=call_sid, call_id=call_id)
    # The live call first: its voicemail must not wait on the database (nor on its outage).
    control = state.active_calls.control(call_id) if call_id is not None else None
    if control is not None and control.call_sid != call_sid:
        control = None  # not this call's conversation
    machine_done = answered_by.startswith("machine_end")
    if machine_done and control is not None and await control.leave_voicemail():
        log.info("Leaving a voicemail message")
    elif answered_by == "machine_start" and control is not None and await control.suspect_machine():
        log.info("An answering machine is suspected: the bot falls silent until the beep")

    async def store_verdict() -> Call | None:
        call, changed = await state.calls.note_answered_by(call_sid, answered_by)
        if call is not None and changed:
            await publish_status(state.bus, call)
        return call

    what = f"answering-machine verdict {answered_by}"
    stored, call = await state.callback_backlog.write_or_keep(call_sid, what, store_verdict)
    if stored and call is None:
        log.warning(f"Answering-machine verdict {answered_by} for an unknown call; ignored")
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    log.info(f"Answered by: {answered_by} (detected in {detection_ms or '?'} ms)")
    if machine_done and control is None:
        log.info("The call's conversation is not running in this process; verdict stored")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _optional_int(value: str | None) -> int | None:
    """A count Twilio sends (a sequence number, seconds), or ValueError for anything else: a
    sign, a fraction, or a number too large to store."""
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10 or int(value) > MAX_INTEGER:
        raise ValueError(f"not a count: {value[:20]!r}")
    return int(value)

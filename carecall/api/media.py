"""`/ws`: the Twilio media stream of one call → one pipecat pipeline; and the handshake every
media stream goes through (`open_stream`: `/ws` here, the demo call's `/ws/demo` in `api.demo`).

The upgrade must carry a valid Twilio signature and the stream's `start` message the per-call
token we put in the TwiML; otherwise the socket is closed with 1008 (policy violation).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from loguru import logger

from carecall.app_state import AppState, get_ws_state
from carecall.bot.builder import MediaStream
from carecall.calls.briefs import GENERIC_BRIEF
from carecall.calls.conversation import run_conversation
from carecall.persistence.ids import parse_row_id

router = APIRouter(tags=["twilio"])

UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
_MAX_MESSAGES_BEFORE_START = 50
_MAX_HANDSHAKE_MESSAGE_BYTES = 16_384


class RefusedStream(Exception):
    close_code = POLICY_VIOLATION


class NotTwilioData(RefusedStream):
    """A binary frame: Twilio sends JSON text only."""

    close_code = UNSUPPORTED_DATA


@dataclass(frozen=True)
class StreamDoor:
    """What one media-stream route checks of its own; `open_stream` checks the rest."""

    name: str
    """What the log calls its streams ("media stream", "demo media stream")."""
    admits: Callable[[WebSocket], None]
    """Before anything is read: raises `RefusedStream` (Twilio's signature, loopback, …)."""
    verify_token: Callable[[int, str], bool]
    """Whether the start message's token is this call's, under this route's key."""
    belongs: Callable[[MediaStream], Awaitable[None]] | None = None
    """Once the call is known: raises `RefusedStream` if its stream may not come this way."""


async def open_stream(
    websocket: WebSocket, state: AppState, door: StreamDoor
) -> MediaStream | None:
    """The handshake of every media stream: accept; ``door``'s own check; no more than
    MAX_PENDING_MEDIA_STREAMS waiting for their `start` (else 1013, try again later); the
    `start` within MEDIA_START_TIMEOUT_SECONDS; the call's token; ``door``'s check of the
    call; and no second stream for a call whose stream runs here (a replayed start). Returns
    the verified stream, or None once the socket is closed (refused with 1008, 1003 for binary
    data, or gone)."""
    await websocket.accept()
    try:
        door.admits(websocket)
        if not state.pending_streams.enter():
            logger.warning(
                f"Turned away a {door.name}: {state.pending_streams.limit} are already waiting "
                "for their start message"
            )
            await websocket.close(code=TRY_AGAIN_LATER, reason="busy")
            return None
        try:
            start = await asyncio.wait_for(
                read_start(websocket), state.settings.media_start_timeout_seconds
            )
        finally:
            state.pending_streams.leave()
        stream = verified_stream(start, door.verify_token)
        if door.belongs is not None:
            await door.belongs(stream)
        if stream.call_id in state.active_calls.by_call_id:
            # A replayed start (the signature and token are the same on every try): the call's
            # real stream keeps its pipeline, and no turn is written twice.
            raise RefusedStream(f"call {stream.call_id} already has a media stream here")
    except (RefusedStream, TimeoutError) as exc:
        logger.warning(f"Refused a {door.name}: {str(exc) or 'no start message in time'}")
        code = exc.close_code if isinstance(exc, RefusedStream) else POLICY_VIOLATION
        await websocket.close(code=code, reason="refused")
        return None
    except WebSocketDisconnect:
        return None
    return stream


def twilio_door(state: AppState) -> StreamDoor:
    """`/ws`: signed by Twilio, with the call's token from the TwiML."""

    def signed(websocket: WebSocket) -> None:
        signature = websocket.headers.get("x-twilio-signature")
        if not state.signatures.is_valid(
            signature, websocket.url.path, websocket.url.query, {}, websocket=True
        ):
            raise RefusedStream("missing or invalid Twilio signature")

    return StreamDoor("media stream", signed, state.tokens.verify)


@router.websocket("/ws")
async def media_stream(websocket: WebSocket) -> None:
    state = get_ws_state(websocket)
    stream = await open_stream(websocket, state, twilio_door(state))
    if stream is not None:
        await serve_stream(websocket, state, stream)


async def serve_stream(
    websocket: WebSocket, state: AppState, stream: MediaStream, *, demo: bool = False
) -> None:
    """Run a verified media stream's conversation (a demo's never asks Twilio to hang up).

    A phone call's brief (who it is for) was normally loaded by the voice webhook; a demo call
    is for no one on the roster."""
    if state.settings.service_choice.speech == "openai" and state.settings.openai_api_key is None:
        logger.error(
            "A call connected but SERVICES=openai and OPENAI_API_KEY is not set; hanging up"
        )
        await websocket.close(code=INTERNAL_ERROR, reason="speech services not configured")
        return

    if state.readiness.shutting_down:
        logger.bind(call_id=stream.call_id).warning(
            "Refused a media stream: this instance is shutting down"
        )
        await websocket.close(code=TRY_AGAIN_LATER, reason="shutting down")
        return

    task = asyncio.current_task()
    assert task is not None
    state.active_calls.started(stream.call_id, task)
    try:
        brief = GENERIC_BRIEF if demo else await state.briefs.for_stream(stream.call_id)
        await run_conversation(
            websocket,
            stream,
            settings=state.settings,
            clients=state.service_clients,
            writer=state.writer,
            bus=state.bus,
            twilio=None if demo else state.twilio,
            brief=brief,
            active_calls=state.active_calls,
            alerts=state.alerts,
            handovers=None if demo else state.handovers,
            recordings=state.call_recordings,
        )
    finally:
        state.active_calls.ended(stream.call_id)
        state.briefs.forget(stream.call_id)


async def read_start(websocket: WebSocket) -> dict[str, Any]:
    """Skip `connected` (and malformed text) until the `start` message arrives; a binary frame
    ends the stream (`NotTwilioData`)."""
    for _ in range(_MAX_MESSAGES_BEFORE_START):
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(received.get("code", 1000))
        raw = received.get("text")
        if raw is None:
            raise NotTwilioData("a binary frame before start")
        if len(raw) > _MAX_HANDSHAKE_MESSAGE_BYTES:
            raise RefusedStream("oversized message before start")
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("event") == "start":
            return message
    raise RefusedStream("no start message")


def verified_stream(
    message: dict[str, Any], verify_token: Callable[[int, str], bool]
) -> MediaStream:
    start = message.get("start")
    if not isinstance(start, dict):
        raise RefusedStream("start message without details")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise RefusedStream("start message with malformed customParameters")
    call_id, token = parse_row_id(params.get("call_id")), str(params.get("token", ""))
    if call_id is None or not verify_token(call_id, token):
        raise RefusedStream("wrong or missing call token")
    call_sid, stream_sid = start.get("callSid"), start.get("streamSid") or message.get("streamSid")
    if not isinstance(call_sid, str) or not isinstance(stream_sid, str):
        raise RefusedStream("start message without callSid/streamSid")
    return MediaStream(call_id=call_id, call_sid=call_sid, stream_sid=stream_sid)

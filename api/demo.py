"""The dashboard's demo call: `POST /api/demo-calls` starts one; its simulated senior's media
stream arrives on `/ws/demo` (loopback only, a demo token, a demo call: see `calls.demo`)."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    HTTPException,
    Request,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from loguru import logger

from api.calls import CallOut, refuse_while_shutting_down
from api.media import POLICY_VIOLATION, RefusedStream, read_start, serve_stream, verified_stream
from app_state import AppState, get_state, get_ws_state
from calls.demo import DemoCallsBusy
from persistence.models import CallChannel

router = APIRouter(prefix="/api/demo-calls", tags=["demo call"])
stream_router = APIRouter(tags=["demo call"])
State = Annotated[AppState, Depends(get_state)]


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=CallOut)
async def start_demo_call(request: Request, state: State) -> CallOut:
    """Start a demo call: a scripted senior with a local voice talks to the bot over the real
    media-stream protocol on loopback; follow it at `/calls/{id}`. 429 when too many run."""
    refuse_while_shutting_down(state)
    server = request.scope.get("server") or ("127.0.0.1", 0)
    host = "[::1]" if server[0] == "::1" else "127.0.0.1"
    try:
        call = await state.demo_calls.start(f"ws://{host}:{server[1]}/ws/demo")
    except DemoCallsBusy as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc)) from None
    except RuntimeError as exc:  # no local voice on this machine
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return CallOut.model_validate(call)


@stream_router.websocket("/ws/demo")
async def demo_stream(websocket: WebSocket) -> None:
    """A demo call's media stream: refused (1008) unless it comes from loopback, carries the
    demo token of its call, and that call's channel is `demo`."""
    state = get_ws_state(websocket)
    await websocket.accept()
    try:
        client = websocket.client.host if websocket.client else ""
        try:
            loopback = ipaddress.ip_address(client).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise RefusedStream("a demo stream from outside this machine")
        start = await asyncio.wait_for(
            read_start(websocket), state.settings.media_start_timeout_seconds
        )
        stream = verified_stream(start, state.demo_calls.tokens.verify)
        call = await state.calls.get(stream.call_id)
        if call is None or call.channel != CallChannel.DEMO:
            raise RefusedStream("a demo token for a call that is not a demo call")
    except (RefusedStream, TimeoutError) as exc:
        logger.warning(f"Refused a demo media stream: {exc or 'no start message in time'}")
        await websocket.close(code=POLICY_VIOLATION, reason="refused")
        return
    except WebSocketDisconnect:
        return
    await serve_stream(websocket, state, stream, demo=True)

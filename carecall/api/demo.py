"""The dashboard's demo call: `POST /api/demo-calls` starts one; its simulated senior's media
stream arrives on `/ws/demo` (loopback only, a demo token, a demo call: see `calls.demo`)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket, status

from carecall.api.calls import CallOut, refuse_while_shutting_down
from carecall.api.media import RefusedStream, StreamDoor, open_stream, serve_stream
from carecall.app_state import AppState, get_state, get_ws_state
from carecall.bot.builder import MediaStream
from carecall.calls.demo import DemoCallsBusy
from carecall.persistence.models import CallChannel

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


def demo_door(state: AppState) -> StreamDoor:
    """`/ws/demo`: from loopback, with a demo token, for a demo call (see `calls.demo`)."""

    def from_loopback(websocket: WebSocket) -> None:
        client = websocket.client.host if websocket.client else ""
        try:
            loopback = ipaddress.ip_address(client).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise RefusedStream("a demo stream from outside this machine")

    async def is_a_demo_call(stream: MediaStream) -> None:
        call = await state.calls.get(stream.call_id)
        if call is None or call.channel != CallChannel.DEMO:
            raise RefusedStream("a demo token for a call that is not a demo call")

    return StreamDoor(
        "demo media stream", from_loopback, state.demo_calls.tokens.verify, is_a_demo_call
    )


@stream_router.websocket("/ws/demo")
async def demo_stream(websocket: WebSocket) -> None:
    """A demo call's media stream: refused (1008) unless it comes from loopback, carries the
    demo token of its call, and that call's channel is `demo`; and checked as every media
    stream is (`api.media.open_stream`)."""
    state = get_ws_state(websocket)
    stream = await open_stream(websocket, state, demo_door(state))
    if stream is not None:
        await serve_stream(websocket, state, stream, demo=True)

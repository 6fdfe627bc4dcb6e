"""`/ws/dashboard`: the dashboard's live feed of calls, for signed-in operators.

Protocol (server → browser, JSON; the browser sends nothing):

- on connect, a `snapshot`: `{"type": "snapshot", "id", "stream", "calls": [call…]}`, or with
  `?call_id=N` `{"type": "snapshot", "id", "stream", "call": call, "turns": [turn…],
  "steps": [step…]}`;
- then, as they happen, `{"type": "call", "id", "call": call}` (a call's new state) and, on a
  call's page, `{"type": "turn", "id", "call_id", "turn": turn}` and `{"type": "step", "id",
  "call_id", "step": step}` (a step of a hand-over to a caregiver); `{"type": "ping"}` when
  idle;
- on the all-calls feed, `{"type": "program", "id", "kind", "data"}` when a check-in, an
  escalation or an alert changed (`checkin.updated`, `escalation.updated`, `alert.updated`: the
  event's data, e.g. `senior_id`, `checkin_id`); the Today view re-fetches itself on these. On
  a call's page, only that call's `alert.updated` (its page re-fetches its alerts).

`id` grows by one per bus event in this process (`core.events.EventFeed`); `stream` names
that numbering. A browser that lost its connection reconnects with `?after=<last id>&stream=…`
and is sent only what it missed, or a fresh snapshot when that is no longer buffered (or the
stream is another process's). Calls and turns are the dicts of `web.presenters`: numbers
masked, labels written out. Without a session the socket is closed with 1008, and so is an
open one within `SESSION_CHECK_SECONDS` of its session ending; for a `call_id` that can't be a
call's id (`persistence.ids`) with 4400; for an unknown call with 4404.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from loguru import logger

from carecall.app_state import AppState, get_ws_state
from carecall.auth.dependencies import websocket_operator
from carecall.core.events import FeedListener, NumberedEvent
from carecall.persistence.ids import MAX_ROW_ID, parse_row_id
from carecall.web.presenters import CallView, apply_event, call_view, step_view, turn_view

router = APIRouter()

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
BAD_REQUEST = 4400
NOT_FOUND = 4404
HEARTBEAT_SECONDS = 20.0
SESSION_CHECK_SECONDS = 15.0
"""How often an open feed checks that its sign-in still stands (signed out, password changed,
operator deleted, idle): then it is closed with 1008."""
RECENT_CALLS = 20
_MAX_TRACKED_CALLS = 500
PROGRAM_EVENTS = frozenset({"checkin.updated", "escalation.updated", "alert.updated"})

Message = dict[str, Any]


@router.websocket("/ws/dashboard")
async def dashboard_feed(websocket: WebSocket) -> None:
    if not _same_origin(websocket):
        await websocket.close(code=POLICY_VIOLATION)
        return
    state = get_ws_state(websocket)
    operator = await websocket_operator(websocket, state)
    await websocket.accept()
    if operator is None:
        # Accepted first so the browser sees the code (a refused upgrade is just "1006").
        await websocket.close(code=POLICY_VIOLATION, reason="Sign in first.")
        return
    query = websocket.query_params
    raw_call_id = query.get("call_id")
    call_id = parse_row_id(raw_call_id)
    if raw_call_id is not None and call_id is None:
        reason = f"call_id must be a whole number from 1 to {MAX_ROW_ID}."
        await websocket.close(code=BAD_REQUEST, reason=reason)
        return
    feed = DashboardFeed(state, call_id)
    with state.feed.listen() as listener:
        first = await feed.start(_event_id(query.get("after")), query.get("stream"))
        if first is None:
            await websocket.close(code=NOT_FOUND, reason="There is no such call.")
            return
        sender = asyncio.create_task(_send(websocket, feed, listener, first))
        receiver = asyncio.create_task(_until_closed(websocket))
        session = asyncio.create_task(_while_signed_in(websocket, state))
        tasks = (sender, receiver, session)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if session in done and not session.cancelled() and session.exception() is None:
            with contextlib.suppress(Exception):
                await websocket.close(code=POLICY_VIOLATION, reason="Signed out.")
        elif sender in done and not sender.cancelled() and listener.overflowed:
            with contextlib.suppress(Exception):
                await websocket.close(code=TRY_AGAIN_LATER, reason="Fell behind; reconnect.")


class DashboardFeed:
    """What one dashboard connection is shown: all recent calls, or one call and its turns."""

    def __init__(self, state: AppState, call_id: int | None) -> None:
        self._state = state
        self._call_id = call_id
        self._views: dict[int, CallView] = {}
        self.last_sent = 0

    async def start(self, after: int | None, stream: str | None) -> list[Message] | None:
        """The first messages: what was missed since `after`, or a snapshot. Call this right
        after registering the listener, so that no event falls between the two."""
        feed = self._state.feed
        last_id = feed.last_id
        missed = feed.since(after) if after is not None and stream == feed.stream else None
        if missed is not None:
            self.last_sent = last_id
            return [m for item in missed if (m := await self.message_for(item)) is not None]
        snapshot = await self._snapshot(last_id, feed.buffered())
        if snapshot is None:
            return None
        self.last_sent = last_id
        return [snapshot]

    async def message_for(self, item: NumberedEvent) -> Message | None:
        event = item.event
        if event.kind in PROGRAM_EVENTS:
            # A call's page hears of its own alerts only (a red flag raised while it runs).
            if self._call_id is not None and not (
                event.kind == "alert.updated" and event.call_id == self._call_id
            ):
                return None
            data = event.to_json()["data"]
            return {"type": "program", "id": item.id, "kind": event.kind, "data": data}
        if self._call_id is not None and event.call_id != self._call_id:
            return None
        if event.kind in ("call.figure", "handover.signal"):
            return None  # an extension's figure, a hand-over's webhook: not shown here
        if event.kind == "call.step":
            if self._call_id is None:
                return None
            step = step_view(event.data)
            return {"type": "step", "id": item.id, "call_id": event.call_id, "step": step}
        if event.kind == "call.turn":
            if self._call_id is None:
                return None
            turn = turn_view(event.data)
            return {"type": "turn", "id": item.id, "call_id": event.call_id, "turn": turn}
        view = self._views.get(event.call_id)
        if view is None:
            call = await self._state.calls.get(event.call_id)
            if call is None:
                return None
            view = self._track(call_view(call))
            apply_event(view, event)
        elif not apply_event(view, event):
            return None
        return {"type": "call", "id": item.id, "call": view}

    async def _snapshot(self, last_id: int, buffered: list[NumberedEvent]) -> Message | None:
        # Stored state, then the buffered events on top: turns and notes are published before
        # they are stored, so the last few may be on the bus and not yet in the database.
        message: Message = {"type": "snapshot", "id": last_id, "stream": self._state.feed.stream}
        recent = [item.event for item in buffered if item.id <= last_id]
        if self._call_id is not None:
            call = await self._state.calls.get(self._call_id, with_turns=True)
            if call is None:
                return None
            view = self._track(call_view(call))
            turns = {turn.sequence: turn_view(turn) for turn in call.turns}
            steps = {
                step.sequence: step_view(step) for step in await self._state.calls.steps(call.id)
            }
            for event in recent:
                if event.call_id != self._call_id:
                    continue
                if event.kind == "call.turn":
                    turns.setdefault(int(event.data["sequence"]), turn_view(event.data))
                elif event.kind == "call.step":
                    steps.setdefault(int(event.data["sequence"]), step_view(event.data))
                else:
                    apply_event(view, event)
            message["call"] = view
            message["turns"] = [turns[sequence] for sequence in sorted(turns)]
            message["steps"] = [steps[sequence] for sequence in sorted(steps)]
            return message
        calls, _ = await self._state.calls.list_recent(limit=RECENT_CALLS)
        views = [self._track(call_view(call)) for call in calls]
        for event in recent:
            if event.kind != "call.turn" and (tracked := self._views.get(event.call_id)):
                apply_event(tracked, event)
        message["calls"] = views
        return message

    def _track(self, view: CallView) -> CallView:
        if len(self._views) >= _MAX_TRACKED_CALLS:  # a dashboard left open for weeks
            for call_id in sorted(self._views)[: _MAX_TRACKED_CALLS // 2]:
                del self._views[call_id]
        self._views[view["id"]] = view
        return view


async def _send(
    websocket: WebSocket, feed: DashboardFeed, listener: FeedListener, first: list[Message]
) -> None:
    for opening in first:
        await websocket.send_json(opening)
    while not listener.overflowed:
        try:
            item = await asyncio.wait_for(listener.queue.get(), HEARTBEAT_SECONDS)
        except TimeoutError:
            await websocket.send_json({"type": "ping"})
            continue
        if item.id <= feed.last_sent:
            continue
        try:
            message = await feed.message_for(item)
        except Exception:
            logger.exception("Could not prepare a dashboard update")
            continue
        feed.last_sent = item.id
        if message is not None:
            await websocket.send_json(message)


async def _while_signed_in(websocket: WebSocket, state: AppState) -> None:
    """Returns once the feed's session has ended (the feed is then closed)."""
    while True:
        await asyncio.sleep(SESSION_CHECK_SECONDS)
        try:
            if await websocket_operator(websocket, state) is None:
                return
        except Exception:  # the database is away: the feed goes on, the next check decides
            logger.warning("Could not check a dashboard feed's sign-in")


async def _until_closed(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


def _same_origin(websocket: WebSocket) -> bool:
    """A browser always sends Origin: refuse other sites' pages (cross-site websocket hijacking).
    Host names are compared without ports (a proxy's `Host $host` drops the port)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    host = urlsplit("//" + websocket.headers.get("host", "")).hostname
    return host is not None and urlsplit(origin).hostname == host


def _event_id(value: str | None) -> int | None:
    """`after`, the last feed event a reconnecting browser saw; anything else (None) gets a
    fresh snapshot, as an `after` the feed no longer holds does."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    return int(value)

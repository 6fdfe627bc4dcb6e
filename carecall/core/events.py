"""Call events and the bus that fans them out (to the dashboard, metrics, other instances), and
the numbered feed that dashboards read.

The bus is a small interface: `InProcessEventBus` is the embedded default; another transport
(e.g. Redis pub/sub, `pipeline.redis_bus`) implements the same two methods. Every part of
carecall publishes here (calls, the check-in program, alerts), so the bus lives in the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from loguru import logger

EventKind = Literal[
    "call.status",
    "call.turn",
    "call.error",
    "call.media",
    "call.figure",
    "call.step",
    "checkin.updated",
    "escalation.updated",
    "alert.updated",
    "handover.signal",
]
"""`call.*` events are about the call `call_id`. The check-in program's events carry the senior
(`data["senior_id"]`) and the check-in, escalation or alert (`alert.updated`: raised or
acknowledged, `data["alert_id"]`); their `call_id` is the call concerned, or `NO_CALL`.
`handover.signal` carries a caregiver's webhook to the instance running that call's hand-over
(`calls.handover`); it is shown nowhere."""

NO_CALL = 0


@dataclass(frozen=True)
class CallEvent:
    """Something that happened to one call. `data` is JSON-ready."""

    kind: EventKind
    call_id: int
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["data"] = {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.data.items()
        }
        return payload


class EventBus(Protocol):
    async def publish(self, event: CallEvent) -> None: ...

    def subscribe(self) -> contextlib.AbstractAsyncContextManager[AsyncIterator[CallEvent]]: ...


class InProcessEventBus:
    """Fan-out to subscribers in this process. A slow subscriber loses its oldest events
    rather than slowing the publisher (the publisher is a call's recorder)."""

    def __init__(self, subscriber_queue_size: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[CallEvent]] = set()
        self._queue_size = subscriber_queue_size

    async def publish(self, event: CallEvent) -> None:
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
                logger.warning("Event subscriber too slow; dropped its oldest event")
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[AsyncIterator[CallEvent]]:
        queue: asyncio.Queue[CallEvent] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)

        async def events() -> AsyncIterator[CallEvent]:
            while True:
                yield await queue.get()

        try:
            yield events()
        finally:
            self._subscribers.discard(queue)


@dataclass(frozen=True)
class NumberedEvent:
    """A bus event as the dashboard sees it: numbered in the order this process received it."""

    id: int
    event: CallEvent


class FeedListener:
    """One reader of an `EventFeed` (a dashboard websocket). If it falls `capacity` events
    behind it is marked `overflowed` and should reconnect and catch up from the replay buffer."""

    def __init__(self, capacity: int) -> None:
        self.queue: asyncio.Queue[NumberedEvent] = asyncio.Queue(capacity)
        self.overflowed = False

    def _offer(self, item: NumberedEvent) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class EventFeed:
    """The bus's events numbered 1, 2, 3… with the most recent ones kept for replay.

    A dashboard that lost its connection reconnects with the last id it saw and is sent what it
    missed (`since`); if that is older than the buffer, it takes a fresh snapshot instead. Ids
    belong to this process: `stream` names the numbering, so a client that reconnects to another
    process (or after a restart) knows its id means nothing here.
    """

    def __init__(self, bus: EventBus, capacity: int = 5000, listener_capacity: int = 1000) -> None:
        self.stream = secrets.token_hex(6)
        self._bus = bus
        self._buffer: deque[NumberedEvent] = deque(maxlen=capacity)
        self._listeners: set[FeedListener] = set()
        self._listener_capacity = listener_capacity
        self._last_id = 0
        self._stack = contextlib.AsyncExitStack()
        self._task: asyncio.Task[None] | None = None

    @property
    def last_id(self) -> int:
        return self._last_id

    async def start(self) -> None:
        """Subscribe now (no event published after this returns is missed) and start reading."""
        events = await self._stack.enter_async_context(self._bus.subscribe())
        self._task = asyncio.create_task(self._run(events), name="dashboard-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._stack.aclose()

    def append(self, event: CallEvent) -> NumberedEvent:
        self._last_id += 1
        item = NumberedEvent(self._last_id, event)
        self._buffer.append(item)
        for listener in self._listeners:
            listener._offer(item)
        return item

    def buffered(self) -> list[NumberedEvent]:
        """Every event still in the replay buffer, oldest first."""
        return list(self._buffer)

    def since(self, after: int) -> list[NumberedEvent] | None:
        """The events after id `after`, or None when some of them are no longer buffered."""
        if after > self._last_id or after < 0:
            return None
        oldest = self._buffer[0].id if self._buffer else self._last_id + 1
        if after + 1 < oldest:
            return None
        return [item for item in self._buffer if item.id > after]

    @contextlib.contextmanager
    def listen(self) -> Iterator[FeedListener]:
        """Receive every event appended from now on."""
        listener = FeedListener(self._listener_capacity)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)

    async def _run(self, events: AsyncIterator[CallEvent]) -> None:
        async for event in events:
            self.append(event)

"""Call events and the bus that fans them out (to the dashboard, metrics, other instances).

The bus is a small interface: `InProcessEventBus` is the embedded default; another transport
(e.g. Redis pub/sub) implements the same two methods.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from loguru import logger

from persistence.models import TurnRole

EventKind = Literal["call.status", "call.turn", "call.error", "call.media"]


@dataclass(frozen=True)
class TurnRecord:
    """One finished utterance of the caller or the bot, in call order."""

    call_id: int
    sequence: int
    role: TurnRole
    text: str
    started_at: datetime
    ended_at: datetime | None
    interrupted: bool = False
    latency_ms: int | None = None

    def to_event(self) -> CallEvent:
        data = asdict(self)
        data["role"] = self.role.value
        del data["call_id"]
        return CallEvent("call.turn", self.call_id, data)


@dataclass(frozen=True)
class CallNote:
    """A fact about the call learnt during the conversation: an error, or why it ended."""

    call_id: int
    error: str | None = None
    end_reason: str | None = None


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

"""`RedisEventBus`: the event bus shared by every server instance, over Redis pub/sub.

A dashboard connected to instance A sees the live turns of a call running on instance B: each
instance publishes its events on one Redis channel and hears everyone else's there.

The real-time path never waits on Redis. `publish` hands the event to this process's own
subscribers at once (exactly as `InProcessEventBus` does) and queues it, serialized, for one
background publisher task; the queue is bounded and drops its oldest event when full. One
subscriber connection per process receives the other instances' events and fans them out to the
local subscribers; an event this process published comes back from Redis too and is skipped
(it was delivered locally already, once). When Redis goes away, events are dropped with one
warning, both tasks reconnect with backoff, and calls carry on as if nothing happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, cast, get_args
from urllib.parse import urlsplit

from loguru import logger
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from carecall.core.events import CallEvent, EventKind, InProcessEventBus

DEFAULT_CHANNEL = "carecall:events"
_KINDS = frozenset(get_args(EventKind))
_DATETIME = "$datetime"
_FORMAT = 1


class RedisEventBus:
    """The `EventBus` over Redis pub/sub. `start()` before use, `stop()` at shutdown."""

    def __init__(
        self,
        url: str,
        *,
        channel: str = DEFAULT_CHANNEL,
        outbox_size: int = 1000,
        subscriber_queue_size: int = 1000,
        connect_timeout: float = 2.0,
        backoff_start: float = 0.1,
        backoff_max: float = 5.0,
    ) -> None:
        self.channel = channel
        self.origin = secrets.token_hex(8)
        """Names this process on the channel, so that it skips its own events coming back."""
        self.where = redacted_url(url)
        """The Redis server as it may be logged: no user name or password."""
        self._events = InProcessEventBus(subscriber_queue_size)
        self._own = InProcessEventBus(subscriber_queue_size)
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(outbox_size)
        self._connect_timeout = connect_timeout
        self._backoff_start = backoff_start
        self._backoff_max = backoff_max
        # No retries inside redis-py: the two loops below reconnect, with backoff, themselves.
        self._redis = Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=5.0,
            health_check_interval=10,
            retry=Retry(NoBackoff(), 0),
        )
        self._subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0
        """Events of this process that never reached Redis (it was down, or the queue full)."""

    # --- the EventBus interface ---------------------------------------------------------------

    async def publish(self, event: CallEvent) -> None:
        """Deliver `event` here now and queue it for the other instances (never waits)."""
        await self._events.publish(event)
        await self._own.publish(event)
        try:
            payload = encode(event, self.origin)
        except (TypeError, ValueError) as exc:
            logger.error(f"A {event.kind} event can't be sent to other instances: {exc}")
            return
        if self._outbox.full():
            self._outbox.get_nowait()
            self._outbox.task_done()
            self._drop("the queue to Redis is full")
        self._outbox.put_nowait(payload)

    def subscribe(self) -> contextlib.AbstractAsyncContextManager[AsyncIterator[CallEvent]]:
        """Every event: this process's and the other instances'."""
        return self._events.subscribe()

    @property
    def own_events(self) -> InProcessEventBus:
        """The events published in this process only: for per-process counts (metrics), which
        would count every event once per instance if they heard the others' too."""
        return self._own

    # --- running ------------------------------------------------------------------------------

    async def start(self, ready_within: float = 3.0) -> None:
        """Start publishing and listening. Returns once subscribed (no other instance's event
        published after that is missed), or after `ready_within` seconds when Redis can't be
        reached yet; events then flow once it can."""
        self._tasks = [
            asyncio.create_task(self._publish_forever(), name="redis-events-publisher"),
            asyncio.create_task(self._listen_forever(), name="redis-events-subscriber"),
        ]
        try:
            await asyncio.wait_for(self._subscribed.wait(), ready_within)
        except TimeoutError:
            logger.warning(
                f"Redis at {self.where} is not reachable yet: live call events are shared "
                "with other instances once it is."
            )

    async def stop(self, flush_within: float = 1.0) -> None:
        """Send what is still queued (for up to `flush_within` seconds), then stop."""
        if self._tasks and self._subscribed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), flush_within)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()

    async def ping(self) -> None:
        """Raise unless Redis answers (for readiness checks; the caller bounds the wait)."""
        await self._redis.ping()

    @property
    def connected(self) -> bool:
        """Whether this process is subscribed to the channel right now."""
        return self._subscribed.is_set()

    # --- the two background tasks -------------------------------------------------------------

    async def _publish_forever(self) -> None:
        delay = self._backoff_start
        failing = False
        while True:
            payload = await self._outbox.get()
            try:
                await self._redis.publish(self.channel, payload)
            except (RedisError, OSError) as exc:
                if not failing:
                    logger.warning(
                        f"Could not publish call events to Redis at {self.where} "
                        f"({type(exc).__name__}); other instances miss this one's events "
                        "until it is back."
                    )
                failing = True
                self.dropped += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
            else:
                if failing:
                    logger.info(f"Publishing call events to Redis at {self.where} again")
                failing = False
                delay = self._backoff_start
            finally:
                self._outbox.task_done()

    async def _listen_forever(self) -> None:
        delay = self._backoff_start
        failing = False
        while True:
            pubsub = self._redis.pubsub()
            try:
                await self._subscribe(pubsub)
                if failing:
                    logger.info(f"Receiving other instances' call events from {self.where} again")
                failing = False
                delay = self._backoff_start
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        await self._receive(message["data"])
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                if not failing:
                    logger.warning(
                        f"Lost the subscription to call events on Redis at {self.where} "
                        f"({type(exc).__name__}); reconnecting."
                    )
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    async def _subscribe(self, pubsub: PubSub) -> None:
        """Subscribe and wait for Redis to confirm it: from then on nothing is missed."""
        await pubsub.subscribe(self.channel)
        deadline = asyncio.get_running_loop().time() + self._connect_timeout + 5.0
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None and message.get("type") == "subscribe":
                self._subscribed.set()
                return
            if asyncio.get_running_loop().time() > deadline:
                raise RedisError("Redis did not confirm the subscription")

    async def _receive(self, payload: bytes) -> None:
        try:
            origin, event = decode(payload)
        except ValueError as exc:
            # Anyone who can reach Redis can publish here: a bad message is skipped, not fatal.
            logger.warning(f"Skipped a message on {self.channel} that is not a call event: {exc}")
            return
        if origin != self.origin:
            await self._events.publish(event)

    def _drop(self, why: str) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            logger.warning(f"Dropped call events bound for Redis ({why}; {self.dropped} so far)")


# --- the wire format ----------------------------------------------------------------------------


def encode(event: CallEvent, origin: str) -> bytes:
    """`event` as JSON; datetimes are tagged so that they come back as datetimes."""
    message = {
        "v": _FORMAT,
        "origin": origin,
        "kind": event.kind,
        "call_id": event.call_id,
        "data": event.data,
    }
    return json.dumps(message, default=_tag, separators=(",", ":")).encode()


def decode(payload: bytes | str) -> tuple[str, CallEvent]:
    """(origin, event) from `encode`'s JSON; `ValueError` when it is anything else."""
    try:
        message = json.loads(payload, object_hook=_untag)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(message, dict) or message.get("v") != _FORMAT:
        raise ValueError("unknown format")
    origin, kind, call_id, data = (
        message.get("origin"),
        message.get("kind"),
        message.get("call_id"),
        message.get("data"),
    )
    if not isinstance(origin, str) or kind not in _KINDS:
        raise ValueError(f"unknown origin or kind {kind!r}")
    if not isinstance(call_id, int) or isinstance(call_id, bool) or not isinstance(data, dict):
        raise ValueError("call_id must be a number and data an object")
    return origin, CallEvent(cast(EventKind, kind), call_id, data)


def _tag(value: object) -> object:
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _untag(obj: dict[str, Any]) -> object:
    if len(obj) == 1 and isinstance(moment := obj.get(_DATETIME), str):
        try:
            return datetime.fromisoformat(moment)
        except ValueError:
            return obj
    return obj


def redacted_url(url: str) -> str:
    """`redis://user:secret@host:6379/0` → `redis://host:6379/0`: fit for logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"

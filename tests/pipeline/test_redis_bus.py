"""`RedisEventBus` against the real Redis: two buses are two server instances. Every kind of
event crosses intact (a turn's datetimes too), each event reaches each subscriber once, and a
Redis that goes away never blocks or breaks a publisher; the bus comes back with Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args

import pytest
from loguru import logger
from redis.asyncio import Redis

from carecall.calls.handover import LegSignal
from carecall.core.events import CallEvent, EventBus, EventFeed, EventKind, InProcessEventBus
from carecall.persistence.models import TurnRole
from carecall.pipeline.events import CallFigure, StepRecord, TurnRecord
from carecall.pipeline.redis_bus import RedisEventBus, decode, encode, redacted_url
from tests.redis_support import TEST_REDIS_URL, TcpProxy, closed_port, redis_url_via, unique_channel

BusFactory = Callable[..., RedisEventBus]


@pytest.fixture
async def buses() -> AsyncIterator[BusFactory]:
    """Make started buses on this test's own channel; all closed at the end."""
    channel = unique_channel()
    made: list[RedisEventBus] = []

    def make(url: str = TEST_REDIS_URL, **options: Any) -> RedisEventBus:
        bus = RedisEventBus(url, channel=channel, backoff_max=0.2, **options)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.stop(flush_within=0.1)


@asynccontextmanager
async def collecting(bus: RedisEventBus) -> AsyncIterator[list[CallEvent]]:
    """Everything `bus` delivers to a local subscriber, gathered in the background."""
    received: list[CallEvent] = []
    async with AsyncExitStack() as stack:
        events = await stack.enter_async_context(bus.subscribe())

        async def gather() -> None:
            async for event in events:
                received.append(event)

        task = asyncio.create_task(gather())
        try:
            yield received
        finally:
            task.cancel()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


def every_kind_of_event() -> list[CallEvent]:
    started = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
    turns = [
        TurnRecord(7, 1, TurnRole.ASSISTANT, "Good morning!", started, started, False, 812),
        TurnRecord(7, 2, TurnRole.USER, "2026-03-01 is today", started, None, True, None),
    ]
    events = [
        CallEvent("call.status", 7, {"status": "in-progress", "duration_seconds": None}),
        *(turn.to_event() for turn in turns),
        CallEvent("call.error", 7, {"error": "STT timed out"}),
        CallEvent("call.media", 7, {"state": "ended", "reason": "bot-hangup"}),
        CallFigure(7, "caller_words", 12).to_event(),
        CallEvent("checkin.updated", 7, {"senior_id": 3, "checkin_id": 9, "attempts": 1}),
        CallEvent("escalation.updated", 0, {"senior_id": 3, "escalation_id": 4, "step": 2}),
        CallEvent("alert.updated", 7, {"senior_id": 3, "alert_id": 5, "state": "open"}),
        StepRecord(7, 1, "dialling", "Calling Tom Jones to take the call.", started).to_event(),
        LegSignal(7, 0, "CA" + "c" * 32, digits="1").to_event(),
    ]
    assert {event.kind for event in events} == set(get_args(EventKind))
    return events


def test_the_wire_format_keeps_datetimes_and_strings_apart() -> None:
    paris = timezone(timedelta(hours=1))
    event = CallEvent(
        "call.turn", 1, {"started_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=paris), "text": "x"}
    )
    event_with_date_text = CallEvent("call.turn", 1, {"text": "2026-01-02T03:04:05+01:00"})
    assert decode(encode(event, "me")) == ("me", event)
    assert decode(encode(event_with_date_text, "me")) == ("me", event_with_date_text)
    for garbage in (b"nope", b"[]", b'{"v": 1}', b'{"v":1,"origin":"a","kind":"x","call_id":1}'):
        with pytest.raises(ValueError):
            decode(garbage)


def test_a_redis_url_is_logged_without_its_password() -> None:
    where = redacted_url("redis://carecall:s3cret@redis.internal:6380/2")
    assert where == "redis://redis.internal:6380/2"
    assert redacted_url("rediss://:s3cret@redis.internal/0") == "rediss://redis.internal/0"


async def test_every_kind_of_event_crosses_to_the_other_instance_intact(
    buses: BusFactory,
) -> None:
    a, b = buses(), buses()
    await a.start()
    await b.start()
    sent = every_kind_of_event()
    async with collecting(b) as on_b:
        for event in sent:
            await a.publish(event)
        await until(lambda: len(on_b) == len(sent))
    assert on_b == sent
    turn = on_b[1].data
    assert isinstance(turn["started_at"], datetime) and turn["started_at"].tzinfo is not None
    assert turn["ended_at"] == turn["started_at"]
    assert on_b[2].data["ended_at"] is None
    assert on_b[2].data["text"] == "2026-03-01 is today"


async def test_each_subscriber_gets_each_event_once_its_own_included(buses: BusFactory) -> None:
    a, b, witness = buses(), buses(), buses()
    for bus in (a, b, witness):
        await bus.start()
    async with collecting(a) as on_a, collecting(b) as on_b, collecting(witness) as seen:
        for n in range(5):
            await a.publish(CallEvent("call.status", 100 + n, {"status": "ringing"}))
        for n in range(3):
            await b.publish(CallEvent("call.status", 200 + n, {"status": "ringing"}))
        await until(lambda: len(seen) == 8)
        # The witness has them all: Redis has sent a's and b's own events back to them too.
        await asyncio.sleep(0.3)
    ids = list(range(100, 105)) + list(range(200, 203))
    assert sorted(event.call_id for event in on_a) == ids
    assert sorted(event.call_id for event in on_b) == ids
    # Own events are delivered at once, in order, before any round trip.
    assert [e.call_id for e in on_a if e.call_id < 200] == list(range(100, 105))


async def test_a_message_that_is_not_an_event_is_skipped(buses: BusFactory) -> None:
    bus = buses()
    await bus.start()
    async with collecting(bus) as received, Redis.from_url(TEST_REDIS_URL) as intruder:
        await intruder.publish(bus.channel, b"\x00 not json")
        await intruder.publish(bus.channel, b'{"v":1,"origin":"x","kind":"rm -rf","call_id":1}')
        await intruder.publish(bus.channel, encode(CallEvent("call.error", 5, {}), "elsewhere"))
        await until(lambda: len(received) == 1)
    assert received == [CallEvent("call.error", 5, {})]
    assert bus.connected


async def test_when_redis_goes_away_publishing_neither_blocks_nor_fails_and_it_recovers(
    buses: BusFactory,
) -> None:
    proxy = TcpProxy()
    await proxy.start()
    try:
        a = buses(redis_url_via(proxy.port), subscriber_queue_size=5000)
        b = buses()
        await a.start()
        await b.start()
        assert a.connected
        async with collecting(a) as on_a, collecting(b) as on_b:
            await a.publish(CallEvent("call.status", 1, {"status": "ringing"}))
            await until(lambda: len(on_b) == 1)

            await proxy.stop()  # Redis is gone, as far as instance a can tell
            await until(lambda: not a.connected)
            began = time.perf_counter()
            for n in range(2000):
                await a.publish(CallEvent("call.status", 1000 + n, {"status": "in-progress"}))
            assert time.perf_counter() - began < 0.5  # no waiting on Redis, no exception
            await until(lambda: len(on_a) == 2001)  # this instance's own subscribers hear all
            await until(lambda: a.dropped >= 1000)  # the queue to Redis is bounded

            await proxy.start()  # the same port: Redis is back
            await until(lambda: a.connected, timeout=10)
            await a.publish(CallEvent("call.status", 2, {"status": "completed"}))
            await until(lambda: any(e.call_id == 2 for e in on_b), timeout=10)
            await b.publish(CallEvent("call.status", 3, {"status": "completed"}))
            await until(lambda: any(e.call_id == 3 for e in on_a))
    finally:
        await proxy.stop()


async def test_a_killed_subscriber_connection_is_reopened(buses: BusFactory) -> None:
    name = f"carecall-test-{time.monotonic_ns()}"
    a = buses(f"{TEST_REDIS_URL}?client_name={name}")
    b = buses()
    await a.start()
    await b.start()
    async with Redis.from_url(TEST_REDIS_URL, decode_responses=True) as admin:
        ours = [c for c in await admin.client_list() if c.get("name") == name]
        assert ours
        for client in ours:
            await admin.client_kill_filter(_id=client["id"])
    await until(lambda: not a.connected)
    async with collecting(a) as on_a:
        deadline = time.monotonic() + 10
        while not any(e.call_id == 9 for e in on_a):  # b publishes until a hears it again
            assert time.monotonic() < deadline, "the subscription never came back"
            await b.publish(CallEvent("call.status", 9, {"status": "ringing"}))
            await asyncio.sleep(0.1)


async def test_with_no_redis_at_all_the_bus_starts_and_keeps_working_locally(
    buses: BusFactory,
) -> None:
    logs: list[str] = []
    sink = logger.add(logs.append, level="WARNING", format="{message}")
    bus = buses(f"redis://:hunter2@127.0.0.1:{closed_port()}/0", outbox_size=10)
    began = time.perf_counter()
    try:
        await bus.start(ready_within=0.3)
    finally:
        logger.remove(sink)
    assert time.perf_counter() - began < 1.0
    assert not bus.connected
    async with collecting(bus) as received:
        for n in range(50):
            await bus.publish(CallEvent("call.status", n, {"status": "queued"}))
        await until(lambda: len(received) == 50)
    assert bus.dropped >= 40
    with pytest.raises(Exception):  # noqa: B017 - whichever connection error redis-py raises
        await asyncio.wait_for(bus.ping(), 2)
    assert any("is not reachable yet" in line for line in logs)
    assert not any("hunter2" in line for line in logs)


@pytest.fixture(params=["in-process", "redis"])
async def any_bus(request: pytest.FixtureRequest, buses: BusFactory) -> EventBus:
    """The embedded bus and the Redis bus: one interface, the same behaviour."""
    if request.param == "in-process":
        return InProcessEventBus()
    bus = buses()
    await bus.start()
    return bus


async def test_either_bus_gives_each_subscriber_every_event_once_in_order(
    any_bus: EventBus,
) -> None:
    sent = [CallEvent("call.status", n, {"status": "ringing"}) for n in range(50)]
    async with any_bus.subscribe() as first, any_bus.subscribe() as second:
        for event in sent:
            await any_bus.publish(event)
        for events in (first, second):
            assert [await asyncio.wait_for(anext(events), 2) for _ in sent] == sent
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(first), 0.3)  # and nothing more


async def test_either_bus_feeds_the_dashboards_numbered_replay_buffer(any_bus: EventBus) -> None:
    feed = EventFeed(any_bus, capacity=3)
    await feed.start()
    try:
        with feed.listen() as listener:
            for n in range(1, 6):
                await any_bus.publish(CallEvent("call.status", n, {"status": "ringing"}))
            received = [await asyncio.wait_for(listener.queue.get(), 2) for _ in range(5)]
        assert [(item.id, item.event.call_id) for item in received] == [(n, n) for n in range(1, 6)]
        assert [item.id for item in feed.since(2) or []] == [3, 4, 5]
    finally:
        await feed.stop()

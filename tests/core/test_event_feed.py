"""`EventFeed`: the bus's events numbered, a bounded replay buffer, and listeners."""

from __future__ import annotations

import asyncio

from carecall.core.events import CallEvent, EventFeed, InProcessEventBus


def _event(n: int) -> CallEvent:
    return CallEvent("call.status", n, {"status": "ringing"})


async def test_events_are_numbered_and_replayable_until_they_fall_out() -> None:
    bus = InProcessEventBus()
    feed = EventFeed(bus, capacity=3)
    await feed.start()
    try:
        with feed.listen() as listener:
            for n in range(1, 6):
                await bus.publish(_event(n))
            received = [await asyncio.wait_for(listener.queue.get(), 1) for _ in range(5)]
        assert [item.id for item in received] == [1, 2, 3, 4, 5]
        assert [item.event.call_id for item in received] == [1, 2, 3, 4, 5]
        assert feed.last_id == 5

        assert [item.id for item in feed.since(2) or []] == [3, 4, 5]
        assert [item.id for item in feed.since(4) or []] == [5]
        assert feed.since(5) == []
        assert feed.since(1) is None  # event 2 is gone: take a snapshot
        assert feed.since(6) is None  # not ours (another process, or before a restart)
    finally:
        await feed.stop()


async def test_a_listener_that_falls_behind_is_marked_not_blocking() -> None:
    bus = InProcessEventBus()
    feed = EventFeed(bus, listener_capacity=2)
    await feed.start()
    try:
        with feed.listen() as slow:
            for n in range(4):
                await bus.publish(_event(n))
            await asyncio.sleep(0.05)
            assert slow.overflowed
            assert slow.queue.qsize() == 2
        assert feed.last_id == 4
    finally:
        await feed.stop()


def test_a_new_feed_has_nothing_to_replay() -> None:
    feed = EventFeed(InProcessEventBus())
    assert feed.since(0) == []
    assert feed.since(3) is None
    assert feed.stream != EventFeed(InProcessEventBus()).stream

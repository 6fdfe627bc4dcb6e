"""`ActiveCalls`: what ended calls leave in reference cycles is reclaimed soon after."""

from __future__ import annotations

import asyncio
import gc
import weakref

from calls.conversation import ActiveCalls


class _Node:
    def __init__(self) -> None:
        self.peer: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.peer, b.peer = b, a
    return weakref.ref(a)


async def _idle() -> None:
    await asyncio.sleep(3600)


async def test_cycles_left_by_an_ended_call_are_collected_soon_after() -> None:
    gc.disable()  # only ActiveCalls may collect here
    try:
        calls = ActiveCalls(collect_every=0.3, settle=0.05)
        task = asyncio.create_task(_idle())
        calls.started(7, task)
        assert len(calls) == 1

        left = _cycle()
        task.cancel()
        calls.ended(7)
        assert len(calls) == 0
        assert left() is not None  # not during the call's own teardown
        await asyncio.sleep(0.15)
        assert left() is None

        # Calls ending in a burst share one pass, no sooner than `collect_every` after the last.
        second, third = _cycle(), _cycle()
        calls.ended(8)
        calls.ended(9)
        await asyncio.sleep(0.1)
        assert second() is not None and third() is not None
        await asyncio.sleep(0.3)
        assert second() is None and third() is None
    finally:
        gc.enable()

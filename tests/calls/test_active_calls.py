"""`ActiveCalls`: what ended calls leave in reference cycles is reclaimed soon after; a running
call's control handle (an answering machine took it: leave a message) is found by its id."""

from __future__ import annotations

import asyncio
import gc
import weakref

from carecall.calls.conversation import ActiveCalls, CallControl, Ending
from carecall.core.end_reasons import VOICEMAIL_REASON
from carecall.processors.voicemail import VoicemailDrop


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


async def test_a_running_calls_control_is_found_while_it_runs() -> None:
    calls = ActiveCalls()
    task = asyncio.create_task(_idle())
    ending = Ending()
    control = CallControl(ending, VoicemailDrop(), "Sorry we missed you.")
    calls.started(7, task)
    calls.attach(7, control)
    assert calls.control(7) is control and calls.control(8) is None

    # The bot is already saying goodbye: no message is left, the first reason stands.
    ending.bot_ends_call("caller said goodbye")
    assert await control.leave_voicemail() is False
    assert ending.reason == "bot-hangup: caller said goodbye" and ending.bot_hangs_up

    task.cancel()
    calls.ended(7)
    assert calls.control(7) is None


async def test_leaving_a_voicemail_is_the_end_reason_and_a_hang_up() -> None:
    ending = Ending()
    drop = VoicemailDrop()
    control = CallControl(ending, drop, "Sorry we missed you.")
    assert await control.leave_voicemail() is True  # (the pipeline not started: kept for it)
    assert drop.leaving
    assert ending.reason == VOICEMAIL_REASON and ending.bot_hangs_up and not ending.opted_out
    ending.bot_ends_call("too late")
    assert ending.reason == VOICEMAIL_REASON


def test_an_opt_out_is_remembered_for_the_record_writer() -> None:
    ending = Ending()
    ending.bot_ends_call_opted_out("asked not to be called again")
    assert ending.opted_out and ending.reason == "bot-hangup: asked not to be called again"
    assert ending.bot_hangs_up
    assert not Ending("caller-hangup").bot_hangs_up


async def test_a_suspected_machine_silences_the_call_unless_it_is_already_ending() -> None:
    control = CallControl(Ending(), VoicemailDrop(), "Sorry we missed you.", "CA1")
    assert await control.suspect_machine() is True
    assert control.voicemail.gate.closed and control.ending.reason is None  # the beep is to come
    assert await control.suspect_machine() is False
    assert await control.leave_voicemail() is True
    assert control.ending.reason == VOICEMAIL_REASON

    ending = Ending()
    ending.bot_ends_call("caller said goodbye")
    assert await CallControl(ending, VoicemailDrop(), "x", "CA2").suspect_machine() is False

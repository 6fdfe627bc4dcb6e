"""`GracefulShutdown.drain`: the instance stops taking work, waits for its calls within the
grace, then asks those still running to say goodbye, and cancels any that won't end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from carecall.calls.conversation import ActiveCalls, CallControl, Ending
from carecall.calls.recorder import RecordWriter
from carecall.calls.shutdown import GracefulShutdown
from carecall.core.end_reasons import SHUTDOWN_REASON
from carecall.core.events import InProcessEventBus
from carecall.observability.health import Readiness
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.repositories import CallRepository
from carecall.processors.voicemail import VoicemailDrop

GOODBYE = "I have to go now. Goodbye!"


class Instance:
    def __init__(self, readiness: Readiness, writer: RecordWriter) -> None:
        self.readiness = readiness
        self.writer = writer
        self.active = ActiveCalls()
        self.stopped_taking_work = False

    def shutdown(self, *, grace: float, wrap_up_wait: float = 1.0) -> GracefulShutdown:
        def stop() -> None:
            self.stopped_taking_work = True

        return GracefulShutdown(
            readiness=self.readiness,
            active_calls=self.active,
            writer=self.writer,
            goodbye=GOODBYE,
            grace=grace,
            stop_taking_work=stop,
            wrap_up_wait=wrap_up_wait,
        )

    def call(self, call_id: int, ends: Callable[[Ending], bool]) -> CallControl:
        """A running call that ends once ``ends(its ending)`` says so."""
        control = CallControl(Ending(), VoicemailDrop(), "voicemail")

        async def run() -> None:
            try:
                while True:  # polls: a conversation notices its ending at its next frame
                    if ends(control.ending):
                        return
                    await asyncio.sleep(0.01)
            finally:
                self.active.ended(call_id)

        self.active.started(call_id, asyncio.create_task(run()))
        self.active.attach(call_id, control)
        return control


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}")
    writer = RecordWriter(CallRepository(create_session_factory(engine)), InProcessEventBus())
    await writer.start()
    yield Instance(Readiness(engine), writer)
    await writer.stop()
    await engine.dispose()


async def test_calls_that_end_within_the_grace_are_left_alone(instance: Instance) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.2
    control = instance.call(1, lambda _ending: loop.time() > deadline)
    started = loop.time()
    await instance.shutdown(grace=5).drain()
    assert loop.time() - started < 2
    assert instance.readiness.shutting_down and instance.stopped_taking_work
    assert control.ending.reason is None and not control.voicemail.leaving
    assert len(instance.active) == 0


async def test_calls_still_running_after_the_grace_say_goodbye(instance: Instance) -> None:
    control = instance.call(1, lambda ending: ending.reason is not None)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await instance.shutdown(grace=0.3).drain()
    assert loop.time() - started >= 0.3
    assert control.ending.reason == f"bot-hangup: {SHUTDOWN_REASON}"
    assert control.ending.bot_hangs_up  # hung up through Twilio too
    assert control.voicemail.leaving
    assert len(instance.active) == 0


async def test_a_call_ending_for_another_reason_is_not_told_twice(instance: Instance) -> None:
    control = instance.call(1, lambda _ending: False)
    control.ending.reason = "transferred to caregiver"
    await instance.shutdown(grace=0.1, wrap_up_wait=0.2).drain()
    assert control.ending.reason == "transferred to caregiver"
    assert not control.voicemail.leaving
    assert len(instance.active) == 0  # it would not end: cancelled, and recorded as ended

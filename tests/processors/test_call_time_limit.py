"""`CallTimeLimit`: a wrap-up note, then a goodbye and the end of the pipeline."""

from __future__ import annotations

import asyncio

import pytest
from pipecat.frames.frames import (
    EndFrame,
    EndWorkerFrame,
    LLMMessagesAppendFrame,
    TextFrame,
    TTSSpeakFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from carecall.processors.call_time_limit import CallTimeLimit

NOTE = "Time is nearly up: say goodbye and call end_call."
GOODBYE = "I'll let you go now. Goodbye!"


def _limit(calls: list[str], **overrides: float) -> CallTimeLimit:
    durations = {"wrap_up_after": 0.05, "end_after": 0.15, **overrides}
    return CallTimeLimit(
        **durations,
        wrap_up_note=NOTE,
        goodbye=GOODBYE,
        on_time_up=lambda: calls.append("time up"),
    )


def _other_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_wrap_up_note_then_goodbye_then_the_pipeline_ends() -> None:
    calls: list[str] = []
    hello = TextFrame("hello")
    # No EndFrame is sent: the time limit itself must end the pipeline.
    down, _up = await asyncio.wait_for(
        run_test(
            _limit(calls),
            frames_to_send=[hello],
            send_end_frame=False,
            # The processor's EndWorkerFrame reaches the sink; the worker sends it back
            # upstream and answers it with an EndFrame.
            expected_down_frames=[
                TextFrame,
                LLMMessagesAppendFrame,
                TTSSpeakFrame,
                EndWorkerFrame,
                EndFrame,
            ],
            expected_up_frames=[EndWorkerFrame],
        ),
        timeout=5,
    )
    assert down[0] is hello
    note, goodbye, end_worker, end = down[1:]
    assert isinstance(note, LLMMessagesAppendFrame)
    assert note.messages == [{"role": "system", "content": NOTE}]
    assert note.run_llm is False
    assert isinstance(goodbye, TTSSpeakFrame)
    assert goodbye.text == GOODBYE
    assert goodbye.interruptible is False
    assert isinstance(end_worker, EndWorkerFrame)
    assert end_worker.reason == "maximum call length"
    assert isinstance(end, EndFrame)
    assert end.reason == "maximum call length"
    assert calls == ["time up"]
    assert not _other_tasks()


async def test_the_note_arrives_before_the_goodbye_in_time() -> None:
    calls: list[str] = []
    # Ended by us between the note and the goodbye: only the note was sent.
    down, _ = await run_test(
        _limit(calls, wrap_up_after=0.05, end_after=0.5),
        frames_to_send=[SleepFrame(sleep=0.2)],
        expected_down_frames=[LLMMessagesAppendFrame],
        expected_up_frames=[],
    )
    assert isinstance(down[0], LLMMessagesAppendFrame)
    assert down[0].messages == [{"role": "system", "content": NOTE}]
    assert calls == []
    await asyncio.sleep(0.45)
    assert calls == []
    assert not _other_tasks()


async def test_a_call_that_ends_early_gets_nothing_and_leaks_no_timer() -> None:
    calls: list[str] = []
    limit = _limit(calls)
    await run_test(
        limit,
        frames_to_send=[TextFrame("bye")],
        expected_down_frames=[TextFrame],
        expected_up_frames=[],
    )
    assert not _other_tasks()
    await asyncio.sleep(0.25)  # well past end_after
    assert calls == []


@pytest.mark.parametrize(("wrap_up_after", "end_after"), [(5.0, 5.0), (6.0, 5.0), (0.0, 5.0)])
def test_invalid_durations_are_refused(wrap_up_after: float, end_after: float) -> None:
    with pytest.raises(ValueError):
        CallTimeLimit(
            wrap_up_after=wrap_up_after, end_after=end_after, wrap_up_note=NOTE, goodbye=GOODBYE
        )

"""What every channel's calls share: one lifecycle, from the stored call to its end.

A call is stored (`create`), answered (`connected`: in progress from then), may be hung up from
the dashboard or the API (`hang_up`), is over (`finished`: completed, or failed if never
answered), and what still runs of it ends with the server (`aclose`). Each move is stored and
published on the bus (`call.status`) the same way whatever the channel, and a final status
tells the final listeners (`on_call_final`). A channel adds only its transport and handshake:

| channel | class | transport and handshake | connected, finished | hang up |
|---|---|---|---|---|
| phone | `calls.service.CallService` | Twilio dials; its media stream on `/ws` (`api.media`) | Twilio's status callbacks | Twilio's REST API ends the call |
| browser | `calls.browser.BrowserCalls` | WebRTC offer and answer | the browser's audio connects; the talk ends | the conversation is cancelled |
| demo | `calls.demo.DemoCalls` | a simulated senior's media stream on `/ws/demo` (`api.demo`) | its stream starts; it hangs up | the senior's side ends the stream, as Twilio would |

A browser talk or a demo call runs in a task of this process (`run`): hung up here, it ends
here; on another instance, or once over, a hang-up is refused (`CallAlreadyEnded`).
"""  # noqa: E501

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar

from loguru import logger

from carecall.core.end_reasons import OPERATOR_HANGUP
from carecall.core.events import CallEvent, EventBus
from carecall.persistence.models import Call, CallChannel
from carecall.persistence.repositories import CallRepository


class CallNotFound(LookupError):
    pass


class CallAlreadyEnded(RuntimeError):
    """The call is over, or it runs where it can't be reached from here."""


@dataclass
class _Running:
    task: asyncio.Task[None]
    stop: Callable[[], Awaitable[None]]
    ending: bool = False
    """The conversation is over and its end is being stored: let it finish."""


class ChannelCalls:
    """The calls of one channel in this process, through their lifecycle."""

    channel: ClassVar[CallChannel]

    def __init__(self, calls: CallRepository, bus: EventBus) -> None:
        self._calls = calls
        self._bus = bus
        self._final_listeners: list[Callable[[Call], Awaitable[None]]] = []
        self._running: dict[int, _Running] = {}

    def on_call_final(self, listener: Callable[[Call], Awaitable[None]]) -> None:
        """Have `listener(call)` told once a call reaches a final status (completed, busy,
        no-answer, canceled, failed), e.g. to record a check-in's try."""
        self._final_listeners.append(listener)

    # --- the lifecycle ----------------------------------------------------------------------

    async def create(
        self,
        to_number: str,
        from_number: str | None,
        *,
        senior_id: int | None = None,
        checkin_id: int | None = None,
        announce: bool = True,
    ) -> Call:
        """Store a call of this channel (status `created`), and publish it unless told not to
        (a phone call is published once Twilio has taken it)."""
        call = await self._calls.create(
            to_number,
            from_number,
            channel=self.channel,
            senior_id=senior_id,
            checkin_id=checkin_id,
        )
        if announce:
            await self.announce(call)
        return call

    async def connected(self, call_id: int) -> Call | None:
        """The call is answered: in progress from now."""
        call = await self._calls.mark_connected(call_id)
        await self.announce(call)
        return call

    async def hang_up(self, call_id: int) -> Call:
        """End a live call from the dashboard or the API (end reason `operator-hangup`); the
        call as it stood. Raises `CallNotFound`, `CallAlreadyEnded`, or the channel's own
        errors (a phone call's `telephony.twilio_client.TwilioError`)."""
        call = await self._calls.get(call_id)
        if call is None:
            raise CallNotFound(call_id)
        if call.status.is_final:
            raise CallAlreadyEnded(call_id)
        await self._end(call)
        return call

    async def finished(self, call_id: int) -> Call | None:
        """The call is over: completed if it was answered, else failed."""
        call = await self._calls.mark_finished(call_id)
        await self.announce(call)
        return call

    async def aclose(self) -> None:
        """End every call still running here (the server is stopping)."""
        tasks = [running.task for running in self._running.values()]
        for running in self._running.values():
            if not running.ending:
                running.task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- what runs here ------------------------------------------------------------------------

    def run(
        self,
        call_id: int,
        conversation: Coroutine[Any, Any, None],
        *,
        stop: Callable[[], Awaitable[None]],
        name: str,
    ) -> asyncio.Task[None]:
        """Run the call's ``conversation`` in a task of its own; however it ends, the call is
        then `finished`. ``stop()`` ends it early (its hang-up)."""

        async def lifetime() -> None:
            try:
                await conversation
            finally:
                if (running := self._running.get(call_id)) is not None:
                    running.ending = True
                try:
                    await self.finished(call_id)
                finally:
                    # Only now: until its end is stored, the call still runs here (`aclose`
                    # waits for it, and `running` counts it).
                    self._running.pop(call_id, None)

        task = asyncio.create_task(lifetime(), name=name)
        self._running[call_id] = _Running(task, stop)
        return task

    @property
    def running(self) -> int:
        """How many of this channel's calls run in a task of this process."""
        return len(self._running)

    async def _end(self, call: Call) -> None:
        """How this channel hangs up a live call: by default, the one running here is stopped
        (its end reason noted first, so it is the one kept)."""
        running = self._running.get(call.id)
        if running is None:
            raise CallAlreadyEnded(call.id)
        await self._calls.note_end_reason(call.id, OPERATOR_HANGUP)
        await self._bus.publish(CallEvent("call.status", call.id, {"end_reason": OPERATOR_HANGUP}))
        await running.stop()

    # --- telling the rest ----------------------------------------------------------------------

    async def announce(self, call: Call | None) -> None:
        """Publish where ``call`` stands (`call.status`); once it is final, tell the final
        listeners too."""
        if call is None:
            return
        await publish_status(self._bus, call)
        if call.status.is_final:
            for listener in self._final_listeners:
                try:
                    await listener(call)
                except Exception:
                    logger.bind(call_id=call.id).exception("A final-status listener failed")


async def publish_status(bus: EventBus, call: Call | None) -> None:
    """Tell the dashboard where a call stands (`call.status`), whatever its channel."""
    if call is None:
        return
    await bus.publish(
        CallEvent(
            "call.status",
            call.id,
            {
                "status": call.status.value,
                "answered_by": call.answered_by,
                "duration_seconds": call.duration_seconds,
                "end_reason": call.end_reason,
                "error": call.error,
            },
        )
    )

"""Graceful shutdown: on SIGTERM (or Ctrl-C) an instance drains before uvicorn stops it.

uvicorn, told to exit, stops accepting connections, waits `--timeout-graceful-shutdown` for the
open ones (our calls' media websockets) and cancels them, and only then runs the app's lifespan
shutdown: too late to end a call politely. So `GracefulShutdown` takes SIGTERM and SIGINT on the
running loop (in the lifespan's startup, in the main thread) and, while uvicorn still serves:

1. marks the instance as shutting down: `/readyz` says 503 (the load balancer sends new work
   elsewhere), new media streams are refused (close 1013, try again later), new calls
   (`POST /api/calls`, browser talks, demo calls) get 503, and the dispatcher claims no more
   check-ins;
2. waits up to SHUTDOWN_GRACE_SECONDS for the running calls to end by themselves;
3. asks each call still running to wrap up: the bot stops, says a short goodbye nobody can
   interrupt (``goodbye``, by default each call's own in the person's language), and hangs up
   through Twilio (end reason `bot-hangup: server shutting down`), and waits for those
   goodbyes (at most ``wrap_up_wait`` seconds; a call still running after that is cancelled,
   and its end is recorded all the same);
4. waits for the record writer to store everything the calls produced;
5. hands over to uvicorn, which then stops as for its own signal, and the process exits 0.

A second signal during the drain hands over at once (uvicorn's own handling: a second Ctrl-C
exits without waiting). Under a server other than uvicorn, the handler that was there before
is called once drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from loguru import logger

from carecall.calls.conversation import ActiveCalls
from carecall.calls.recorder import RecordWriter
from carecall.core.end_reasons import SHUTDOWN_REASON
from carecall.observability.health import Readiness

DEFAULT_WRAP_UP_WAIT = 20.0
"""Long enough for a goodbye to be spoken and the hang-up to reach Twilio."""
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_Handler = Callable[[int, FrameType | None], Any] | int | None


class GracefulShutdown:
    def __init__(
        self,
        *,
        readiness: Readiness,
        active_calls: ActiveCalls,
        writer: RecordWriter,
        grace: float,
        goodbye: str | None = None,
        stop_taking_work: Callable[[], None] = lambda: None,
        wrap_up_wait: float = DEFAULT_WRAP_UP_WAIT,
    ) -> None:
        self._readiness = readiness
        self._active_calls = active_calls
        self._writer = writer
        self._goodbye = goodbye
        self._grace = grace
        self._stop_taking_work = stop_taking_work
        self._wrap_up_wait = wrap_up_wait
        self._previous: dict[int, _Handler] = {}
        self._drain: asyncio.Task[None] | None = None
        self._installed: list[signal.Signals] = []

    async def start(self) -> None:
        """Take SIGTERM and SIGINT from here on (the server's, e.g. uvicorn's, handlers are
        kept and called once drained). Only the main thread gets signals: elsewhere (an app
        served from a test's thread) nothing is installed."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in HANDLED_SIGNALS:
            previous = signal.getsignal(sig)
            try:
                loop.add_signal_handler(sig, self._signalled, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # no signals on this loop (e.g. Windows' proactor)
            self._previous[sig] = previous
            self._installed.append(sig)

    async def stop(self) -> None:
        """At the lifespan's end: give the signals back to whoever had them, cancel a drain
        still under way (uvicorn stopped for another reason), and say the instance is shutting
        down (`/readyz`) while the rest of it stops."""
        self._give_back_signals()
        if self._drain is not None and not self._drain.done():
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
        self._readiness.shutting_down = True

    def _give_back_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            loop.remove_signal_handler(sig)
            previous = self._previous[sig]
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._installed.clear()

    @property
    def draining(self) -> bool:
        return self._drain is not None

    def _signalled(self, sig: signal.Signals) -> None:
        if self._drain is None:
            logger.info(f"{sig.name}: draining before shutdown")
            self._drain = asyncio.create_task(self._drain_then_exit(sig), name="graceful-drain")
        else:
            logger.warning(f"{sig.name} again: shutting down without waiting for calls")
            self._hand_over(sig, force=True)

    async def _drain_then_exit(self, sig: signal.Signals) -> None:
        try:
            await self.drain()
        except Exception:
            logger.exception("Draining before shutdown failed; shutting down now")
        self._hand_over(sig)

    async def drain(self) -> None:
        """Steps 1–4 of the module's docstring."""
        self._readiness.shutting_down = True
        self._stop_taking_work()
        calls = len(self._active_calls)
        if calls:
            logger.info(
                f"Waiting up to {self._grace:.0f} s for {calls} call(s) to end by themselves"
            )
        if not await self._active_calls.wait_until_none(self._grace):
            await self._wrap_up()
        await self._writer.drain()
        logger.info("Drained: every call has ended and its records are stored")

    async def _wrap_up(self) -> None:
        running = list(self._active_calls.by_call_id)
        logger.info(f"Asking {len(running)} call(s) still running to say goodbye and end")
        for call_id in running:
            control = self._active_calls.control(call_id)
            if control is None or not await control.wrap_up(self._goodbye, SHUTDOWN_REASON):
                logger.bind(call_id=call_id).info("The call is not ready to wrap up; it waits")
        if await self._active_calls.wait_until_none(self._wrap_up_wait):
            return
        left = dict(self._active_calls.by_call_id)
        logger.warning(f"{len(left)} call(s) still running after their goodbye; ending them")
        for task in left.values():
            task.cancel()
        await self._active_calls.wait_until_none(5.0)

    def _hand_over(self, sig: signal.Signals, *, force: bool = False) -> None:
        """Let the server stop. uvicorn's handler, called with the signal, would stop it and
        then re-raise the signal on the way out (the process dies of SIGTERM); once drained,
        its `should_exit` is set instead, so it stops the same way and exits 0."""
        previous = self._previous.get(sig)
        server = getattr(previous, "__self__", None)
        if not force and server is not None and hasattr(server, "should_exit"):
            server.should_exit = True
        elif callable(previous):
            previous(sig, None)
        else:
            self._give_back_signals()
            signal.raise_signal(sig)

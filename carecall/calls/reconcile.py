"""Closing calls a stopped server left open.

A server that crashes, or is killed, mid-call never hears Twilio's last status callbacks for its
calls (they fail while it is down), so the database keeps them "in progress" (or ringing, or
queued). On start, and every few minutes after, the `Reconciler` asks Twilio's REST API where
each such phone call stands and applies the answer like a status callback (idempotent, and a
check-in's try gets its result). Calls that are live in this process are left alone; so are
calls Twilio still reports live (another instance may be running them).

A call that was stored but never reached Twilio (the server stopped in between) is marked
failed; a demo or browser call has no Twilio side and is closed once it is older than the
longest a call may last.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Container
from datetime import datetime, timedelta

from loguru import logger

from carecall.calls.service import CallService
from carecall.core.clock import Clock
from carecall.core.end_reasons import SERVER_STOPPED
from carecall.observability.outages import DependencyWatch, database_watch
from carecall.persistence.models import Call, CallChannel, CallStatus
from carecall.persistence.repositories import CallRepository, StatusUpdate
from carecall.settings import MissingConfiguration, Settings
from carecall.telephony.twilio_client import TwilioError, TwilioGateway

RECONCILE_EVERY_SECONDS = 300.0


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        calls: CallRepository,
        service: CallService,
        twilio: TwilioGateway,
        clock: Clock,
        live_here: Container[int],
        *,
        database: DependencyWatch | None = None,
    ) -> None:
        self._settings = settings
        self._database = database or database_watch()
        self._calls = calls
        self._service = service
        self._twilio = twilio
        self._clock = clock
        self._live_here = live_here
        self._grace = timedelta(seconds=settings.reconcile_grace_seconds)
        """Calls younger than this are left to their own callbacks."""
        self._task: asyncio.Task[None] | None = None
        self._longest = timedelta(
            seconds=settings.ring_timeout_seconds + settings.max_call_seconds
        ) + timedelta(minutes=5)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="call-reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                closed = await self.run_once()
                if closed:
                    logger.info(f"Closed {closed} call(s) left open by a stopped server")
            except Exception as exc:
                if not self._database.failed(exc, "the call reconciler"):
                    logger.exception("Reconciling open calls failed; trying again later")
            else:
                self._database.answered()
            await asyncio.sleep(RECONCILE_EVERY_SECONDS)

    async def run_once(self) -> int:
        """Reconcile every open call older than the grace period; returns how many closed."""
        now = self._clock.now()
        closed = 0
        for call in await self._calls.unfinished(created_before=now - self._grace):
            if call.id in self._live_here:
                continue
            if await self._reconcile(call, now):
                closed += 1
        return closed

    async def _reconcile(self, call: Call, now: datetime) -> bool:
        log = logger.bind(call_id=call.id, call_sid=call.twilio_sid)
        if call.channel is not CallChannel.PHONE:
            if now - call.created_at < self._longest:
                return False
            log.info(f"Closing a {call.channel.value} call left open by a stopped server")
            await self._calls.mark_finished(call.id)
            return True
        if call.twilio_sid is None:
            if call.status is not CallStatus.CREATED:
                return False
            failed = await self._calls.mark_failed(
                call.id, "The server stopped before Twilio was asked to place this call."
            )
            if failed is not None:
                await self._service.call_failed(failed)
            return True
        if self._settings.missing_for_calls():
            return False  # Twilio isn't configured (any more): nothing to ask
        try:
            state = await self._twilio.fetch_call(call.twilio_sid)
        except (TwilioError, MissingConfiguration) as exc:
            log.warning(f"Could not ask Twilio about an open call: {exc}")
            return False
        if state is None:
            failed = await self._calls.mark_failed(call.id, "Twilio has no record of this call.")
            if failed is not None:
                await self._service.call_failed(failed)
            return True
        try:
            status = CallStatus(state.status)
        except ValueError:
            return False
        if not status.is_final:
            return False
        log.info(f"Twilio says the call ended ({status.value}); closing it")
        if call.status is CallStatus.IN_PROGRESS and call.end_reason is None:
            # The conversation was under way when its server stopped: say so on the call's page
            # (the transcript ends where that server's last turn was stored).
            await self._calls.note_end_reason(call.id, SERVER_STOPPED)
        await self._service.apply_status(
            StatusUpdate(
                call_sid=call.twilio_sid,
                status=status,
                duration_seconds=state.duration_seconds,
                answered_by=state.answered_by,
            )
        )
        return True

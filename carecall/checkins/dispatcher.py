"""The dispatcher: turns plans into due check-ins and dials them, one try at a time, exactly once.

Every server process runs one (`DISPATCHER_ENABLED`, on by default). Each round it:

1. makes today's and tomorrow's check-ins from the plans (idempotent: unique per plan and date);
2. finishes check-ins whose window closed, and tries whose result never came;
3. claims due check-ins atomically in the database (`persistence.checkins`), so a second
   dispatcher, or this one after a restart, never dials the same try twice;
4. dials each through the core call path, at most `CALLS_PER_SECOND` across all dispatchers
   (a shared pacer row in the database);
5. moves every open escalation on (`checkins.escalation`).

A try's result arrives later, with the call's final Twilio status (`call_ended`): reached →
done; no answer, busy, voicemail or failed → tried again after the plan's delay while tries and
the window last; then escalated to the caregivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from loguru import logger

from carecall.bot.services import CallLanguages
from carecall.calls.service import CallService
from carecall.checkins.outcomes import try_result
from carecall.core.clock import Clock
from carecall.core.events import NO_CALL, CallEvent, EventBus
from carecall.core.phones import mask_phone_number
from carecall.core.policy import (
    CALLS_NOT_SET_UP,
    NOT_IN_THEIR_LANGUAGE,
    CallNotAllowed,
    call_refusal,
)
from carecall.observability.outages import DependencyWatch, database_watch
from carecall.persistence.checkins import CheckinRepository, ClaimedCheckin, TryRecorded
from carecall.persistence.models import Call, Checkin, CheckinOutcome, CheckinPlan, Senior
from carecall.settings import MissingConfiguration, Settings
from carecall.telephony.twilio_client import TwilioError

SCHEDULE_EVERY = timedelta(minutes=1)
PACING_HEADROOM = 1.05
"""Calls are spaced 5 % wider than CALLS_PER_SECOND asks: a request leaves a few milliseconds
after its reserved moment (the event loop is busy with other work), and the headroom keeps the
limit held at Twilio's end all the same."""
STALE_TRY_MARGIN = timedelta(minutes=5)


class Escalations(Protocol):
    """What the dispatcher needs of the escalation ladder (`checkins.escalation`)."""

    async def open_for_missed(
        self, checkin: Checkin, senior: Senior, outcome: CheckinOutcome, *, ack_minutes: int
    ) -> object: ...

    async def advance(self) -> int: ...


@dataclass
class Round:
    """What one round did (for logs and tests)."""

    scheduled: int = 0
    dialed: int = 0
    finished: int = 0
    notices: int = 0


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        checkins: CheckinRepository,
        calls: CallService,
        clock: Clock,
        bus: EventBus,
        escalations: Escalations | None = None,
        *,
        name: str | None = None,
        database: DependencyWatch | None = None,
    ) -> None:
        self._settings = settings
        self._checkins = checkins
        self._database = database or database_watch()
        self._calls = calls
        self._clock = clock
        self._bus = bus
        self._escalations = escalations
        self.name = name or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._last_schedule: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._claiming = True
        self._stale_after = (
            timedelta(seconds=settings.ring_timeout_seconds + settings.max_call_seconds)
            + STALE_TRY_MARGIN
        )
        calls.on_call_final(self.call_ended)

    # --- running -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="checkin-dispatcher")

    def stop_claiming(self) -> None:
        """Dial no more check-ins (the instance is shutting down): what is due stays pending
        for the other instances; a dial under way finishes, and results are still recorded."""
        self._claiming = False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        missing = self._settings.missing_for_calls()
        if missing:
            logger.warning(
                "The check-in dispatcher will make plans into check-ins but dial no one until "
                f"these are set: {', '.join(missing)}"
            )
        logger.info(f"Check-in dispatcher {self.name} started")
        while True:
            try:
                await self.run_round()
            except Exception as exc:
                # A database outage must not stop the program (nor fill the log): next round.
                if not self._database.failed(exc, "the check-in dispatcher"):
                    logger.exception("A check-in dispatcher round failed; trying again shortly")
            else:
                self._database.answered()
            # Polling runs on real time even under a test's clock: it is not a moment in the
            # plans, only how soon new work is noticed.
            await asyncio.sleep(self._settings.dispatch_interval_seconds)

    async def run_round(self) -> Round:
        done = Round()
        now = self._clock.now()
        if self._last_schedule is None or now - self._last_schedule >= SCHEDULE_EVERY:
            done.scheduled = await self._checkins.schedule(now)
            self._last_schedule = now
        done.finished += await self._finish_expired(now)
        done.finished += await self._finish_stale(now)
        if self._claiming and not self._settings.missing_for_calls():
            while self._claiming:
                claimed = await self._checkins.claim_due(
                    self._clock.now(), self.name, self._settings.dispatch_batch_size
                )
                for item in claimed:
                    done.dialed += await self._dial(item)
                if len(claimed) < self._settings.dispatch_batch_size:
                    break
        if self._escalations is not None:
            done.notices = await self._escalations.advance()
        return done

    # --- one try -----------------------------------------------------------------------------

    async def _dial(self, item: ClaimedCheckin) -> int:
        checkin, senior = item.checkin, item.senior
        log = logger.bind(checkin_id=checkin.id, to=mask_phone_number(senior.phone_number))
        await self._publish(checkin, NO_CALL)
        refusal = call_refusal(senior, self._clock.now(), CallLanguages.of(self._settings))
        if refusal is not None:
            log.info(f"Check-in not called: {refusal}")
            await self._record(checkin.id, CheckinOutcome.SKIPPED, NO_CALL, note=refusal)
            return 0
        try:
            call = await self._calls.place_call(
                senior.phone_number,
                senior=senior,
                checkin_id=checkin.id,
                pace=self._wait_for_dial_slot,
            )
        except CallNotAllowed as exc:
            await self._record(checkin.id, CheckinOutcome.SKIPPED, NO_CALL, note=str(exc))
            return 0
        except TwilioError as exc:
            # The call is stored as failed and `call_ended` has recorded the try.
            log.warning(f"Check-in try {checkin.attempts} could not be placed: {exc.message}")
            return 0
        except MissingConfiguration as exc:
            await self._record(checkin.id, CheckinOutcome.FAILED, NO_CALL, note=str(exc))
            return 0
        await self._checkins.note_call(checkin.id, call.id)
        log.bind(call_id=call.id).info(f"Check-in try {checkin.attempts} dialed")
        return 1

    async def _wait_for_dial_slot(self) -> None:
        interval = PACING_HEADROOM / self._settings.calls_per_second
        slot = await self._checkins.reserve_dial_slot(self._clock.now().timestamp(), interval)
        wait = slot - self._clock.now().timestamp()
        if wait > 0:
            await self._clock.sleep(wait)

    async def call_ended(self, call: Call) -> None:
        """A call reached its final status: if it was a check-in's try, record the result."""
        if call.checkin_id is None:
            return
        result = try_result(call)
        await self._record(call.checkin_id, result, call.id)

    async def _record(
        self, checkin_id: int, result: CheckinOutcome, call_id: int, *, note: str | None = None
    ) -> None:
        recorded = await self._checkins.record_try(checkin_id, result, self._clock.now(), note=note)
        if recorded is None:
            return
        await self._publish(recorded.checkin, call_id)
        if recorded.finished:
            await self._escalate_if_missed(recorded)

    # --- ends without a result -----------------------------------------------------------------

    async def _finish_expired(self, now: datetime) -> int:
        # Never tried because nothing can dial: say so, rather than that the window ran out.
        untried = CALLS_NOT_SET_UP if self._settings.missing_for_calls() else None
        closed = await self._checkins.close_expired(now, note=untried)
        for checkin in closed:
            await self._publish(checkin, NO_CALL)
            await self._escalate_if_missed(TryRecorded(checkin, finished=True))
        return len(closed)

    async def _finish_stale(self, now: datetime) -> int:
        stale = await self._checkins.stale_tries(now, self._stale_after)
        for checkin in stale:
            logger.bind(checkin_id=checkin.id).warning(
                "No result came for a check-in try; counting it as failed"
            )
            await self._record(
                checkin.id, CheckinOutcome.FAILED, NO_CALL, note="no result from the call"
            )
        return len(stale)

    async def _escalate_if_missed(self, recorded: TryRecorded) -> None:
        checkin = recorded.checkin
        outcome = checkin.outcome
        if outcome is None or outcome.reached or self._escalations is None:
            return
        note = checkin.note or ""
        if outcome is CheckinOutcome.SKIPPED and (
            note.startswith(NOT_IN_THEIR_LANGUAGE)
            or (
                checkin.attempts == 0
                and ("do-not-call" in note or "consent" in note or note == CALLS_NOT_SET_UP)
            )
        ):
            # Not called on purpose, or nothing could dial (or speak their language): nobody
            # failed to answer, so there is nothing true to tell a caregiver.
            return
        found = await self._checkins.senior_and_plan(checkin)
        if found is None:
            return
        senior, plan = found
        await self._open_escalation(checkin, senior, plan, outcome)

    async def _open_escalation(
        self, checkin: Checkin, senior: Senior, plan: CheckinPlan, outcome: CheckinOutcome
    ) -> None:
        assert self._escalations is not None
        try:
            await self._escalations.open_for_missed(
                checkin, senior, outcome, ack_minutes=plan.escalation_ack_minutes
            )
        except Exception:
            logger.bind(checkin_id=checkin.id).exception("Could not open the escalation")

    async def _publish(self, checkin: Checkin, call_id: int) -> None:
        await self._bus.publish(
            CallEvent(
                "checkin.updated",
                call_id,
                {
                    "senior_id": checkin.senior_id,
                    "checkin_id": checkin.id,
                    "state": checkin.state.value,
                    "outcome": checkin.outcome.value if checkin.outcome else None,
                    "attempts": checkin.attempts,
                },
            )
        )

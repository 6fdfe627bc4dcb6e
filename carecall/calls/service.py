"""Placing, ending and following calls: the logic behind the API and the Twilio webhooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from loguru import logger

from carecall.core.clock import Clock, SystemClock
from carecall.core.end_reasons import OPERATOR_HANGUP
from carecall.core.events import CallEvent, EventBus
from carecall.core.phones import mask_phone_number, normalize_phone_number
from carecall.core.policy import CallNotAllowed, call_refusals
from carecall.persistence.models import Call, CallStatus, Senior
from carecall.persistence.repositories import CallRepository, StatusUpdate
from carecall.persistence.roster import SeniorRepository
from carecall.settings import MissingConfiguration, Settings
from carecall.telephony.security import CallTokens
from carecall.telephony.twilio_client import CallbackUrls, TwilioError, TwilioGateway


class CallNotFound(LookupError):
    pass


class CallAlreadyEnded(RuntimeError):
    pass


class CallService:
    def __init__(
        self,
        settings: Settings,
        calls: CallRepository,
        twilio: TwilioGateway,
        tokens: CallTokens,
        bus: EventBus,
        *,
        seniors: SeniorRepository | None = None,
        clock: Clock | None = None,
        before_answer: Callable[[Call], None] | None = None,
    ) -> None:
        self._settings = settings
        self._calls = calls
        self._seniors = seniors
        self._clock = clock or SystemClock()
        self._final_listeners: list[Callable[[Call], Awaitable[None]]] = []
        self._twilio = twilio
        self._tokens = tokens
        self._bus = bus
        self._before_answer = before_answer

    def on_call_final(self, listener: Callable[[Call], Awaitable[None]]) -> None:
        """Have `listener(call)` told once a call reaches a final status (completed, busy,
        no-answer, canceled, failed), e.g. to record a check-in's try."""
        self._final_listeners.append(listener)

    async def place_call(
        self,
        raw_number: str,
        *,
        senior: Senior | None = None,
        checkin_id: int | None = None,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> Call:
        """Validate, store, and ask Twilio to dial. A number on the roster is called only with
        the person's consent, never while they are marked do-not-call, and only between 08:00
        and 21:00 their time (`CallNotAllowed`). Also raises `InvalidPhoneNumber`,
        `MissingConfiguration`, or `TwilioError` (the stored call is then marked failed).

        `pace`, when given, is awaited just before Twilio is asked (the dispatcher's
        calls-per-second limit), so nothing slower stands between the wait and the request."""
        to_number = normalize_phone_number(raw_number)
        missing = self._settings.missing_for_calls()
        if senior is None and self._seniors is not None:
            senior = await self._seniors.find_by_number(to_number)
        if senior is not None:
            # The person's own reasons come first, with the missing settings among them:
            # setting Twilio up would not be enough, and saying only that would mislead.
            reasons = call_refusals(senior, self._clock.now())
            if reasons:
                if missing:
                    reasons.append(str(MissingConfiguration("Placing phone calls", missing)))
                raise CallNotAllowed(reasons)
        if missing:
            raise MissingConfiguration("Placing phone calls", missing)
        call = await self._calls.create(
            to_number,
            self._settings.twilio_phone_number,
            senior_id=senior.id if senior else None,
            checkin_id=checkin_id,
        )
        log = logger.bind(call_id=call.id, to=mask_phone_number(to_number))
        urls = CallbackUrls(
            twiml_url=self._settings.public_url(f"/twilio/voice?call_id={call.id}"),
            status_url=self._settings.public_url(f"/twilio/status?call_id={call.id}"),
            amd_url=self._settings.public_url(f"/twilio/amd?call_id={call.id}"),
        )
        try:
            placed = await self._twilio.place_call(to_number, urls, pace=pace)
        except TwilioError as exc:
            log.warning(f"Twilio refused the call: {exc.message}")
            failed = await self._calls.mark_failed(call.id, exc.message)
            if failed is not None:
                await self.call_failed(failed)
            raise
        updated = await self._calls.mark_placed(call.id, placed.sid, CallStatus(placed.status))
        log.bind(call_sid=placed.sid).info("Call placed")
        call = updated or call
        if self._before_answer is not None:
            self._before_answer(call)  # e.g. prepare the greeting's audio while it rings
        await self._publish_status(call)
        return call

    async def hang_up(self, call_id: int) -> Call:
        call = await self._calls.get(call_id)
        if call is None:
            raise CallNotFound(call_id)
        if call.status.is_final or call.twilio_sid is None:
            raise CallAlreadyEnded(call_id)
        await self._twilio.end_call(call.twilio_sid)
        await self._calls.note_end_reason(call_id, OPERATOR_HANGUP)
        return call

    async def apply_status(self, update: StatusUpdate) -> Call | None:
        call, changed = await self._calls.apply_status(update)
        if call is not None and changed:
            logger.bind(call_sid=update.call_sid).info(f"Call status: {call.status.value}")
            await self._publish_status(call)
            if call.status.is_final:
                await self._tell_final(call)
        return call

    async def call_failed(self, call: Call) -> None:
        """A call was marked failed here (not by Twilio): tell the dashboard and listeners."""
        await self._publish_status(call)
        await self._tell_final(call)

    async def _tell_final(self, call: Call) -> None:
        for listener in self._final_listeners:
            try:
                await listener(call)
            except Exception:
                logger.bind(call_id=call.id).exception("A final-status listener failed")

    def stream_parameters(self, call_id: int) -> dict[str, str]:
        return {"call_id": str(call_id), "token": self._tokens.issue(call_id)}

    async def _publish_status(self, call: Call) -> None:
        await publish_status(self._bus, call)


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

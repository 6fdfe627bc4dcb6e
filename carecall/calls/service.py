"""Phone calls: placing, ending and following them (the logic behind the API and the Twilio
webhooks). The phone channel of `calls.channels`: Twilio dials, its status callbacks move the
call, and its REST API hangs up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from loguru import logger

from carecall.bot.services import CallLanguages
from carecall.calls.channels import CallAlreadyEnded, ChannelCalls
from carecall.core.clock import Clock, SystemClock
from carecall.core.end_reasons import OPERATOR_HANGUP
from carecall.core.events import EventBus
from carecall.core.phones import mask_phone_number, normalize_phone_number
from carecall.core.policy import CallNotAllowed, call_refusals
from carecall.persistence.models import Call, CallChannel, CallStatus, Senior
from carecall.persistence.repositories import CallRepository, StatusUpdate
from carecall.persistence.roster import SeniorRepository
from carecall.settings import MissingConfiguration, Settings
from carecall.telephony.security import CallTokens
from carecall.telephony.twilio_client import CallbackUrls, TwilioError, TwilioGateway


class CallService(ChannelCalls):
    channel = CallChannel.PHONE

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
        before_answer: Callable[[Call, str], None] | None = None,
    ) -> None:
        super().__init__(calls, bus)
        self._settings = settings
        self._seniors = seniors
        self._clock = clock or SystemClock()
        self._twilio = twilio
        self._tokens = tokens
        self._before_answer = before_answer

    async def place_call(
        self,
        raw_number: str,
        *,
        senior: Senior | None = None,
        checkin_id: int | None = None,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> Call:
        """Validate, store, and ask Twilio to dial. A number on the roster is called only with
        the person's consent, never while they are marked do-not-call, only between 08:00
        and 21:00 their time, and only in a language this server's calls can speak
        (`CallNotAllowed`). Also raises `InvalidPhoneNumber`,
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
            reasons = call_refusals(senior, self._clock.now(), CallLanguages.of(self._settings))
            if reasons:
                if missing:
                    reasons.append(str(MissingConfiguration("Placing phone calls", missing)))
                raise CallNotAllowed(reasons)
        if missing:
            raise MissingConfiguration("Placing phone calls", missing)
        call = await self.create(
            to_number,
            self._settings.twilio_phone_number,
            senior_id=senior.id if senior else None,
            checkin_id=checkin_id,
            announce=False,
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
            # e.g. prepare the audio of the lines of the person's language while it rings
            self._before_answer(call, senior.language if senior is not None else "en")
        await self.announce(call)
        return call

    async def _end(self, call: Call) -> None:
        """Twilio ends the call (and so its media stream); a call Twilio never placed has
        nothing to end."""
        if call.twilio_sid is None:
            raise CallAlreadyEnded(call.id)
        await self._twilio.end_call(call.twilio_sid)
        await self._calls.note_end_reason(call.id, OPERATOR_HANGUP)

    async def apply_status(self, update: StatusUpdate) -> Call | None:
        call, changed = await self._calls.apply_status(update)
        if call is not None and changed:
            logger.bind(call_sid=update.call_sid).info(f"Call status: {call.status.value}")
            await self.announce(call)
        return call

    async def call_failed(self, call: Call) -> None:
        """A call was marked failed here (not by Twilio): tell the dashboard and listeners."""
        await self.announce(call)

    def stream_parameters(self, call_id: int) -> dict[str, str]:
        return {"call_id": str(call_id), "token": self._tokens.issue(call_id)}

"""The escalation ladder: when a check-in can't reach the person, tell their caregivers one
after another until somebody says they have it in hand.

A check-in whose tries are used up without a conversation opens one escalation (at most one per
check-in). The first caregiver is told at once, by text or by a phone call, as their
`contact_by` says; each following caregiver is told when the previous one hasn't acknowledged
within the plan's `escalation_ack_minutes`. When everybody has been told and nobody has
acknowledged, the escalation is `exhausted` and stays on the dashboard until an operator
acknowledges it.

A caregiver acknowledges by replying OK to the text, by pressing 1 on the call, or an operator
does it on the dashboard. Every notice is stored as it was sent (or as it failed). Steps are
claimed with conditional UPDATEs (`persistence.escalations`), so several dispatchers can run
`advance()` at once and each caregiver is told once. Time comes from the injected clock.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from loguru import logger
from twilio.twiml.voice_response import Gather, VoiceResponse

from carecall.core.clock import Clock
from carecall.core.events import NO_CALL, CallEvent, EventBus
from carecall.core.phones import mask_phone_number
from carecall.core.schedule import ScheduleError, zone
from carecall.persistence.escalations import EscalationRepository, NoticeRecord, ToldContact
from carecall.persistence.models import (
    Caregiver,
    Checkin,
    CheckinOutcome,
    ContactMethod,
    Escalation,
    Senior,
)
from carecall.settings import MissingConfiguration, Settings
from carecall.telephony.twilio_client import NumberNotCallable, TwilioError, TwilioGateway

ACK_PATH = "/twilio/escalation-ack"
"""Where a caregiver's key press on a notice call is posted (api/twilio_messages.py)."""

OUTCOME_WORDS = {
    CheckinOutcome.VOICEMAIL: "went to voicemail",
    CheckinOutcome.NO_ANSWER: "no answer",
    CheckinOutcome.BUSY: "line busy",
    CheckinOutcome.FAILED: "call failed",
    CheckinOutcome.SKIPPED: "not called",
}
"""How a notice describes the last try of a check-in that reached nobody."""

_AFFIRMATIVE_WORDS = frozenset(
    {"ok", "okay", "k", "kk", "yes", "y", "yep", "yeah", "yup", "sure", "done", "1", "👍"}
)
_AFFIRMATIVE_PHRASES = frozenset(
    {"got it", "on it", "will do", "i got it", "i'm on it", "im on it"}
)
_TWILIO_KEYWORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "start",
        "unstop",
        "help",
        "info",
    }
)
"""Opt-out, opt-in and help words Twilio answers itself (and, for STOP, blocks further texts)."""


class EscalationTokens:
    """The secret in a notice call's key-press URL: an HMAC of the escalation and the number
    called, so a key press can only acknowledge the escalation that call was about, as the
    person it called. Stateless, so any server instance can check it."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("carecall-escalation-ack:" + secret).encode()).digest()

    def issue(self, escalation_id: int, phone_number: str) -> str:
        message = f"{escalation_id}:{phone_number}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, escalation_id: int, phone_number: str, token: str) -> bool:
        return hmac.compare_digest(self.issue(escalation_id, phone_number), token)


def missed_reason(outcome: CheckinOutcome, attempts: int) -> str:
    """`3 tries: no answer`: why the escalation was opened, as the notices say it."""
    words = OUTCOME_WORDS.get(outcome, outcome.value)
    if attempts <= 0:
        return words
    return f"{attempts} {'try' if attempts == 1 else 'tries'}: {words}"


def is_acknowledgement(body: str) -> bool:
    """Whether a text reply says "I've got this" (OK, yes, got it…); "no" or a question
    doesn't, so the ladder goes on."""
    text = re.sub(r"[^\w\s'👍]", " ", body.strip().lower())
    words = text.split()
    if not words:
        return False
    return words[0] in _AFFIRMATIVE_WORDS or any(
        " ".join(words[:n]) in _AFFIRMATIVE_PHRASES for n in (2, 3)
    )


def is_twilio_keyword(body: str) -> bool:
    return body.strip().lower().strip(".!") in _TWILIO_KEYWORDS


@dataclass(frozen=True)
class Notice:
    """What one caregiver is told about one escalation."""

    text: str
    """The text message, or what the call says."""
    by_call: bool = False
    """Said on a phone call (which asks for a key press) rather than texted."""


class EscalationLadder:
    """Opens escalations for missed check-ins and tells caregivers one after another."""

    def __init__(
        self,
        settings: Settings,
        escalations: EscalationRepository,
        twilio: TwilioGateway,
        clock: Clock,
        bus: EventBus,
    ) -> None:
        self._settings = settings
        self._escalations = escalations
        self._twilio = twilio
        self._clock = clock
        self._bus = bus
        self.tokens = EscalationTokens(settings.session_secret.get_secret_value())

    @property
    def repository(self) -> EscalationRepository:
        return self._escalations

    # --- opening and advancing ---------------------------------------------------------------

    async def open_for_missed(
        self, checkin: Checkin, senior: Senior, outcome: CheckinOutcome, *, ack_minutes: int
    ) -> Escalation | None:
        """A check-in's tries are used up without a conversation: open its escalation (at most
        one per check-in, however often called, from however many processes) and tell the first
        caregiver now. None if it was already open."""
        if outcome.reached:
            raise ValueError(f"A check-in that ended '{outcome.value}' reached the person.")
        now = self._clock.now()
        escalation = await self._escalations.open(
            senior_id=senior.id,
            checkin_id=checkin.id,
            reason=missed_reason(outcome, checkin.attempts),
            ack_minutes=max(1, ack_minutes),
            now=now,
        )
        if escalation is None:
            return None
        logger.bind(escalation_id=escalation.id, senior_id=senior.id).info(
            f"Escalation opened: check-in {checkin.id} reached nobody ({escalation.reason})"
        )
        await self._publish(escalation)
        await self._take_step(escalation, now)
        return await self._escalations.get(escalation.id)

    async def advance(self) -> int:
        """Tell the next caregiver on every open escalation whose current contact hasn't
        acknowledged within ack_minutes; mark escalations with nobody left to tell as exhausted.
        Returns how many notices were sent. Safe to run from several processes at once (each
        step is claimed atomically with a conditional UPDATE)."""
        now = self._clock.now()
        sent = 0
        for escalation in await self._escalations.due(now):
            try:
                sent += await self._take_step(escalation, now)
            except Exception:
                # One escalation's trouble (a database hiccup, a bad row) must not stop the
                # others; it is due again on the next tick.
                logger.bind(escalation_id=escalation.id).exception("Escalation step failed")
        return sent

    async def _take_step(self, escalation: Escalation, now: datetime) -> int:
        """Tell the contact at `escalation.step` (or give up when there is none), if this process
        claims the step. A notice that can't be sent because of the number itself (not valid,
        not a mobile, replied STOP) moves on to the next contact at once; any other failure waits
        for the next step time, as silence would. Returns how many notices went out."""
        senior = await self._escalations.senior(escalation.senior_id)
        contacts = list(senior.caregivers) if senior is not None else []
        step = escalation.step
        sent = 0
        while True:
            if senior is None or step >= len(contacts):
                exhausted = await self._escalations.exhaust(escalation.id, step, now)
                if exhausted is not None:
                    logger.bind(escalation_id=escalation.id).warning(
                        f"Escalation exhausted: {step} contact(s) told, nobody acknowledged"
                    )
                    await self._publish(exhausted)
                return sent
            next_step_at = now + timedelta(minutes=escalation.ack_minutes)
            if not await self._escalations.claim_step(escalation.id, step, now, next_step_at):
                return sent
            result = await self._tell(escalation, senior, contacts[step], now)
            step += 1
            if result is _Delivery.SENT:
                sent += 1
            current = await self._escalations.get(escalation.id)
            if current is not None:
                await self._publish(current)
            if result is not _Delivery.UNREACHABLE:
                return sent
            if not await self._escalations.make_due(escalation.id, step, now):
                return sent  # acknowledged meanwhile, or another process moved it on

    async def _tell(
        self, escalation: Escalation, senior: Senior, caregiver: Caregiver, now: datetime
    ) -> _Delivery:
        """Send one notice and store it, with Twilio's SID or the error."""
        checkin = (
            await self._escalations.checkin(escalation.checkin_id)
            if escalation.checkin_id is not None
            else None
        )
        notice = self.notice_for(escalation, senior, checkin, caregiver, now)
        stored = await self._escalations.add_notice(
            NoticeRecord(
                escalation_id=escalation.id,
                caregiver_id=caregiver.id,
                contact_name=caregiver.name,
                to_number=caregiver.phone_number,
                method=caregiver.contact_by,
                body=notice.text,
                sent_at=now,
            )
        )
        sid: str | None = None
        error: str | None = None
        result = _Delivery.SENT
        try:
            if notice.by_call:
                twiml = self.call_twiml(escalation.id, caregiver.phone_number, notice.text)
                sid = await self._twilio.call_with_message(caregiver.phone_number, twiml)
            else:
                sid = await self._twilio.send_sms(caregiver.phone_number, notice.text)
        except NumberNotCallable as exc:
            error, result = exc.message, _Delivery.UNREACHABLE
        except TwilioError as exc:
            error, result = exc.message, _Delivery.FAILED
        except MissingConfiguration as exc:
            error, result = str(exc), _Delivery.FAILED
        await self._escalations.settle_notice(stored.id, twilio_sid=sid, error=error)
        log = logger.bind(escalation_id=escalation.id)
        how = "called" if caregiver.contact_by is ContactMethod.CALL else "texted"
        number = mask_phone_number(caregiver.phone_number)
        if error is None:
            log.info(f"Escalation: {how} contact {number}")
        else:
            log.warning(f"Escalation: could not reach contact {number} ({how}): {error}")
        return result

    # --- what caregivers are told ----------------------------------------------------------

    def notice_for(
        self,
        escalation: Escalation,
        senior: Senior,
        checkin: Checkin | None,
        caregiver: Caregiver,
        now: datetime,
    ) -> Notice:
        """The text (or the call's words and TwiML) for one caregiver: who couldn't be reached,
        for which check-in in their local time, why, and how to acknowledge."""
        organization = self._settings.organization_name.strip()
        organization = organization[:1].upper() + organization[1:]
        which = _which_checkin(checkin, senior, now)
        situation = f"We couldn't reach {senior.name} for their {which}"
        if caregiver.contact_by is ContactMethod.CALL:
            spoken = (
                f"Hello, this is an automated message from {organization}. {situation}, "
                f"{escalation.reason.replace(': ', ', ')}. Please check on {senior.spoken_name}."
            )
            return Notice(spoken, by_call=True)
        return Notice(
            f"{organization}: {situation} ({escalation.reason}). Please check on "
            f"{senior.spoken_name}. Reply OK to let us know you've got this."
        )

    def call_twiml(self, escalation_id: int, phone_number: str, message: str) -> str:
        """A notice call: `message`, then "press 1"; the key press is posted back with a token
        for this escalation and this number. Needs WEBHOOK_URL (`MissingConfiguration`)."""
        query = urlencode(
            {
                "escalation_id": escalation_id,
                "token": self.tokens.issue(escalation_id, phone_number),
            }
        )
        action = self._settings.public_url(f"{ACK_PATH}?{query}")
        response = VoiceResponse()
        # Said twice: the first time may be half-heard while the phone comes to an ear.
        for _ in range(2):
            gather = Gather(num_digits=1, action=action, method="POST", timeout=8)
            gather.say(message)
            gather.say("Press 1 to let us know you've got this.")
            response.append(gather)
        response.say("We didn't hear a key press. Goodbye.")
        response.hangup()
        return str(response)

    # --- acknowledging -----------------------------------------------------------------------

    async def acknowledge(self, escalation_id: int, *, by: str) -> Escalation | None:
        """An operator (or caregiver) has it in hand. None if there is no such open/exhausted
        escalation."""
        escalation = await self._escalations.acknowledge(
            escalation_id, by=by, now=self._clock.now()
        )
        if escalation is not None:
            logger.bind(escalation_id=escalation_id).info("Escalation acknowledged")
            await self._publish(escalation)
        return escalation

    async def acknowledge_from_phone(self, phone_number: str) -> list[Escalation]:
        """A caregiver replied: acknowledge the escalations they were told about that are still
        open."""
        return await self._acknowledge_told(await self._escalations.told(phone_number))

    async def _acknowledge_told(self, told: Sequence[ToldContact]) -> list[Escalation]:
        acknowledged = []
        for item in told:
            escalation = await self.acknowledge(item.escalation.id, by=f"{item.contact_name} (SMS)")
            if escalation is not None:
                acknowledged.append(escalation)
        return acknowledged

    async def reply_to_sms(self, phone_number: str, body: str) -> str | None:
        """A text came in to our number: acknowledge if it's a caregiver saying OK to a notice;
        the reply to send back (None: no reply, e.g. for STOP, which Twilio answers itself)."""
        if is_twilio_keyword(body):
            return None
        told = await self._escalations.told(phone_number)
        if not told:
            return (
                "Thank you for your message. There's nothing waiting for an answer from you "
                "right now."
            )
        first_name = told[0].contact_name.split()[0] if told[0].contact_name else "there"
        seniors = _names(item.senior.spoken_name for item in told)
        if not is_acknowledgement(body):
            return f"To let us know you're checking on {seniors}, reply OK."
        if not await self._acknowledge_told(told):
            return f"Thank you, {first_name}. Someone is already checking on {seniors}."
        return f"Thank you, {first_name}. We've noted that you're checking on {seniors}."

    async def reply_to_keypad(
        self, escalation_id: int, token: str, digits: str, phone_number: str
    ) -> str:
        """A caregiver pressed a key on a notice call: with 1 and a token issued for this
        escalation and this number, acknowledged by them. Returns what to say back."""
        if digits.strip() != "1" or not self.tokens.verify(escalation_id, phone_number, token):
            return "Goodbye."
        name = await self._escalations.contact_name(escalation_id, phone_number)
        by = f"{name or mask_phone_number(phone_number)} (call)"
        escalation = await self.acknowledge(escalation_id, by=by)
        senior = await self._senior_of(escalation_id)
        who = senior.spoken_name if senior is not None else "them"
        if escalation is None:
            return f"Thank you. Someone is already checking on {who}. Goodbye."
        return f"Thank you. We've noted that you're checking on {who}. Goodbye."

    async def _senior_of(self, escalation_id: int) -> Senior | None:
        escalation = await self._escalations.get(escalation_id)
        if escalation is None:
            return None
        return await self._escalations.senior(escalation.senior_id)

    # --- helpers ---------------------------------------------------------------------------

    async def _publish(self, escalation: Escalation) -> None:
        await self._bus.publish(
            CallEvent(
                "escalation.updated",
                NO_CALL,
                {
                    "senior_id": escalation.senior_id,
                    "escalation_id": escalation.id,
                    "state": escalation.state.value,
                    "step": escalation.step,
                },
            )
        )


class _Delivery(enum.Enum):
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    """The number itself can't be reached (not valid, not a mobile, replied STOP)."""


def _which_checkin(checkin: Checkin | None, senior: Senior, now: datetime) -> str:
    """`10:00 check-in today`, in the senior's local time."""
    if checkin is None:
        return "check-in"
    try:
        tz = zone(senior.timezone)
    except ScheduleError:
        tz = ZoneInfo("UTC")
    start = checkin.window_start_at.astimezone(tz)
    return f"{start:%H:%M} check-in {_day(checkin.local_date, now.astimezone(tz).date())}"


def _day(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today - timedelta(days=1):
        return "yesterday"
    return f"on {day:%A} {day.day} {day:%B}"


def _names(names: Iterable[str]) -> str:
    """`Mary`, `Mary and John`, `Mary, John and Ann`."""
    unique = list(dict.fromkeys(names))
    if len(unique) <= 1:
        return unique[0] if unique else "them"
    return ", ".join(unique[:-1]) + " and " + unique[-1]

"""The escalation ladder: when a check-in can't reach the person, tell their caregivers one
after another until somebody says they have it in hand.

A check-in whose tries are used up without a conversation opens one escalation (at most one per
check-in). The first caregiver is told at once, by text or by a phone call, as their
`contact_by` says; each following caregiver is told when the previous one hasn't acknowledged
within the plan's `escalation_ack_minutes`. When everybody has been told and nobody has
acknowledged, the escalation is `exhausted` and stays on the dashboard until an operator
acknowledges it.

A caregiver acknowledges by replying OK to the text (or "sí", "vale": the words of every
language carecall speaks), by pressing 1 on the call, or an operator does it on the dashboard.
Notices, and the answers to their texts and key presses, are in the person's language
(`core.languages`), English when carecall has no catalogue for it. Every notice is stored as
it was sent (or as it failed). Steps are claimed with conditional UPDATEs
(`persistence.escalations`), so several dispatchers can run `advance()` at once and each
caregiver is told once. Time comes from the injected clock.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from loguru import logger
from twilio.twiml.voice_response import Gather, VoiceResponse

from carecall.core.clock import Clock
from carecall.core.events import NO_CALL, CallEvent, EventBus
from carecall.core.languages import (
    ENGLISH,
    Catalogue,
    acknowledgement_words,
    fold,
    organization_name,
    texts_for,
)
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
    outcome: ENGLISH.line(f"outcome.{outcome.value}")
    for outcome in (
        CheckinOutcome.VOICEMAIL,
        CheckinOutcome.NO_ANSWER,
        CheckinOutcome.BUSY,
        CheckinOutcome.FAILED,
        CheckinOutcome.SKIPPED,
    )
}
"""How an English notice describes the last try of a check-in that reached nobody."""

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


def missed_reason(outcome: CheckinOutcome, attempts: int, lines: Catalogue = ENGLISH) -> str:
    """`3 tries: no answer`: why the escalation was opened, as the notices say it (in
    ``lines``' language)."""
    words = lines.lines.get(f"outcome.{outcome.value}", outcome.value)
    if attempts <= 0:
        return words
    key = "escalation.tries.one" if attempts == 1 else "escalation.tries.many"
    return lines.line(key, count=attempts, outcome=words)


def is_acknowledgement(body: str) -> bool:
    """Whether a text reply says "I've got this" (OK, yes, got it, sí, vale…), in any language
    carecall speaks; "no" or a question doesn't, so the ladder goes on."""
    text = re.sub(r"[^\w\s'👍]", " ", fold(body.strip()))
    words = text.split()
    if not words:
        return False
    affirmative, phrases = acknowledgement_words()
    return words[0] in affirmative or any(" ".join(words[:n]) in phrases for n in (2, 3))


def is_twilio_keyword(body: str) -> bool:
    return body.strip().lower().strip(".!") in _TWILIO_KEYWORDS


@dataclass(frozen=True)
class Notice:
    """What one caregiver is told about one escalation."""

    text: str
    """The text message, or what the call says."""
    by_call: bool = False
    """Said on a phone call (which asks for a key press) rather than texted."""
    language: str = ENGLISH.code
    """The language it is in: the person's (`core.languages`)."""


@dataclass(frozen=True)
class KeypadReply:
    """What a notice call says back to a key press, and the `<Say>` attributes of its
    language."""

    text: str
    say: Mapping[str, str] = field(default_factory=dict)


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
                twiml = self.call_twiml(
                    escalation.id, caregiver.phone_number, notice.text, notice.language
                )
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
        for which check-in in their local time, why, and how to acknowledge; in the person's
        language."""
        lines = texts_for(senior.language)
        organization = organization_name(self._settings.organization_name.strip(), lines.code)
        organization = organization[:1].upper() + organization[1:]
        reason = escalation.reason
        if lines is not ENGLISH and checkin is not None and checkin.outcome is not None:
            reason = missed_reason(checkin.outcome, checkin.attempts, lines)
        which = _which_checkin(checkin, senior, now, lines)
        situation = lines.line("escalation.situation", full_name=senior.name, which=which)
        values = {"organization": organization, "situation": situation, "name": senior.spoken_name}
        if caregiver.contact_by is ContactMethod.CALL:
            spoken = lines.line("call.escalation", reason=reason.replace(": ", ", "), **values)
            return Notice(spoken, by_call=True, language=lines.code)
        return Notice(lines.line("text.escalation", reason=reason, **values), language=lines.code)

    def call_twiml(
        self, escalation_id: int, phone_number: str, message: str, language: str = ENGLISH.code
    ) -> str:
        """A notice call: `message`, then "press 1", in ``language``; the key press is posted
        back with a token for this escalation and this number. Needs WEBHOOK_URL
        (`MissingConfiguration`)."""
        lines = texts_for(language)
        query = urlencode(
            {
                "escalation_id": escalation_id,
                "token": self.tokens.issue(escalation_id, phone_number),
            }
        )
        action = self._settings.public_url(f"{ACK_PATH}?{query}")
        response = VoiceResponse()
        # Said twice: the first time may be half-heard while the phone comes to an ear.
        say = lines.say_attributes
        for _ in range(2):
            gather = Gather(num_digits=1, action=action, method="POST", timeout=8)
            gather.say(message, **say)
            gather.say(lines.line("escalation.press_1"), **say)
            response.append(gather)
        response.say(lines.line("escalation.no_key"), **say)
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
            # In the language of whom they were last told about (English if never told).
            language = await self._escalations.last_told_language(phone_number)
            return texts_for(language).line("reply.nothing_waiting")
        lines = texts_for(told[0].senior.language)
        name = told[0].contact_name
        first_name = name.split()[0] if name.split() else lines.line("reply.no_name")
        seniors = _names((item.senior.spoken_name for item in told), lines)
        if not is_acknowledgement(body):
            return lines.line("reply.how_to_acknowledge", names=seniors)
        if not await self._acknowledge_told(told):
            return lines.line("reply.already", first_name=first_name, names=seniors)
        return lines.line("reply.noted", first_name=first_name, names=seniors)

    async def reply_to_keypad(
        self, escalation_id: int, token: str, digits: str, phone_number: str
    ) -> KeypadReply:
        """A caregiver pressed a key on a notice call: with 1 and a token issued for this
        escalation and this number, acknowledged by them. Returns what to say back, in the
        person's language (English when the key press is refused: it may not be theirs)."""
        if digits.strip() != "1" or not self.tokens.verify(escalation_id, phone_number, token):
            return KeypadReply(ENGLISH.line("keypad.goodbye"))
        name = await self._escalations.contact_name(escalation_id, phone_number)
        by = f"{name or mask_phone_number(phone_number)} (call)"
        escalation = await self.acknowledge(escalation_id, by=by)
        senior = await self._senior_of(escalation_id)
        lines = texts_for(senior.language if senior is not None else None)
        who = senior.spoken_name if senior is not None else lines.line("names.none")
        key = "keypad.already" if escalation is None else "keypad.noted"
        return KeypadReply(lines.line(key, name=who), lines.say_attributes)

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


def _which_checkin(
    checkin: Checkin | None, senior: Senior, now: datetime, lines: Catalogue = ENGLISH
) -> str:
    """`10:00 check-in today`, in the senior's local time (and ``lines``' language)."""
    if checkin is None:
        return lines.line("checkin.which.unknown")
    try:
        tz = zone(senior.timezone)
    except ScheduleError:
        tz = ZoneInfo("UTC")
    start = checkin.window_start_at.astimezone(tz)
    day = _day(checkin.local_date, now.astimezone(tz).date(), lines)
    return lines.line("checkin.which", time=f"{start:%H:%M}", day=day)


def _day(day: date, today: date, lines: Catalogue) -> str:
    if day == today:
        return lines.line("day.today")
    if day == today - timedelta(days=1):
        return lines.line("day.yesterday")
    return lines.line(
        "day.on",
        weekday=lines.line(f"weekday.{day.weekday()}"),
        day=day.day,
        month=lines.line(f"month.{day.month}"),
    )


def _names(names: Iterable[str], lines: Catalogue = ENGLISH) -> str:
    """`Mary`, `Mary and John`, `Mary, John and Ann` (the last joined in ``lines``'
    language)."""
    unique = list(dict.fromkeys(names))
    if len(unique) <= 1:
        return unique[0] if unique else lines.line("names.none")
    return ", ".join(unique[:-1]) + lines.line("names.and") + unique[-1]

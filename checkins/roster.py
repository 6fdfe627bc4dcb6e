"""Adding and changing people on the roster, with every rule checked at the edge: E.164 phone
numbers, IANA time zones, plans inside calling hours that don't overlap, consent recorded with
who, when and how."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from calls.service import InvalidPhoneNumber, normalize_phone_number
from checkins.clock import Clock
from checkins.schedule import ScheduleError, Window, parse_clock_time, parse_weekdays, zone
from persistence.checkins import CheckinRepository
from persistence.models import CheckinPlan, ContactMethod, Senior
from persistence.roster import CaregiverFields, PlanFields, SeniorRepository

CONSENT_METHODS = ("verbal", "written", "web form", "recorded call", "other")
MAX_NOTES = 2000
MAX_CAREGIVERS = 10
_EARLIEST_CONSENT = datetime(1970, 1, 1, tzinfo=UTC)
"""Older dates are typing mistakes (and year 1 with an offset can't even be stored as UTC)."""


class RosterError(ValueError):
    """Input that can't be stored; `str(exc)` is the message for the person who sent it."""


class PlanOverlap(RosterError):
    pass


class SeniorNotFound(LookupError):
    def __init__(self, senior_id: int) -> None:
        super().__init__(f"There is no person {senior_id} on the roster.")


class PlanNotFound(LookupError):
    def __init__(self, plan_id: int) -> None:
        super().__init__(f"There is no check-in plan {plan_id} for this person.")


@dataclass
class CaregiverInput:
    name: str
    phone_number: str
    relation: str = ""
    contact_by: str = "sms"


@dataclass
class SeniorInput:
    name: str
    phone_number: str
    timezone: str
    preferred_name: str | None = None
    language: str = "en"
    notes: str = ""
    on_behalf_of: str | None = None
    caregivers: Sequence[CaregiverInput] = field(default_factory=list)


@dataclass
class PlanInput:
    weekdays: str | Sequence[str]
    window_start: str
    window_end: str
    max_attempts: int = 3
    retry_delay_minutes: int = 15
    escalation_ack_minutes: int = 30
    active: bool = True


@dataclass
class ConsentInput:
    given_by: str
    method: str
    at: datetime | None = None
    """When consent was given; None: now."""


class RosterService:
    def __init__(
        self, seniors: SeniorRepository, clock: Clock, checkins: CheckinRepository | None = None
    ) -> None:
        """With `checkins`, a change that makes a person callable on a plan (a plan saved,
        consent recorded, do-not-call cleared) makes today's check-ins at once, so the Today
        board shows them now rather than after the dispatcher's next scheduling round."""
        self._seniors = seniors
        self._clock = clock
        self._checkins = checkins

    async def _schedule(self, senior_id: int) -> None:
        if self._checkins is not None:
            await self._checkins.schedule(self._clock.now(), senior_id=senior_id)

    async def create(
        self,
        data: SeniorInput,
        *,
        plans: Sequence[PlanInput] = (),
        consent: ConsentInput | None = None,
        recorded_by: str | None = None,
    ) -> Senior:
        """Store a new person; with `plans` and `consent` everything is checked first and stored
        together, so a bad plan never leaves a half-made person behind."""
        fields, caregivers = _senior_fields(data)
        plan_fields = [_plan_fields(plan) for plan in plans]
        for i, plan in enumerate(plan_fields):
            _refuse_overlap(plan, plan_fields[:i])
        if consent is not None:
            fields.update(self._consent_fields(consent, recorded_by))
        try:
            senior = await self._seniors.create(fields, caregivers, plan_fields)
        except IntegrityError:
            raise RosterError(
                f"{fields['phone_number']} already belongs to someone on the roster."
            ) from None
        if plan_fields and consent is not None:
            await self._schedule(senior.id)
        return senior

    async def update(self, senior_id: int, data: SeniorInput) -> Senior:
        fields, caregivers = _senior_fields(data)
        await self.get(senior_id)
        try:
            updated = await self._seniors.update(senior_id, fields)
        except IntegrityError:
            raise RosterError(
                f"{fields['phone_number']} already belongs to someone on the roster."
            ) from None
        if updated is None:
            raise SeniorNotFound(senior_id)
        replaced = await self._seniors.replace_caregivers(senior_id, caregivers)
        if replaced is None:
            raise SeniorNotFound(senior_id)
        return replaced

    async def get(self, senior_id: int) -> Senior:
        senior = await self._seniors.get(senior_id)
        if senior is None:
            raise SeniorNotFound(senior_id)
        return senior

    async def delete(self, senior_id: int) -> None:
        if not await self._seniors.delete(senior_id):
            raise SeniorNotFound(senior_id)

    async def add_plan(self, senior_id: int, data: PlanInput) -> CheckinPlan:
        senior = await self.get(senior_id)
        fields = _plan_fields(data)
        _refuse_overlap(fields, senior.plans)
        plan = await self._seniors.add_plan(senior_id, fields)
        await self._schedule(senior_id)
        return plan

    async def update_plan(self, senior_id: int, plan_id: int, data: PlanInput) -> CheckinPlan:
        senior = await self.get(senior_id)
        if not any(plan.id == plan_id for plan in senior.plans):
            raise PlanNotFound(plan_id)
        fields = _plan_fields(data)
        _refuse_overlap(fields, [plan for plan in senior.plans if plan.id != plan_id])
        plan = await self._seniors.update_plan(plan_id, vars(fields))
        if plan is None:
            raise PlanNotFound(plan_id)
        await self._schedule(senior_id)
        return plan

    async def delete_plan(self, senior_id: int, plan_id: int) -> None:
        senior = await self.get(senior_id)
        if not any(plan.id == plan_id for plan in senior.plans):
            raise PlanNotFound(plan_id)
        await self._seniors.delete_plan(plan_id)

    async def record_consent(
        self, senior_id: int, data: ConsentInput, *, recorded_by: str | None
    ) -> Senior:
        fields = self._consent_fields(data, recorded_by)
        senior = await self._seniors.record_consent(
            senior_id,
            given_by=fields["consent_given_by"],
            method=fields["consent_method"],
            at=fields["consent_at"],
            recorded_by=recorded_by,
        )
        if senior is None:
            raise SeniorNotFound(senior_id)
        await self._schedule(senior_id)
        return senior

    def _consent_fields(self, data: ConsentInput, recorded_by: str | None) -> dict[str, Any]:
        given_by = _text(data.given_by, "Who gave consent", 100, required=True)
        method = (data.method or "").strip().lower()
        if method not in CONSENT_METHODS:
            raise RosterError(
                f"How consent was given must be one of: {', '.join(CONSENT_METHODS)}."
            )
        now = self._clock.now()
        at = data.at or now
        if at.tzinfo is None:
            raise RosterError("Give the time consent was given with its UTC offset.")
        if at > now:
            raise RosterError("Consent can't be recorded for a time in the future.")
        if at < _EARLIEST_CONSENT:
            raise RosterError("The date consent was given must be after 1970.")
        return {
            "consent_given_by": given_by,
            "consent_method": method,
            # In UTC: SQLite keeps a datetime's wall-clock digits and drops its offset.
            "consent_at": at.astimezone(UTC),
            "consent_recorded_by": recorded_by,
        }

    async def set_do_not_call(
        self, senior_id: int, do_not_call: bool, *, reason: str | None = None
    ) -> Senior:
        text = _text(reason or "", "The reason", 200) or None
        senior = await self._seniors.set_do_not_call(senior_id, do_not_call, reason=text)
        if senior is None:
            raise SeniorNotFound(senior_id)
        if not do_not_call:
            await self._schedule(senior_id)
        return senior


def _senior_fields(data: SeniorInput) -> tuple[dict[str, Any], list[CaregiverFields]]:
    try:
        phone = normalize_phone_number(data.phone_number)
        tz = zone(data.timezone).key
    except (InvalidPhoneNumber, ScheduleError) as exc:
        raise RosterError(str(exc)) from None
    language = (data.language or "en").strip().lower()
    if not language.replace("-", "").isalpha() or len(language) > 16:
        raise RosterError("Language must be a language code such as en or es.")
    fields: dict[str, Any] = {
        "name": _text(data.name, "The name", 100, required=True),
        "preferred_name": _text(data.preferred_name or "", "The preferred name", 60) or None,
        "phone_number": phone,
        "timezone": tz,
        "language": language,
        "notes": _text(data.notes or "", "The notes", MAX_NOTES, multiline=True),
        "on_behalf_of": _text(data.on_behalf_of or "", "On behalf of", 100) or None,
    }
    if len(data.caregivers) > MAX_CAREGIVERS:
        raise RosterError(f"At most {MAX_CAREGIVERS} caregivers can be listed.")
    caregivers = []
    for i, contact in enumerate(data.caregivers, 1):
        try:
            number = normalize_phone_number(contact.phone_number)
        except InvalidPhoneNumber as exc:
            raise RosterError(f"Caregiver {i}: {exc}") from None
        if number == phone:
            raise RosterError(f"Caregiver {i} has the person's own phone number.")
        try:
            method = ContactMethod((contact.contact_by or "sms").strip().lower())
        except ValueError:
            raise RosterError(f"Caregiver {i}: contact by 'sms' or 'call'.") from None
        caregivers.append(
            CaregiverFields(
                name=_text(contact.name, f"Caregiver {i}'s name", 100, required=True),
                relation=_text(contact.relation or "", f"Caregiver {i}'s relation", 60),
                phone_number=number,
                contact_by=method,
            )
        )
    return fields, caregivers


def _plan_fields(data: PlanInput) -> PlanFields:
    try:
        window = Window(
            parse_weekdays(data.weekdays),
            parse_clock_time(data.window_start),
            parse_clock_time(data.window_end),
        )
    except ScheduleError as exc:
        raise RosterError(str(exc)) from None
    for value, label, low, high in (
        (data.max_attempts, "Tries", 1, 10),
        (data.retry_delay_minutes, "Minutes between tries", 1, 240),
        (data.escalation_ack_minutes, "Minutes for a caregiver to answer", 1, 1440),
    ):
        if not low <= value <= high:
            raise RosterError(f"{label} must be between {low} and {high}.")
    return PlanFields(
        weekdays=",".join(window.weekdays),
        window_start=window.start,
        window_end=window.end,
        max_attempts=data.max_attempts,
        retry_delay_minutes=data.retry_delay_minutes,
        escalation_ack_minutes=data.escalation_ack_minutes,
        active=data.active,
    )


def plan_window(plan: CheckinPlan | PlanFields) -> Window:
    return Window(tuple(plan.weekdays.split(",")), plan.window_start, plan.window_end)


def _refuse_overlap(new: PlanFields, others: Sequence[CheckinPlan | PlanFields]) -> None:
    if not new.active:
        return
    window = plan_window(new)
    for other in others:
        if other.active and plan_window(other).overlaps(window):
            raise PlanOverlap(
                f"This window ({window.describe()}) overlaps the plan "
                f"{plan_window(other).describe()}: a person gets one check-in at a time."
            )


def _text(
    value: str, label: str, limit: int, *, required: bool = False, multiline: bool = False
) -> str:
    text = (value or "").strip()
    if required and not text:
        raise RosterError(f"{label} is required.")
    if len(text) > limit:
        raise RosterError(f"{label} is too long (at most {limit} characters).")
    if not multiline and any(ch in text for ch in "\r\n"):
        raise RosterError(f"{label} must be on one line.")
    if any(ord(ch) < 32 and ch not in "\r\n\t" for ch in text):
        raise RosterError(f"{label} contains control characters.")
    return text

"""Adding and changing people on the roster, with every rule checked at the edge: E.164 phone
numbers, IANA time zones, plans inside calling hours that don't overlap, consent recorded with
who, when and how, and calls recorded only when that consent says recording was agreed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from carecall.core.clock import Clock
from carecall.core.languages import LANGUAGES, language_code
from carecall.core.phones import InvalidPhoneNumber, normalize_phone_number
from carecall.core.schedule import (
    WEEKDAYS,
    ScheduleError,
    Window,
    parse_clock_time,
    parse_weekdays,
    zone,
)
from carecall.persistence.checkins import CheckinRepository
from carecall.persistence.models import CheckinPlan, ContactMethod, Senior
from carecall.persistence.roster import CaregiverFields, PlanFields, SeniorRepository

CONSENT_METHODS = ("verbal", "written", "web form", "recorded call", "other")
MAX_NOTES = 2000
MAX_CAREGIVERS = 10
RECORDING_NEEDS_CONSENT = (
    "Calls can be recorded only when the consent record says that recording was agreed: "
    "record their consent, with recording, first."
)
_EARLIEST_CONSENT = datetime(1970, 1, 1, tzinfo=UTC)
"""Older dates are typing mistakes (and year 1 with an offset can't even be stored as UTC)."""
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input. `field` names it as the API spells it (`phone_number`,
    `caregivers.0.phone_number`, `plans.1.window`, `consent.method`); empty for the input as a
    whole. `message` is a sentence for the person who sent it."""

    field: str
    message: str


class RosterError(ValueError):
    """Input that can't be stored. `problems` lists every one found, so a form or a request is
    fixed in one go; `str(exc)` is all their messages, for the person who sent it."""

    def __init__(self, problems: str | Sequence[Problem]) -> None:
        self.problems = (Problem("", problems),) if isinstance(problems, str) else tuple(problems)
        super().__init__(" ".join(problem.message for problem in self.problems))


class _Problems:
    """Runs each check of one input, keeping every refusal instead of stopping at the first."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def check(self, field: str, check: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """`check(*args, **kwargs)`, or None when it refuses (kept under `field`)."""
        try:
            return check(*args, **kwargs)
        except RosterError as exc:
            self.found.extend(_under(field, exc.problems))
        except ScheduleError as exc:
            self.found.extend(Problem(field, message) for message in exc.messages)
        except InvalidPhoneNumber as exc:
            self.found.append(Problem(field, str(exc)))
        return None

    def add(self, field: str, message: str) -> None:
        self.found.append(Problem(field, message))

    def raise_if_any(self) -> None:
        if self.found:
            raise RosterError(self.found)


def _under(prefix: str, problems: Sequence[Problem]) -> list[Problem]:
    """`problems` of a part of the input (a plan, a caregiver) named within the whole."""
    return [
        Problem(".".join(part for part in (prefix, problem.field) if part), problem.message)
        for problem in problems
    ]


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
    record_calls: bool = False
    """Record their calls; refused unless their consent record says recording was agreed."""


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
    recording: bool = False
    """They also agreed that their calls may be recorded."""


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
        problems = _Problems()
        details = problems.check("", _senior_fields, data)
        plan_fields: list[PlanFields] = []
        overlaps: list[Problem] = []
        for i, plan in enumerate(plans):
            checked = problems.check(f"plans.{i}", _plan_fields, plan)
            if checked is None:
                continue
            try:
                _refuse_overlap(checked, plan_fields)
            except PlanOverlap as exc:
                overlaps.extend(_under(f"plans.{i}", exc.problems))
            plan_fields.append(checked)
        consent_fields = (
            problems.check("consent", self._consent_fields, consent, recorded_by)
            if consent is not None
            else {}
        )
        if data.record_calls and not (consent is not None and consent.recording):
            problems.add("record_calls", RECORDING_NEEDS_CONSENT)
        if problems.found:
            raise RosterError(problems.found + overlaps)
        if overlaps:
            # Overlapping plans alone are a conflict (409 over the API), not bad input.
            raise PlanOverlap(overlaps)
        assert details is not None and consent_fields is not None
        fields, caregivers = details
        fields.update(consent_fields)
        try:
            senior = await self._seniors.create(fields, caregivers, plan_fields)
        except IntegrityError:
            raise RosterError(_number_taken(fields["phone_number"])) from None
        if plan_fields and consent is not None:
            await self._schedule(senior.id)
        return senior

    async def update(self, senior_id: int, data: SeniorInput) -> Senior:
        fields, caregivers = _senior_fields(data)
        senior = await self.get(senior_id)
        if data.record_calls and not (senior.has_consent and senior.consent_recording):
            raise RosterError([Problem("record_calls", RECORDING_NEEDS_CONSENT)])
        try:
            updated = await self._seniors.update(senior_id, fields)
        except IntegrityError:
            raise RosterError(_number_taken(fields["phone_number"])) from None
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
            recording=fields["consent_recording"],
        )
        if senior is None:
            raise SeniorNotFound(senior_id)
        await self._schedule(senior_id)
        return senior

    def consent_problems(self, data: ConsentInput) -> list[Problem]:
        """Everything wrong with `data` as consent; empty if nothing is."""
        try:
            self._consent_fields(data, None)
        except RosterError as exc:
            return list(exc.problems)
        return []

    def _consent_fields(self, data: ConsentInput, recorded_by: str | None) -> dict[str, Any]:
        problems = _Problems()
        given_by = problems.check(
            "given_by", _text, data.given_by, "Who gave consent", 100, required=True
        )
        method = (data.method or "").strip().lower()
        if method not in CONSENT_METHODS:
            problems.add(
                "method", f"How consent was given must be one of: {', '.join(CONSENT_METHODS)}."
            )
        now = self._clock.now()
        at = data.at or now
        if at.tzinfo is None:
            problems.add("at", "Give the time consent was given with its UTC offset.")
        elif at > now:
            problems.add("at", "Consent can't be recorded for a time in the future.")
        elif at < _EARLIEST_CONSENT:
            problems.add("at", "The date consent was given must be after 1970.")
        problems.raise_if_any()
        return {
            "consent_given_by": given_by,
            "consent_method": method,
            "consent_at": at,
            "consent_recorded_by": recorded_by,
            "consent_recording": bool(data.recording),
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
    """The person's details and caregivers as stored, or `RosterError` with every problem."""
    problems = _Problems()
    phone = problems.check("phone_number", normalize_phone_number, data.phone_number)
    tz = problems.check("timezone", zone, data.timezone)
    fields: dict[str, Any] = {
        "name": problems.check("name", _text, data.name, "The name", 100, required=True),
        "preferred_name": problems.check(
            "preferred_name", _text, data.preferred_name or "", "The preferred name", 60
        )
        or None,
        "phone_number": phone,
        "timezone": tz.key if tz is not None else None,
        "language": problems.check("language", _language, data.language),
        "notes": problems.check(
            "notes", _text, data.notes or "", "The notes", MAX_NOTES, multiline=True
        ),
        "on_behalf_of": problems.check(
            "on_behalf_of", _text, data.on_behalf_of or "", "On behalf of", 100
        )
        or None,
        "record_calls": bool(data.record_calls),
    }
    if len(data.caregivers) > MAX_CAREGIVERS:
        problems.add("caregivers", f"At most {MAX_CAREGIVERS} caregivers can be listed.")
    caregivers = [
        problems.check(f"caregivers.{i}", _caregiver_fields, i + 1, contact, phone)
        for i, contact in enumerate(data.caregivers[:MAX_CAREGIVERS])
    ]
    problems.raise_if_any()
    return fields, [contact for contact in caregivers if contact is not None]


def _language(text: str) -> str:
    """A language carecall speaks (`core.languages`), stored as its code ("es-MX" → "es")."""
    code = language_code(text)
    if code is None:
        known = ", ".join(f"{c.code} ({c.name})" for c in LANGUAGES.values())
        raise RosterError(f"Language must be one carecall speaks: {known}.")
    return code


def _caregiver_fields(n: int, contact: CaregiverInput, own_number: str | None) -> CaregiverFields:
    """Caregiver `n` (counted from 1, as the form shows them) as stored; the person's own
    number is refused (a caregiver must be someone else)."""
    problems = _Problems()
    name = problems.check("name", _text, contact.name, f"Caregiver {n}'s name", 100, required=True)
    relation = problems.check(
        "relation", _text, contact.relation or "", f"Caregiver {n}'s relation", 60
    )
    number = problems.check("phone_number", _caregiver_number, n, contact.phone_number)
    if number is not None and number == own_number:
        problems.add("phone_number", f"Caregiver {n} has the person's own phone number.")
    try:
        method = ContactMethod((contact.contact_by or "sms").strip().lower())
    except ValueError:
        problems.add("contact_by", f"Caregiver {n}: contact by 'sms' or 'call'.")
    problems.raise_if_any()
    assert name is not None and relation is not None and number is not None
    return CaregiverFields(name=name, relation=relation, phone_number=number, contact_by=method)


def _caregiver_number(n: int, text: str) -> str:
    try:
        return normalize_phone_number(text)
    except InvalidPhoneNumber as exc:
        raise RosterError(f"Caregiver {n}: {exc}") from None


def _number_taken(number: str) -> list[Problem]:
    return [Problem("phone_number", f"{number} already belongs to someone on the roster.")]


def _plan_fields(data: PlanInput) -> PlanFields:
    """The plan as stored, or `RosterError` with every problem (`window` names the window's
    own rules: after it starts, within calling hours, long enough)."""
    problems = _Problems()
    weekdays = problems.check("weekdays", parse_weekdays, data.weekdays)
    start = problems.check("window_start", parse_clock_time, data.window_start)
    end = problems.check("window_end", parse_clock_time, data.window_end)
    if start is not None and end is not None:
        # Checked on every day when the days are wrong too, so both problems are told at once.
        problems.check("window", Window, weekdays or WEEKDAYS, start, end)
    for name, value, label, low, high in (
        ("max_attempts", data.max_attempts, "Tries", 1, 10),
        ("retry_delay_minutes", data.retry_delay_minutes, "Minutes between tries", 1, 240),
        (
            "escalation_ack_minutes",
            data.escalation_ack_minutes,
            "Minutes for a caregiver to answer",
            1,
            1440,
        ),
    ):
        if not low <= value <= high:
            problems.add(name, f"{label} must be between {low} and {high}.")
    problems.raise_if_any()
    assert weekdays is not None and start is not None and end is not None
    window = Window(weekdays, start, end)
    return PlanFields(
        weekdays=",".join(window.weekdays),
        window_start=window.start,
        window_end=window.end,
        max_attempts=data.max_attempts,
        retry_delay_minutes=data.retry_delay_minutes,
        escalation_ack_minutes=data.escalation_ack_minutes,
        active=data.active,
    )


def plan_problems(data: PlanInput) -> list[Problem]:
    """Everything wrong with a plan on its own (not its overlap with others); empty if none."""
    try:
        _plan_fields(data)
    except RosterError as exc:
        return list(exc.problems)
    return []


def plan_window(plan: CheckinPlan | PlanFields) -> Window:
    return Window(tuple(plan.weekdays.split(",")), plan.window_start, plan.window_end)


def _refuse_overlap(new: PlanFields, others: Sequence[CheckinPlan | PlanFields]) -> None:
    if not new.active:
        return
    window = plan_window(new)
    for other in others:
        if other.active and plan_window(other).overlaps(window):
            raise PlanOverlap(
                [
                    Problem(
                        "window",
                        f"This window ({window.describe()}) overlaps the plan "
                        f"{plan_window(other).describe()}: a person gets one check-in at a time.",
                    )
                ]
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

"""The person form (`/people/new`, `/people/{id}/edit`): who the person is and their
caregivers, the escalation ladder in order.

The form posts back here with the CSRF field. Every rule lives in
`checkins.roster.RosterService`: a refused form is shown again with the person's input kept and
every one of the service's problems listed and next to its input (HTTP 422), never a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from fastapi import APIRouter, Request, status
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from carecall.app_state import get_state
from carecall.auth.dependencies import PageOperator, check_csrf
from carecall.bot.services import CallLanguages
from carecall.checkins.roster import (
    CaregiverInput,
    Problem,
    RosterError,
    SeniorInput,
    SeniorNotFound,
)
from carecall.core.languages import LANGUAGES
from carecall.persistence.ids import RowId
from carecall.persistence.models import ContactMethod, Senior
from carecall.web.people_shared import Roster, form_field, method_label, not_found_page
from carecall.web.templating import render

router = APIRouter(include_in_schema=False)

EMPTY_CAREGIVER_ROWS = 2
MIN_CAREGIVER_ROWS = 3
COMMON_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Athens",
    "Africa/Johannesburg",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Perth",
    "Pacific/Auckland",
)


@dataclass
class PersonForm:
    """The person form's fields as typed, so a refused form comes back exactly as it was sent."""

    values: dict[str, str] = field(default_factory=dict)
    caregivers: list[dict[str, str]] = field(default_factory=list)
    record_calls: bool = False

    FIELDS: ClassVar[tuple[str, ...]] = (
        "name",
        "preferred_name",
        "phone_number",
        "timezone",
        "language",
        "notes",
        "on_behalf_of",
    )
    CAREGIVER_FIELDS: ClassVar[tuple[str, ...]] = ("name", "relation", "phone", "contact")

    @classmethod
    def blank(cls) -> PersonForm:
        return cls({"language": "en"}).padded()

    @classmethod
    def of(cls, senior: Senior) -> PersonForm:
        values = {name: str(getattr(senior, name) or "") for name in cls.FIELDS}
        caregivers = [
            {
                "name": contact.name,
                "relation": contact.relation,
                "phone": contact.phone_number,
                "contact": contact.contact_by.value,
            }
            for contact in senior.caregivers
        ]
        return cls(values, caregivers, senior.record_calls).padded()

    @classmethod
    def parse(cls, form: FormData) -> PersonForm:
        values = {name: form_field(form, name) for name in cls.FIELDS}
        columns = {
            name: [str(value) for value in form.getlist(f"caregiver_{name}")]
            for name in cls.CAREGIVER_FIELDS
        }
        rows = max((len(column) for column in columns.values()), default=0)
        caregivers = [
            {name: (column[i] if i < len(column) else "") for name, column in columns.items()}
            for i in range(rows)
        ]
        # Rows left empty are the form's spare rows, not contacts.
        filled = [row for row in caregivers if any(row[k].strip() for k in ("name", "phone"))]
        return cls(values, filled, form_field(form, "record_calls") == "1")

    def padded(self) -> PersonForm:
        spare = max(EMPTY_CAREGIVER_ROWS, MIN_CAREGIVER_ROWS - len(self.caregivers))
        blank = {"name": "", "relation": "", "phone": "", "contact": ContactMethod.SMS.value}
        return PersonForm(
            self.values, self.caregivers + [dict(blank) for _ in range(spare)], self.record_calls
        )

    def to_input(self) -> SeniorInput:
        value = self.values.get
        return SeniorInput(
            name=value("name", ""),
            phone_number=value("phone_number", ""),
            timezone=value("timezone", ""),
            preferred_name=value("preferred_name") or None,
            language=value("language") or "en",
            notes=value("notes", ""),
            on_behalf_of=value("on_behalf_of") or None,
            caregivers=[
                CaregiverInput(
                    name=row["name"],
                    phone_number=row["phone"],
                    relation=row["relation"],
                    contact_by=row["contact"] or ContactMethod.SMS.value,
                )
                for row in self.caregivers
            ],
            record_calls=self.record_calls,
        )


_CAREGIVER_INPUTS = {
    "name": "caregiver-name",
    "relation": "caregiver-relation",
    "phone_number": "caregiver-phone",
    "contact_by": "caregiver-contact",
}


def _form_input(problem: Problem) -> str | None:
    """The id of the person form's input a problem is about (`caregivers.1.phone_number` →
    `caregiver-phone-2`: the form counts rows from 1); None when it is about no one input."""
    if problem.field in (*PersonForm.FIELDS, "record_calls"):
        return problem.field
    parts = problem.field.split(".")
    if len(parts) == 3 and parts[0] == "caregivers" and parts[1].isdigit():
        prefix = _CAREGIVER_INPUTS.get(parts[2])
        return f"{prefix}-{int(parts[1]) + 1}" if prefix else None
    return None


@dataclass(frozen=True)
class FormProblems:
    """Every problem of a refused form: listed at the top (each linked to its input) and shown
    again under the input it is about (`by_input`, keyed by the input's id)."""

    listed: list[tuple[str | None, str]] = field(default_factory=list)
    by_input: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> FormProblems:
        found = cls()
        for problem in problems:
            input_id = _form_input(problem)
            found.listed.append((input_id, problem.message))
            if input_id is not None:
                found.by_input.setdefault(input_id, []).append(problem.message)
        return found


def _person_form(
    request: Request,
    operator: object,
    form: PersonForm,
    *,
    senior: Senior | None = None,
    refused: RosterError | None = None,
) -> Response:
    problems = FormProblems.of(refused.problems if refused else ())
    spoken = CallLanguages.of(get_state(request).settings)
    return render(
        request,
        "person_form.html",
        status.HTTP_422_UNPROCESSABLE_CONTENT if refused else 200,
        operator=operator,
        active="people",
        senior=senior,
        form=form,
        problems=problems.listed,
        errors=problems.by_input,
        zones=COMMON_ZONES,
        languages=[
            (code, f"{language.native_name} ({code})", spoken.speaks(code))
            for code, language in LANGUAGES.items()
        ],
        languages_limit=spoken.limit,
        contact_methods=[(method.value, method_label(method)) for method in ContactMethod],
    )


@router.get("/people/new")
async def new_person_page(request: Request, operator: PageOperator) -> Response:
    return _person_form(request, operator, PersonForm.blank())


@router.post("/people/new")
async def create_person(request: Request, roster: Roster, operator: PageOperator) -> Response:
    submitted = await request.form()
    check_csrf(request, form_field(submitted, "csrf_token"))
    form = PersonForm.parse(submitted)
    try:
        senior = await roster.create(form.to_input())
    except RosterError as exc:
        return _person_form(request, operator, form.padded(), refused=exc)
    return RedirectResponse(f"/people/{senior.id}", status.HTTP_303_SEE_OTHER)


@router.get("/people/{senior_id}/edit")
async def edit_person_page(
    request: Request, senior_id: RowId, roster: Roster, operator: PageOperator
) -> Response:
    try:
        senior = await roster.get(senior_id)
    except SeniorNotFound as exc:
        return not_found_page(request, operator, exc)
    return _person_form(request, operator, PersonForm.of(senior), senior=senior)


@router.post("/people/{senior_id}/edit")
async def update_person(
    request: Request, senior_id: RowId, roster: Roster, operator: PageOperator
) -> Response:
    submitted = await request.form()
    check_csrf(request, form_field(submitted, "csrf_token"))
    form = PersonForm.parse(submitted)
    try:
        senior = await roster.get(senior_id)
        await roster.update(senior_id, form.to_input())
    except SeniorNotFound as exc:
        return not_found_page(request, operator, exc)
    except RosterError as exc:
        return _person_form(request, operator, form.padded(), senior=senior, refused=exc)
    return RedirectResponse(f"/people/{senior_id}", status.HTTP_303_SEE_OTHER)

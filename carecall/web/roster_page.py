"""The roster page (`/people`): everyone on the check-in program, found by name or number."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from carecall.auth.dependencies import PageOperator
from carecall.core.phones import mask_phone_number
from carecall.persistence.models import Senior
from carecall.web.people_shared import State, plan_summary
from carecall.web.templating import render

router = APIRouter(include_in_schema=False)

SEARCH_LIMIT = 50


@router.get("/people")
async def people_page(
    request: Request, state: State, operator: PageOperator, q: str = ""
) -> Response:
    query = q.strip()[:100]
    seniors, total = await state.seniors.search(query, limit=SEARCH_LIMIT)
    return render(
        request,
        "people.html",
        operator=operator,
        active="people",
        q=query,
        total=total,
        people=[_roster_row(senior) for senior in seniors],
    )


def _roster_row(senior: Senior) -> dict[str, Any]:
    return {
        "id": senior.id,
        "name": senior.name,
        "preferred_name": senior.preferred_name,
        # Masked in the list, as on the call pages; their page has it in full, to ring them.
        "phone_number": mask_phone_number(senior.phone_number),
        "timezone": senior.timezone,
        "plans": [plan_summary(plan) for plan in senior.plans],
        "has_consent": senior.has_consent,
        "do_not_call": senior.do_not_call,
        "caregivers": len(senior.caregivers),
    }

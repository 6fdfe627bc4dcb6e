"""The check-in program's pages, one module each: the roster (`web.roster_page`), the person
form (`web.person_form`), one person (`web.person_page`) and Today (`web.today_page`), with
what they share in `web.people_shared`.

`router` serves them all, in the order their paths must be matched: `/people/new` before
`/people/{senior_id}`, which would otherwise take "new" for an id (and answer 422).
"""

from __future__ import annotations

from fastapi import APIRouter

from carecall.web import person_form, person_page, roster_page, today_page

router = APIRouter(include_in_schema=False)
router.include_router(roster_page.router)
router.include_router(person_form.router)
router.include_router(person_page.router)
router.include_router(today_page.router)

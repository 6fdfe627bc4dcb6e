"""`/api/seniors` through the real app, on SQLite and on PostgreSQL: the roster's whole life
(create, read, search, update, plans, consent, do-not-call, delete), every kind of bad input
answered with a 4xx whose message names the problem, and who may use it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carecall.persistence.database import create_session_factory
from carecall.persistence.today import ProgramViews
from carecall.server import create_app
from carecall.settings import Settings
from tests.api.support import (
    OPERATOR_EMAIL,
    add_api_key,
    add_operator,
    app_state,
    log_in,
    on_app_loop,
)
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NUMBER = "+13125550101"
KEY_NAME = "roster tests"


@pytest.fixture
def api(
    make_settings: Callable[..., Settings],
    database_url: str,
    fake_twilio: FakeAsyncTwilioHttpClient,
) -> Iterator[TestClient]:
    """The app on SQLite, then on PostgreSQL, with an API key and a clock at NOW."""
    yield from _client(make_settings(database_url=database_url), fake_twilio, api_key=True)


def _client(
    settings: Settings, fake_twilio: FakeAsyncTwilioHttpClient, *, api_key: bool
) -> Iterator[TestClient]:
    app = create_app(settings, twilio_http_client=fake_twilio, clock=FakeClock(NOW))
    with TestClient(app) as client:
        if api_key:
            client.headers["Authorization"] = f"Bearer {add_api_key(client, KEY_NAME)}"
        yield client


def _senior(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Margaret Olsen",
        "preferred_name": "Maggie",
        "phone_number": NUMBER,
        "timezone": "America/Chicago",
        "notes": "Loves her garden.\nHard of hearing on the left.",
        "on_behalf_of": "your daughter Susan",
        "caregivers": [
            {"name": "Susan Olsen", "relation": "daughter", "phone_number": "+13125550102"},
            {
                "name": "Tom Berg",
                "relation": "neighbour",
                "phone_number": "+13125550103",
                "contact_by": "call",
            },
        ],
    }
    body.update(overrides)
    return body


def _plan(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"weekdays": "weekdays", "window_start": "10:00", "window_end": "11:00"}
    body.update(overrides)
    return body


def _created(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/seniors", json=_senior(**overrides))
    assert response.status_code == 201, response.text
    senior: dict[str, Any] = response.json()
    return senior


def _refused(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    for word in words:
        assert word in detail, (word, detail)


# --- the roster's life ------------------------------------------------------------------------


def test_a_person_from_creation_to_deletion(api: TestClient) -> None:
    created = api.post(
        "/api/seniors",
        json=_senior(
            phone_number="+1 (312) 555-0101",
            plans=[_plan(), _plan(weekdays=["sat", "sun"], window_start="9:30")],
            consent={"given_by": "Margaret herself", "method": "Verbal"},
        ),
    )
    assert created.status_code == 201, created.text
    senior = created.json()
    senior_id = senior["id"]
    assert senior["phone_number"] == NUMBER
    assert senior["timezone"] == "America/Chicago"
    assert senior["language"] == "en"
    assert senior["notes"] == "Loves her garden.\nHard of hearing on the left."
    assert [(c["name"], c["position"], c["contact_by"]) for c in senior["caregivers"]] == [
        ("Susan Olsen", 0, "sms"),
        ("Tom Berg", 1, "call"),
    ]
    assert [(p["weekdays"], p["window_start"], p["window_end"]) for p in senior["plans"]] == [
        (["mon", "tue", "wed", "thu", "fri"], "10:00", "11:00"),
        (["sat", "sun"], "09:30", "11:00"),
    ]
    assert senior["plans"][0]["description"] == "Mon–Fri 10:00–11:00"
    assert senior["plans"][0]["max_attempts"] == 3
    assert senior["plans"][0]["active"] is True
    assert senior["consent"]["given_by"] == "Margaret herself"
    assert senior["consent"]["method"] == "verbal"
    assert datetime.fromisoformat(senior["consent"]["at"]) == NOW
    assert senior["consent"]["recorded_by"] == KEY_NAME
    assert senior["do_not_call"] == {"flag": False, "at": None, "reason": None}

    assert api.get(f"/api/seniors/{senior_id}").json() == senior

    other = _created(
        api,
        name="Albert Nguyen",
        preferred_name=None,
        phone_number="+442079460001",
        timezone="Europe/London",
        caregivers=[],
    )
    for query, names in [
        ("", ["Albert Nguyen", "Margaret Olsen"]),
        ("olsen", ["Margaret Olsen"]),
        ("MAGGIE", ["Margaret Olsen"]),
        ("555-0101", ["Margaret Olsen"]),
        ("2079", ["Albert Nguyen"]),
        ("nobody", []),
        ("x%_", []),
    ]:
        page = api.get("/api/seniors", params={"q": query}).json()
        assert [s["name"] for s in page["items"]] == names, query
        assert page["total"] == len(names)
    paged = api.get("/api/seniors", params={"limit": 1, "offset": 1}).json()
    assert (paged["total"], paged["limit"], paged["offset"]) == (2, 1, 1)
    assert [s["name"] for s in paged["items"]] == ["Margaret Olsen"]

    # PUT replaces details and the whole caregiver ladder, in the order given.
    updated = api.put(
        f"/api/seniors/{senior_id}",
        json=_senior(
            name="Margaret Olsen-Berg",
            preferred_name=None,
            timezone="America/Denver",
            caregivers=[
                {"name": "Tom Berg", "phone_number": "+13125550103"},
                {"name": "Dr. Patel", "relation": "GP", "phone_number": "+13125550109"},
                {"name": "Susan Olsen", "phone_number": "+13125550102", "contact_by": "call"},
            ],
        ),
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["name"] == "Margaret Olsen-Berg"
    assert body["preferred_name"] is None
    assert body["timezone"] == "America/Denver"
    assert [(c["name"], c["position"]) for c in body["caregivers"]] == [
        ("Tom Berg", 0),
        ("Dr. Patel", 1),
        ("Susan Olsen", 2),
    ]
    assert body["plans"] == senior["plans"]  # untouched by PUT
    assert body["consent"] == senior["consent"]
    assert api.get(f"/api/seniors/{senior_id}").json() == body

    # Plans: add, change, remove.
    added = api.post(
        f"/api/seniors/{senior_id}/plans",
        json=_plan(
            weekdays="mon, wed",
            window_start="16:00",
            window_end="17:30",
            max_attempts=5,
            retry_delay_minutes=20,
            escalation_ack_minutes=45,
        ),
    )
    assert added.status_code == 201, added.text
    plan = added.json()
    assert (plan["weekdays"], plan["window_start"], plan["window_end"]) == (
        ["mon", "wed"],
        "16:00",
        "17:30",
    )
    assert (plan["max_attempts"], plan["retry_delay_minutes"], plan["escalation_ack_minutes"]) == (
        5,
        20,
        45,
    )
    changed = api.put(
        f"/api/seniors/{senior_id}/plans/{plan['id']}",
        json=_plan(weekdays=["tue"], window_start="18:00", window_end="20:59", active=False),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["id"] == plan["id"]
    assert changed.json()["description"] == "Tue 18:00–20:59"
    assert changed.json()["active"] is False
    plans = api.get(f"/api/seniors/{senior_id}").json()["plans"]
    assert [p["id"] for p in plans] == [*(p["id"] for p in senior["plans"]), plan["id"]]
    assert plans[-1]["window_start"] == "18:00"

    first_plan = senior["plans"][0]["id"]
    assert api.delete(f"/api/seniors/{senior_id}/plans/{first_plan}").status_code == 204
    remaining = [p["id"] for p in api.get(f"/api/seniors/{senior_id}").json()["plans"]]
    assert remaining == [senior["plans"][1]["id"], plan["id"]]

    # Consent again (an earlier date, given by someone else) and do-not-call on and off.
    consent = api.post(
        f"/api/seniors/{senior_id}/consent",
        json={
            "given_by": "Susan (power of attorney)",
            "method": "written",
            "at": "2026-02-01T09:00:00-06:00",
        },
    )
    assert consent.status_code == 200, consent.text
    assert consent.json()["consent"]["given_by"] == "Susan (power of attorney)"
    assert datetime.fromisoformat(consent.json()["consent"]["at"]) == datetime(
        2026, 2, 1, 15, 0, tzinfo=UTC
    )

    marked = api.put(
        f"/api/seniors/{senior_id}/do-not-call",
        json={"do_not_call": True, "reason": "Asked on the phone not to be called"},
    )
    assert marked.status_code == 200, marked.text
    flag = marked.json()["do_not_call"]
    assert flag["flag"] is True
    assert flag["reason"] == "Asked on the phone not to be called"
    assert flag["at"] is not None
    cleared = api.put(f"/api/seniors/{senior_id}/do-not-call", json={"do_not_call": False})
    assert cleared.json()["do_not_call"] == {"flag": False, "at": None, "reason": None}

    # Deletion takes the person, their caregivers and plans; the other person stays.
    assert api.delete(f"/api/seniors/{senior_id}").status_code == 204
    _refused(api.get(f"/api/seniors/{senior_id}"), 404, f"There is no person {senior_id}")
    _refused(api.delete(f"/api/seniors/{senior_id}"), 404, "no person")
    listed = api.get("/api/seniors").json()
    assert [s["id"] for s in listed["items"]] == [other["id"]]


# --- bad input --------------------------------------------------------------------------------


def test_bad_details_are_refused_with_a_message_and_nothing_is_stored(api: TestClient) -> None:
    cases: list[tuple[dict[str, Any], int, tuple[str, ...]]] = [
        (_senior(phone_number="3125550101"), 422, ("country code",)),
        (_senior(phone_number="+1 312 555"), 422, ("not valid",)),
        (_senior(timezone="Mars/Olympus_Mons"), 422, ("not a time zone", "America/Chicago")),
        (_senior(timezone="CST"), 422, ("not a time zone",)),
        (_senior(name="   "), 422, ("name is required",)),
        (_senior(name="x" * 101), 422, ("name", "at most 100 characters")),
        (_senior(notes="x" * 2001), 422, ("notes", "at most 2000 characters")),
        (_senior(notes="null \x00 byte"), 422, ("notes", "control characters")),
        (_senior(language="en gb"), 422, ("Language",)),
        (_senior(phone="+13125550101"), 422, ("phone", "Extra inputs")),
        ({"name": "Margaret"}, 422, ("phone_number: Field required", "timezone")),
        (
            _senior(caregivers=[{"name": "Susan", "phone_number": "0123"}]),
            422,
            ("Caregiver 1", "country code"),
        ),
        (
            _senior(caregivers=[{"name": "Susan", "phone_number": " +1 312 555 0101"}]),
            422,
            ("Caregiver 1 has the person's own phone number",),
        ),
        (
            _senior(
                caregivers=[
                    {"name": "Susan", "phone_number": "+13125550102"},
                    {"name": "Tom", "phone_number": "+13125550103", "contact_by": "pigeon"},
                ]
            ),
            422,
            ("Caregiver 2", "'sms' or 'call'"),
        ),
        (
            _senior(caregivers=[{"name": "", "phone_number": "+13125550102"}]),
            422,
            ("Caregiver 1's name is required",),
        ),
        (
            _senior(
                caregivers=[{"name": f"C{i}", "phone_number": f"+1312555020{i}"} for i in range(10)]
                + [{"name": "C10", "phone_number": "+13125550210"}]
            ),
            422,
            ("caregivers", "at most 10"),
        ),
        (_senior(plans=[_plan(window_start="07:30")]), 422, ("between 08:00 and 21:00",)),
        (_senior(plans=[_plan(window_end="21:30")]), 422, ("between 08:00 and 21:00",)),
        (
            _senior(plans=[_plan(window_start="11:00", window_end="10:00")]),
            422,
            ("must end after it starts",),
        ),
        (_senior(plans=[_plan(window_start="25:00")]), 422, ("'25:00' is not a time of day",)),
        (_senior(plans=[_plan(weekdays="mon,funday")]), 422, ("'funday' is not a day",)),
        (_senior(plans=[_plan(weekdays=[])]), 422, ("at least one day",)),
        (_senior(plans=[_plan(max_attempts=0)]), 422, ("Tries must be between 1 and 10",)),
        (
            _senior(
                plans=[_plan(), _plan(weekdays="fri", window_start="10:30", window_end="12:00")]
            ),
            409,
            ("overlaps", "Mon–Fri 10:00–11:00"),
        ),
        (
            _senior(consent={"given_by": "Margaret", "method": "telepathy"}),
            422,
            ("must be one of", "verbal"),
        ),
        (
            _senior(
                consent={"given_by": "Margaret", "method": "verbal", "at": "2026-03-03T09:00:00Z"}
            ),
            422,
            ("future",),
        ),
        (
            _senior(
                consent={"given_by": "Margaret", "method": "verbal", "at": "2026-03-01T09:00:00"}
            ),
            422,
            ("UTC offset",),
        ),
        (
            _senior(
                consent={"given_by": "M", "method": "verbal", "at": "0001-01-01T00:00:00+14:00"}
            ),
            422,
            ("after 1970",),
        ),
    ]
    for body, status, words in cases:
        _refused(api.post("/api/seniors", json=body), status, *words)
    assert api.get("/api/seniors").json()["total"] == 0

    _created(api)
    _refused(
        api.post("/api/seniors", json=_senior(name="Someone Else")),
        422,
        "+13125550101 already belongs to someone on the roster",
    )
    _refused(api.get("/api/seniors", params={"q": "a" * 101}), 422, "q")
    _refused(api.get("/api/seniors", params={"q": "x\x00y"}), 422, "q: search with")
    _refused(api.get("/api/seniors", params={"limit": 0}), 422, "limit")
    _refused(
        api.post(
            "/api/seniors", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
        "JSON",
    )
    assert api.get("/api/seniors").json()["total"] == 1


def test_every_problem_is_in_the_422(api: TestClient) -> None:
    body = _senior(
        phone_number="3125550101",
        timezone="Chicago",
        caregivers=[
            {"name": "Susan Olsen", "phone_number": "+13125550102"},
            {"name": "", "phone_number": "+1 312 555", "contact_by": "pigeon"},
        ],
        plans=[_plan(), _plan(window_start="23:00", window_end="02:00", max_attempts=0)],
        consent={"given_by": "Margaret", "method": "telepathy"},
    )

    response = api.post("/api/seniors", json=body)

    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [error.split(":")[0] for error in errors] == [
        "phone_number",
        "timezone",
        "caregivers.1.name",
        "caregivers.1.phone_number",
        "caregivers.1.contact_by",
        "plans.1.window",
        "plans.1.window",
        "plans.1.max_attempts",
        "consent.method",
    ]
    assert "plans.1.window: The window must end after it starts, e.g. 10:00 to 11:00." in errors
    assert (
        "plans.1.window: Check-in windows must lie between 08:00 and 21:00 in the person's local "
        "time: calls are never placed outside those hours." in errors
    )
    detail = response.json()["detail"]
    for words in ("country code", "'Chicago' is not a time zone", "Caregiver 2's name is required"):
        assert words in detail, (words, detail)
    assert api.get("/api/seniors").json()["total"] == 0

    senior = _created(api)
    plan = api.post(
        f"/api/seniors/{senior['id']}/plans",
        json=_plan(weekdays="mon,funday", window_start="23:00", window_end="02:00"),
    )
    assert plan.status_code == 422, plan.text
    assert [error.split(":")[0] for error in plan.json()["errors"]] == [
        "weekdays",
        "window",
        "window",
    ]
    consent = api.post(
        f"/api/seniors/{senior['id']}/consent",
        json={"given_by": " ", "method": "telepathy", "at": "2026-03-03T09:00:00Z"},
    )
    assert consent.status_code == 422, consent.text
    assert [error.split(":")[0] for error in consent.json()["errors"]] == [
        "given_by",
        "method",
        "at",
    ]


def test_bad_changes_to_a_person_are_refused(api: TestClient) -> None:
    senior = _created(api, plans=[_plan()])
    senior_id = senior["id"]
    plan_id = senior["plans"][0]["id"]
    other = _created(api, name="Albert", phone_number="+13125550199", caregivers=[])
    other_plan = api.post(f"/api/seniors/{other['id']}/plans", json=_plan()).json()

    for method, path in [
        ("GET", "/api/seniors/999"),
        ("PUT", "/api/seniors/999"),
        ("DELETE", "/api/seniors/999"),
        ("POST", "/api/seniors/999/plans"),
        ("PUT", f"/api/seniors/999/plans/{plan_id}"),
        ("DELETE", f"/api/seniors/999/plans/{plan_id}"),
        ("POST", "/api/seniors/999/consent"),
        ("PUT", "/api/seniors/999/do-not-call"),
    ]:
        body = (
            _senior()
            if path == "/api/seniors/999"
            else {"given_by": "M", "method": "verbal"}
            if path.endswith("consent")
            else {"do_not_call": True}
            if path.endswith("do-not-call")
            else _plan()
        )
        response = api.request(method, path, json=None if method in ("GET", "DELETE") else body)
        _refused(response, 404, "There is no person 999 on the roster.")

    # A plan that isn't this person's is not found, whoever it belongs to.
    for plan in (12345, other_plan["id"]):
        _refused(
            api.put(f"/api/seniors/{senior_id}/plans/{plan}", json=_plan()),
            404,
            f"There is no check-in plan {plan} for this person.",
        )
        _refused(api.delete(f"/api/seniors/{senior_id}/plans/{plan}"), 404, "no check-in plan")

    # Ids too big for the database, and ids that aren't numbers, are 422, not 500.
    for path in ("/api/seniors/99999999999999999999", "/api/seniors/abc", "/api/seniors/0"):
        _refused(api.get(path), 422, "senior_id")
    _refused(api.delete(f"/api/seniors/{senior_id}/plans/9999999999999"), 422, "plan_id")

    # Plans: overlap with an existing plan on a shared day is a conflict; each bad window a 422.
    _refused(
        api.post(
            f"/api/seniors/{senior_id}/plans",
            json=_plan(weekdays="wed", window_start="10:59", window_end="12:00"),
        ),
        409,
        "overlaps the plan Mon–Fri 10:00–11:00",
    )
    _refused(
        api.post(f"/api/seniors/{senior_id}/plans", json=_plan(window_start="06:00")),
        422,
        "between 08:00 and 21:00",
    )
    _refused(
        api.put(
            f"/api/seniors/{senior_id}/plans/{plan_id}",
            json=_plan(window_start="12:00", window_end="12:00"),
        ),
        422,
        "must end after it starts",
    )
    _refused(
        api.post(f"/api/seniors/{senior_id}/plans", json=_plan(retry_delay_minutes=500)),
        422,
        "Minutes between tries must be between 1 and 240",
    )
    _refused(
        api.post(f"/api/seniors/{senior_id}/plans", json=_plan(weekdays=["mon"] * 8)),
        422,
        "weekdays",
    )
    # PUT: someone else's number, or a caregiver with the person's own number.
    _refused(
        api.put(f"/api/seniors/{senior_id}", json=_senior(phone_number="+13125550199")),
        422,
        "already belongs",
    )
    _refused(
        api.put(
            f"/api/seniors/{senior_id}",
            json=_senior(caregivers=[{"name": "Me", "phone_number": NUMBER}]),
        ),
        422,
        "own phone number",
    )
    _refused(
        api.put(f"/api/seniors/{senior_id}", json=_senior(plans=[_plan()])),
        422,
        "plans",
        "Extra inputs",
    )
    # Consent and do-not-call.
    _refused(
        api.post(
            f"/api/seniors/{senior_id}/consent",
            json={"given_by": "M", "method": "verbal", "at": "2026-03-02T15:00:01Z"},
        ),
        422,
        "future",
    )
    _refused(
        api.post(f"/api/seniors/{senior_id}/consent", json={"method": "verbal"}), 422, "given_by"
    )
    _refused(
        api.put(f"/api/seniors/{senior_id}/do-not-call", json={"do_not_call": "perhaps"}),
        422,
        "do_not_call",
    )
    _refused(
        api.put(
            f"/api/seniors/{senior_id}/do-not-call",
            json={"do_not_call": True, "reason": "line one\nline two"},
        ),
        422,
        "reason must be on one line",
    )

    # Nothing above changed the person.
    assert api.get(f"/api/seniors/{senior_id}").json() == senior


def _todays_windows(client: TestClient) -> list[str]:
    """The check-ins on the Today board now, as their local windows."""
    views = ProgramViews(create_session_factory(app_state(client).engine))
    overview = on_app_loop(client, views.today, NOW)
    return sorted(
        f"{record.checkin.window_start_at.astimezone(day.zone):%H:%M}"
        for day in overview.days
        for record in day.checkins
    )


def test_a_plan_saved_for_today_is_a_check_in_at_once(api: TestClient) -> None:
    """No dispatcher round runs here (it is off): saving makes today's check-ins itself, as soon
    as the person may be called."""
    senior = _created(api, plans=[_plan(window_start="10:00", window_end="10:30")])
    assert _todays_windows(api) == []  # no consent: nothing to dial

    consent = {"given_by": "Margaret", "method": "verbal"}
    assert api.post(f"/api/seniors/{senior['id']}/consent", json=consent).status_code == 200
    assert _todays_windows(api) == ["10:00"]

    added = api.post(
        f"/api/seniors/{senior['id']}/plans",
        json=_plan(window_start="14:00", window_end="15:00"),
    )
    assert added.status_code == 201, added.text
    assert _todays_windows(api) == ["10:00", "14:00"]

    other = _created(
        api,
        name="Albert",
        phone_number="+13125550199",
        caregivers=[],
        plans=[_plan(window_start="16:00", window_end="17:00")],
        consent=consent,
    )
    assert other["plans"] and _todays_windows(api) == ["10:00", "14:00", "16:00"]

    # A plan changed today: its check-in follows (the old window is never dialled), and a
    # paused plan's goes.
    moved = api.put(
        f"/api/seniors/{senior['id']}/plans/{senior['plans'][0]['id']}",
        json=_plan(window_start="11:00", window_end="11:30"),
    )
    assert moved.status_code == 200, moved.text
    assert _todays_windows(api) == ["11:00", "14:00", "16:00"]
    paused = api.put(
        f"/api/seniors/{other['id']}/plans/{other['plans'][0]['id']}",
        json=_plan(window_start="16:00", window_end="17:00", active=False),
    )
    assert paused.status_code == 200, paused.text
    assert _todays_windows(api) == ["11:00", "14:00"]


# --- who may use it ---------------------------------------------------------------------------


def test_anonymous_is_401_and_a_signed_in_operator_records_consent_as_themselves(
    make_settings: Callable[..., Settings], fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    for browser in _client(make_settings(), fake_twilio, api_key=False):
        for method, path in [
            ("GET", "/api/seniors"),
            ("POST", "/api/seniors"),
            ("GET", "/api/seniors/1"),
            ("PUT", "/api/seniors/1/do-not-call"),
            ("DELETE", "/api/seniors/1"),
        ]:
            response = browser.request(method, path, json=_senior() if method == "POST" else None)
            assert response.status_code == 401, (method, path)
            assert "Sign in, or send an API key" in response.json()["detail"]

        add_operator(browser)
        token = log_in(browser)
        _refused(browser.post("/api/seniors", json=_senior()), 403, "security token")

        created = browser.post(
            "/api/seniors",
            json=_senior(consent={"given_by": "Margaret", "method": "recorded call"}),
            headers={"X-CSRF-Token": token},
        )
        assert created.status_code == 201, created.text
        assert created.json()["consent"]["recorded_by"] == OPERATOR_EMAIL
        assert browser.get("/api/seniors").json()["total"] == 1

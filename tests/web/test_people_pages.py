"""The check-in program's pages on the server, on SQLite and PostgreSQL: the roster and its
search, the person form (refused input shown with the message and kept), consent, do-not-call,
plans, "Call now" (refused without consent, nothing sent to Twilio), deleting, a person's
check-ins and escalations, and the Today board. (In a real browser: test_people_browser and
test_today_browser.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carecall.core.events import NO_CALL, CallEvent
from carecall.persistence.database import create_session_factory
from carecall.persistence.models import (
    Call,
    CallStatus,
    Checkin,
    CheckinOutcome,
    CheckinPlan,
    CheckinState,
    ContactMethod,
    Escalation,
    EscalationNotice,
    EscalationState,
    Senior,
)
from carecall.server import create_app
from carecall.settings import Settings
from tests.api.support import add_operator, app_state, log_in, on_app_loop
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

# Monday 5 January 2026, 17:00 UTC: 11:00 in Chicago, where Margaret lives.
NOW = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
PHONE = "+14155550142"
DAUGHTER = "+14155550177"
SON = "+442079460958"


@pytest.fixture
def fake_twilio() -> FakeAsyncTwilioHttpClient:
    return FakeAsyncTwilioHttpClient()


@pytest.fixture
def browser(
    make_settings: Callable[..., Settings],
    database_url: str,
    fake_twilio: FakeAsyncTwilioHttpClient,
) -> Iterator[TestClient]:
    """A signed-in operator's browser on an app whose clock says Monday 11:00 in Chicago. The
    dispatcher is off: these tests store check-ins themselves and watch only the pages."""
    settings = make_settings(database_url=database_url, dispatcher_enabled=False)
    app = create_app(settings, twilio_http_client=fake_twilio, clock=FakeClock(NOW))
    with TestClient(app) as client:
        add_operator(client)
        client.headers["X-CSRF-Token"] = log_in(client)
        yield client


def _post(client: TestClient, path: str, data: dict[str, Any] | None = None) -> Any:
    fields = {"csrf_token": client.headers["X-CSRF-Token"], **(data or {})}
    return client.post(path, data=fields, follow_redirects=False)


def _person_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Margaret Ellis",
        "preferred_name": "Maggie",
        "phone_number": PHONE,
        "timezone": "America/Chicago",
        "language": "en",
        "notes": "Loves her roses. A little hard of hearing.",
        "on_behalf_of": "your daughter Susan",
        "caregiver_name": ["Susan Ellis", "Tom Ellis", ""],
        "caregiver_relation": ["daughter", "son", ""],
        "caregiver_phone": [DAUGHTER, SON, ""],
        "caregiver_contact": ["sms", "call", "sms"],
    }
    fields.update(overrides)
    return fields


def _add_person(client: TestClient, **overrides: Any) -> int:
    response = _post(client, "/people/new", _person_fields(**overrides))
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/people/(\d+)", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


def _senior(client: TestClient, senior_id: int) -> Senior:
    senior = on_app_loop(client, app_state(client).seniors.get, senior_id)
    assert senior is not None
    return senior


def _text(html: str) -> str:
    """The page's words, tags removed and spaces collapsed, as a person reads them."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.mark.parametrize(
    "path", ["/people", "/people/new", "/people/1", "/people/1/edit", "/today", "/today/fragment"]
)
def test_the_pages_need_a_signed_in_operator(
    make_settings: Callable[..., Settings], path: str
) -> None:
    app = create_app(make_settings(dispatcher_enabled=False))
    with TestClient(app) as client:
        response = client.get(path, follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


def test_a_person_is_added_through_the_form(browser: TestClient) -> None:
    form = browser.get("/people/new")
    assert form.status_code == 200
    assert '<datalist id="zones">' in form.text and '<option value="America/Chicago">' in form.text
    assert form.text.count('name="caregiver_name"') == 3

    senior_id = _add_person(browser)

    senior = _senior(browser, senior_id)
    assert (senior.name, senior.preferred_name, senior.timezone) == (
        "Margaret Ellis",
        "Maggie",
        "America/Chicago",
    )
    assert senior.on_behalf_of == "your daughter Susan"
    assert [(c.name, c.relation, c.phone_number, c.contact_by) for c in senior.caregivers] == [
        ("Susan Ellis", "daughter", DAUGHTER, ContactMethod.SMS),
        ("Tom Ellis", "son", SON, ContactMethod.CALL),
    ]
    page = browser.get(f"/people/{senior_id}")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Margaret Ellis" in text and PHONE in text  # in full: the operator is signed in
    assert "America/Chicago, now 11:00 CST" in text
    assert text.index("Susan Ellis (daughter)") < text.index("Tom Ellis (son)")
    assert "No consent yet" in text and "No check-in plan yet." in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"phone_number": "4155550142"}, "Phone number must include the country code"),
        ({"timezone": "Chicago"}, "'Chicago' is not a time zone."),
        ({"name": "  "}, "The name is required."),
        (
            {"caregiver_phone": [DAUGHTER, "+1 555", ""]},
            "Caregiver 2: This phone number is not valid",
        ),
    ],
)
def test_a_refused_person_form_says_why_and_keeps_the_input(
    browser: TestClient, overrides: dict[str, Any], message: str
) -> None:
    response = _post(browser, "/people/new", _person_fields(**overrides))

    assert response.status_code == 422
    assert message in _text(response.text)
    assert 'id="form-error"' in response.text
    html = response.text
    assert 'value="Maggie"' in html and 'value="Susan Ellis"' in html
    assert "Loves her roses. A little hard of hearing.</textarea>" in html
    assert f'value="{overrides.get("timezone", "America/Chicago")}"' in html
    assert '<option value="call" selected>' in html  # Tom is still told by phone
    listed, total = on_app_loop(browser, app_state(browser).seniors.search, "")
    assert total == 0 and not listed


def test_a_refused_person_form_shows_every_problem_next_to_its_field(
    browser: TestClient,
) -> None:
    fields = _person_fields(
        phone_number="4155550142",
        timezone="Chicago",
        caregiver_phone=[DAUGHTER, "+1 555", ""],
    )

    response = _post(browser, "/people/new", fields)

    assert response.status_code == 422
    html = response.text
    summary = re.search(r'<div id="form-error".*?</div>', html, re.S)
    assert summary
    assert re.findall(r'<a href="#([\w-]+)"', summary.group(0)) == [
        "phone_number",
        "timezone",
        "caregiver-phone-2",
    ]
    for input_id, message in (
        ("phone_number", "Phone number must include the country code"),
        ("timezone", "'Chicago' is not a time zone."),
        ("caregiver-phone-2", "Caregiver 2: This phone number is not valid"),
    ):
        field = re.search(rf'<input id="{input_id}"[^>]*>', html)
        assert field, input_id
        assert "is-invalid" in field.group(0) and 'aria-invalid="true"' in field.group(0)
        described = re.search(r'aria-describedby="([^"]*)"', field.group(0))
        assert described and f"{input_id}-error" in described.group(1).split()
        feedback = re.search(
            rf'<div id="{input_id}-error" class="invalid-feedback">(.*?)</div>', html
        )
        assert feedback and message in unescape(feedback.group(1)), input_id
    assert 'value="4155550142"' in html and 'value="Chicago"' in html
    assert 'value="+1 555"' in html and 'value="Tom Ellis"' in html
    assert html.count("is-invalid") == 3  # the other fields are fine
    _, total = on_app_loop(browser, app_state(browser).seniors.search, "")
    assert total == 0


def test_a_number_already_on_the_roster_is_refused(browser: TestClient) -> None:
    _add_person(browser)

    response = _post(browser, "/people/new", _person_fields(name="Someone Else"))

    assert response.status_code == 422
    assert f"{PHONE} already belongs to someone on the roster." in _text(response.text)
    assert 'value="Someone Else"' in response.text


def test_a_person_is_edited(browser: TestClient) -> None:
    senior_id = _add_person(browser)
    form = browser.get(f"/people/{senior_id}/edit")
    assert form.status_code == 200
    assert 'value="Margaret Ellis"' in form.text and f'value="{SON}"' in form.text
    assert form.text.count('name="caregiver_name"') == 4  # two contacts and two spare rows

    response = _post(
        browser,
        f"/people/{senior_id}/edit",
        _person_fields(
            name="Margaret Ellis-Brown",
            timezone="Europe/London",
            caregiver_name=["Tom Ellis", "", "Susan Ellis", ""],
            caregiver_relation=["son", "", "daughter", ""],
            caregiver_phone=[SON, "", DAUGHTER, ""],
            caregiver_contact=["call", "sms", "sms", "sms"],
        ),
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/people/{senior_id}"
    senior = _senior(browser, senior_id)
    assert senior.name == "Margaret Ellis-Brown" and senior.timezone == "Europe/London"
    assert [c.name for c in senior.caregivers] == ["Tom Ellis", "Susan Ellis"]

    refused = _post(browser, f"/people/{senior_id}/edit", _person_fields(timezone="Mars/Olympus"))
    assert refused.status_code == 422
    assert "'Mars/Olympus' is not a time zone." in _text(refused.text)
    assert _senior(browser, senior_id).timezone == "Europe/London"


def test_the_roster_is_searched_by_name_or_digits(browser: TestClient) -> None:
    margaret = _add_person(browser)
    arthur = _add_person(
        browser,
        name="Arthur Penn",
        preferred_name="",
        phone_number="+14155550199",
        caregiver_name=[],
        caregiver_relation=[],
        caregiver_phone=[],
        caregiver_contact=[],
    )

    def listed(query: str) -> list[int]:
        page = browser.get("/people", params={"q": query} if query else None)
        assert page.status_code == 200
        return [int(n) for n in re.findall(r'<tr data-senior-id="(\d+)">', page.text)]

    assert listed("") == [arthur, margaret]
    assert listed("marg") == [margaret]
    assert listed("0199") == [arthur]
    assert listed("+1 415 555") == [arthur, margaret]
    assert listed("nobody") == []
    assert "Nobody matches “nobody”." in _text(browser.get("/people?q=nobody").text)
    roster = _text(browser.get("/people").text)
    assert "2 people." in roster and "No consent yet" in roster and "Add a person" in roster


def test_consent_is_recorded_and_shown(browser: TestClient) -> None:
    senior_id = _add_person(browser)

    refused = _post(
        browser,
        f"/people/{senior_id}/consent",
        {"given_by": "Margaret herself", "method": "telepathy", "at": "2026-01-02T09:30"},
    )
    assert refused.status_code == 422
    assert "How consent was given must be one of" in _text(refused.text)
    assert 'value="Margaret herself"' in refused.text and 'value="2026-01-02T09:30"' in refused.text

    future = _post(
        browser,
        f"/people/{senior_id}/consent",
        {"given_by": "Margaret herself", "method": "verbal", "at": "2026-01-05T12:00"},
    )
    assert future.status_code == 422  # 12:00 in Chicago is an hour after the app's now
    assert "Consent can't be recorded for a time in the future." in _text(future.text)

    response = _post(
        browser,
        f"/people/{senior_id}/consent",
        {"given_by": "Margaret herself", "method": "written", "at": "2026-01-02T09:30"},
    )

    assert response.status_code == 303
    senior = _senior(browser, senior_id)
    assert senior.consent_given_by == "Margaret herself" and senior.consent_method == "written"
    assert senior.consent_at is not None
    assert senior.consent_at.astimezone(UTC).replace(tzinfo=None) == datetime(2026, 1, 2, 15, 30)
    assert senior.consent_recorded_by == "nurse@example.org"
    text = _text(browser.get(f"/people/{senior_id}").text)
    assert "Given by Margaret herself (written) on 2026-01-02 09:30 CST" in text
    assert "Consent recorded" in text


def test_do_not_call_is_set_and_cleared(browser: TestClient) -> None:
    senior_id = _add_person(browser)

    too_long = _post(
        browser, f"/people/{senior_id}/do-not-call", {"do_not_call": "1", "reason": "x" * 201}
    )
    assert too_long.status_code == 422
    assert "The reason is too long" in _text(too_long.text)
    assert not _senior(browser, senior_id).do_not_call

    marked = _post(
        browser,
        f"/people/{senior_id}/do-not-call",
        {"do_not_call": "1", "reason": "In hospital this week"},
    )
    assert marked.status_code == 303
    text = _text(browser.get(f"/people/{senior_id}").text)
    assert "Do not call" in text and ": In hospital this week. No call is placed." in text
    assert "Do not call" in _text(browser.get("/people").text)

    cleared = _post(browser, f"/people/{senior_id}/do-not-call", {"do_not_call": "0"})
    assert cleared.status_code == 303
    senior = _senior(browser, senior_id)
    assert not senior.do_not_call and senior.do_not_call_reason is None


def _plan(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "weekdays": ["mon", "wed", "fri"],
        "start": "10:00",
        "end": "11:00",
        "max_attempts": "3",
        "retry_delay_minutes": "15",
        "escalation_ack_minutes": "30",
    }
    fields.update(overrides)
    return fields


def test_plans_are_added_refused_when_they_overlap_and_deleted(browser: TestClient) -> None:
    senior_id = _add_person(browser)

    added = _post(browser, f"/people/{senior_id}/plans", _plan())
    assert added.status_code == 303
    page = _text(browser.get(f"/people/{senior_id}").text)
    assert "Mon, Wed, Fri 10:00–11:00" in page
    assert "Up to 3 tries, 15 min apart; each caregiver has 30 min to answer." in page
    assert "Mon, Wed, Fri 10:00–11:00" in _text(browser.get("/people").text)

    overlap = _post(
        browser,
        f"/people/{senior_id}/plans",
        _plan(weekdays=["fri", "sat"], start="10:30", end="12:00", max_attempts="5"),
    )
    assert overlap.status_code == 422
    html = overlap.text
    assert "overlaps the plan Mon, Wed, Fri 10:00–11:00" in _text(html)
    assert 'value="fri" id="day-fri"\n                     checked' in html
    assert 'value="sat" id="day-sat"\n                     checked' in html
    assert 'value="mon" id="day-mon"\n                     >' in html
    assert 'name="start" type="time" class="form-control" value="10:30"' in html
    assert 'name="max_attempts" type="number" min="1" max="10" class="form-control" value="5"' in (
        html
    )

    for fields, message in (
        (_plan(weekdays=[]), "Choose at least one day of the week"),
        (_plan(start="07:00", end="08:30"), "between 08:00 and 21:00"),
        (_plan(start="14:00", end="15:00", max_attempts="two"), "Tries must be a whole number."),
        (_plan(start="14:00", end="15:00", max_attempts="11"), "Tries must be between 1 and 10."),
    ):
        refused = _post(browser, f"/people/{senior_id}/plans", fields)
        assert refused.status_code == 422, message
        assert message in _text(refused.text)

    senior = _senior(browser, senior_id)
    assert len(senior.plans) == 1
    deleted = _post(browser, f"/people/{senior_id}/plans/{senior.plans[0].id}/delete")
    assert deleted.status_code == 303
    assert _senior(browser, senior_id).plans == []
    assert "No check-in plan yet." in _text(browser.get(f"/people/{senior_id}").text)


def test_a_refused_plan_or_consent_shows_every_problem_next_to_its_field(
    browser: TestClient,
) -> None:
    senior_id = _add_person(browser)

    refused = _post(
        browser,
        f"/people/{senior_id}/plans",
        _plan(weekdays=[], start="23:00", end="02:00", max_attempts="two"),
    )

    assert refused.status_code == 422
    html = refused.text
    listed = re.search(r'<div id="plan-error".*?</div>', html, re.S)
    assert listed
    assert [_text(item).strip() for item in re.findall(r"<li>(.*?)</li>", listed.group(0))] == [
        "Tries must be a whole number.",
        "Choose at least one day of the week for the check-in.",
        "The window must end after it starts, e.g. 10:00 to 11:00.",
        "Check-in windows must lie between 08:00 and 21:00 in the person's local time: calls "
        "are never placed outside those hours.",
    ]
    for input_id, words in (
        ("plan-days", "at least one day"),
        ("plan-end", "between 08:00 and 21:00"),
        ("plan-tries", "whole number"),
    ):
        feedback = re.search(
            rf'<div id="{input_id}-error" class="invalid-feedback[^"]*">(.*?)<', html
        )
        assert feedback and words in unescape(feedback.group(1)), input_id
        assert re.search(rf'id="{input_id}"[^>]*aria-describedby="{input_id}-error"', html)
    assert (
        'name="max_attempts" type="number" min="1" max="10" class="form-control is-invalid" '
        'value="two"' in html
    )
    assert 'class="form-control" value="23:00"' in html  # the start itself is a time: not marked
    assert _senior(browser, senior_id).plans == []

    consent = _post(
        browser,
        f"/people/{senior_id}/consent",
        {"given_by": " ", "method": "telepathy", "at": "2026-01-06T09:00"},
    )

    assert consent.status_code == 422
    listed = re.search(r'<div id="consent-error".*?</div>', consent.text, re.S)
    assert listed and len(re.findall(r"<li>", listed.group(0))) == 3
    for input_id in ("consent-given-by", "consent-method", "consent-at"):
        assert f'<div id="{input_id}-error" class="invalid-feedback">' in consent.text
    unreadable = _post(
        browser,
        f"/people/{senior_id}/consent",
        {"given_by": " ", "method": "verbal", "at": "yesterday"},
    )
    assert unreadable.status_code == 422
    assert "Who gave consent is required." in _text(unreadable.text)
    assert "Enter when consent was given as a date and time." in _text(unreadable.text)
    assert not _senior(browser, senior_id).has_consent


def test_call_now_needs_consent_then_places_the_call(
    browser: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    senior_id = _add_person(browser)

    refused = _post(browser, f"/people/{senior_id}/call")

    assert refused.status_code == 422
    text = _text(refused.text)
    assert "The call was not placed" in text
    assert "Margaret Ellis has not given consent to be called." in text
    assert fake_twilio.requests == []

    _post(browser, f"/people/{senior_id}/consent", {"given_by": "Margaret", "method": "verbal"})
    placed = _post(browser, f"/people/{senior_id}/call")

    assert placed.status_code == 303
    found = re.fullmatch(r"/calls/(\d+)", placed.headers["location"])
    assert found
    assert len(fake_twilio.requests) == 1
    assert fake_twilio.requests[0].data["To"] == PHONE
    call = on_app_loop(browser, app_state(browser).calls.get, int(found.group(1)))
    assert call is not None and call.senior_id == senior_id

    _post(browser, f"/people/{senior_id}/do-not-call", {"do_not_call": "1", "reason": "Away"})
    again = _post(browser, f"/people/{senior_id}/call")
    assert again.status_code == 422
    assert "Margaret Ellis is marked do-not-call (Away)." in _text(again.text)
    assert len(fake_twilio.requests) == 1


def test_call_now_says_when_twilio_refuses(
    browser: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    senior_id = _add_person(browser)
    _post(browser, f"/people/{senior_id}/consent", {"given_by": "Margaret", "method": "verbal"})
    fake_twilio.queue_error(400, 21215, "Geo permissions do not allow calls to +1415•••0142")

    response = _post(browser, f"/people/{senior_id}/call")

    assert response.status_code == 502
    assert "Twilio refused the call" in _text(response.text)


@dataclass
class Unconfigured:
    """A signed-in operator's browser on an app with no Twilio settings, and its clock."""

    client: TestClient
    clock: FakeClock


@pytest.fixture
def unconfigured(
    make_settings: Callable[..., Settings],
    database_url: str,
    fake_twilio: FakeAsyncTwilioHttpClient,
) -> Iterator[Unconfigured]:
    settings = make_settings(
        database_url=database_url,
        twilio_account_sid=None,
        twilio_auth_token=None,
        twilio_phone_number=None,
        # The test moves its clock by hours: the sign-in must outlast that.
        session_idle_minutes=24 * 60,
    )
    clock = FakeClock(NOW)
    app = create_app(settings, twilio_http_client=fake_twilio, clock=clock)
    with TestClient(app) as client:
        add_operator(client)
        client.headers["X-CSRF-Token"] = log_in(client)
        yield Unconfigured(client, clock)


def test_call_now_gives_every_reason_before_the_missing_settings(
    unconfigured: Unconfigured, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    browser = unconfigured.client
    senior_id = _add_person(browser)
    unconfigured.clock.set(_at(22, 15))  # 22:15 in Chicago: too late to call

    refused = _post(browser, f"/people/{senior_id}/call")

    assert refused.status_code == 422
    reasons = [
        _text(item).strip() for item in re.findall(r"<li>(.*?)</li>", _call_error(refused.text))
    ]
    assert reasons == [
        "Margaret Ellis has not given consent to be called. Record their consent (who gave it, "
        "when and how) on their page first.",
        "It is 22:15 for Margaret Ellis (America/Chicago); calls are only placed between 08:00 "
        "and 21:00 in their local time.",
        "Placing phone calls is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, "
        "TWILIO_PHONE_NUMBER (see .env.example).",
    ]

    _post(browser, f"/people/{senior_id}/do-not-call", {"do_not_call": "1", "reason": "Away"})
    unconfigured.clock.set(NOW)
    again = _text(_call_error(_post(browser, f"/people/{senior_id}/call").text))
    assert "Margaret Ellis is marked do-not-call (Away)." in again
    assert "has not given consent" in again and "not configured" in again
    assert "It is" not in again  # 11:00 in Chicago: within calling hours

    _post(browser, f"/people/{senior_id}/do-not-call", {"do_not_call": "0"})
    _post(browser, f"/people/{senior_id}/consent", {"given_by": "Margaret", "method": "verbal"})
    only_settings = _post(browser, f"/people/{senior_id}/call")
    assert only_settings.status_code == 503
    assert "The call was not placed Placing phone calls is not configured" in _text(
        _call_error(only_settings.text)
    )
    assert fake_twilio.requests == []


def _call_error(html: str) -> str:
    found = re.search(r'<div id="call-error".*?</div>', html, re.S)
    assert found, "no call error on the page"
    return found.group(0)


def test_a_person_is_deleted_after_a_confirm_step(browser: TestClient) -> None:
    senior_id = _add_person(browser)

    confirm = browser.get(f"/people/{senior_id}/delete")
    assert confirm.status_code == 200
    assert "Delete Margaret Ellis?" in _text(confirm.text)
    assert _senior(browser, senior_id).name == "Margaret Ellis"  # asking deletes nothing

    deleted = _post(browser, f"/people/{senior_id}/delete")

    assert deleted.status_code == 303 and deleted.headers["location"] == "/people"
    assert on_app_loop(browser, app_state(browser).seniors.get, senior_id) is None
    gone = browser.get(f"/people/{senior_id}")
    assert gone.status_code == 404
    assert f"There is no person {senior_id} on the roster." in gone.text
    assert _post(browser, f"/people/{senior_id}/delete").status_code == 404
    assert _post(browser, f"/people/{senior_id}/call").status_code == 404


def test_a_form_without_its_security_token_is_refused(browser: TestClient) -> None:
    response = browser.post("/people/new", data=_person_fields(), follow_redirects=False)

    assert response.status_code == 403
    _, total = on_app_loop(browser, app_state(browser).seniors.search, "")
    assert total == 0


# --- check-ins, escalations and the Today board --------------------------------------------------


def _at(hour: int, minute: int = 0, *, day: date = date(2026, 1, 5)) -> datetime:
    """A time in Chicago (CST, UTC-6) on `day`, as a UTC moment."""
    return datetime.combine(day, time(hour, minute), UTC) + timedelta(hours=6)


def _store_program(client: TestClient, senior_id: int) -> dict[str, int]:
    """Rows as the dispatcher and the escalation ladder would leave them: Monday's 10:00 check-in
    tried twice and not reached (escalated, one notice sent), a 14:00 one due at 14:05 after a
    no-answer, Sunday's reached, and a check-in on Tuesday that is not today."""

    async def add() -> dict[str, int]:
        async with create_session_factory(app_state(client).engine).begin() as session:
            morning = CheckinPlan(
                senior_id=senior_id,
                weekdays="mon,tue,wed,thu,fri,sat,sun",
                window_start=time(10, 0),
                window_end=time(11, 0),
                max_attempts=2,
                active=False,
            )
            afternoon = CheckinPlan(
                senior_id=senior_id,
                weekdays="mon",
                window_start=time(14, 0),
                window_end=time(15, 0),
                max_attempts=3,
                active=False,
            )
            session.add_all([morning, afternoon])
            await session.flush()
            missed = Checkin(
                plan_id=morning.id,
                senior_id=senior_id,
                local_date=date(2026, 1, 5),
                window_start_at=_at(10),
                window_end_at=_at(11),
                state=CheckinState.DONE,
                attempts=2,
                outcome=CheckinOutcome.VOICEMAIL,
                last_result=CheckinOutcome.VOICEMAIL,
                finished_at=_at(10, 20),
            )
            due = Checkin(
                plan_id=afternoon.id,
                senior_id=senior_id,
                local_date=date(2026, 1, 5),
                window_start_at=_at(14),
                window_end_at=_at(15),
                state=CheckinState.PENDING,
                attempts=1,
                last_result=CheckinOutcome.NO_ANSWER,
                next_attempt_at=_at(14, 5),
            )
            yesterday = Checkin(
                plan_id=morning.id,
                senior_id=senior_id,
                local_date=date(2026, 1, 4),
                window_start_at=_at(10, day=date(2026, 1, 4)),
                window_end_at=_at(11, day=date(2026, 1, 4)),
                state=CheckinState.DONE,
                attempts=1,
                outcome=CheckinOutcome.COMPLETED,
            )
            tomorrow = Checkin(
                plan_id=morning.id,
                senior_id=senior_id,
                local_date=date(2026, 1, 6),
                window_start_at=_at(10, day=date(2026, 1, 6)),
                window_end_at=_at(11, day=date(2026, 1, 6)),
            )
            session.add_all([missed, due, yesterday, tomorrow])
            await session.flush()
            for minute, status in ((1, CallStatus.NO_ANSWER), (16, CallStatus.COMPLETED)):
                session.add(
                    Call(
                        to_number=PHONE,
                        status=status,
                        created_at=_at(10, minute),
                        senior_id=senior_id,
                        checkin_id=missed.id,
                        answered_by="machine_end_beep" if minute == 16 else None,
                    )
                )
            escalation = Escalation(
                senior_id=senior_id,
                checkin_id=missed.id,
                reason="Margaret didn't answer her 10:00 check-in (2 tries, voicemail).",
                state=EscalationState.OPEN,
                step=1,
                created_at=_at(10, 21),
            )
            session.add(escalation)
            await session.flush()
            session.add(
                EscalationNotice(
                    escalation_id=escalation.id,
                    contact_name="Susan Ellis",
                    to_number=DAUGHTER,
                    method=ContactMethod.SMS,
                    body="Margaret didn't answer her check-in. Reply OK if you're checking on her.",
                    sent_at=_at(10, 21),
                )
            )
            return {
                "missed": missed.id,
                "due": due.id,
                "yesterday": yesterday.id,
                "tomorrow": tomorrow.id,
                "escalation": escalation.id,
            }

    return on_app_loop(client, add)


def test_a_person_page_shows_check_ins_and_escalations(browser: TestClient) -> None:
    senior_id = _add_person(browser)
    ids = _store_program(browser, senior_id)

    html = browser.get(f"/people/{senior_id}").text

    rows = [int(n) for n in re.findall(r'<tr data-checkin-id="(\d+)">', html)]
    assert rows == [ids["tomorrow"], ids["due"], ids["missed"], ids["yesterday"]]
    text = _text(html)
    assert "2026-01-05 10:00–11:00 CST 2 of 2 Not reached Voicemail" in text
    assert "Next try at 14:05 CST (last try: no answer)" in text
    assert "2026-01-04 10:00–11:00 CST 1 of 2 Reached" in text
    assert "10:01 CST · No answer" in text and "10:16 CST · Completed" in text
    assert re.search(r'<a href="/calls/\d+">10:16 CST · Completed</a>', html)
    assert "Waiting for a caregiver" in text and "since 2026-01-05 10:21 CST" in text
    assert "2026-01-05 10:21 CST · SMS to Susan Ellis ( +1••••••0177 )" in text
    assert "Reply OK if you're checking on her." in text
    assert f'action="/today/escalations/{ids["escalation"]}/acknowledge"' in html
    assert f'name="next" value="/people/{senior_id}"' in html


def test_numbers_are_masked_in_lists_and_in_full_on_a_persons_page(browser: TestClient) -> None:
    """The roster and the texts sent show enough of a number to recognise it; a person's page,
    where staff go to ring them or their caregivers, has their numbers in full."""
    senior_id = _add_person(browser)
    _store_program(browser, senior_id)

    roster = browser.get("/people").text
    today = browser.get("/today").text
    person = _text(browser.get(f"/people/{senior_id}").text)

    assert PHONE not in roster and "+1••••••0142" in _text(roster)
    assert DAUGHTER not in today and "Susan Ellis ( +1••••••0177 )" in _text(today)
    assert f"Phone {PHONE}" in person
    assert f"Susan Ellis (daughter), {DAUGHTER}" in person and SON in person
    assert "SMS to Susan Ellis ( +1••••••0177 )" in person


def test_today_shows_each_persons_local_today(browser: TestClient) -> None:
    margaret = _add_person(browser)
    ids = _store_program(browser, margaret)
    _add_person(  # nothing planned today
        browser,
        name="Arthur Penn",
        phone_number="+14155550199",
        caregiver_name=[],
        caregiver_relation=[],
        caregiver_phone=[],
        caregiver_contact=[],
    )

    page = browser.get("/today")

    assert page.status_code == 200
    html = page.text
    assert '<script type="module" src="/static/today.js"></script>' in html
    shown = [int(n) for n in re.findall(r'data-checkin-id="(\d+)"', html)]
    assert shown == [ids["missed"], ids["due"]]  # Sunday's and Tuesday's aren't today
    text = _text(html)
    assert "Margaret Ellis their time 11:00 CST" in text
    assert "Not reached 10:00–11:00 CST Voicemail · 2 of 2 tries" in text
    assert (
        "Due later 14:00–15:00 CST Next try at 14:05 CST (last try: no answer) · 1 of 3 tries"
        in (text)
    )
    assert "1 person has no check-in today." in text
    assert "Escalations waiting for a caregiver" in text
    assert "Margaret didn't answer her 10:00 check-in (2 tries, voicemail)." in text
    assert "SMS to Susan Ellis" in text
    assert 'name="next" value="/today"' in html

    fragment = browser.get("/today/fragment")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert [int(n) for n in re.findall(r'data-checkin-id="(\d+)"', fragment.text)] == shown
    assert 'name="next" value="/today"' in fragment.text


def test_today_follows_the_clock_into_the_next_local_day(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    """At 05:30 UTC on Tuesday it is still Monday in Chicago: Monday's check-ins are today's."""
    settings = make_settings(database_url=database_url, dispatcher_enabled=False)
    clock = FakeClock(datetime(2026, 1, 6, 5, 30, tzinfo=UTC))
    with TestClient(create_app(settings, clock=clock)) as client:
        add_operator(client)
        client.headers["X-CSRF-Token"] = log_in(client)
        senior_id = _add_person(client)
        ids = _store_program(client, senior_id)

        monday = client.get("/today/fragment").text
        clock.set(datetime(2026, 1, 6, 6, 30, tzinfo=UTC))  # 00:30 Tuesday in Chicago
        tuesday = client.get("/today/fragment").text

    assert [int(n) for n in re.findall(r'data-checkin-id="(\d+)"', monday)] == [
        ids["missed"],
        ids["due"],
    ]
    assert [int(n) for n in re.findall(r'data-checkin-id="(\d+)"', tuesday)] == [ids["tomorrow"]]
    assert "Due later" in _text(tuesday) and "Waiting for its window" in _text(tuesday)


def test_program_events_reach_the_all_calls_feed(browser: TestClient) -> None:
    bus = app_state(browser).bus
    with browser.websocket_connect("/ws/dashboard") as socket:
        assert socket.receive_json()["type"] == "snapshot"
        on_app_loop(
            browser,
            bus.publish,
            CallEvent("checkin.updated", NO_CALL, {"senior_id": 7, "checkin_id": 9}),
        )
        on_app_loop(
            browser,
            bus.publish,
            CallEvent("escalation.updated", NO_CALL, {"senior_id": 7, "escalation_id": 3}),
        )
        first, second = socket.receive_json(), socket.receive_json()

    assert first["type"] == "program" and first["kind"] == "checkin.updated"
    assert first["data"] == {"senior_id": 7, "checkin_id": 9}
    assert second["kind"] == "escalation.updated" and second["data"]["escalation_id"] == 3
    assert second["id"] == first["id"] + 1


def test_an_escalation_is_acknowledged_from_the_today_board(browser: TestClient) -> None:
    senior_id = _add_person(browser)
    ids = _store_program(browser, senior_id)

    with browser.websocket_connect("/ws/dashboard") as socket:
        assert socket.receive_json()["type"] == "snapshot"
        response = _post(
            browser, f"/today/escalations/{ids['escalation']}/acknowledge", {"next": "/today"}
        )
        event = socket.receive_json()

    assert response.status_code == 303 and response.headers["location"] == "/today"
    assert event["type"] == "program" and event["kind"] == "escalation.updated"
    assert event["data"]["escalation_id"] == ids["escalation"]
    today = _text(browser.get("/today").text)
    assert "None: nobody is waiting for a caregiver." in today
    person = browser.get(f"/people/{senior_id}").text
    assert "Acknowledged by nurse@example.org at 2026-01-05 11:00 CST." in _text(person)
    assert "/acknowledge" not in person

    again = _post(
        browser,
        f"/today/escalations/{ids['escalation']}/acknowledge",
        {"next": "https://elsewhere.example/"},
    )
    assert again.status_code == 303 and again.headers["location"] == "/today"


def test_odd_input_gets_a_message_not_a_500(browser: TestClient) -> None:
    senior_id = _add_person(browser)

    for path in ("/people/99999999999", "/people/0/edit", "/people/abc"):
        response = browser.get(path)
        assert response.status_code == 422, path
        assert "The request is not valid" in response.json()["detail"]
    assert browser.get("/people/2147483647").status_code == 404
    too_big = _post(browser, "/today/escalations/99999999999/acknowledge")
    assert too_big.status_code == 422
    assert _post(browser, f"/people/{senior_id}/plans/2147483647/delete").status_code == 404

    for when in ("9999-12-31T23:59", "yesterday"):
        response = _post(
            browser,
            f"/people/{senior_id}/consent",
            {"given_by": "Margaret", "method": "verbal", "at": when},
        )
        assert response.status_code == 422, when
        assert "Enter when consent was given as a date and time." in _text(response.text)
    searched = browser.get("/people", params={"q": "%_\\'\"<b>"})
    assert searched.status_code == 200
    assert "Nobody matches" in _text(searched.text) and "<b>" not in searched.text


def test_a_plan_saved_for_today_is_on_today_at_once(browser: TestClient) -> None:
    """No dispatcher round runs here: saving the plan (or recording consent) makes today's
    check-in itself."""
    senior_id = _add_person(browser)
    _post(
        browser, f"/people/{senior_id}/plans", _plan(weekdays=["mon"], start="14:00", end="15:00")
    )
    assert "No check-ins today." in _text(browser.get("/today").text)  # no consent yet

    _post(browser, f"/people/{senior_id}/consent", {"given_by": "Margaret", "method": "verbal"})
    assert "Due later 14:00–15:00 CST" in _text(browser.get("/today").text)
    _post(
        browser, f"/people/{senior_id}/plans", _plan(weekdays=["mon"], start="16:00", end="17:00")
    )

    text = _text(browser.get("/today").text)
    assert "Due later 14:00–15:00 CST Next try at 14:00 CST" in text
    assert "Due later 16:00–17:00 CST Next try at 16:00 CST" in text
    assert "phone calls aren't set up" not in text


def test_today_says_nothing_is_dialled_while_phone_calls_are_not_set_up(
    unconfigured: Unconfigured,
) -> None:
    browser = unconfigured.client
    senior_id = _add_person(browser)
    _post(browser, f"/people/{senior_id}/consent", {"given_by": "Margaret", "method": "verbal"})
    for start, end in (("10:30", "12:00"), ("14:00", "15:00")):
        added = _post(browser, f"/people/{senior_id}/plans", _plan(start=start, end=end))
        assert added.status_code == 303

    html = browser.get("/today").text  # 11:00 in Chicago
    text = _text(html)
    assert re.findall(r'data-kind="([\w-]+)"', html) == ["not-dialled", "due"]
    assert "Not dialled 10:30–12:00 CST Not dialled: phone calls aren't set up" in text
    assert "Due later 14:00–15:00 CST Won't be dialled: phone calls aren't set up" in text
    assert "Next try" not in text
    notice = re.search(r'<p id="calls-not-set-up".*?</p>', html)
    assert notice and _text(notice.group(0)).strip() == (
        "Phone calls aren't set up, so no check-in is dialled: set TWILIO_ACCOUNT_SID , "
        "TWILIO_AUTH_TOKEN , TWILIO_PHONE_NUMBER ."
    )

    # The window passes: the dispatcher closes it saying why, and tells no caregiver that
    # Margaret didn't answer (nobody called her).
    unconfigured.clock.set(_at(12, 30))
    on_app_loop(browser, app_state(browser).dispatcher.run_round)

    text = _text(browser.get("/today").text)
    assert "Not dialled 10:30–12:00 CST not dialled: phone calls aren't set up" in text
    assert "None: nobody is waiting for a caregiver." in text
    history = _text(browser.get(f"/people/{senior_id}").text)
    assert "2026-01-05 10:30–12:00 CST 0 of 3 Not dialled" in history


def test_today_names_every_state_a_check_in_can_be_in(browser: TestClient) -> None:
    """Calling now (with a link to the call), opted out, skipped (with why), and an escalation
    that told everyone and is still waiting, with a notice Twilio refused."""
    senior_id = _add_person(browser)

    async def add() -> tuple[int, int]:
        async with create_session_factory(app_state(browser).engine).begin() as session:
            plans = [
                CheckinPlan(
                    senior_id=senior_id,
                    weekdays="mon",
                    window_start=time(hour, 0),
                    window_end=time(hour, 30),
                    active=False,
                )
                for hour in (9, 11, 13)
            ]
            session.add_all(plans)
            await session.flush()
            call = Call(to_number=PHONE, status=CallStatus.RINGING, senior_id=senior_id)
            session.add(call)
            await session.flush()
            states = [
                (CheckinState.DONE, CheckinOutcome.OPTED_OUT, None),
                (CheckinState.CALLING, None, None),
                (CheckinState.DONE, CheckinOutcome.SKIPPED, "no consent recorded"),
            ]
            for plan, (state, outcome, note) in zip(plans, states, strict=True):
                start = _at(plan.window_start.hour)
                session.add(
                    Checkin(
                        plan_id=plan.id,
                        senior_id=senior_id,
                        local_date=date(2026, 1, 5),
                        window_start_at=start,
                        window_end_at=start + timedelta(minutes=30),
                        state=state,
                        attempts=1 if state is CheckinState.CALLING else 0,
                        outcome=outcome,
                        current_call_id=call.id if state is CheckinState.CALLING else None,
                        note=note,
                    )
                )
            escalation = Escalation(
                senior_id=senior_id,
                reason="Margaret said she had fallen.",
                state=EscalationState.EXHAUSTED,
                step=2,
                created_at=_at(9, 40),
            )
            session.add(escalation)
            await session.flush()
            session.add(
                EscalationNotice(
                    escalation_id=escalation.id,
                    contact_name="Tom Ellis",
                    to_number=SON,
                    method=ContactMethod.CALL,
                    body="Margaret said she had fallen. Press 1 if you are checking on her.",
                    sent_at=_at(9, 41),
                    error="The number is not reachable.",
                )
            )
            return call.id, escalation.id

    call_id, escalation_id = on_app_loop(browser, add)

    html = browser.get("/today").text
    kinds = re.findall(r'data-checkin-id="\d+" data-kind="([\w-]+)"', html)
    assert kinds == ["opted-out", "calling", "not-reached"]
    text = _text(html)
    assert "Opted out 09:00–09:30 CST Asked not to be called again" in text
    assert "Calling now 11:00–11:30 CST Try 1 of 3 Follow the call" in text
    assert f'<a href="/calls/{call_id}">Follow the call</a>' in html
    assert "Not reached 13:00–13:30 CST Skipped · no consent recorded" in text
    assert "Everyone told, nobody answered" in text
    assert "Phone call to Tom Ellis" in text and "not sent: The number is not reachable." in text
    assert f'action="/today/escalations/{escalation_id}/acknowledge"' in html

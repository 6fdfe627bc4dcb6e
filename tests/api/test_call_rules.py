"""Who may be called now, through `POST /api/calls` on the real app (SQLite and PostgreSQL) with
a clock the test sets: a person on the roster only with consent, never while do-not-call, and
only 08:00–21:00 in their own time zone — by `senior_id` or by their number in `to`. A refusal
is a 409 that says why, and Twilio is never asked to dial."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carecall.persistence.models import Call
from carecall.server import create_app
from carecall.settings import Settings
from tests.api.support import add_api_key, app_state, on_app_loop
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

CHICAGO_NUMBER = "+13125550101"
# Mid-January: Chicago is on CST, UTC-6.
NOON_IN_CHICAGO = datetime(2026, 1, 14, 18, 0, tzinfo=UTC)


@dataclass
class App:
    client: TestClient
    clock: FakeClock
    twilio: FakeAsyncTwilioHttpClient

    def add_senior(self, *, consent: bool = True, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "Walter Kowalski",
            "phone_number": CHICAGO_NUMBER,
            "timezone": "America/Chicago",
            **fields,
        }
        if consent:
            body["consent"] = {"given_by": "Walter", "method": "verbal"}
        response = self.client.post("/api/seniors", json=body)
        assert response.status_code == 201, response.text
        senior: dict[str, Any] = response.json()
        return senior

    def call(self, **body: Any) -> Any:  # the TestClient's response
        return self.client.post("/api/calls", json=body)

    def stored_call(self, call_id: int) -> Call:
        call = on_app_loop(self.client, app_state(self.client).calls.get, call_id)
        assert call is not None
        return call

    def dialled(self) -> list[str]:
        """The numbers Twilio was asked to dial, in order."""
        return [str(r.data["To"]) for r in self.twilio.requests if r.method == "POST"]


@pytest.fixture
def app(make_settings: Callable[..., Settings], database_url: str) -> Iterator[App]:
    clock = FakeClock(NOON_IN_CHICAGO)
    twilio = FakeAsyncTwilioHttpClient()
    server = create_app(
        make_settings(database_url=database_url), twilio_http_client=twilio, clock=clock
    )
    with TestClient(server) as client:
        client.headers["Authorization"] = f"Bearer {add_api_key(client)}"
        yield App(client, clock, twilio)


def _refused(response: Any, *words: str) -> str:
    assert response.status_code == 409, response.text
    detail: str = response.json()["detail"]
    for word in words:
        assert word in detail, (word, detail)
    return detail


def test_without_consent_nobody_is_dialled(app: App) -> None:
    senior = app.add_senior(consent=False)

    for body in ({"senior_id": senior["id"]}, {"to": CHICAGO_NUMBER}, {"to": "+1 312 555 0101"}):
        _refused(app.call(**body), "Walter Kowalski has not given consent", "Record their consent")

    assert app.twilio.requests == []
    assert app.client.get("/api/calls").json()["total"] == 0


def test_do_not_call_is_refused_with_its_reason(app: App) -> None:
    senior = app.add_senior()
    marked = app.client.put(
        f"/api/seniors/{senior['id']}/do-not-call",
        json={"do_not_call": True, "reason": "asked not to be called"},
    )
    assert marked.status_code == 200, marked.text

    for body in ({"senior_id": senior["id"]}, {"to": CHICAGO_NUMBER}):
        _refused(app.call(**body), "is marked do-not-call (asked not to be called)")
    assert app.twilio.requests == []

    app.client.put(f"/api/seniors/{senior['id']}/do-not-call", json={"do_not_call": False})
    assert app.call(senior_id=senior["id"]).status_code == 201
    assert app.dialled() == [CHICAGO_NUMBER]


def test_calling_hours_are_the_persons_local_time(app: App) -> None:
    senior = app.add_senior()
    by_id = {"senior_id": senior["id"]}

    # 21:30 in Chicago (03:30 UTC): too late.
    app.clock.set(datetime(2026, 1, 15, 3, 30, tzinfo=UTC))
    _refused(app.call(**by_id), "It is 21:30 for Walter Kowalski (America/Chicago)", "08:00")
    # 07:59 in Chicago, while it is 13:59, the middle of the day, in UTC: too early.
    app.clock.set(datetime(2026, 1, 15, 13, 59, tzinfo=UTC))
    _refused(app.call(**by_id), "It is 07:59", "between 08:00 and 21:00 in their local time")
    _refused(app.call(to=CHICAGO_NUMBER), "It is 07:59")
    assert app.twilio.requests == []

    # 08:00 sharp in Chicago.
    app.clock.set(datetime(2026, 1, 15, 14, 0, tzinfo=UTC))
    assert app.call(**by_id).status_code == 201
    # 20:59 in Chicago, while it is 02:59 at night in UTC.
    app.clock.set(datetime(2026, 1, 16, 2, 59, tzinfo=UTC))
    assert app.call(to=CHICAGO_NUMBER).status_code == 201
    # 21:00 is over.
    app.clock.set(datetime(2026, 1, 16, 3, 0, tzinfo=UTC))
    _refused(app.call(**by_id), "It is 21:00")

    assert app.dialled() == [CHICAGO_NUMBER, CHICAGO_NUMBER]


def test_calling_hours_follow_daylight_saving(app: App) -> None:
    senior = app.add_senior()
    # 13:30 UTC is 07:30 in Chicago in winter (CST), 08:30 in summer (CDT).
    app.clock.set(datetime(2026, 3, 6, 13, 30, tzinfo=UTC))
    _refused(app.call(senior_id=senior["id"]), "It is 07:30")
    app.clock.set(datetime(2026, 3, 9, 13, 30, tzinfo=UTC))
    assert app.call(senior_id=senior["id"]).status_code == 201


def test_a_call_by_senior_id_dials_their_number_and_is_linked_to_them(app: App) -> None:
    senior = app.add_senior(phone_number="+1 (312) 555-0177")

    response = app.call(senior_id=senior["id"])

    assert response.status_code == 201, response.text
    placed = response.json()
    assert placed["to_number"] == "+13125550177"
    assert app.dialled() == ["+13125550177"]
    assert app.twilio.calls[placed["twilio_sid"]]["to"] == "+13125550177"
    stored = app.stored_call(placed["id"])
    assert stored.senior_id == senior["id"]
    assert stored.checkin_id is None

    # Their number in `to` is the same person: linked too.
    by_number = app.call(to="+13125550177")
    assert by_number.status_code == 201, by_number.text
    assert app.stored_call(by_number.json()["id"]).senior_id == senior["id"]


def test_a_number_not_on_the_roster_is_not_held_to_a_persons_rules(app: App) -> None:
    app.add_senior()
    app.clock.set(datetime(2026, 1, 15, 3, 30, tzinfo=UTC))  # 21:30 in Chicago

    response = app.call(to="+14155550100")

    assert response.status_code == 201, response.text
    assert app.stored_call(response.json()["id"]).senior_id is None
    assert app.dialled() == ["+14155550100"]


def test_to_or_senior_id_exactly_one(app: App) -> None:
    senior = app.add_senior()
    for body in ({}, {"to": CHICAGO_NUMBER, "senior_id": senior["id"]}):
        response = app.call(**body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == (
            "Send either 'to' (the number to call, e.g. +14155550100) or 'senior_id' (a person "
            "on the roster), not both."
        )

    unknown = app.call(senior_id=424242)
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "There is no person 424242 on the roster."}
    for bad in (0, -1, 2**40, "seven"):
        response = app.call(senior_id=bad)
        assert response.status_code == 422, (bad, response.text)
        assert "senior_id" in response.json()["detail"]
    too_long = app.call(to="+1" + "4" * 80)
    assert too_long.status_code == 422
    assert "to: String should have at most 64 characters" in too_long.json()["detail"]

    assert app.twilio.requests == []
    assert app.client.get("/api/calls").json()["total"] == 0


def test_ids_too_big_for_the_database_are_422_not_500(app: App) -> None:
    huge = "99999999999999999999"
    for method, path, params in [
        ("GET", f"/api/calls/{huge}", None),
        ("POST", f"/api/calls/{huge}/hangup", None),
        ("GET", "/api/calls", {"offset": huge}),
        ("GET", "/api/seniors", {"offset": huge}),
    ]:
        response = app.client.request(method, path, params=params)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"].startswith("The request is not valid: ")


def test_the_persons_reasons_come_before_missing_settings(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    """Without Twilio settings a call to someone who may not be called says why first (all the
    reasons), and the missing settings among them: setting Twilio up would not be enough."""
    clock = FakeClock(datetime(2026, 1, 15, 3, 30, tzinfo=UTC))  # 21:30 in Chicago
    twilio = FakeAsyncTwilioHttpClient()
    settings = make_settings(
        database_url=database_url, twilio_account_sid=None, twilio_auth_token=None
    )
    with TestClient(create_app(settings, twilio_http_client=twilio, clock=clock)) as client:
        client.headers["Authorization"] = f"Bearer {add_api_key(client)}"
        app = App(client, clock, twilio)
        senior = app.add_senior(consent=False)

        detail = _refused(app.call(senior_id=senior["id"]))

        assert detail == (
            "Walter Kowalski has not given consent to be called. Record their consent (who gave "
            "it, when and how) on their page first. It is 21:30 for Walter Kowalski "
            "(America/Chicago); calls are only placed between 08:00 and 21:00 in their local "
            "time. Placing phone calls is not configured: set TWILIO_ACCOUNT_SID, "
            "TWILIO_AUTH_TOKEN (see .env.example)."
        )
        assert twilio.requests == []

"""Alerts and trends on the pages, on SQLite and PostgreSQL: a person's page has each measure's
levels call by call for the chart (also at /people/{id}/trends.json) and their alerts with the
texts sent; Today has the open alerts at the top, red flags first; Acknowledge takes one off
(and tells the live feed). In a real browser: test_trends_browser."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carecall.persistence.database import create_session_factory
from carecall.server import create_app
from carecall.settings import Settings
from tests.api.support import add_operator, app_state, log_in, on_app_loop
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.wellbeing.alert_data import FALL_ADVICE, WORSENING_SLEEP, StoredPerson, store_person

# Monday 5 January 2026, 17:00 UTC: 11:00 in Chicago. Mary's calls are on the days before.
NOW = datetime(2026, 1, 12, 17, 0, tzinfo=UTC)
FIRST_CALL = datetime(2026, 1, 5, 17, 30, tzinfo=UTC)


@pytest.fixture
def browser(make_settings: Callable[..., Settings], database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url=database_url, organization_name="Sunny Care")
    app = create_app(settings, twilio_http_client=FakeAsyncTwilioHttpClient(), clock=FakeClock(NOW))
    with TestClient(app) as client:
        add_operator(client)
        client.headers["X-CSRF-Token"] = log_in(client)
        yield client


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _store(
    client: TestClient, name: str = "Mary Smith", phone: str = "+13125550101"
) -> StoredPerson:
    sessions = create_session_factory(app_state(client).engine)
    return on_app_loop(
        client,
        store_person,
        sessions,
        WORSENING_SLEEP,
        first_call_at=FIRST_CALL,
        name=name,
        phone=phone,
    )


def _trend_alert(client: TestClient, senior_id: int) -> int:
    [alert] = on_app_loop(client, app_state(client).alerts.check_trends, senior_id)
    return alert.id


def _red_flag(client: TestClient, stored: StoredPerson) -> int:
    alert = on_app_loop(
        client,
        app_state(client).alerts.raise_red_flag,
        call_id=stored.call_ids[-1],
        senior_id=stored.senior_id,
        category="chest_pain",
        evidence="my chest is so tight",
        detector="rules",
        advice=FALL_ADVICE,
    )
    assert alert is not None
    return alert.id


def _post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    fields = {"csrf_token": client.headers["X-CSRF-Token"], **data}
    return client.post(path, data=fields, follow_redirects=False)


def test_the_person_page_has_the_chart_data_and_the_alerts(browser: TestClient) -> None:
    stored = _store(browser)
    alert_id = _trend_alert(browser, stored.senior_id)

    page = browser.get(f"/people/{stored.senior_id}")

    assert page.status_code == 200
    found = re.search(r'<script type="application/json" id="trend-data">(.*?)</script>', page.text)
    assert found, "the page has no chart data"
    data = json.loads(found.group(1))
    assert data == browser.get(f"/people/{stored.senior_id}/trends.json").json()
    assert data["zone"] == "America/Chicago"
    assert data["scale"] == ["good", "fair", "poor", "concerning"]
    # The three calls with a record (the one without is not on the chart), in Chicago time.
    assert data["dates"] == ["2026-01-05 11:30", "2026-01-06 11:30", "2026-01-08 11:30"]
    assert data["calls"] == [stored.call_ids[0], stored.call_ids[1], stored.call_ids[3]]
    assert data["times"] == [int(FIRST_CALL.timestamp()) + day * 86400 for day in (0, 1, 3)]
    measures = {m["key"]: m for m in data["measures"]}
    assert len(measures) == 9
    assert measures["sleep"]["levels"] == [0, 1, 2]
    assert measures["mood"]["levels"] == [0, None, 1]  # not discussed: a gap
    assert measures["pain"]["levels"] == [None, None, None]
    assert measures["sleep"]["words"][3] == "hardly sleeping"
    assert measures["sleep"]["evidence"][2] == "I only slept two hours"
    assert '<script type="module" src="/static/trends.js"></script>' in page.text
    assert "/vendor/uplot/uPlot.min.css" in page.text

    alert = re.search(rf'<article[^>]*data-alert-id="{alert_id}".*?</article>', page.text, re.S)
    assert alert, "the alert is not on the page"
    words = _text(alert.group(0))
    assert "Trend: Sleep" in words
    assert (
        "Mary's sleep has got worse over the last 3 calls (sleeping well, then some poor "
        "nights, then sleeping badly): “I only slept two hours”." in words
    )
    assert "2026-01-12 11:00 CST · SMS to Susan Smith ( +1••••••0103 )" in words
    assert "Acknowledge the alert about Mary Smith" in words


def test_a_person_without_records_has_no_chart_yet(browser: TestClient) -> None:
    sessions = create_session_factory(app_state(browser).engine)
    stored = on_app_loop(browser, store_person, sessions, [None], first_call_at=FIRST_CALL)

    page = browser.get(f"/people/{stored.senior_id}")

    words = _text(page.text)
    assert (
        "Nothing yet: after each conversation, how they said they are doing is charted here."
        in words
    )
    assert "No alerts: nothing heard on a call or seen over calls has needed a look." in words
    assert browser.get(f"/people/{stored.senior_id}/trends.json").json()["times"] == []


@pytest.mark.parametrize(
    ("path", "status"), [("/people/999/trends.json", 404), ("/people/0/trends.json", 422)]
)
def test_the_chart_data_of_nobody_is_a_clear_error(
    browser: TestClient, path: str, status: int
) -> None:
    response = browser.get(path)

    assert response.status_code == status
    if status == 404:
        assert response.json() == {"detail": "There is no person 999."}


def test_today_shows_the_open_alerts_red_flags_first(browser: TestClient) -> None:
    mary = _store(browser)
    trend_id = _trend_alert(browser, mary.senior_id)
    arthur = _store(browser, name="Arthur Penn", phone="+13125550199")
    _trend_alert(browser, arthur.senior_id)
    red_flag_id = _red_flag(browser, arthur)

    for path in ("/today", "/today/fragment"):
        html = browser.get(path).text
        ids = [int(n) for n in re.findall(r'data-alert-id="(\d+)"', html)]
        assert ids[0] == red_flag_id and trend_id in ids and len(ids) == 3
        board = _text(html)
        assert "Red flag: chest pain" in board
        assert "Red flag on the call (chest pain). Arthur said “my chest is so tight”." in board
        assert board.index("Alerts") < board.index("Escalations waiting for a caregiver")


def test_the_call_page_has_the_calls_red_flag_in_the_persons_words(browser: TestClient) -> None:
    arthur = _store(browser, name="Arthur Penn", phone="+13125550199")
    red_flag_id = _red_flag(browser, arthur)

    page = browser.get(f"/calls/{arthur.call_ids[-1]}").text
    other_call = browser.get(f"/calls/{arthur.call_ids[0]}").text

    assert re.findall(r'data-alert-id="(\d+)"', page) == [str(red_flag_id)]
    assert "Alerts from this call" in page
    # The other call's page keeps the section hidden (it shows itself if one is raised live).
    assert re.search(r'id="call-alerts"[^>]*hidden', other_call)
    assert not re.search(r'id="call-alerts"[^>]*hidden', page)
    assert "data-alert-id" not in other_call
    assert "Red flag on the call (chest pain). Arthur said “my chest is so tight”." in _text(page)
    assert f"/alerts/{red_flag_id}/acknowledge" in page


def test_an_alert_is_acknowledged_from_today(browser: TestClient) -> None:
    stored = _store(browser)
    alert_id = _trend_alert(browser, stored.senior_id)

    with browser.websocket_connect("/ws/dashboard") as socket:
        assert socket.receive_json()["type"] == "snapshot"
        response = _post(browser, f"/alerts/{alert_id}/acknowledge", {"next": "/today"})
        event = socket.receive_json()

    assert response.status_code == 303 and response.headers["location"] == "/today"
    assert event["type"] == "program" and event["kind"] == "alert.updated"
    assert event["data"]["alert_id"] == alert_id and event["data"]["state"] == "acknowledged"
    today = _text(browser.get("/today").text)
    assert "None: no red flag or worsening trend is waiting to be looked at." in today
    person = browser.get(f"/people/{stored.senior_id}").text
    assert "Acknowledged by nurse@example.org at 2026-01-12 11:00 CST." in _text(person)
    assert f"/alerts/{alert_id}/acknowledge" not in person

    again = _post(
        browser, f"/alerts/{alert_id}/acknowledge", {"next": "https://elsewhere.example/"}
    )
    assert again.status_code == 303 and again.headers["location"] == "/today"


def test_acknowledging_needs_the_pages_security_token(browser: TestClient) -> None:
    stored = _store(browser)
    alert_id = _trend_alert(browser, stored.senior_id)

    response = browser.post(f"/alerts/{alert_id}/acknowledge", data={"next": "/today"})

    assert response.status_code == 403
    assert "Acknowledge the alert about Mary Smith" in _text(browser.get("/today").text)

"""`/api/alerts` on SQLite and PostgreSQL: listing by state and person (open first, red flags
before trends), each with the texts sent; acknowledging (404, 409); bad input is a 422."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from carecall.persistence.database import create_session_factory
from carecall.settings import Settings
from tests.api.support import app_state, make_client, on_app_loop
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.wellbeing.alert_data import FALL_ADVICE, SUSAN, WORSENING_SLEEP, store_person

FIRST_CALL = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)


@pytest.fixture
def client(make_settings: Callable[..., Settings], database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url=database_url, organization_name="Sunny Care")
    yield from make_client(settings, FakeAsyncTwilioHttpClient())


def _alerts(client: TestClient) -> tuple[int, int, int]:
    """Mary's sleep trend alert and a red flag on her last call: (senior, trend, red flag)."""
    state = app_state(client)
    stored = on_app_loop(
        client,
        store_person,
        create_session_factory(state.engine),
        WORSENING_SLEEP,
        first_call_at=FIRST_CALL,
    )
    [trend] = on_app_loop(client, state.alerts.check_trends, stored.senior_id)
    red_flag = on_app_loop(
        client,
        state.alerts.raise_red_flag,
        call_id=stored.call_ids[-1],
        senior_id=stored.senior_id,
        category="fall",
        evidence="I fell in the garden and can't get up",
        detector="rules",
        advice=FALL_ADVICE,
    )
    assert red_flag is not None
    return stored.senior_id, trend.id, red_flag.id


def test_alerts_are_listed_red_flags_first_with_the_texts_sent(client: TestClient) -> None:
    senior_id, trend_id, red_flag_id = _alerts(client)

    response = client.get("/api/alerts", params={"state": "open", "senior_id": senior_id})

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 2 and [a["id"] for a in page["items"]] == [red_flag_id, trend_id]
    red_flag, trend = page["items"]
    assert (red_flag["kind"], red_flag["category"], red_flag["state"]) == (
        "red_flag",
        "fall",
        "open",
    )
    assert red_flag["reason"] == (
        "Red flag on the call (a fall). Mary said “I fell in the garden and can't get up”."
    )
    [notice] = red_flag["notices"]
    assert notice["to_number"] == SUSAN and notice["contact_name"] == "Susan Smith"
    assert notice["body"] == (
        "Sunny Care: URGENT — during today's call Mary said “I fell in the garden and can't "
        "get up”. We advised calling 911. Please check on Mary now."
    )
    assert notice["twilio_sid"].startswith("SM") and notice["error"] is None
    assert (trend["kind"], trend["category"], trend["evidence"]) == (
        "trend",
        "sleep",
        "I only slept two hours",
    )
    assert client.get("/api/alerts", params={"state": "acknowledged"}).json()["total"] == 0
    assert client.get("/api/alerts", params={"senior_id": senior_id + 1}).json()["items"] == []
    assert client.get(f"/api/alerts/{trend_id}").json()["reason"] == trend["reason"]


def test_an_alert_is_acknowledged_once(client: TestClient) -> None:
    _, trend_id, red_flag_id = _alerts(client)

    response = client.post(f"/api/alerts/{red_flag_id}/acknowledge")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["state"], body["acknowledged_by"]) == ("acknowledged", "tests")
    assert body["acknowledged_at"] is not None
    again = client.post(f"/api/alerts/{red_flag_id}/acknowledge")
    assert again.status_code == 409
    assert again.json()["detail"] == "This alert was already acknowledged by tests."
    listed = client.get("/api/alerts", params={"state": "open"}).json()
    assert [a["id"] for a in listed["items"]] == [trend_id]
    acknowledged = client.get("/api/alerts", params={"state": "acknowledged"}).json()
    assert [a["id"] for a in acknowledged["items"]] == [red_flag_id]


@pytest.mark.parametrize(
    ("method", "path", "status", "says"),
    [
        ("POST", "/api/alerts/999/acknowledge", 404, "There is no alert 999."),
        ("GET", "/api/alerts/999", 404, "There is no alert 999."),
        ("GET", "/api/alerts/0", 422, None),
        ("GET", "/api/alerts/99999999999", 422, None),
        ("GET", "/api/alerts?state=closed", 422, None),
        ("GET", "/api/alerts?senior_id=abc", 422, None),
        ("GET", "/api/alerts?limit=0", 422, None),
    ],
)
def test_bad_requests_get_a_clear_error(
    client: TestClient, method: str, path: str, status: int, says: str | None
) -> None:
    response = client.request(method, path)

    assert response.status_code == status, response.text
    if says is not None:
        assert response.json()["detail"] == says


def test_the_api_needs_a_key_or_a_session(client: TestClient) -> None:
    del client.headers["Authorization"]

    assert client.get("/api/alerts").status_code == 401
    assert client.post("/api/alerts/1/acknowledge").status_code == 401

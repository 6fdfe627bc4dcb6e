"""The Reports page (`/reports`) through the real app: signed out it asks to sign in; signed in
it shows the hand-worked program's report (`tests/api/report_data.py`) in its table, the data
for its charts (the API's report and each bucket's start) and a link to the CSV; a form with a
bad date or period comes back with the reason next to the field. In a real browser:
test_reports_browser."""

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
from tests.api.report_data import AGENCY_ZONE, FROM, TO, WEEKS, Stored, store_outcomes_data
from tests.api.support import add_operator, app_state, log_in, on_app_loop
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

NOW = datetime(2026, 4, 8, 12, 0, tzinfo=UTC)  # Wednesday, week 15


@pytest.fixture
def app_client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = make_settings(agency_timezone=AGENCY_ZONE)
    app = create_app(settings, twilio_http_client=FakeAsyncTwilioHttpClient(), clock=FakeClock(NOW))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def browser(app_client: TestClient) -> TestClient:
    add_operator(app_client)
    app_client.headers["X-CSRF-Token"] = log_in(app_client)
    return app_client


@pytest.fixture
def stored(browser: TestClient) -> Stored:
    sessions = create_session_factory(app_state(browser).engine)
    return on_app_loop(browser, store_outcomes_data, sessions)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _row(html: str, bucket: str) -> dict[str, str]:
    """The figures of one row of the report's table, by their `data-figure`."""
    row = re.search(rf'<tr data-bucket="{bucket}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {bucket}"
    cells = re.findall(r'data-figure="([\w-]+)">(.*?)</t[dh]>', row.group(1), re.S)
    return {name: _text(value) for name, value in cells}


def _data(html: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S
    )
    assert found
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_signed_out_the_page_asks_to_sign_in(app_client: TestClient) -> None:
    response = app_client.get("/reports", params={"from": FROM}, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Freports%3Ffrom%3D2026-03-16"


def test_the_page_shows_the_report_in_its_table(browser: TestClient, stored: Stored) -> None:
    response = browser.get("/reports", params={"from": FROM, "to": TO})

    assert response.status_code == 200
    html = response.text
    assert 'aria-current="page">Reports</a>' in html
    assert _text(re.search(r'<p id="report-summary".*?</p>', html, re.S).group(0)) == (  # type: ignore[union-attr]
        "2026-03-16 to 2026-04-05: 8 check-ins due, 3 reached (67 % on the first try), "
        "4 not reached; 4 escalations, 1 unacknowledged."
    )
    assert _row(html, WEEKS[1]) == {
        "due": "3",
        "reached": "1",
        "first-try": "0 %",
        "tries": "2.00",
        "not-reached": "2 (no answer 1, voicemail 1)",
        "opted-out": "0",
        "escalations": "3",
        "unacknowledged": "1",
        "ack": "5 min / 20 min",
        "alerts-red_flag": "0",
        "alerts-trend": "1 (2 h 00 min)",
        "calls": "2",
        "minutes": "4.0",
        "latency": "0.9 s / 1.5 s",
    }
    assert _row(html, "total")["alerts-red_flag"] == "3 (2 min, 1 open)"
    assert _row(html, WEEKS[0])["ack"] == "– / –"
    waiting = re.search(r'<section[^>]*id="waiting".*?</section>', html, re.S).group(0)  # type: ignore[union-attr]
    assert "Tom Jones , opened 2026-03-25 10:50 GMT: 3 tries: no answer (every contact told)" in (
        _text(waiting)
    )
    overall = re.search(r'<tr data-measure="mood">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    assert _text(overall) == "Mood 2 1 0 1 0"
    assert f'<tr data-senior-id="{stored.mary}">' in html
    csv_link = re.search(r'<a id="report-csv"[^>]*href="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert unescape(csv_link) == f"/api/reports/outcomes?from={FROM}&to={TO}&group=week&format=csv"
    csv = browser.get(unescape(csv_link))
    assert csv.status_code == 200 and csv.text.startswith("bucket,first_day,last_day,")


def test_the_charts_data_is_the_apis_report_with_each_buckets_start(
    browser: TestClient, stored: Stored
) -> None:
    data = _data(browser.get("/reports", params={"from": FROM, "to": TO}).text)
    api = browser.get("/api/reports/outcomes", params={"from": FROM, "to": TO}).json()

    times = data.pop("times")
    assert data == api
    assert times == [
        int(datetime(2026, 3, 16, tzinfo=UTC).timestamp()),
        int(datetime(2026, 3, 23, tzinfo=UTC).timestamp()),
        int(datetime(2026, 3, 29, 23, tzinfo=UTC).timestamp()),  # Monday 00:00 BST
    ]


def test_without_dates_the_page_shows_the_last_12_weeks(browser: TestClient) -> None:
    html = browser.get("/reports").text

    assert 'name="from" type="date"' in html
    assert 'value="2026-01-19"' in html and 'value="2026-04-08"' in html
    assert len(_data(html)["buckets"]) == 12


def test_months_are_offered(browser: TestClient, stored: Stored) -> None:
    html = browser.get("/reports", params={"from": FROM, "to": TO, "group": "month"}).text

    assert _row(html, "2026-03")["due"] == "7"
    assert _row(html, "2026-04")["due"] == "1"
    assert '<option value="month" selected>' in html


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "16/03/2026"}, "from", "Enter a date as YYYY-MM-DD, e.g. 2026-01-05."),
        ({"to": "2026-02-30"}, "to", "Enter a date as YYYY-MM-DD, e.g. 2026-01-05."),
        (
            {"from": TO, "to": FROM},
            "from",
            "'from' (2026-04-05) is after 'to' (2026-03-16).",
        ),
        (
            {"from": "2025-01-01", "to": TO},
            "from",
            "The period is 460 days long; a report covers at most 366 days.",
        ),
        ({"to": "3000-01-01"}, "to", "'to' must be between 1970-01-01 and 2999-12-31."),
        ({"group": "year"}, "group", "Choose weeks or months."),
    ],
)
def test_a_bad_form_comes_back_with_the_reason_next_to_the_field(
    browser: TestClient, params: dict[str, str], field: str, message: str
) -> None:
    response = browser.get("/reports", params=params)

    assert response.status_code == 422
    html = response.text
    assert f'<div id="{field}-error" class="invalid-feedback">{message}</div>' in unescape(html)
    assert "is-invalid" in html
    assert 'id="report-table"' not in html

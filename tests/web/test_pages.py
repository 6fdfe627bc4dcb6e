"""The dashboard's pages, rendered on the server: sign-in required, numbers masked, stored
transcripts shown, history searched and paginated. (Live behaviour: test_dashboard_browser.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carecall.calls.browser import BROWSER_NUMBER
from carecall.calls.demo import DEMO_NUMBER
from carecall.persistence.models import CallChannel, CallStatus, TurnRole
from carecall.pipeline.events import StepRecord
from carecall.settings import Settings
from tests.api.support import app_state, make_client, on_app_loop
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.web.support import signed_in_client, store_call

FULL = "+14155550142"
MASKED = "+1••••••0142"


@pytest.fixture
def browser(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    yield from signed_in_client(make_settings())


@pytest.mark.parametrize("path", ["/", "/calls/1", "/history?status=failed"])
def test_pages_send_a_stranger_to_the_login_page(
    make_settings: Callable[..., Settings], path: str
) -> None:
    for client in make_client(make_settings(), FakeAsyncTwilioHttpClient(), api_key=False):
        response = client.get(path, follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
        assert client.get(path).url.path == "/login"


def test_the_calls_page_has_the_form_and_recent_calls_masked(browser: TestClient) -> None:
    call_id = store_call(browser, FULL, CallStatus.IN_PROGRESS)
    store_call(browser, "+442079460958", CallStatus.BUSY)

    page = browser.get("/")

    assert page.status_code == 200
    html = page.text
    assert '<label for="to" class="form-label">Phone number</label>' in html
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)
    assert 'aria-live="polite"' in html
    assert MASKED in html and "+4•••••••0958" in html
    assert FULL not in html and "+442079460958" not in html
    assert f'href="/calls/{call_id}"' in html
    assert "In progress" in html and "Busy" in html
    assert "Ready to place calls." in html
    assert html.count('class="btn btn-outline-danger btn-sm hangup"') == 3  # 1 live + template
    assert html.count('class="btn btn-outline-danger btn-sm hangup" hidden') == 2


def test_the_calls_page_says_what_is_missing(make_settings: Callable[..., Settings]) -> None:
    for client in signed_in_client(make_settings(twilio_auth_token=None, webhook_url=None)):
        html = client.get("/").text

        assert "can't place calls yet" in html
        assert "<code>TWILIO_AUTH_TOKEN</code>" in html and "<code>WEBHOOK_URL</code>" in html
        assert "TWILIO_PHONE_NUMBER" not in html


def test_a_call_page_shows_the_stored_transcript(browser: TestClient) -> None:
    call_id = store_call(
        browser,
        FULL,
        CallStatus.COMPLETED,
        turns=[
            (TurnRole.ASSISTANT, "Hello! This is Sunny.", None, True),
            (TurnRole.USER, "I slept well <really>", None, False),
            (TurnRole.ASSISTANT, "That is good to hear.", 812, False),
        ],
        duration_seconds=65,
        end_reason="bot-hangup: the person said goodbye",
        error="Speech-to-text timed out",
    )

    html = browser.get(f"/calls/{call_id}").text

    turns = re.findall(r'<li class="turn turn-(\w+)" data-sequence="(\d+)">', html)
    assert turns == [("assistant", "1"), ("user", "2"), ("assistant", "3")]
    assert html.index("Hello! This is Sunny.") < html.index("I slept well") < html.index("good to")
    assert "I slept well &lt;really&gt;" in html  # escaped
    assert html.count('<span class="turn-speaker fw-semibold">Caller</span>') == 1
    assert html.count('<span class="turn-speaker fw-semibold">Carecall</span>') == 2
    assert 'data-ms="812"' in html
    assert 'answered in <span class="turn-latency-seconds">0.8 s</span>' in html
    assert "1 min 05 s" in html
    assert "Carecall said goodbye (the person said goodbye)" in html
    assert "Speech-to-text timed out" in html
    assert MASKED in html and FULL not in html
    assert 'id="hangup" class="btn btn-outline-danger" hidden' in html
    assert '<script type="module" src="/static/call.js"></script>' in html


def _words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_call_without_a_number_is_named_for_what_it_was(browser: TestClient) -> None:
    """A demo call and a talk in the browser are not "Call to a demo call": their name says
    what they were, and is not set as a number."""
    demo = store_call(browser, DEMO_NUMBER, channel=CallChannel.DEMO)
    talk = store_call(browser, BROWSER_NUMBER, channel=CallChannel.BROWSER)
    phone = store_call(browser, FULL)

    for call_id, title in ((demo, "Demo call"), (talk, "Talk in the browser")):
        html = browser.get(f"/calls/{call_id}").text
        assert f'<h1 class="h3 mb-0 me-2">{title}</h1>' in html
        assert f"Channel {title} Status" in _words(html)
        assert "Call to" not in html and "Number" not in _words(html)
        assert "a demo call" not in html and ">the browser<" not in html
    phone_page = browser.get(f"/calls/{phone}").text
    assert f'<h1 class="h3 mb-0 me-2">Call to {MASKED}</h1>' in phone_page
    assert f'<dt>Number</dt><dd class="font-monospace">{MASKED}</dd>' in phone_page

    calls = browser.get("/").text
    assert '<span class="call-number">Demo call</span>' in calls
    assert '<span class="call-number">Talk in the browser</span>' in calls
    assert f'<span class="call-number font-monospace">{MASKED}</span>' in calls
    assert 'Hang up<span class="visually-hidden"> the demo call</span>' in calls
    history = browser.get("/history").text
    assert "<td>Demo call</td>" in history and "<td>Talk in the browser</td>" in history
    assert f'<td class="font-monospace">{MASKED}</td>' in history


def test_an_unknown_call_is_a_404_page(browser: TestClient) -> None:
    response = browser.get("/calls/999")

    assert response.status_code == 404
    assert "There is no call 999." in response.text


def test_the_assets_are_served_locally(browser: TestClient) -> None:
    for path in (
        "/static/live.js",
        "/static/calls.js",
        "/static/call.js",
        "/static/history.js",
        "/static/app.css",
        "/vendor/bootstrap/css/bootstrap.min.css",
        "/vendor/uplot/uPlot.esm.js",
        "/vendor/uplot/uPlot.min.css",
    ):
        assert browser.get(path).status_code == 200, path


# --- history ----------------------------------------------------------------------------------


def _rows(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-call-id="(\d+)">', html)]


def test_history_searches_by_number_status_and_dates(browser: TestClient) -> None:
    day = datetime(2025, 6, 16, 12, 0, tzinfo=UTC)
    old = store_call(browser, FULL, CallStatus.COMPLETED, created_at=day - timedelta(days=3))
    busy = store_call(browser, FULL, CallStatus.BUSY, created_at=day)
    other = store_call(browser, "+442079460958", CallStatus.COMPLETED, created_at=day)
    late = store_call(browser, "+14155550199", CallStatus.FAILED, created_at=day.replace(hour=23))

    assert _rows(browser.get("/history").text) == [late, other, busy, old]
    assert _rows(browser.get("/history", params={"number": "0142"}).text) == [busy, old]
    assert _rows(browser.get("/history", params={"number": "+1 (415) 555"}).text) == [
        late,
        busy,
        old,
    ]
    assert _rows(browser.get("/history", params={"status": "busy"}).text) == [busy]
    on_the_day = {"from": "2025-06-16", "to": "2025-06-16"}
    assert _rows(browser.get("/history", params=on_the_day).text) == [late, other, busy]
    # "16 June" in Tokyo ends at 15:00 UTC: the 23:00 UTC call was on the 17th there.
    in_tokyo = {**on_the_day, "tz": "Asia/Tokyo"}
    assert _rows(browser.get("/history", params=in_tokyo).text) == [other, busy]
    both = {"number": "4155550", "status": "completed"}
    page = browser.get("/history", params=both).text
    assert _rows(page) == [old]
    assert "1 call found." in page
    assert MASKED in page and FULL not in page
    assert f'href="/calls/{old}"' in page


def test_history_explains_what_it_cannot_search(browser: TestClient) -> None:
    page = browser.get("/history", params={"number": "mrs smith", "from": "2025-06-20", "to": "x"})

    assert page.status_code == 400
    assert "Search by digits of the number" in page.text
    assert "Enter a date as YYYY-MM-DD." in page.text
    assert 'value="mrs smith"' in page.text

    backwards = browser.get("/history", params={"from": "2025-06-20", "to": "2025-06-01"})
    assert "The end date is before the start date." in backwards.text


def test_history_is_paginated_on_the_server(browser: TestClient) -> None:
    ids = [store_call(browser, f"+1415555{n:04d}", CallStatus.COMPLETED) for n in range(30)]
    newest_first = ids[::-1]

    first = browser.get("/history", params={"number": "1415555"}).text
    assert _rows(first) == newest_first[:25]
    assert "Calls 1–25 of 30 found." in first
    assert "Page 1 of 2" in first
    assert 'href="/history?number=1415555&amp;page=2" rel="next"' in first

    second = browser.get("/history", params={"number": "1415555", "page": "2"}).text
    assert _rows(second) == newest_first[25:]
    assert "Calls 26–30 of 30 found." in second
    assert 'href="/history?number=1415555" rel="prev"' in second
    assert _rows(browser.get("/history", params={"page": "9"}).text) == []


# --- the API's filters ------------------------------------------------------------------------


def test_the_api_lists_calls_by_number_status_and_time(browser: TestClient) -> None:
    day = datetime(2025, 6, 16, 12, 0, tzinfo=UTC)
    old = store_call(browser, FULL, CallStatus.COMPLETED, created_at=day - timedelta(days=3))
    busy = store_call(browser, FULL, CallStatus.BUSY, created_at=day)
    other = store_call(browser, "+442079460958", CallStatus.NO_ANSWER, created_at=day)

    def ids(**params: Any) -> list[int]:
        response = browser.get("/api/calls", params=params)
        assert response.status_code == 200, response.text
        return [call["id"] for call in response.json()["items"]]

    assert ids(number="0142") == [busy, old]
    assert ids(status=["busy", "no-answer"]) == [other, busy]
    assert ids(created_after="2025-06-16T00:00:00Z") == [other, busy]
    assert ids(created_before="2025-06-16T00:00:00") == [old]  # naive: UTC
    assert ids(created_after="2025-06-16T13:00:00+02:00") == [other, busy]
    page = browser.get("/api/calls", params={"number": "0142", "limit": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1

    bad = browser.get("/api/calls", params={"number": "smith"})
    assert bad.status_code == 422
    assert "digits of the number" in bad.json()["detail"]
    assert browser.get("/api/calls", params={"status": "lost"}).status_code == 422


def test_a_call_page_shows_the_hand_over_step_by_step(browser: TestClient) -> None:
    call_id = store_call(browser, FULL, CallStatus.COMPLETED, end_reason="transferred to caregiver")
    now = datetime.now(UTC)
    steps = [
        StepRecord(call_id, 1, "dialling", "Calling Tom Jones to take the call.", now),
        StepRecord(call_id, 2, "no_answer", "Tom Jones: didn't answer.", now),
        StepRecord(call_id, 3, "accepted", "Anna <Jones> pressed 1 to take the call.", now),
        StepRecord(call_id, 4, "bridged", "Molly and Anna <Jones> were connected.", now),
    ]
    on_app_loop(browser, app_state(browser).calls.add_steps, steps)

    html = browser.get(f"/calls/{call_id}").text

    listed = re.findall(
        r'<li class="call-step[^"]*" data-sequence="(\d+)" data-kind="(\w+)">', html
    )
    assert listed == [("1", "dialling"), ("2", "no_answer"), ("3", "accepted"), ("4", "bridged")]
    assert "Hand-over to a caregiver" in html
    assert "Anna &lt;Jones&gt; pressed 1" in html  # escaped
    assert '<section id="call-steps" class="card shadow-sm mb-3" aria-labelledby' in html
    assert 'text-bg-success">Connected</span>' in html


def test_a_call_without_a_hand_over_hides_the_section(browser: TestClient) -> None:
    call_id = store_call(browser, FULL, CallStatus.COMPLETED)
    html = browser.get(f"/calls/{call_id}").text
    assert re.search(r'<section id="call-steps"[^>]* hidden>', html)

"""`/api/calls` through the real app: the real Twilio SDK talks to a fake Twilio REST API.

The create-and-read test runs on SQLite and on PostgreSQL (the `database_url` fixture).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from carecall.api.limits import BodySizeLimit
from carecall.api.validation import NOT_JSON
from carecall.calls.browser import BROWSER_NUMBER
from carecall.calls.demo import DEMO_NUMBER
from carecall.persistence.models import CallChannel, TurnRole
from carecall.pipeline.events import TurnRecord
from carecall.server import MAX_BODY_BYTES
from carecall.settings import Settings
from carecall.telephony.twilio_client import REQUEST_ATTEMPTS as TWILIO_ATTEMPTS
from carecall.wellbeing.records import MEASURES
from tests.api.support import (
    TO,
    add_operator,
    app_state,
    form,
    get_call,
    log_in,
    make_client,
    on_app_loop,
    only_call,
    place_call,
    signed_post,
    status_params,
    status_path,
)
from tests.conftest import PUBLIC_BASE, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

CALLS_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Calls.json"
CALL_FIELDS = {
    "id",
    "twilio_sid",
    "to_number",
    "from_number",
    "status",
    "channel",
    "answered_by",
    "created_at",
    "answered_at",
    "ended_at",
    "duration_seconds",
    "end_reason",
    "error",
    "senior_id",
    "checkin_id",
}


def _signed_status(client: TestClient, call: dict[str, Any], status: str) -> None:
    params = status_params(call["twilio_sid"], status, 0)
    response = signed_post(client, status_path(call), params)
    assert response.status_code == 204, response.text


def _hang_up_after_twilio_error(
    client: TestClient,
    fake_twilio: FakeAsyncTwilioHttpClient,
    http_status: int,
    code: int,
    message: str,
    *,
    times: int = 1,
) -> Any:  # the TestClient's response
    """Place a call, then ask to hang it up while Twilio answers with this error `times` times
    in a row."""
    call = place_call(client)
    for _ in range(times):
        fake_twilio.queue_error(http_status, code, message)
    return client.post(f"/api/calls/{call['id']}/hangup")


# --- placing a call ---------------------------------------------------------------------------


def test_start_call_dials_through_twilio_stores_and_lists_the_call(
    db_client: TestClient,
    fake_twilio: FakeAsyncTwilioHttpClient,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()

    response = db_client.post("/api/calls", json={"to": TO})

    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == CALL_FIELDS
    call_id = created["id"]
    assert isinstance(call_id, int)
    assert created["twilio_sid"].startswith("CA") and len(created["twilio_sid"]) == 34
    assert created["status"] == "queued"
    assert created["to_number"] == TO
    assert created["from_number"] == settings.twilio_phone_number
    assert created["created_at"]
    for field in (
        "answered_by",
        "answered_at",
        "ended_at",
        "duration_seconds",
        "end_reason",
        "senior_id",
        "checkin_id",
    ):
        assert created[field] is None, field
    assert created["error"] is None

    assert len(fake_twilio.requests) == 1
    request = fake_twilio.requests[0]
    assert request.method == "POST"
    assert request.url == CALLS_URL
    assert request.auth == (TEST_ACCOUNT_SID, TEST_AUTH_TOKEN)
    assert form(request) == {
        "To": TO,
        "From": settings.twilio_phone_number,
        "Url": f"{PUBLIC_BASE}/twilio/voice?call_id={call_id}",
        "Method": "POST",
        "StatusCallback": f"{PUBLIC_BASE}/twilio/status?call_id={call_id}",
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "StatusCallbackMethod": "POST",
        "Timeout": str(settings.ring_timeout_seconds),
        # Asynchronous answering-machine detection: the call goes on while Twilio listens.
        "MachineDetection": "DetectMessageEnd",
        "AsyncAmd": "true",
        "AsyncAmdStatusCallback": f"{PUBLIC_BASE}/twilio/amd?call_id={call_id}",
        "AsyncAmdStatusCallbackMethod": "POST",
    }
    assert fake_twilio.calls[created["twilio_sid"]]["to"] == TO

    detail = db_client.get(f"/api/calls/{call_id}")
    assert detail.status_code == 200
    assert detail.json() == {
        **created,
        "turns": [],
        "steps": [],
        "record": None,
        "recording": None,
    }

    page = db_client.get("/api/calls")
    assert page.status_code == 200
    assert page.json() == {"items": [created], "total": 1, "limit": 50, "offset": 0}


def _timestamps(value: Any, where: str = "") -> list[tuple[str, str]]:
    """Every (path, string) in a JSON answer that reads as a date and time."""
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in _timestamps(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [pair for i, item in enumerate(value) for pair in _timestamps(item, f"{where}[{i}]")]
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d.*", value):
        return [(where, value)]
    return []


def test_every_timestamp_of_a_call_carries_its_offset(db_client: TestClient) -> None:
    """On SQLite as on PostgreSQL, in the answer that creates a call, the list and the detail;
    a moment given in another zone is kept as the same instant, told in UTC."""
    created = place_call(db_client)
    for sequence, status in enumerate(("in-progress", "completed"), start=1):
        params = status_params(created["twilio_sid"], status, sequence)
        assert signed_post(db_client, status_path(created), params).status_code == 204
    chicago = datetime(2026, 3, 2, 9, 30, tzinfo=ZoneInfo("America/Chicago"))
    turn = TurnRecord(created["id"], 0, TurnRole.USER, "Good morning", chicago, chicago)
    on_app_loop(db_client, app_state(db_client).calls.add_turns, [turn])

    detail = get_call(db_client, created["id"])
    answers = [created, db_client.get("/api/calls").json(), detail]
    stamps = [pair for answer in answers for pair in _timestamps(answer)]
    assert {where for where, _ in stamps} >= {
        ".created_at",
        ".items[0].answered_at",
        ".ended_at",
        ".turns[0].started_at",
        ".turns[0].ended_at",
    }
    for where, stamp in stamps:
        assert datetime.fromisoformat(stamp).utcoffset() is not None, (where, stamp)
    assert datetime.fromisoformat(detail["turns"][0]["started_at"]) == chicago


def test_a_call_without_a_number_says_so_by_its_channel(db_client: TestClient) -> None:
    """A talk in the browser and a demo call have no number: null, and the channel says what
    they were (not "" and "demo" where a number belongs)."""
    state = app_state(db_client)
    phone = place_call(db_client)
    browser = on_app_loop(
        db_client, state.calls.create, BROWSER_NUMBER, None, channel=CallChannel.BROWSER
    )
    demo = on_app_loop(db_client, state.calls.create, DEMO_NUMBER, None, channel=CallChannel.DEMO)

    listed = {call["id"]: call for call in db_client.get("/api/calls").json()["items"]}

    for call_id, number, channel in [
        (phone["id"], TO, "phone"),
        (browser.id, None, "browser"),
        (demo.id, None, "demo"),
    ]:
        for answer in (listed[call_id], get_call(db_client, call_id)):
            assert (answer["to_number"], answer["channel"]) == (number, channel), answer


def test_a_calls_wellbeing_record_is_in_its_detail(db_client: TestClient) -> None:
    """Where the record's making stands, then the record itself, with each measure in words;
    the OpenAPI schema describes it."""
    state = app_state(db_client)
    call = place_call(db_client)
    later = datetime.now(UTC) + timedelta(hours=1)  # never due for the app's own worker
    assert on_app_loop(db_client, state.wellbeing.enqueue, call["id"], later, later)

    assert get_call(db_client, call["id"])["record"] == {
        "state": "pending",
        "made_at": None,
        "model": None,
        "summary": None,
        "follow_ups": [],
        "measures": {},
        "reason": None,
    }

    claims = on_app_loop(
        db_client, state.wellbeing.claim_due, later, "tests", 1, lease=timedelta(minutes=5)
    )
    assert on_app_loop(
        db_client,
        state.wellbeing.store_record,
        claims[0],
        "tests",
        senior_id=None,
        model="gpt-4o",
        levels={"mood": 1, "pain": 0},
        evidence={"mood": "I've been a bit down since Tuesday."},
        summary="A little low; no pain.",
        follow_ups=["Ask about Tuesday."],
        now=later,
    )
    record = get_call(db_client, call["id"])["record"]

    assert record["state"] == "done"
    assert datetime.fromisoformat(record["made_at"]) == later
    assert (record["model"], record["summary"]) == ("gpt-4o", "A little low; no pain.")
    assert record["follow_ups"] == ["Ask about Tuesday."]
    assert list(record["measures"]) == list(MEASURES)
    assert record["measures"]["mood"] == {
        "level": 1,
        "words": "a little low",
        "evidence": "I've been a bit down since Tuesday.",
    }
    assert record["measures"]["pain"] == {"level": 0, "words": "no pain", "evidence": ""}
    assert record["measures"]["sleep"]["level"] is None
    schema = db_client.get("/openapi.json").json()["components"]["schemas"]
    assert "record" in schema["CallDetail"]["properties"]
    assert {"state", "summary", "measures"} <= set(schema["RecordOut"]["properties"])


def test_number_is_normalised_to_e164_before_dialling(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    response = client.post("/api/calls", json={"to": "  +1 (415) 555-0100 "})

    assert response.status_code == 201, response.text
    assert response.json()["to_number"] == TO
    assert fake_twilio.requests[0].data["To"] == TO


def test_calls_are_listed_newest_first_and_paged(client: TestClient) -> None:
    ids = [client.post("/api/calls", json={"to": TO}).json()["id"] for _ in range(3)]

    page = client.get("/api/calls", params={"limit": 2}).json()
    assert page["total"] == 3
    assert [c["id"] for c in page["items"]] == ids[::-1][:2]
    rest = client.get("/api/calls", params={"limit": 2, "offset": 2}).json()
    assert [c["id"] for c in rest["items"]] == [ids[0]]
    assert (rest["limit"], rest["offset"]) == (2, 2)

    assert client.get("/api/calls", params={"limit": 0}).status_code == 422
    assert client.get("/api/calls", params={"offset": -1}).status_code == 422


def test_unknown_call_is_404(client: TestClient) -> None:
    response = client.get("/api/calls/999")

    assert response.status_code == 404
    assert response.json() == {"detail": "There is no call 999."}


# --- invalid requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "words"),
    [
        ("", "Enter the phone number"),
        ("   ", "Enter the phone number"),
        ("4155550100", "country code"),
        ("+1 415 555", "not valid"),
        ("hello", "country code"),
        ("+999123", "not a phone number"),
        ("+1415555010012345678", "not"),
    ],
)
def test_invalid_numbers_are_refused_without_calling_twilio(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient, number: str, words: str
) -> None:
    response = client.post("/api/calls", json={"to": number})

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert words in detail
    assert "e.g. +14155550100" in detail or "check the digits" in detail
    assert fake_twilio.requests == []
    assert client.get("/api/calls").json()["total"] == 0


def test_missing_to_is_422_naming_the_field(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    response = client.post("/api/calls", json={})

    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["detail"], str)
    assert "to" in body["detail"]
    assert body["detail"] == (
        "Send either 'to' (the number to call, e.g. +14155550100) or 'senior_id' (a person "
        "on the roster), not both."
    )
    assert fake_twilio.requests == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"not json at all", "application/json"),
        (b'{"to": "+14155550100"', "application/json"),
        (b"to=%2B14155550100", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/octet-stream"),
        (b"", "application/json"),
        (b'["+14155550100"]', "application/json"),
        (b'{"to": 14155550100}', "application/json"),
    ],
)
def test_bodies_that_are_not_the_json_object_are_422(
    client: TestClient,
    fake_twilio: FakeAsyncTwilioHttpClient,
    content: bytes,
    content_type: str,
) -> None:
    response = client.post("/api/calls", content=content, headers={"Content-Type": content_type})

    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)
    detail = response.json()["detail"]
    assert detail.startswith("The request is not valid") or detail == NOT_JSON, detail
    assert fake_twilio.requests == []


# --- Twilio errors ----------------------------------------------------------------------------


def test_number_twilio_refuses_is_422_and_the_call_is_stored_failed(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    fake_twilio.queue_error(400, 21211, "The 'To' number +14155550100 is not a valid phone number.")

    response = client.post("/api/calls", json={"to": TO})

    assert response.status_code == 422
    message = "This phone number is not valid. Check the number and its country code."
    assert response.json() == {"detail": message}
    assert len(fake_twilio.requests) == 1
    call = only_call(client)
    assert call["status"] == "failed"
    assert call["error"] == message
    assert call["twilio_sid"] is None
    assert call["end_reason"] == "failed"
    assert call["ended_at"] is not None


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (21219, "trial account can only call verified numbers"),
        (21215, "geo permissions"),
        (13227, "geo permissions"),
        (21214, "can't be reached"),
    ],
)
def test_other_uncallable_numbers_get_a_readable_422(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient, code: int, words: str
) -> None:
    fake_twilio.queue_error(400, code, "raw Twilio message")

    response = client.post("/api/calls", json={"to": TO})

    assert response.status_code == 422
    assert words in response.json()["detail"]
    assert only_call(client)["status"] == "failed"


def test_twilio_server_error_is_502_with_the_reason_and_the_call_failed(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    fake_twilio.queue_error(500, 20500, "Internal")

    response = client.post("/api/calls", json={"to": TO})

    assert response.status_code == 502
    detail = response.json()["detail"]
    assert detail.startswith("Twilio could not place a call:")
    assert "Internal" in detail and "20500" in detail
    assert len(fake_twilio.requests) == 1  # a server error is not retried
    call = only_call(client)
    assert call["status"] == "failed"
    assert call["error"] == detail


def test_rate_limit_is_retried_with_backoff(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    fake_twilio.queue_error(429, 20429, "Too Many Requests")

    response = client.post("/api/calls", json={"to": TO})

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "queued"
    assert response.json()["twilio_sid"].startswith("CA")
    assert [r.url for r in fake_twilio.requests] == [CALLS_URL, CALLS_URL]
    assert form(fake_twilio.requests[0]) == form(fake_twilio.requests[1])
    call = only_call(client)
    assert call["status"] == "queued" and call["error"] is None


def test_persistent_rate_limit_is_502_saying_so(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    for _ in range(4):
        fake_twilio.queue_error(429, 20429, "Too Many Requests")

    response = client.post("/api/calls", json={"to": TO})

    assert response.status_code == 502
    detail = response.json()["detail"]
    assert "rate-limit" in detail
    assert len(fake_twilio.requests) == 4
    call = only_call(client)
    assert call["status"] == "failed"
    assert call["error"] == detail


# --- configuration ----------------------------------------------------------------------------


def test_without_twilio_configuration_calls_are_503_but_the_server_runs(
    make_settings: Callable[..., Settings], fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    settings = make_settings(
        twilio_account_sid=None,
        twilio_auth_token=None,
        twilio_phone_number=None,
        webhook_url=None,
        openai_api_key=None,
        services="openai",  # by default a missing key means speech on this machine instead
    )
    missing = [
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_PHONE_NUMBER",
        "WEBHOOK_URL",
        "OPENAI_API_KEY",
    ]
    for client in make_client(settings, fake_twilio):
        response = client.post("/api/calls", json={"to": TO})

        assert response.status_code == 503
        detail = response.json()["detail"]
        for name in missing:
            assert name in detail
        assert fake_twilio.requests == []
        assert client.get("/api/calls").json()["total"] == 0

        # The operator's page names what is missing.
        add_operator(client)
        log_in(client)
        home = client.get("/")
        assert home.status_code == 200
        assert home.headers["content-type"].startswith("text/html")
        for name in missing:
            assert name in home.text

        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}

        # An invalid number is still explained as such, before configuration matters.
        assert client.post("/api/calls", json={"to": "nope"}).status_code == 422


def test_one_missing_variable_is_named_alone(
    make_settings: Callable[..., Settings], fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    settings = make_settings(twilio_phone_number=None)
    for client in make_client(settings, fake_twilio):
        response = client.post("/api/calls", json={"to": TO})

        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "TWILIO_PHONE_NUMBER" in detail
        assert "TWILIO_ACCOUNT_SID" not in detail and "WEBHOOK_URL" not in detail
        assert fake_twilio.requests == []

        add_operator(client)
        log_in(client)
        home = client.get("/")
        assert home.status_code == 200
        assert "TWILIO_PHONE_NUMBER" in home.text
        assert "TWILIO_ACCOUNT_SID" not in home.text and "WEBHOOK_URL" not in home.text


def test_home_page_names_nothing_missing_when_configured(client: TestClient) -> None:
    add_operator(client)
    log_in(client)
    home = client.get("/")

    assert home.status_code == 200
    for name in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_PHONE_NUMBER",
        "WEBHOOK_URL",
        "OPENAI_API_KEY",
    ):
        assert name not in home.text


# --- hanging up -------------------------------------------------------------------------------


def test_hang_up_a_live_call_asks_twilio_to_complete_it(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    call = place_call(client)
    _signed_status(client, call, "in-progress")

    response = client.post(f"/api/calls/{call['id']}/hangup")

    assert response.status_code == 202, response.text
    assert response.json()["id"] == call["id"]
    assert response.json()["twilio_sid"] == call["twilio_sid"]
    assert len(fake_twilio.requests) == 2
    request = fake_twilio.requests[-1]
    assert request.method == "POST"
    assert request.url == CALLS_URL.replace("Calls.json", f"Calls/{call['twilio_sid']}.json")
    assert form(request) == {"Status": "completed"}
    assert fake_twilio.calls[call["twilio_sid"]]["status"] == "completed"
    assert client.get(f"/api/calls/{call['id']}").json()["end_reason"] == "operator-hangup"


def test_hang_up_unknown_call_is_404(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    response = client.post("/api/calls/4242/hangup")

    assert response.status_code == 404
    assert response.json() == {"detail": "There is no call 4242."}
    assert fake_twilio.requests == []


def test_hang_up_after_the_call_completed_is_409(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    call = place_call(client)
    _signed_status(client, call, "completed")

    response = client.post(f"/api/calls/{call['id']}/hangup")

    assert response.status_code == 409
    assert response.json() == {"detail": "This call has already ended."}
    assert len(fake_twilio.requests) == 1  # only the create


def test_hang_up_a_call_twilio_never_placed_is_409(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    fake_twilio.queue_error(500, 20500, "Internal")
    assert client.post("/api/calls", json={"to": TO}).status_code == 502
    call_id = only_call(client)["id"]

    response = client.post(f"/api/calls/{call_id}/hangup")

    assert response.status_code == 409
    assert len(fake_twilio.requests) == 1


def test_hang_up_twilio_failure_is_502(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    # A hang-up is safe to repeat, so Twilio's 5xx is retried: only one that persists is a 502.
    response = _hang_up_after_twilio_error(
        client, fake_twilio, 500, 20500, "Internal", times=TWILIO_ATTEMPTS
    )

    assert response.status_code == 502
    assert "could not end a call" in response.json()["detail"]


def test_hang_up_a_call_twilio_already_ended_is_accepted(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    response = _hang_up_after_twilio_error(
        client, fake_twilio, 404, 20404, "The requested resource was not found"
    )

    assert response.status_code == 202


# --- body size --------------------------------------------------------------------------------


def test_oversized_json_body_is_413(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    body = b'{"to": "+14155550100", "padding": "' + b"x" * 100_000 + b'"}'

    response = client.post("/api/calls", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Request body too large (the limit is 64 KiB)."}
    assert fake_twilio.requests == []
    assert client.get("/api/calls").json()["total"] == 0


def test_oversized_streamed_body_without_length_is_413(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"to": "+14155550100", "padding": "'
        for _ in range(10):
            yield b"x" * 10_000
        yield b'"}'

    response = client.post(
        "/api/calls", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert fake_twilio.requests == []


def test_body_just_under_the_limit_is_accepted(client: TestClient) -> None:
    head, tail = b'{"to": "+14155550100"', b"}"
    body = head + b" " * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY_BYTES

    response = client.post("/api/calls", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 201, response.text


async def test_non_numeric_content_length_is_413() -> None:
    # httpx won't send a bogus Content-Length, so call the middleware as a server would.
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app must not run")

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "headers": [(b"content-length", b"12abc")]}
    await BodySizeLimit(app, max_bytes=MAX_BODY_BYTES)(scope, receive, send)

    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["detail"].startswith("Request body too large")

"""Helpers for the API tests: the app under a TestClient, placing calls, signing webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from pipeline.events import InProcessEventBus
from server import create_app
from settings import Settings
from tests.conftest import PUBLIC_BASE, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient, RecordedRequest

TO = "+14155550100"
FROM = "+15005550006"


def make_client(
    settings: Settings,
    fake_twilio: FakeAsyncTwilioHttpClient,
    bus: InProcessEventBus | None = None,
    **client_options: Any,
) -> Iterator[TestClient]:
    """The app, started, under a TestClient (a generator, for fixtures and `for client in`)."""
    app = create_app(settings, twilio_http_client=fake_twilio, event_bus=bus)
    with TestClient(app, **client_options) as client:
        app.state.carecall.twilio._retry_base_delay = 0.01  # keep rate-limit retries fast
        yield client


def form(request: RecordedRequest) -> dict[str, Any]:
    """The form as it goes over the wire: every value a string, repeated keys as lists."""
    return {
        key: [str(v) for v in value] if isinstance(value, list) else str(value)
        for key, value in request.data.items()
    }


def place_call(client: TestClient) -> dict[str, Any]:
    response = client.post("/api/calls", json={"to": TO})
    assert response.status_code == 201, response.text
    call: dict[str, Any] = response.json()
    return call


def get_call(client: TestClient, call_id: int) -> dict[str, Any]:
    response = client.get(f"/api/calls/{call_id}")
    assert response.status_code == 200
    call: dict[str, Any] = response.json()
    return call


def only_call(client: TestClient) -> dict[str, Any]:
    page = client.get("/api/calls").json()
    assert page["total"] == 1
    call: dict[str, Any] = page["items"][0]
    return call


def sign(path_with_query: str, params: dict[str, str], token: str = TEST_AUTH_TOKEN) -> str:
    """Twilio's signature: over the *public* URL (WEBHOOK_URL + path + query)."""
    return RequestValidator(token).compute_signature(PUBLIC_BASE + path_with_query, params)


def signed_post(
    client: TestClient,
    path_with_query: str,
    params: dict[str, str],
    headers: dict[str, str] | None = None,
) -> Any:  # the TestClient's response (httpx or httpx2)
    signature = sign(path_with_query, params)
    return client.post(
        path_with_query,
        data=params,
        headers={"X-Twilio-Signature": signature, **(headers or {})},
    )


def status_path(call: dict[str, Any]) -> str:
    return f"/twilio/status?call_id={call['id']}"


def status_params(sid: str, status: str, sequence: int, **extra: str) -> dict[str, str]:
    """A status callback's form, with the fields Twilio sends."""
    return {
        "AccountSid": TEST_ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": status,
        "Called": TO,
        "Caller": FROM,
        "Direction": "outbound-api",
        "From": FROM,
        "SequenceNumber": str(sequence),
        "Timestamp": "Mon, 16 Jun 2025 10:00:00 +0000",
        "To": TO,
        **extra,
    }

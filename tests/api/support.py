"""Helpers for the API tests: the app under a TestClient, signing in, placing calls, signing
webhooks."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from carecall.app_state import AppState
from carecall.core.events import InProcessEventBus
from carecall.persistence.models import Operator
from carecall.server import create_app
from carecall.settings import Settings
from tests.conftest import PUBLIC_BASE, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient, RecordedRequest

TO = "+14155550100"
FROM = "+15005550006"
OPERATOR_EMAIL = "nurse@example.org"
OPERATOR_PASSWORD = "correct horse battery staple"

T = TypeVar("T")


def make_client(
    settings: Settings,
    fake_twilio: FakeAsyncTwilioHttpClient,
    bus: InProcessEventBus | None = None,
    *,
    api_key: bool = True,
    **client_options: Any,
) -> Iterator[TestClient]:
    """The app, started, under a TestClient (a generator, for fixtures and `for client in`).

    With `api_key` (the default) the client sends a fresh API key on every request, as a
    program using the API would; without it, it is an anonymous browser."""
    app = create_app(settings, twilio_http_client=fake_twilio, event_bus=bus)
    with TestClient(app, **client_options) as client:
        app.state.carecall.twilio._retry_base_delay = 0.01  # keep rate-limit retries fast
        if api_key:
            client.headers["Authorization"] = f"Bearer {add_api_key(client)}"
        yield client


# --- accounts and signing in ------------------------------------------------------------------


def app_state(client: TestClient) -> AppState:
    state: AppState = client.app.state.carecall  # type: ignore[attr-defined]
    return state


def on_app_loop(client: TestClient, func: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> T:
    """Run a coroutine function on the app's event loop (where its engine lives)."""
    portal = client.portal
    assert portal is not None, "the TestClient must be started (`with TestClient(...)`)"
    return portal.call(functools.partial(func, *args, **kw))


def add_api_key(client: TestClient, name: str = "tests") -> str:
    """A new API key, as `carecall create-api-key` makes it; returns the secret to send."""
    return on_app_loop(client, app_state(client).auth.create_api_key, name).secret


def add_operator(
    client: TestClient, email: str = OPERATOR_EMAIL, password: str = OPERATOR_PASSWORD
) -> Operator:
    return on_app_loop(
        client, app_state(client).auth.create_operator, email, password, is_admin=True
    )


_CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_field(html: str) -> str:
    """The CSRF token of a page's form (the hidden `csrf_token` field)."""
    found = _CSRF_FIELD.search(html)
    assert found, "the page has no csrf_token field"
    return found.group(1)


def csrf_meta(html: str) -> str:
    """The CSRF token a page gives its JavaScript (`<meta name="csrf-token">`)."""
    found = _CSRF_META.search(html)
    assert found, "the page has no csrf-token meta tag"
    return found.group(1)


def submit_login(
    client: TestClient,
    email: str = OPERATOR_EMAIL,
    password: str = OPERATOR_PASSWORD,
    next_path: str = "/",
) -> Any:  # the TestClient's response, not followed
    """Sign in through the real form: GET /login, then POST it back with its CSRF token."""
    page = client.get("/login", params={"next": next_path})
    assert page.status_code == 200, page.text
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_field(page.text),
            "next": next_path,
        },
        follow_redirects=False,
    )


def log_in(
    client: TestClient, email: str = OPERATOR_EMAIL, password: str = OPERATOR_PASSWORD
) -> str:
    """Sign in (the operator must exist); returns the session's CSRF token, for POSTs."""
    response = submit_login(client, email, password)
    assert response.status_code == 303, response.text
    return session_csrf(client)


def session_csrf(client: TestClient) -> str:
    """The signed-in session's CSRF token, as a page's JavaScript reads it. (A new token is
    made at sign-in, so the login form's token is no longer the session's.)"""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    return csrf_meta(page.text)


# --- calls and webhooks -----------------------------------------------------------------------


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
    """POST a webhook as Twilio does: signed, and without the client's API key or session
    (webhooks prove themselves by their signature alone)."""
    signature = sign(path_with_query, params)
    request = client.build_request(
        "POST",
        path_with_query,
        data=params,
        headers={"X-Twilio-Signature": signature, **(headers or {})},
    )
    request.headers.pop("Authorization", None)
    request.headers.pop("Cookie", None)
    return client.send(request)


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

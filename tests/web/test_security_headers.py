"""Every response carries the security headers: the pages show people's health information, so
they may not be framed (clickjacking), sniffed into another type, leak their address to other
sites, or run anything that is not one of carecall's own files (`api.security_headers`). The
pages keep working under that policy in Chromium: test_security_browser."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from carecall.persistence.models import CallStatus, TurnRole
from carecall.settings import Settings
from tests.api.support import make_client
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.web.support import signed_in_client, store_call


def _directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def _assert_secured(response: object, path: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    policy = _directives(headers.get("content-security-policy", ""))
    assert policy.get("default-src") == ["'self'"], (path, headers)
    # Scripts and styles: this server's files only, no inline code (no 'unsafe-inline').
    assert policy.get("script-src") == ["'self'"], (path, policy)
    assert policy.get("style-src") == ["'self'"], (path, policy)
    assert policy.get("object-src") == ["'none'"], (path, policy)
    assert policy.get("base-uri") == ["'none'"], (path, policy)
    assert policy.get("form-action") == ["'self'"], (path, policy)
    assert policy.get("frame-ancestors") == ["'none'"], (path, policy)
    assert headers.get("x-frame-options") == "DENY", path
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("referrer-policy") == "same-origin", path


@pytest.fixture
def browser(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    yield from signed_in_client(make_settings())


def test_every_page_of_a_signed_in_operator_is_sent_with_the_headers(
    browser: TestClient,
) -> None:
    call_id = store_call(
        browser,
        status=CallStatus.COMPLETED,
        turns=[(TurnRole.ASSISTANT, "Hello, how are you today?", None, False)],
    )
    added = browser.post(
        "/api/seniors",
        json={"name": "Margaret Ellis", "phone_number": "+14155550142", "timezone": "UTC"},
    )
    assert added.status_code == 201, added.text
    senior_id = added.json()["id"]
    pages = [
        "/",
        f"/calls/{call_id}",
        "/history",
        "/today",
        "/today/fragment",
        "/people",
        "/people/new",
        f"/people/{senior_id}",
        f"/people/{senior_id}/edit",
        "/talk",
        "/api-keys",
        "/docs",
    ]
    for path in pages:
        response = browser.get(path, follow_redirects=False)
        assert response.status_code == 200, (path, response.status_code)
        _assert_secured(response, path)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/login", 200),
        ("/", 303),  # to the login page
        ("/calls/1", 303),
        ("/no-such-page", 404),
        ("/docs", 200),
        ("/openapi.json", 200),
        ("/static/app.css", 200),
        ("/vendor/bootstrap/css/bootstrap.min.css", 200),
        ("/vendor/swagger-ui/swagger-ui-bundle.js", 200),
        ("/api/calls", 401),
        ("/healthz", 200),
    ],
)
def test_anonymous_answers_are_sent_with_the_headers(
    make_settings: Callable[..., Settings], path: str, status: int
) -> None:
    for client in make_client(make_settings(), FakeAsyncTwilioHttpClient(), api_key=False):
        response = client.get(path, follow_redirects=False)

        assert response.status_code == status, (path, response.text[:200])
        _assert_secured(response, path)


def test_a_refused_body_is_sent_with_the_headers(make_settings: Callable[..., Settings]) -> None:
    """Even an answer made before any route runs (413: the body is over 64 KiB)."""
    for client in make_client(make_settings(), FakeAsyncTwilioHttpClient(), api_key=False):
        response = client.post("/login", content=b"x" * (65 * 1024))

        assert response.status_code == 413
        _assert_secured(response, "/login")

"""Managing API keys in the dashboard: create (shown once), use, revoke."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from carecall.server import create_app
from carecall.settings import Settings
from tests.api.support import csrf_meta
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.web.support import signed_in_client


@pytest.fixture
def browser(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    yield from signed_in_client(make_settings())


def _created_key(html: str) -> str:
    match = re.search(r'id="new-key"[^>]*value="(cc_[^"]+)"', html)
    assert match, "the new key is shown"
    return match.group(1)


def test_a_key_made_in_the_dashboard_works_once_shown_and_stops_when_revoked(
    browser: TestClient,
) -> None:
    page = browser.get("/api-keys")
    assert page.status_code == 200 and "No API keys yet." in page.text
    token = csrf_meta(page.text)

    created = browser.post("/api-keys", data={"name": "nightly export", "csrf_token": token})
    assert created.status_code == 201
    key = _created_key(created.text)
    listing = browser.get("/api-keys").text
    assert "nightly export" in listing and key not in listing  # shown only once

    program = TestClient(browser.app)  # no session: just the key
    assert program.get("/api/calls", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    key_id = re.search(r'action="/api-keys/(\d+)/revoke"', listing)
    assert key_id
    revoked = browser.post(
        f"/api-keys/{key_id.group(1)}/revoke", data={"csrf_token": token}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert "Revoked" in browser.get("/api-keys").text
    assert program.get("/api/calls", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_a_key_needs_a_name_and_the_page_token(browser: TestClient) -> None:
    token = csrf_meta(browser.get("/api-keys").text)
    unnamed = browser.post("/api-keys", data={"name": "  ", "csrf_token": token})
    assert unnamed.status_code == 422 and "Give the key a name" in unnamed.text
    forged = browser.post("/api-keys", data={"name": "x", "csrf_token": "forged"})
    assert forged.status_code == 403


def test_strangers_are_sent_to_sign_in(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(), twilio_http_client=FakeAsyncTwilioHttpClient())
    with TestClient(app) as anonymous:
        response = anonymous.get("/api-keys", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")

""" "Record calls" only with consent to recording, on SQLite and PostgreSQL: the API and the
person form refuse it (422, the message next to the checkbox) unless the consent record says
recording was agreed; consent recorded again without recording turns it off."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carecall.checkins.roster import RECORDING_NEEDS_CONSENT
from carecall.server import create_app
from carecall.settings import Settings
from tests.api.support import add_operator, log_in
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NUMBER = "+13125550101"


@pytest.fixture
def client(make_settings: Callable[..., Settings], database_url: str) -> Iterator[TestClient]:
    """The app with an operator signed in: the person form's pages, and the API on the same
    session (its CSRF token in the header, as the pages' scripts send it)."""
    settings = make_settings(database_url=database_url)
    app = create_app(settings, twilio_http_client=FakeAsyncTwilioHttpClient(), clock=FakeClock(NOW))
    with TestClient(app) as client:
        add_operator(client)
        client.headers["X-CSRF-Token"] = log_in(client)
        yield client


def _person(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Margaret Olsen",
        "phone_number": NUMBER,
        "timezone": "America/Chicago",
    }
    body.update(overrides)
    return body


def _refused_for_recording(response: Any) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert "recording was agreed" in body["detail"]
    assert body["errors"] == [f"record_calls: {RECORDING_NEEDS_CONSENT}"]


def test_the_api_refuses_record_calls_without_consent_to_recording(client: TestClient) -> None:
    _refused_for_recording(client.post("/api/seniors", json=_person(record_calls=True)))
    consent = {"given_by": "Margaret herself", "method": "verbal"}
    _refused_for_recording(
        client.post("/api/seniors", json=_person(record_calls=True, consent=consent))
    )
    assert client.get("/api/seniors").json()["total"] == 0, "nothing was stored"

    created = client.post("/api/seniors", json=_person(consent=consent))
    assert created.status_code == 201, created.text
    senior = created.json()
    assert senior["record_calls"] is False and senior["consent"]["recording"] is False
    _refused_for_recording(
        client.put(f"/api/seniors/{senior['id']}", json=_person(record_calls=True))
    )

    agreed = client.post(
        f"/api/seniors/{senior['id']}/consent", json={**consent, "recording": True}
    )
    assert agreed.status_code == 200 and agreed.json()["consent"]["recording"] is True
    updated = client.put(f"/api/seniors/{senior['id']}", json=_person(record_calls=True))
    assert updated.status_code == 200, updated.text
    assert updated.json()["record_calls"] is True

    # Consent recorded again without recording: calls are no longer recorded.
    again = client.post(f"/api/seniors/{senior['id']}/consent", json=consent)
    assert again.status_code == 200
    assert again.json()["record_calls"] is False and again.json()["consent"]["recording"] is False


def test_a_new_person_may_be_recorded_when_their_consent_comes_with_it(client: TestClient) -> None:
    consent = {"given_by": "Margaret herself", "method": "written", "recording": True}
    created = client.post("/api/seniors", json=_person(record_calls=True, consent=consent))
    assert created.status_code == 201, created.text
    assert created.json()["record_calls"] is True
    assert created.json()["consent"]["recording"] is True


def _form(client: TestClient, path: str, **fields: str) -> Any:
    data = {
        "csrf_token": client.headers["X-CSRF-Token"],
        "name": "Margaret Olsen",
        "phone_number": NUMBER,
        "timezone": "America/Chicago",
        "language": "en",
        **fields,
    }
    return client.post(path, data=data, follow_redirects=False)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_person_form_refuses_record_calls_without_consent_to_recording(
    client: TestClient,
) -> None:
    refused = _form(client, "/people/new", record_calls="1")
    assert refused.status_code == 422
    assert RECORDING_NEEDS_CONSENT in _text(refused.text)
    # Shown next to the checkbox, which stays ticked as it was sent.
    checkbox = re.search(r"<input id=\"record_calls\"[^>]*>", refused.text)
    assert checkbox and "checked" in checkbox.group(0) and "is-invalid" in checkbox.group(0)
    assert 'aria-describedby="record-help record_calls-error"' in checkbox.group(0)
    assert f'<div id="record_calls-error" class="invalid-feedback">{RECORDING_NEEDS_CONSENT}' in (
        unescape(refused.text)
    )

    added = _form(client, "/people/new")
    assert added.status_code == 303, added.text
    person = added.headers["location"]
    refused = _form(client, f"{person}/edit", record_calls="1")
    assert refused.status_code == 422 and RECORDING_NEEDS_CONSENT in _text(refused.text)

    consent = {"csrf_token": client.headers["X-CSRF-Token"], "given_by": "Margaret"}
    recorded = client.post(
        f"{person}/consent",
        data={**consent, "method": "verbal", "recording": "1"},
        follow_redirects=False,
    )
    assert recorded.status_code == 303, recorded.text
    page = client.get(person).text
    assert "Recording of calls agreed" in _text(page)

    saved = _form(client, f"{person}/edit", record_calls="1")
    assert saved.status_code == 303, saved.text
    assert "their calls are recorded" in _text(client.get(person).text)
    edit = client.get(f"{person}/edit").text
    checkbox = re.search(r"<input id=\"record_calls\"[^>]*>", edit)
    assert checkbox and "checked" in checkbox.group(0)

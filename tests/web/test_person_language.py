"""A person's language on the server, on SQLite and PostgreSQL: the form offers the languages
carecall speaks and refuses any other (next to the field, the input kept; the API answers 422);
in local mode, whose models are English only, a Spanish speaker's page says their calls are
refused and why, "Call now" and `POST /api/calls` refuse with that reason, and nothing reaches
Twilio."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carecall.server import create_app
from carecall.settings import Settings
from tests.api.support import add_api_key, add_operator, app_state, log_in, on_app_loop
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

NOW = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)  # Monday 11:00 in Chicago
PHONE = "+14155550142"
DAUGHTER = "+14155550177"


def _browser(settings: Settings, twilio: FakeAsyncTwilioHttpClient) -> Iterator[TestClient]:
    app = create_app(settings, twilio_http_client=twilio, clock=FakeClock(NOW))
    with TestClient(app) as client:
        add_operator(client)
        client.headers["X-CSRF-Token"] = log_in(client)
        yield client


@pytest.fixture
def fake_twilio() -> FakeAsyncTwilioHttpClient:
    return FakeAsyncTwilioHttpClient()


@pytest.fixture
def browser(
    make_settings: Callable[..., Settings],
    database_url: str,
    fake_twilio: FakeAsyncTwilioHttpClient,
) -> Iterator[TestClient]:
    """OpenAI's services: every language carecall has."""
    yield from _browser(
        make_settings(database_url=database_url, dispatcher_enabled=False), fake_twilio
    )


@pytest.fixture
def local_browser(
    make_settings: Callable[..., Settings],
    database_url: str,
    fake_twilio: FakeAsyncTwilioHttpClient,
) -> Iterator[TestClient]:
    """Speech on this machine (no OpenAI key): English only."""
    settings = make_settings(
        database_url=database_url,
        dispatcher_enabled=False,
        openai_api_key=None,
        openai_base_url=None,
    )
    assert settings.service_choice.speech == "local"
    yield from _browser(settings, fake_twilio)


def _post(client: TestClient, path: str, data: dict[str, Any] | None = None) -> Any:
    fields = {"csrf_token": client.headers["X-CSRF-Token"], **(data or {})}
    return client.post(path, data=fields, follow_redirects=False)


def _person(language: str) -> dict[str, Any]:
    return {
        "name": "Rosa Díaz",
        "preferred_name": "Rosita",
        "phone_number": PHONE,
        "timezone": "America/Chicago",
        "language": language,
        "notes": "",
        "on_behalf_of": "su hija Ana",
        "caregiver_name": ["Ana Díaz"],
        "caregiver_relation": ["hija"],
        "caregiver_phone": [DAUGHTER],
        "caregiver_contact": ["sms"],
    }


def _add(client: TestClient, language: str) -> int:
    response = _post(client, "/people/new", _person(language))
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/people/(\d+)", response.headers["location"])
    assert found
    return int(found.group(1))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_form_offers_the_languages_carecall_speaks(browser: TestClient) -> None:
    form = browser.get("/people/new")
    assert '<select id="language" name="language"' in form.text
    assert '<option value="en" selected>English (en)</option>' in form.text
    assert '<option value="es">Español (es)</option>' in form.text
    assert "not on this server" not in form.text


def test_a_language_is_stored_as_the_catalogue_s_code(browser: TestClient) -> None:
    senior_id = _add(browser, "es-MX")
    senior = on_app_loop(browser, app_state(browser).seniors.get, senior_id)
    assert senior is not None and senior.language == "es"
    page = _text(browser.get(f"/people/{senior_id}").text)
    assert "Language Español (es)" in page and "Not called" not in page


def test_a_language_carecall_does_not_speak_is_refused_next_to_its_field(
    browser: TestClient,
) -> None:
    refused = _post(browser, "/people/new", _person("fr"))
    assert refused.status_code == 422
    assert 'id="language-error"' in refused.text
    assert "Language must be one carecall speaks: en (English), es (Spanish)." in _text(
        refused.text
    )
    assert '<option value="fr" selected>fr</option>' in refused.text  # kept as sent


def test_the_api_refuses_a_language_carecall_does_not_speak(browser: TestClient) -> None:
    browser.headers["Authorization"] = f"Bearer {add_api_key(browser)}"
    body = {"name": "Rosa Díaz", "phone_number": PHONE, "timezone": "America/Chicago"}
    refused = browser.post("/api/seniors", json={**body, "language": "klingon"})
    assert refused.status_code == 422
    assert "Language must be one carecall speaks" in refused.text
    created = browser.post("/api/seniors", json={**body, "language": "ES"})
    assert created.status_code == 201, created.text
    assert created.json()["language"] == "es"


def test_in_local_mode_a_spanish_speaker_is_not_called_and_the_dashboard_says_why(
    local_browser: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    client = local_browser
    form = client.get("/people/new")
    assert "Español (es) — not on this server" in form.text
    assert "which speaks English only" in _text(form.text)

    senior_id = _add(client, "es")
    _post(client, f"/people/{senior_id}/consent", {"given_by": "Rosa", "method": "verbal"})
    page = _text(client.get(f"/people/{senior_id}").text)
    assert (
        "Language Español (es) Not called in a language they may not understand: Rosa Díaz "
        "speaks Spanish (es)"
    ) in page
    assert "Whisper tiny.en and the Piper voice en_US-joe-medium" in page

    refused = _post(client, f"/people/{senior_id}/call")
    assert refused.status_code == 422
    said = _text(refused.text)
    assert "The call was not placed" in said
    assert (
        "Not called in a language they may not understand: Rosa Díaz speaks Spanish (es), and "
        "this server's speech runs on this machine"
    ) in said

    client.headers["Authorization"] = f"Bearer {add_api_key(client)}"
    api = client.post("/api/calls", json={"senior_id": senior_id})
    assert api.status_code == 409
    assert "speaks Spanish (es)" in api.json()["detail"]
    assert "OPENAI_API_KEY" in api.json()["detail"]
    assert fake_twilio.requests == []


def test_in_local_mode_an_english_speaker_is_called_as_ever(
    local_browser: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    senior_id = _add(local_browser, "en")
    _post(local_browser, f"/people/{senior_id}/consent", {"given_by": "Rosa", "method": "verbal"})
    assert "Not called" not in local_browser.get(f"/people/{senior_id}").text
    placed = _post(local_browser, f"/people/{senior_id}/call")
    assert placed.status_code == 303, _text(placed.text)
    assert len(fake_twilio.requests) == 1

"""Authentication through the real app: API keys and sessions on `/api/*`, CSRF on a session's
state-changing requests, the login form (errors, throttling, safe redirects), the session
cookie's flags, logout, and pages sending anonymous visitors to the login page.

Twilio's webhooks and the media websocket stay outside this: they prove themselves with
Twilio's signature (tests/api: `signed_post` sends neither API key nor cookie)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carecall.settings import Settings
from tests.api.support import (
    OPERATOR_EMAIL,
    OPERATOR_PASSWORD,
    TO,
    add_api_key,
    add_operator,
    app_state,
    csrf_field,
    log_in,
    make_client,
    on_app_loop,
    session_csrf,
    submit_login,
)
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

SESSION_COOKIE = "carecall_session"
UNAUTHORIZED = "Sign in, or send an API key as 'Authorization: Bearer <key>'."
BAD_KEY = "This API key is not valid or has been revoked."
UNFINISHED = "Expecting property name enclosed in double quotes"


def _assert_json_401(response: Any, detail: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": detail}
    assert response.headers["www-authenticate"] == "Bearer"


def _set_cookie(response: Any) -> str:
    [cookie] = [
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith(f"{SESSION_COOKIE}=")
    ]
    return str(cookie)


def _cookie_flags(cookie: str) -> set[str]:
    return {part.strip().lower() for part in cookie.split(";")[1:]}


# --- the API without credentials ---------------------------------------------------------------


def test_the_api_without_credentials_is_401_json(
    anon: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    _assert_json_401(anon.get("/api/calls"), UNAUTHORIZED)
    _assert_json_401(anon.get("/api/calls/1"), UNAUTHORIZED)
    _assert_json_401(anon.post("/api/calls", json={"to": TO}), UNAUTHORIZED)
    _assert_json_401(anon.post("/api/calls/1/hangup"), UNAUTHORIZED)
    assert fake_twilio.requests == []


def test_every_api_route_needs_credentials(anon: TestClient) -> None:
    """Whatever routes /api/* grows (as the OpenAPI schema lists them), none answers an
    anonymous request."""
    paths: dict[str, dict[str, Any]] = anon.app.openapi()["paths"]  # type: ignore[attr-defined]
    operations = [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, methods in paths.items()
        if path.startswith("/api/")
        for method in methods
    ]
    assert len(operations) >= 4
    for method, path in operations:
        response = anon.request(method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert "detail" in response.json()


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer nonsense", id="not a key"),
        pytest.param("Bearer cc_000000000000_" + "x" * 43, id="unknown prefix"),
        pytest.param("Bearer ", id="empty"),
        pytest.param("Basic dXNlcjpwYXNz", id="other scheme"),
        pytest.param("cc_000000000000_secret", id="no scheme"),
    ],
)
def test_an_invalid_api_key_is_401_json(anon: TestClient, authorization: str) -> None:
    response = anon.get("/api/calls", headers={"Authorization": authorization})

    _assert_json_401(response, BAD_KEY)


def test_a_key_with_the_wrong_secret_is_401(anon: TestClient) -> None:
    key = add_api_key(anon)
    scheme, prefix, _ = key.split("_", 2)
    forged = f"{scheme}_{prefix}_{secrets.token_urlsafe(32)}"

    _assert_json_401(anon.get("/api/calls", headers={"Authorization": f"Bearer {forged}"}), BAD_KEY)


def test_an_api_key_opens_the_api_without_csrf(
    anon: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    """A program sends its key; there is no cookie for another site to ride on."""
    headers = {"Authorization": f"Bearer {add_api_key(anon, 'export')}"}

    assert anon.get("/api/calls", headers=headers).json()["total"] == 0
    placed = anon.post("/api/calls", json={"to": TO}, headers=headers)
    assert placed.status_code == 201, placed.text
    assert anon.get(f"/api/calls/{placed.json()['id']}", headers=headers).status_code == 200
    assert len(fake_twilio.requests) == 1
    assert SESSION_COOKIE not in anon.cookies  # the API key made no session


def test_a_revoked_api_key_is_refused(anon: TestClient) -> None:
    state = app_state(anon)
    key = on_app_loop(anon, state.auth.create_api_key, "old")
    headers = {"Authorization": f"Bearer {key.secret}"}
    assert anon.get("/api/calls", headers=headers).status_code == 200

    assert on_app_loop(anon, state.auth.api_keys.revoke, key.record.id)

    _assert_json_401(anon.get("/api/calls", headers=headers), BAD_KEY)


def test_a_bad_key_is_refused_even_with_a_session(browser: TestClient) -> None:
    log_in(browser)

    response = browser.get("/api/calls", headers={"Authorization": "Bearer cc_nope_nope"})

    _assert_json_401(response, BAD_KEY)


def _json_body_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every /api/* operation that takes a JSON body, as the OpenAPI schema lists them."""
    paths: dict[str, dict[str, Any]] = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, methods in paths.items()
        if path.startswith("/api/")
        for method, operation in methods.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


def test_a_body_that_is_not_json_is_judged_after_the_credentials(browser: TestClient) -> None:
    """A broken body tells a caller without credentials nothing but 401 (nor a session without
    its CSRF token anything but 403); past authentication, it is one plain sentence."""
    operations = _json_body_operations(browser)
    assert len(operations) >= 4
    broken = b'{"to": "+14155550100",'
    as_json = {"content-type": "application/json"}
    key = add_api_key(browser)
    for method, path in operations:
        where = (method, path)
        _assert_json_401(
            browser.request(method, path, content=broken, headers=as_json), UNAUTHORIZED
        )
        bad_key = {**as_json, "Authorization": "Bearer cc_nope_nope"}
        _assert_json_401(browser.request(method, path, content=broken, headers=bad_key), BAD_KEY)

        good_key = {**as_json, "Authorization": f"Bearer {key}"}
        answered = browser.request(method, path, content=broken, headers=good_key)
        assert answered.status_code == 422, (where, answered.text)
        assert answered.json()["detail"] == "The request body is not valid JSON.", where
        assert answered.json()["errors"] == [f"body: {UNFINISHED} at character 22"], where

    token = log_in(browser)
    method, path = operations[0]
    without_token = browser.request(method, path, content=broken, headers=as_json)
    assert without_token.status_code == 403, without_token.text
    with_token = {**as_json, "X-CSRF-Token": token}
    answered = browser.request(method, path, content=broken, headers=with_token)
    assert answered.status_code == 422
    assert answered.json()["detail"] == "The request body is not valid JSON."


# --- the API on a session ---------------------------------------------------------------------


def test_a_session_reads_the_api(browser: TestClient) -> None:
    log_in(browser)

    response = browser.get("/api/calls")

    assert response.status_code == 200
    assert response.json()["total"] == 0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no token"),
        pytest.param({"X-CSRF-Token": ""}, id="empty token"),
        pytest.param({"X-CSRF-Token": "forged"}, id="wrong token"),
    ],
)
def test_a_session_post_without_the_csrf_token_is_403_json(
    browser: TestClient, fake_twilio: FakeAsyncTwilioHttpClient, headers: dict[str, str]
) -> None:
    log_in(browser)

    response = browser.post("/api/calls", json={"to": TO}, headers=headers)

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert "security token" in response.json()["detail"]
    assert browser.post("/api/calls/1/hangup", headers=headers).status_code == 403
    assert fake_twilio.requests == []
    assert browser.get("/api/calls").json()["total"] == 0


def test_a_session_post_with_the_csrf_token_passes(
    browser: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    token = log_in(browser)
    headers = {"X-CSRF-Token": token}

    invalid = browser.post("/api/calls", json={}, headers=headers)
    assert invalid.status_code == 422  # past authentication, the body is checked

    placed = browser.post("/api/calls", json={"to": TO}, headers=headers)
    assert placed.status_code == 201, placed.text
    assert len(fake_twilio.requests) == 1

    # The token of the page the operator is on works too (the dashboard's JavaScript).
    home = browser.get("/")
    assert home.status_code == 200
    assert session_csrf(browser) == token
    hangup = browser.post(f"/api/calls/{placed.json()['id']}/hangup", headers=headers)
    assert hangup.status_code != 403


def test_signing_in_makes_a_new_session_and_token(browser: TestClient) -> None:
    """The token (and cookie) from before sign-in are worthless after it (no fixation)."""
    login_page = browser.get("/login")
    before_token = csrf_field(login_page.text)
    before_cookie = browser.cookies[SESSION_COOKIE]

    token = log_in(browser)

    assert token != before_token
    assert browser.cookies[SESSION_COOKIE] != before_cookie
    refused = browser.post("/api/calls", json={"to": TO}, headers={"X-CSRF-Token": before_token})
    assert refused.status_code == 403


def test_a_session_cookie_signed_with_another_secret_is_ignored(
    make_settings: Callable[..., Settings], fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    for first in make_client(make_settings(), fake_twilio, api_key=False):
        add_operator(first)
        log_in(first)
        stolen = first.cookies[SESSION_COOKIE]
    other_secret = make_settings(session_secret="another-secret-that-is-long-enough-012345")
    for second in make_client(other_secret, fake_twilio, api_key=False):
        second.cookies.set(SESSION_COOKIE, stolen)
        _assert_json_401(second.get("/api/calls"), UNAUTHORIZED)
        tampered = stolen[:10] + ("A" if stolen[10] != "A" else "B") + stolen[11:]
        second.cookies.set(SESSION_COOKIE, tampered)
        _assert_json_401(second.get("/api/calls"), UNAUTHORIZED)


# --- the login form ---------------------------------------------------------------------------


def test_the_login_page_is_a_form_with_a_csrf_token(anon: TestClient) -> None:
    page = anon.get("/login")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'action="/login"' in page.text
    assert 'name="password"' in page.text and 'type="password"' in page.text
    assert len(csrf_field(page.text)) >= 32


def test_signing_in_redirects_and_opens_the_api(browser: TestClient) -> None:
    response = submit_login(browser, next_path="/history?status=failed")

    assert response.status_code == 303
    assert response.headers["location"] == "/history?status=failed"
    assert browser.get("/api/calls").status_code == 200


def test_the_email_is_not_case_sensitive(browser: TestClient) -> None:
    response = submit_login(browser, email=" " + OPERATOR_EMAIL.upper())

    assert response.status_code == 303


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param(OPERATOR_EMAIL, "not the password", id="wrong password"),
        pytest.param("stranger@example.org", OPERATOR_PASSWORD, id="unknown email"),
        pytest.param(OPERATOR_EMAIL, "", id="no password"),
    ],
)
def test_wrong_credentials_are_a_401_page_and_no_access(
    browser: TestClient, email: str, password: str
) -> None:
    response = submit_login(browser, email=email, password=password)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "That email and password don&#39;t match an account." in response.text
    assert 'name="csrf_token"' in response.text  # the form again, ready for another try
    assert OPERATOR_PASSWORD not in response.text
    _assert_json_401(browser.get("/api/calls"), UNAUTHORIZED)
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_a_login_post_without_its_csrf_token_is_refused(browser: TestClient) -> None:
    browser.get("/login")

    response = browser.post(
        "/login",
        data={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD, "next": "/"},
        follow_redirects=False,
    )

    assert response.status_code == 403
    assert browser.get("/api/calls").status_code == 401


def test_the_sixth_rapid_wrong_attempt_is_429(browser: TestClient) -> None:
    for _ in range(5):
        assert submit_login(browser, password="guessing wrong").status_code == 401

    throttled = submit_login(browser, password="guessing wrong")
    assert throttled.status_code == 429
    assert "Too many failed sign-in attempts" in throttled.text
    assert throttled.headers["content-type"].startswith("text/html")

    # While throttled, even the right password is refused.
    assert submit_login(browser).status_code == 429
    assert browser.get("/api/calls").status_code == 401


@pytest.mark.parametrize(
    "next_path",
    [
        "//evil.example",
        "//evil.example/login",
        "https://evil.example/",
        "http:/evil.example",
        "evil.example",
        "",
    ],
)
def test_after_sign_in_only_local_paths_are_followed(browser: TestClient, next_path: str) -> None:
    page = browser.get("/login", params={"next": next_path})
    assert "evil.example" not in page.text

    response = submit_login(browser, next_path=next_path)

    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_a_backslash_path_cannot_become_another_host(browser: TestClient) -> None:
    """Browsers read `/\\evil.example` as `//evil.example`; it must not leave as such."""
    response = submit_login(browser, next_path="/\\evil.example")

    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))


# --- the session cookie -----------------------------------------------------------------------


def test_the_session_cookie_is_httponly_and_samesite_lax(browser: TestClient) -> None:
    response = submit_login(browser)

    cookie = _set_cookie(response)
    flags = _cookie_flags(cookie)
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags  # development runs on http://localhost
    assert OPERATOR_EMAIL not in cookie


def test_in_production_the_session_cookie_is_secure(
    make_settings: Callable[..., Settings], fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    settings = make_settings(
        carecall_env="production",
        session_secret=secrets.token_urlsafe(36),  # 48 characters
        webhook_url="https://carecall.example.org",
    )
    for client in make_client(
        settings, fake_twilio, api_key=False, base_url="https://carecall.example.org"
    ):
        add_operator(client)
        response = submit_login(client)

        assert response.status_code == 303
        flags = _cookie_flags(_set_cookie(response))
        assert {"httponly", "samesite=lax", "secure"} <= flags
        assert client.get("/api/calls").status_code == 200


# --- signing out ------------------------------------------------------------------------------


def test_logout_ends_the_session(browser: TestClient) -> None:
    token = log_in(browser)

    response = browser.post("/logout", data={"csrf_token": token}, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    _assert_json_401(browser.get("/api/calls"), UNAUTHORIZED)
    assert browser.get("/", follow_redirects=False).status_code == 303
    refused = browser.post("/api/calls", json={"to": TO}, headers={"X-CSRF-Token": token})
    assert refused.status_code == 401


def test_logout_needs_the_csrf_token(browser: TestClient) -> None:
    log_in(browser)

    refused = browser.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)

    assert refused.status_code == 403
    assert browser.get("/api/calls").status_code == 200  # still signed in


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "login"),
    [
        ("/", "/login?next=%2F"),
        ("/history?status=failed", "/login?next=%2Fhistory%3Fstatus%3Dfailed"),
        ("/calls/1", "/login?next=%2Fcalls%2F1"),
    ],
)
def test_pages_send_anonymous_visitors_to_the_login_page(
    anon: TestClient, path: str, login: str
) -> None:
    response = anon.get(path, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == login


def test_an_api_key_does_not_open_the_pages(anon: TestClient) -> None:
    headers = {"Authorization": f"Bearer {add_api_key(anon)}"}

    response = anon.get("/", headers=headers, follow_redirects=False)

    assert response.status_code == 303


def test_a_signed_in_operator_sees_the_page_they_asked_for(browser: TestClient) -> None:
    assert browser.get("/", follow_redirects=False).status_code == 303

    response = browser.post(
        "/login",
        data={
            "email": OPERATOR_EMAIL,
            "password": OPERATOR_PASSWORD,
            "csrf_token": csrf_field(browser.get("/login?next=%2F").text),
            "next": "/",
        },
    )

    assert response.status_code == 200
    assert str(response.url).endswith("/")
    assert OPERATOR_EMAIL in response.text  # the signed-in operator is shown


def test_health_stays_public(anon: TestClient) -> None:
    assert anon.get("/healthz").json() == {"status": "ok"}

"""First run: with no account yet, the link in the server's log creates the first
administrator in the browser; a wrong code, a weak password or a second attempt is refused."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.support import OPERATOR_EMAIL, OPERATOR_PASSWORD, app_state, csrf_field, on_app_loop


def _setup_form(client: TestClient) -> tuple[str, str]:
    code = app_state(client).auth.setup_code
    page = client.get("/setup", params={"code": code})
    assert page.status_code == 200, page.text
    assert "Create the first account" in page.text
    return code, csrf_field(page.text)


def _submit(client: TestClient, code: str, csrf: str, password: str = OPERATOR_PASSWORD) -> Any:
    return client.post(
        "/setup",
        data={"code": code, "email": OPERATOR_EMAIL, "password": password, "csrf_token": csrf},
        follow_redirects=False,
    )


def test_the_login_page_says_where_to_find_the_setup_link(anon: TestClient) -> None:
    page = anon.get("/login")
    assert page.status_code == 200
    assert "no account yet" in page.text and "/setup?code=" in page.text
    assert app_state(anon).auth.setup_code not in page.text


def test_the_setup_link_creates_the_first_admin_and_signs_in(anon: TestClient) -> None:
    code, csrf = _setup_form(anon)
    weak = _submit(anon, code, csrf, password="short")
    assert weak.status_code == 422 and "at least 10 characters" in weak.text

    created = _submit(anon, code, csrf_field(weak.text))
    assert created.status_code == 303 and created.headers["location"] == "/"
    assert anon.get("/", follow_redirects=False).status_code == 200  # signed in
    operator = on_app_loop(anon, app_state(anon).auth.operators.by_email, OPERATOR_EMAIL)
    assert operator is not None and operator.is_admin

    # Setup is over: the link now leads to the login page, and a replayed form is refused.
    assert anon.get("/setup", params={"code": code}, follow_redirects=False).status_code == 303
    again = _submit(anon, code, csrf_field(anon.get("/login").text))
    assert again.status_code == 403 and "already has an account" in again.text
    assert "no account yet" not in anon.get("/login").text


def test_a_wrong_code_shows_no_form_and_creates_nothing(anon: TestClient) -> None:
    page = anon.get("/setup", params={"code": "guessed"})
    assert page.status_code == 404 and "not valid" in page.text
    assert 'name="password"' not in page.text

    code, csrf = _setup_form(anon)
    forged = _submit(anon, code + "x", csrf)
    assert forged.status_code == 403
    assert on_app_loop(anon, app_state(anon).auth.needs_setup)


def test_with_an_account_there_is_no_setup(browser: TestClient) -> None:
    code = app_state(browser).auth.setup_code
    assert browser.get("/setup", params={"code": code}, follow_redirects=False).status_code == 303
